"""A team's revision (migration 0007): PostgresStore.load_team hands back the state it
holds, the same object, while the stored team is unchanged, and the stored state
after any write: through this store, through another one on the same database (a
replica), of any kind; a refused write changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, time, timedelta

import pytest

from oncall_core import (
    MemoryStore,
    OncallError,
    Override,
    RotationChange,
    Schedule,
    Weekday,
)
from oncall_pg import PostgresStore

NOW = datetime(2025, 6, 2, 17, tzinfo=UTC)


def primary(**changes: object) -> Schedule:
    fields: dict[str, object] = {
        "team": "ops",
        "name": "primary",
        "members": ["Ann", "Bob", "Cid"],
        "days": list(Weekday),
        "start": time(9),
        "end": time(17),
    }
    return Schedule(**(fields | changes))  # type: ignore[arg-type]


def cover(hours: int) -> Override:
    start = NOW + timedelta(hours=hours)
    return Override(member="Dee", start=start, end=start + timedelta(hours=2))


@pytest.fixture
async def stores(database_url: str) -> AsyncIterator[tuple[PostgresStore, PostgresStore]]:
    """Two stores on one database, as two replicas."""
    one = await PostgresStore.open(database_url, min_size=1, max_size=2)
    other = await PostgresStore.open(database_url, min_size=1, max_size=2)
    yield one, other
    await one.close()
    await other.close()


Write = Callable[[PostgresStore], Awaitable[object]]
WRITES: dict[str, Write] = {
    "edit": lambda s: s.edit_schedule(primary(members=["Zed"]), now=NOW),
    "delete": lambda s: s.delete_schedule("ops", "primary", now=NOW),
    "create another": lambda s: s.create_schedule(primary(name="other"), now=NOW),
    "rotate": lambda s: s.append_rotation_change(
        "ops", RotationChange(schedule="primary", effective=NOW, position=2)
    ),
    "override": lambda s: s.add_override("ops", cover(1), now=NOW),
    "end an override": lambda s: s.delete_override("ops", 1, now=NOW),
    "remove an override": lambda s: s.delete_override("ops", 1),
}


async def stored(database_url: str) -> object:
    """The team as a fresh store reads it (no state held)."""
    fresh = await PostgresStore.open(database_url, min_size=1, max_size=1)
    try:
        return await fresh.load_team("ops")
    finally:
        await fresh.close()


@pytest.mark.parametrize("through", ["this store", "another store"])
@pytest.mark.parametrize("write", WRITES)
async def test_any_write_is_seen_by_the_next_load(
    stores: tuple[PostgresStore, PostgresStore], database_url: str, write: str, through: str
) -> None:
    one, other = stores
    await one.create_schedule(primary(), now=NOW - timedelta(days=1))
    await one.add_override("ops", cover(-1))  # under way at NOW: id 1
    first = await one.load_team("ops")
    assert await one.load_team("ops") is first  # unchanged: the same object
    await WRITES[write](one if through == "this store" else other)
    after = await one.load_team("ops")
    assert after is not first and after != first
    assert after == await stored(database_url)
    assert await one.load_team("ops") is after


async def test_a_refused_write_leaves_the_held_state(
    stores: tuple[PostgresStore, PostgresStore],
) -> None:
    one, other = stores
    await one.create_schedule(primary(), now=NOW)
    first = await one.load_team("ops")
    with pytest.raises(OncallError):
        await other.create_schedule(primary(), now=NOW)  # exists
    with pytest.raises(OncallError):
        await other.add_override("ops", cover(-5), now=NOW)  # the past
    assert await one.load_team("ops") is first


async def test_the_states_held_are_bounded_and_unknown_teams_are_none(database_url: str) -> None:
    one = await PostgresStore.open(database_url, min_size=1, max_size=1, held_states=2)
    for team in ("a", "b", "c"):
        await one.create_schedule(primary(team=team), now=NOW)
    states = [await one.load_team(team) for team in ("a", "b", "c")]
    assert await one.load_team("c") is states[2]
    again = await one.load_team("a")  # dropped (two held): loaded again, equal
    assert again == states[0] and again is not states[0]
    assert await one.load_team("nobody") is None
    memory = MemoryStore()
    await memory.create_schedule(primary(team="a"), now=NOW)
    assert await one.load_team("a") == await memory.load_team("a")
    await one.close()
