"""Metrics in the Prometheus text format, served at ``GET /metrics``.

Theory of operation.  Each app has its own :class:`Metrics`, with its own
``prometheus_client`` registry (never the global default one), so that several apps in
one process, and the tests, do not mix their counts.  What it counts comes from three
places:

- every request, told by the access log's middleware (``_logging.RequestLog``, the
  outermost, which times the request anyway and turns a bug into a 500): its
  method, the *template* of the route that answered it (``/teams/{team}/schedules``,
  never the raw path, so team names cannot multiply the series; ``unmatched`` when
  no route did: a 404, or a request answered before routing such as a 429 or a CORS
  preflight), its status and its duration;
- every store call, in :class:`InstrumentedStore`, which wraps the store the way
  ``_cache.CachedStore`` does: duration by operation, and errors by operation and
  exception class.  It wraps the store *under* the cache, so store calls are calls
  that reach the store, and the cache's hits are counted apart.  The in-memory
  store's reads of teams (``load_team``, ``load_teams``: a dict lookup, what a
  cache hit is) are not timed either: on every ``GET /schedule`` that timing cost
  more than the lookup (issue 12's cost, docs/performance.md);
- state read at scrape time (:meth:`Metrics.scrape`): the pool's connections in use,
  the cache's hits, misses and size, the teams and schedules in force (from
  ``list_teams``, at most :data:`TEAMS_COUNTED` teams), and whether the embedded
  PostgreSQL is up.

The label values are bounded: methods outside :data:`METHODS` count as ``other``;
routes are the templates; statuses are numbers; operations are the store's methods.

The figures are those of one process: uvicorn runs one worker per process here, so
there is no multiprocess mode to set up, and each replica is scraped on its own (sum
across replicas in PromQL).  See docs/server.md, "Metrics, rate limits and CORS".
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Awaitable, Iterable, Iterator, Sequence
from datetime import datetime
from itertools import accumulate
from typing import TypeVar

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from oncall_core import (
    AuditEntry,
    Author,
    Deletion,
    MemoryStore,
    Override,
    RotationChange,
    Schedule,
    Store,
    TeamState,
)
from oncall_core.store import TeamSummary
from oncall_pg import PostgresStore

from ._answers import AnswerMemo
from ._cache import CachedStore
from ._errors import error_response
from ._requests import now, store_of
from ._storage import Liveness

T = TypeVar("T")

UNMATCHED = "unmatched"
"""The route label of a request no route answered."""
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""The methods counted by name; any other counts as ``other``."""
TEAMS_COUNTED = 10_000
"""The most teams a scrape counts (a bound on its cost); beyond, the gauges are a floor."""
METRICS_SCOPE = "metrics"
"""The API-key scope ``GET /metrics`` needs when ``server.metrics_requires_key`` is set."""

# Seconds; from half a millisecond (an answer from memory) to 10 s (a stalled database).
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_BUCKET_NAMES = [*map(floatToGoString, _BUCKETS), "+Inf"]
_FIRST = _BUCKETS[0]
PENDING = 256
"""The most observations of the hot paths held before they are counted (see :class:`Metrics`)."""


def _bucket(seconds: float) -> int:
    # bisect_left: the first bound at or above seconds, as "le" (less or equal) says.
    # Most answers from memory land in the first: one comparison, not a bisection
    # (the hot paths below spell this out inline).
    return 0 if seconds <= _FIRST else bisect_left(_BUCKETS, seconds)


class _Histogram:
    """Observations in :data:`_BUCKETS` (the last count: above them all) and their sum."""

    __slots__ = ("counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(_BUCKETS) + 1)
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[_bucket(seconds)] += 1
        self.sum += seconds

    def buckets(self) -> list[tuple[str, float]]:
        return list(zip(_BUCKET_NAMES, accumulate(self.counts), strict=True))


class _Series:
    """One (method, route, status)'s count of requests, and the histogram of its
    (method, route), looked up together: one dictionary lookup per request."""

    __slots__ = ("count", "latency")

    def __init__(self, latency: _Histogram) -> None:
        self.count = 0
        self.latency = latency


class Metrics:
    """One app's metrics: a registry of its own, and what fills it.

    ``requires_key``: ``GET /metrics`` asks for an API key with :data:`METRICS_SCOPE`.

    The counts are plain numbers in dictionaries, turned into metric families only
    at scrape time: a request costs a few dictionary updates, not the locks of
    ``prometheus_client``'s own counters.  Everything runs on the server's one
    event loop, and no update awaits, so no lock is needed.

    The two observations made on every ``GET /schedule`` (the request, and the
    store's ``load_team``) are only noted, in a list, and counted :data:`PENDING` at
    a time, and before every scrape, so a scrape always sees them all.  Why: under
    load, counting one observation between two requests costs several times what
    the same code costs in a loop, its code and data gone cold in the caches; a
    batch is counted warm (issue 12's cost, docs/performance.md).
    """

    def __init__(self, *, requires_key: bool = False) -> None:
        """Empty metrics in a new registry."""
        self.requires_key = requires_key
        self.registry = CollectorRegistry()
        # By (method, route, status): the count, and the (method, route) histogram.
        self._requests: dict[tuple[str, str, int], _Series] = {}
        self._latency: dict[tuple[str, str], _Histogram] = {}
        self._store_latency: dict[str, _Histogram] = {}
        self._store_errors: dict[tuple[str, str], int] = {}
        # Noted, not yet counted: (method, the route matched or None, status, seconds).
        self._pending_requests: list[tuple[str, object, int, float]] = []
        self.pending_load_team: list[float] = []
        """The seconds of ``load_team`` calls that went well, not yet counted."""
        self._state = _ScrapeState(self)
        self.registry.register(self._state)

    def observe_request(self, scope: Scope, status: int, seconds: float) -> None:
        """Note one answered request, and how long it took, to be counted with the
        next batch (``RequestLog``'s hook)."""
        # The router puts the route it matched (fully, or for another method: a 405)
        # in the scope; nothing is there when no route matched.
        pending = self._pending_requests
        pending.append((scope["method"], scope.get("route"), status, seconds))
        if len(pending) >= PENDING:
            self.count_pending()

    def count_pending(self) -> None:
        """Count the observations noted and not yet counted."""
        pending, self._pending_requests = self._pending_requests, []
        last: tuple[str, object, int] | None = None
        series: _Series | None = None
        for method, matched, status, seconds in pending:
            # Under load, most requests are of the series before them.
            if last is None or method is not last[0] or matched is not last[1] or status != last[2]:
                last = (method, matched, status)
                series = self._series_of(method, matched, status)
            assert series is not None
            series.count += 1
            latency = series.latency  # its observe(), inlined
            latency.counts[0 if seconds <= _FIRST else bisect_left(_BUCKETS, seconds)] += 1
            latency.sum += seconds
        load_team, self.pending_load_team = self.pending_load_team, []
        if load_team:
            histogram = self.store_histogram("load_team")
            for seconds in load_team:
                histogram.observe(seconds)

    def _series_of(self, method: str, matched: object, status: int) -> _Series:
        # The series of a request's method, the route it matched (None: none), and status.
        if method not in METHODS:
            method = "other"
        route = UNMATCHED if matched is None else getattr(matched, "path", UNMATCHED)
        series = self._requests.get((method, route, status))
        return series if series is not None else self._series(method, route, status)

    def _series(self, method: str, route: str, status: int) -> _Series:
        # A new (method, route, status): its count, sharing its (method, route) histogram.
        histogram = self._latency.get((method, route))
        if histogram is None:
            histogram = self._latency[method, route] = _Histogram()
        series = self._requests[method, route, status] = _Series(histogram)
        return series

    def observe_store_call(self, operation: str, seconds: float, error: str | None) -> None:
        """Count one store call, its duration, and the class of what it raised if it did."""
        self.store_histogram(operation).observe(seconds)
        if error is not None:
            key = (operation, error)
            self._store_errors[key] = self._store_errors.get(key, 0) + 1

    def store_histogram(self, operation: str) -> _Histogram:
        """The histogram of ``operation``'s durations (made at its first call)."""
        histogram = self._store_latency.get(operation)
        if histogram is None:
            histogram = self._store_latency[operation] = _Histogram()
        return histogram

    def families(self) -> Iterator[Metric]:
        """The counted metrics (requests and store calls) as metric families."""
        self.count_pending()
        requests = CounterMetricFamily(
            "oncall_http_requests",
            "HTTP requests answered, by method, route template and status.",
            labels=["method", "route", "status"],
        )
        for (method, route, status), series in self._requests.items():
            requests.add_metric([method, route, str(status)], series.count)
        yield requests
        latency = HistogramMetricFamily(
            "oncall_http_request_duration_seconds",
            "Seconds from a request reaching the app to its answer, by method and route.",
            labels=["method", "route"],
        )
        for (method, route), histogram in self._latency.items():
            latency.add_metric([method, route], histogram.buckets(), histogram.sum)
        yield latency
        store = HistogramMetricFamily(
            "oncall_store_call_duration_seconds",
            "Seconds a call to the store took, by operation (cache hits not included).",
            labels=["operation"],
        )
        for operation, histogram in self._store_latency.items():
            store.add_metric([operation], histogram.buckets(), histogram.sum)
        yield store
        errors = CounterMetricFamily(
            "oncall_store_errors",
            "Store calls that raised, by operation and exception class.",
            labels=["operation", "error"],
        )
        for (operation, error), count in self._store_errors.items():
            errors.add_metric([operation, error], count)
        yield errors

    def instrument(self, store: Store) -> Store:
        """``store`` wrapped to count its calls; a :class:`oncall_pg.PostgresStore`'s
        pool is reported too."""
        if isinstance(store, PostgresStore):
            self._state.postgres = store
        # The store as shipped: a subclass may read from elsewhere.
        return InstrumentedStore(store, self, time_reads=type(store) is not MemoryStore)

    def watch(
        self,
        store: Store,
        *,
        liveness: Liveness | None = None,
        answers: AnswerMemo | None = None,
    ) -> None:
        """Report the cache of ``store`` (if it is a cache), the embedded PostgreSQL's
        ``liveness`` (None: there is no embedded PostgreSQL) and the reuse of
        ``GET /schedule``'s ``answers``."""
        self._state.cache = store if isinstance(store, CachedStore) else None
        self._state.liveness = liveness
        self._state.answers = answers

    async def scrape(self, store: Store, at: datetime) -> bytes:
        """The metrics in the Prometheus text format, with the teams and schedules in
        force ``at`` counted from ``store`` (left out if the store cannot answer)."""
        try:
            teams: Sequence[TeamSummary] | None = await store.list_teams(at=at, limit=TEAMS_COUNTED)
        except Exception:
            # Counted as a store error already; the other metrics are still worth having.
            teams = None
        self._state.teams = teams
        return generate_latest(self.registry)


class _ScrapeState(Collector):
    """The metrics at scrape time: the counts, and what :class:`Metrics` was told to
    watch."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self.postgres: PostgresStore | None = None
        self.cache: CachedStore | None = None
        self.liveness: Liveness | None = None
        self.answers: AnswerMemo | None = None
        self.teams: Sequence[TeamSummary] | None = None

    def collect(self) -> Iterable[Metric]:
        yield from self.metrics.families()
        if self.teams is not None:
            yield GaugeMetricFamily(
                "oncall_teams",
                f"Teams with a schedule in force (at most {TEAMS_COUNTED} counted).",
                value=len(self.teams),
            )
            yield GaugeMetricFamily(
                "oncall_schedules",
                "Schedules in force, over the teams counted.",
                value=sum(summary.schedules for summary in self.teams),
            )
        if self.postgres is not None:
            pool = self.postgres.pool
            stats = pool.get_stats()
            size, idle = stats.get("pool_size", 0), stats.get("pool_available", 0)
            connections = GaugeMetricFamily(
                "oncall_db_pool_connections",
                "The pool's connections: in use by a request, or idle.",
                labels=["state"],
            )
            connections.add_metric(["in_use"], size - idle)
            connections.add_metric(["idle"], idle)
            yield connections
            yield GaugeMetricFamily(
                "oncall_db_pool_max_connections", "The pool's size limit.", value=pool.max_size
            )
            yield GaugeMetricFamily(
                "oncall_db_pool_requests_waiting",
                "Requests waiting for a connection.",
                value=stats.get("requests_waiting", 0),
            )
        if self.cache is not None:
            yield CounterMetricFamily(
                "oncall_cache_hits", "Team states answered from the cache.", value=self.cache.hits
            )
            yield CounterMetricFamily(
                "oncall_cache_misses",
                "Team states asked of the cache and not fresh there.",
                value=self.cache.misses,
            )
            yield GaugeMetricFamily(
                "oncall_cache_entries", "Team states in the cache.", value=self.cache.entries
            )
            yield GaugeMetricFamily(
                "oncall_cache_bytes", "About how many bytes they use.", value=self.cache.size
            )
        if self.answers is not None:
            yield CounterMetricFamily(
                "oncall_answers_reused",
                "GET /schedule answers reused while they held (no engine work).",
                value=self.answers.hits,
            )
            yield CounterMetricFamily(
                "oncall_answers_computed",
                "GET /schedule answers the engine computed.",
                value=self.answers.misses,
            )
        if self.liveness is not None:
            yield GaugeMetricFamily(
                "oncall_embedded_postgres_up",
                "1 while the embedded PostgreSQL serves (or is being restarted); "
                "0 once it is lost for good.",
                value=0 if self.liveness.lost else 1,
            )


class InstrumentedStore:
    """A :class:`oncall_core.Store` that times every call of the store it wraps."""

    def __init__(self, store: Store, metrics: Metrics, *, time_reads: bool = True) -> None:
        """Wrap ``store``; its calls are counted in ``metrics``, but for its reads of
        teams (``load_team``, ``load_teams``) unless ``time_reads``."""
        self._store = store
        self._metrics = metrics
        if not time_reads:
            # The store's own methods, not wrappers: not even a coroutine more.
            self.load_team = store.load_team  # type: ignore[method-assign]
            self.load_teams = store.load_teams  # type: ignore[method-assign]

    @property
    def wrapped(self) -> Store:
        """The store this one wraps."""
        return self._store

    async def _timed(self, operation: str, call: Awaitable[T]) -> T:
        started = time.perf_counter()
        error: str | None = None
        try:
            return await call
        except Exception as raised:
            error = type(raised).__name__
            raise
        finally:
            self._metrics.observe_store_call(operation, time.perf_counter() - started, error)

    async def create_schedule(
        self, schedule: Schedule, *, now: datetime | None = None, by: Author | None = None
    ) -> Schedule:
        """See :meth:`oncall_core.Store.create_schedule`."""
        return await self._timed(
            "create_schedule", self._store.create_schedule(schedule, now=now, by=by)
        )

    async def edit_schedule(
        self,
        schedule: Schedule,
        *,
        now: datetime,
        expected: int | None = None,
        by: Author | None = None,
    ) -> Schedule:
        """See :meth:`oncall_core.Store.edit_schedule`."""
        return await self._timed(
            "edit_schedule", self._store.edit_schedule(schedule, now=now, expected=expected, by=by)
        )

    async def delete_schedule(
        self,
        team: str,
        name: str,
        *,
        now: datetime,
        effective: datetime | None = None,
        expected: int | None = None,
        by: Author | None = None,
    ) -> Deletion:
        """See :meth:`oncall_core.Store.delete_schedule`."""
        return await self._timed(
            "delete_schedule",
            self._store.delete_schedule(
                team, name, now=now, effective=effective, expected=expected, by=by
            ),
        )

    async def list_teams(
        self, *, at: datetime, after: str | None = None, limit: int | None = None
    ) -> tuple[TeamSummary, ...]:
        """See :meth:`oncall_core.Store.list_teams`."""
        return await self._timed(
            "list_teams", self._store.list_teams(at=at, after=after, limit=limit)
        )

    async def append_rotation_change(
        self, team: str, change: RotationChange, *, by: Author | None = None
    ) -> RotationChange:
        """See :meth:`oncall_core.Store.append_rotation_change`."""
        return await self._timed(
            "append_rotation_change", self._store.append_rotation_change(team, change, by=by)
        )

    async def add_override(
        self,
        team: str,
        override: Override,
        *,
        now: datetime | None = None,
        by: Author | None = None,
    ) -> Override:
        """See :meth:`oncall_core.Store.add_override`."""
        return await self._timed(
            "add_override", self._store.add_override(team, override, now=now, by=by)
        )

    async def add_overrides(
        self,
        team: str,
        overrides: Sequence[Override],
        *,
        now: datetime | None = None,
        by: Author | None = None,
    ) -> tuple[Override, ...]:
        """See :meth:`oncall_core.Store.add_overrides`."""
        return await self._timed(
            "add_overrides", self._store.add_overrides(team, overrides, now=now, by=by)
        )

    async def list_overrides(
        self, team: str, *, start: datetime | None = None, end: datetime | None = None
    ) -> tuple[Override, ...]:
        """See :meth:`oncall_core.Store.list_overrides`."""
        return await self._timed(
            "list_overrides", self._store.list_overrides(team, start=start, end=end)
        )

    async def delete_override(
        self,
        team: str,
        override_id: int,
        *,
        now: datetime | None = None,
        by: Author | None = None,
    ) -> Override | None:
        """See :meth:`oncall_core.Store.delete_override`."""
        return await self._timed(
            "delete_override", self._store.delete_override(team, override_id, now=now, by=by)
        )

    async def list_audit(
        self, team: str | None, *, before: int | None = None, limit: int | None = None
    ) -> tuple[AuditEntry, ...]:
        """See :meth:`oncall_core.Store.list_audit`."""
        return await self._timed(
            "list_audit", self._store.list_audit(team, before=before, limit=limit)
        )

    async def teams_of_member(self, member: str) -> tuple[str, ...]:
        """See :meth:`oncall_core.Store.teams_of_member`."""
        return await self._timed("teams_of_member", self._store.teams_of_member(member))

    async def load_team(self, team: str) -> TeamState | None:
        """See :meth:`oncall_core.Store.load_team`."""
        # The hot path (GET /schedule): _timed inlined, one coroutine fewer, and a
        # call that went well only noted (see Metrics).
        started = time.perf_counter()
        try:
            found = await self._store.load_team(team)
        except Exception as raised:
            self._metrics.observe_store_call(
                "load_team", time.perf_counter() - started, type(raised).__name__
            )
            raise
        pending = self._metrics.pending_load_team
        pending.append(time.perf_counter() - started)
        if len(pending) >= PENDING:
            self._metrics.count_pending()
        return found

    async def load_teams(self, teams: Sequence[str]) -> dict[str, TeamState]:
        """See :meth:`oncall_core.Store.load_teams`."""
        return await self._timed("load_teams", self._store.load_teams(teams))

    async def ping(self) -> None:
        """See :meth:`oncall_core.Store.ping`."""
        await self._timed("ping", self._store.ping())

    async def close(self) -> None:
        """Close the wrapped store (not counted)."""
        await self._store.close()


def key_has_scope(request: Request, _scope: str) -> bool:
    """Whether the request carries a valid API key (``oncall_server._auth`` finds it
    and leaves it in ``request.state.api_key``; every scope may read metrics).

    With no key configured none can be valid, so with ``server.metrics_requires_key``
    set ``/metrics`` fails closed with a 401.
    """
    return getattr(request.state, "api_key", None) is not None


async def metrics_endpoint(request: Request) -> Response:
    """``GET /metrics``: this process's metrics in the Prometheus text format (404 when
    ``server.metrics`` is off; 401 without a key with the ``metrics`` scope when
    ``server.metrics_requires_key`` is on)."""
    metrics: Metrics | None = getattr(request.state, "metrics", None)
    if metrics is None:
        return error_response(404, "Not Found")
    if metrics.requires_key and not key_has_scope(request, METRICS_SCOPE):
        return error_response(
            401,
            f"an API key with the {METRICS_SCOPE} scope is required",
            {"WWW-Authenticate": "Bearer"},
        )
    body = await metrics.scrape(store_of(request), now(request))
    return Response(body, media_type=CONTENT_TYPE_LATEST)
