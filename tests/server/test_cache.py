"""The team-state cache: fresh for at most its ttl, never stale for its own writes.

White-box on purpose: ``CachedStore`` is private to the server, and these tests
drive it directly with an injected clock, which no HTTP test can do as exactly.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta

import attrs
import pytest

from oncall_core import (
    Conflict,
    MemoryStore,
    Override,
    PastIsReadOnly,
    PreconditionFailed,
    RotationChange,
    Schedule,
    TeamState,
    Weekday,
)
from oncall_server._cache import CachedStore


def schedule(name: str, members: list[str]) -> Schedule:
    return Schedule(
        team="ops", name=name, members=members, days=list(Weekday), start=time(9), end=time(17)
    )


async def settle() -> None:
    """Let the tasks started so far run until they wait."""
    for _ in range(5):
        await asyncio.sleep(0)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_entries_expire_after_the_ttl() -> None:
    shared, clock = MemoryStore(), Clock()
    cached = CachedStore(shared, ttl=0.5, clock=clock)
    await shared.create_schedule(schedule("day", ["Ann"]))
    first = await cached.load_team("ops")
    await shared.create_schedule(schedule("night", ["Bob"]))  # another replica's write
    clock.now += 0.4
    assert await cached.load_team("ops") is first  # still fresh
    clock.now += 0.2
    later = await cached.load_team("ops")
    assert later is not None and len(later.schedules) == 2


async def test_own_writes_are_seen_at_once() -> None:
    cached = CachedStore(MemoryStore(), ttl=1.0, clock=Clock())
    await cached.create_schedule(schedule("day", ["Ann"]))
    assert await cached.load_team("ops") is not None
    await cached.create_schedule(schedule("night", ["Bob"]))
    state = await cached.load_team("ops")
    assert state is not None and [s.name for s in state.schedules] == ["day", "night"]


async def test_every_kind_of_write_is_seen_at_once_refused_or_not() -> None:
    cached = CachedStore(MemoryStore(), ttl=1.0, clock=Clock())
    now = datetime(2025, 4, 28, 14, 30, tzinfo=UTC)
    await cached.create_schedule(schedule("day", ["Ann"]))

    async def revision() -> int:
        state = await cached.load_team("ops")
        assert state is not None
        return state.revision("day")

    assert await revision() == 1
    await cached.edit_schedule(schedule("day", ["Bob"]), now=now)
    assert await revision() == 2
    with pytest.raises(PreconditionFailed):
        await cached.edit_schedule(schedule("day", ["Cid"]), now=now, expected=1)
    assert await revision() == 2
    await cached.delete_schedule("ops", "day", now=now + timedelta(hours=1))
    assert await revision() == 3
    later = attrs.evolve(schedule("day", ["Dan"]), effective=now + timedelta(hours=2))
    await cached.create_schedule(later, now=now)
    assert await revision() == 4
    change = RotationChange(schedule="day", effective=now + timedelta(hours=3))
    await cached.append_rotation_change("ops", change)
    state = await cached.load_team("ops")
    assert state is not None and state.changes == (change,)
    teams = await cached.list_teams(at=now + timedelta(hours=3))
    assert [(t.team, t.schedules) for t in teams] == [("ops", 1)]


async def test_override_writes_are_seen_at_once_refused_or_not() -> None:
    shared = MemoryStore()
    cached = CachedStore(shared, ttl=1.0, clock=Clock())
    now = datetime(2025, 4, 28, 14, 30, tzinfo=UTC)
    await cached.create_schedule(schedule("day", ["Ann"]))

    async def overrides() -> list[tuple[str, datetime]]:
        state = await cached.load_team("ops")
        assert state is not None
        return [(o.member, o.end) for o in state.overrides]

    soon = Override(member="Cy", start=now, end=now + timedelta(hours=2))
    first = await cached.add_override("ops", soon, now=now)
    assert await overrides() == [("Cy", now + timedelta(hours=2))]
    pair = [attrs.evolve(soon, member="Dee"), attrs.evolve(soon, member="Eve")]
    await cached.add_overrides("ops", pair, now=now)
    assert len(await overrides()) == 3
    past = attrs.evolve(soon, start=now - timedelta(hours=1))
    with pytest.raises(PastIsReadOnly):
        await cached.add_overrides("ops", [soon, past], now=now)  # all or none
    assert len(await overrides()) == 3
    assert first.id is not None
    ended = await cached.delete_override("ops", first.id, now=now + timedelta(hours=1))
    assert ended is not None and ended.end == now + timedelta(hours=1)
    assert (await overrides())[0] == ("Cy", now + timedelta(hours=1))
    with pytest.raises(Conflict):
        await cached.delete_override("ops", first.id, now=now + timedelta(hours=3))
    assert len(await cached.list_overrides("ops", start=now + timedelta(hours=1))) == 2
    assert await cached.teams_of_member("Dee") == ("ops",)


async def test_load_teams_answers_fresh_entries_from_the_cache() -> None:
    shared, clock = MemoryStore(), Clock()
    cached = CachedStore(shared, ttl=0.5, clock=clock)
    await shared.create_schedule(schedule("day", ["Ann"]))
    await shared.create_schedule(attrs.evolve(schedule("day", ["Bob"]), team="dev"))
    held = await cached.load_team("ops")
    await shared.create_schedule(schedule("night", ["Cy"]))  # another replica's write
    both = await cached.load_teams(["dev", "ops", "none"])
    assert list(both) == ["dev", "ops"] and both["ops"] is held
    clock.now += 0.6
    later = await cached.load_teams(["ops"])
    assert len(later["ops"].schedules) == 2


class SlowStore(MemoryStore):
    """A store whose loads take a while, so a write can happen meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def load_team(self, team: str) -> TeamState | None:
        state = await super().load_team(team)
        await self.release.wait()
        return state


async def test_a_load_overtaken_by_a_write_is_not_cached() -> None:
    slow = SlowStore()
    cached = CachedStore(slow, ttl=1.0, clock=Clock())
    await slow.create_schedule(schedule("day", ["Ann"]))
    loading = asyncio.create_task(cached.load_team("ops"))
    await settle()  # the load has read the old state and waits
    await cached.create_schedule(schedule("night", ["Bob"]))
    slow.release.set()
    stale = await loading
    assert stale is not None and len(stale.schedules) == 1
    fresh = await cached.load_team("ops")
    assert fresh is not None and len(fresh.schedules) == 2


@pytest.mark.parametrize("ttl", [0, -1, 1.5])
def test_the_ttl_is_bounded(ttl: float) -> None:
    with pytest.raises(ValueError):
        CachedStore(MemoryStore(), ttl=ttl)


class CountingStore(SlowStore):
    def __init__(self) -> None:
        super().__init__()
        self.loads = 0

    async def load_team(self, team: str) -> TeamState | None:
        self.loads += 1
        return await super().load_team(team)


async def test_concurrent_misses_share_one_load_but_not_across_a_write() -> None:
    counting = CountingStore()
    cached = CachedStore(counting, ttl=1.0, clock=Clock())
    await counting.create_schedule(schedule("day", ["Ann"]))
    waiting = [asyncio.create_task(cached.load_team("ops")) for _ in range(10)]
    await settle()
    assert counting.loads == 1
    await cached.create_schedule(schedule("night", ["Bob"]))
    after_write = asyncio.create_task(cached.load_team("ops"))
    await settle()
    assert counting.loads == 2  # the reader after the write did not join the old load
    counting.release.set()
    old = await asyncio.gather(*waiting)
    assert all(state is old[0] for state in old)
    fresh = await after_write
    assert fresh is not None and len(fresh.schedules) == 2


async def test_lookups_of_distinct_unknown_teams_never_exceed_max_entries() -> None:
    cached = CachedStore(MemoryStore(), ttl=1.0, max_entries=1000, clock=Clock())
    most = 0
    for number in range(100_000):  # none expires: the clock stands still
        assert await cached.load_team(f"stranger-{number}") is None
        most = max(most, cached.entries)
    assert most == 1000


async def test_the_bytes_held_never_exceed_max_bytes() -> None:
    cached = CachedStore(MemoryStore(), ttl=1.0, max_bytes=20_000, clock=Clock())
    for number in range(2_000):
        await cached.load_team(f"{number:0>190}")
        assert cached.size <= 20_000
    assert 0 < cached.entries < 2_000


async def test_expired_entries_are_dropped_when_others_are_stored() -> None:
    clock = Clock()
    cached = CachedStore(MemoryStore(), ttl=0.5, clock=clock)
    for number in range(100):
        await cached.load_team(f"stranger-{number}")
    clock.now += 1
    await cached.load_team("one more")
    assert cached.entries == 1


async def test_a_state_larger_than_max_bytes_is_answered_but_not_cached() -> None:
    counting = CountingStore()
    counting.release.set()
    cached = CachedStore(counting, ttl=1.0, max_bytes=500, clock=Clock())
    await counting.create_schedule(schedule("day", ["Ann", "Bob", "Cid"]))
    for _ in range(2):
        state = await cached.load_team("ops")
        assert state is not None and len(state.schedules) == 1
    assert (counting.loads, cached.entries, cached.size) == (2, 0, 0)


@pytest.mark.parametrize("bounds", [{"max_entries": 0}, {"max_bytes": 0}])
def test_the_bounds_are_positive(bounds: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        CachedStore(MemoryStore(), ttl=1.0, **bounds)
