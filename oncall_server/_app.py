"""The Starlette application: routes, middleware and error handlers from lists.

The store is opened in the lifespan and handed to handlers as request state,
with the clock (the only place the server reads the time) and the calendar
feeds' cache of serialized events.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from oncall_core import Store

from ._answers import AnswerMemo
from ._auth import Endpoint, Requirement, Scope, protect
from ._calendar import EventCache
from ._config import Config, ServerConfig, StorageMode, storage_mode
from ._cors import cors_middleware
from ._errors import exception_handlers
from ._fastpath import FastSchedule
from ._keys import KeyRing, configured_keys, list_keys, running
from ._keys_http import create_key, revoke_key
from ._limits import BodyTimeout
from ._logging import RequestLog
from ._metrics import Metrics
from ._ratelimit import RateLimit
from ._routes import ROUTES, SegmentRoute
from ._storage import Liveness, open_store, stored_keys

# Routes of the server's own administration, and what they need (see _auth).
_ADMIN_ROUTES = [
    Route("/keys", list_keys, methods=["GET"]),
    Route("/keys", create_key, methods=["POST"]),
    SegmentRoute("/keys/{name}", revoke_key, methods=["DELETE"]),
]
_ADMIN_REQUIREMENTS: dict[Endpoint, Requirement] = {
    endpoint: Requirement(Scope.ADMIN) for endpoint in (list_keys, create_key, revoke_key)
}


def utc_now() -> datetime:
    """The current instant (the server's clock)."""
    return datetime.now(UTC)


def create_app(
    config: Config | None = None,
    *,
    store: Store | None = None,
    clock: Callable[[], datetime] = utc_now,
    timer: Callable[[], float] = time.monotonic,
    fast_path: bool = True,
) -> Starlette:
    """The ASGI application.

    With ``store``, that store is used as is (and not closed); otherwise the store
    the configuration asks for is opened at start-up and closed at shutdown, and kept
    running meanwhile: if it is lost for good (the embedded PostgreSQL died and did not
    start again), ``/healthz`` answers 503.  ``clock`` is the server's clock, and
    ``timer`` the monotonic clock (in seconds) the rate limits fill their buckets by.
    ``fast_path``: :class:`~oncall_server._fastpath.FastSchedule` answers the plain
    case of ``GET /schedule`` (False: every request goes through the router, as the
    tests compare).
    """
    if store is None and config is None:
        raise ValueError("create_app needs a config or a store")
    server = config.server if config is not None else ServerConfig()
    metrics = Metrics(requires_key=server.metrics_requires_key) if server.metrics else None
    wrap = metrics.instrument if metrics is not None else None
    answers = AnswerMemo()  # GET /schedule's answers, reused while they hold

    def keys(opened: Store) -> KeyRing:
        # The API keys: the configuration's, and in PostgreSQL modes the database's.
        return KeyRing(
            configured_keys(config) if config else (),
            read_requires_key=config.server.read_requires_key if config else False,
            stored=stored_keys(opened),
            clock=clock,
        )

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[dict[str, Any]]:
        if store is not None:
            given = wrap(store) if wrap is not None else store
            if metrics is not None:
                metrics.watch(store, answers=answers)
            async with running(keys(store)) as ring:
                yield {
                    "store": given,
                    "clock": clock,
                    "events": EventCache(),
                    "answers": answers,
                    "metrics": metrics,
                    "keys": ring,
                }
            return
        assert config is not None
        # If the store is lost for good, /healthz says so: only a restart can help.
        liveness = Liveness()
        async with (
            open_store(config, on_lost=liveness.lose, wrap=wrap) as opened,
            running(keys(opened)) as ring,
        ):
            if metrics is not None:
                embedded = storage_mode(config) is StorageMode.EMBEDDED
                metrics.watch(opened, liveness=liveness if embedded else None, answers=answers)
            yield {
                "store": opened,
                "clock": clock,
                "liveness": liveness,
                "events": EventCache(),
                "answers": answers,
                "metrics": metrics,
                "keys": ring,
            }

    # Outermost first.  The access log (and the metrics, through it) sees every
    # answer, its own 500s included; CORS answers preflights before the rate limit,
    # and adds its headers to 429s.
    observe = metrics.observe_request if metrics is not None else None
    middleware = [Middleware(RequestLog, observe=observe), *cors_middleware(server)]
    if server.rate_limit:
        middleware.append(
            Middleware(
                RateLimit,
                rate=server.rate_limit,
                burst=server.rate_limit_burst,
                clients=server.rate_limit_clients,
                clock=timer,
            )
        )
    routes = protect([*ROUTES, *_ADMIN_ROUTES], _ADMIN_REQUIREMENTS)
    if fast_path:
        # After the access log, CORS and the rate limit, which apply to it too.
        lookup = next(
            r
            for r in routes
            if isinstance(r, Route) and r.path == "/schedule" and "GET" in (r.methods or ())
        )
        middleware.append(Middleware(FastSchedule, route=lookup))
    middleware.append(Middleware(BodyTimeout, seconds=server.body_timeout))
    return Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers=exception_handlers(),  # type: ignore[arg-type]
        lifespan=lifespan,
    )
