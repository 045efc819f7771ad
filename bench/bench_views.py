"""Benchmark of the views and calendar feeds (issue 11), run by hand, in process.

Run from the repository root:

    .venv/bin/python bench/bench_views.py            # about 20 seconds
    .venv/bin/python bench/bench_views.py --runs 5   # a quick look

"Server time" is the time the ASGI application takes to answer one request,
called directly on the event loop (no socket, no HTTP client: what is left is
the routing, the handler, the core and the response's bytes), on a memory store.

- ``GET /teams/{team}/calendar.ics``, the default window (7 days back, 90 ahead:
  97 days) of a team of 10 schedules (different days, hours, time zones,
  priorities and rotations, a few overrides).  Target: at most 20 ms.
- ``GET /oncall`` over 1,000 teams of 2 schedules each: the whole walk (two pages
  of ``limit=500``).  Target: at most 200 ms.

Each is measured on a fresh store's first request (cold: the teams are compiled
then) and as the median of ``--runs`` later ones (warm).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta
from datetime import time as time_of_day
from typing import Any

from _report import print_machine, print_table, verdict

from oncall_core import MemoryStore, Override, Rotation, RotationKind, Schedule, Weekday
from oncall_server import create_app

NOW = datetime(2025, 4, 28, 14, 30, tzinfo=UTC)
ZONES = ["UTC", "America/Chicago", "Europe/Paris", "Asia/Tokyo", "Australia/Sydney"]
KINDS = [RotationKind.WEEKLY, RotationKind.DAILY, RotationKind.PER_SHIFT, RotationKind.HOURLY]
MEMBERS = ["Ann", "Bob", "Cy", "Dee", "Eve", "Fay", "Gus"]


def schedules(team: str, count: int) -> list[Schedule]:
    """``count`` schedules of a team, each unlike the others."""
    made = []
    for index in range(count):
        days = list(Weekday)[: 5 + index % 3] if index % 2 else list(Weekday)[index % 3 :]
        start = time_of_day((index * 5) % 24)
        made.append(
            Schedule(
                team=team,
                name=f"schedule {index}",
                members=MEMBERS[index % 3 : index % 3 + 3 + index % 4],
                days=days,
                start=start,
                end=time_of_day((index * 5 + 8 + index) % 24),
                overnight=(index * 5 + 8 + index) % 24 <= start.hour,
                timezone=ZONES[index % len(ZONES)],
                priority=index % 4,
                rotation=Rotation(
                    kind=KINDS[index % len(KINDS)],
                    every=1 + index % 2
                    if KINDS[index % len(KINDS)] is not RotationKind.PER_SHIFT
                    else 1,
                    start=datetime(2025, 1, 6, 9, tzinfo=UTC),
                ),
            )
        )
    return made


async def team_store(teams: int, per_team: int, overrides: int) -> MemoryStore:
    store = MemoryStore()
    for number in range(teams):
        team = f"team-{number:04d}"
        for schedule in schedules(team, per_team):
            await store.create_schedule(schedule)
        for index in range(overrides):
            start = NOW + timedelta(days=3 * index, hours=index)
            await store.add_override(
                team,
                Override(member="Zed", start=start, end=start + timedelta(hours=6), reason="cover"),
            )
    return store


class Caller:
    """Calls the ASGI application directly, with its lifespan's state."""

    def __init__(self, store: MemoryStore) -> None:
        self.app = create_app(store=store, clock=lambda: NOW)
        self.state: dict[str, Any] = {}

    async def __aenter__(self) -> Caller:
        self._lifespan = self.app.router.lifespan_context(self.app)
        self.state = dict(await self._lifespan.__aenter__() or {})
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._lifespan.__aexit__(None, None, None)

    async def get(self, path: str, query: str = "") -> tuple[int, bytes]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "headers": [(b"host", b"bench")],
            "client": ("127.0.0.1", 1),
            "server": ("bench", 80),
            "state": dict(self.state),
        }
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await self.app(scope, receive, send)
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return sent[0]["status"], body


async def timed(call: Any) -> float:
    began = time.perf_counter()
    await call()
    return (time.perf_counter() - began) * 1000


async def calendar(runs: int) -> tuple[float, float, int]:
    store = await team_store(1, 10, 6)
    async with Caller(store) as caller:

        async def once() -> None:
            status, body = await caller.get("/teams/team-0000/calendar.ics")
            assert status == 200, body
            once.events = body.count(b"BEGIN:VEVENT")  # type: ignore[attr-defined]

        cold = await timed(once)
        warm = statistics.median([await timed(once) for _ in range(runs)])
        return cold, warm, once.events  # type: ignore[attr-defined]


async def every_team(runs: int) -> tuple[float, float, int]:
    store = await team_store(1000, 2, 0)
    async with Caller(store) as caller:

        async def walk() -> None:
            status, first = await caller.get("/oncall", "limit=500")
            assert status == 200, first
            status, second = await caller.get("/oncall", "limit=500&cursor=" + _cursor(first))
            assert status == 200 and b'"next_cursor":null' in second, second
            walk.teams = first.count(b'"team"') + second.count(b'"team"')  # type: ignore[attr-defined]

        cold = await timed(walk)
        warm = statistics.median([await timed(walk) for _ in range(runs)])
        return cold, warm, walk.teams  # type: ignore[attr-defined]


def _cursor(body: bytes) -> str:
    import json

    cursor = json.loads(body)["next_cursor"]
    assert isinstance(cursor, str)
    return cursor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=50, help="warm requests measured")
    runs = parser.parse_args().runs
    print_machine("bench_views: server time of the views (in process, memory store)")
    cal_cold, cal_warm, events = asyncio.run(calendar(runs))
    all_cold, all_warm, teams = asyncio.run(every_team(max(1, runs // 5)))
    print_table(
        ["request", "cold ms", "warm ms (median)", "target"],
        [
            [
                f"team calendar, 10 schedules, 97 days ({events} events)",
                f"{cal_cold:.1f}",
                f"{cal_warm:.1f}",
                verdict(cal_warm, 20.0),
            ],
            [
                f"GET /oncall, {teams} teams (2 pages of 500)",
                f"{all_cold:.1f}",
                f"{all_warm:.1f}",
                verdict(all_warm, 200.0),
            ],
        ],
    )


if __name__ == "__main__":
    main()
