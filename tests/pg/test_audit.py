"""The audit trail in PostgreSQL: entries commit with their change or not at all, the
table is append-only, and API key changes are recorded without their hashes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

import psycopg
import pytest

from oncall_core import (
    AuditAction,
    Author,
    OncallError,
    Override,
    RotationChange,
    Schedule,
    Weekday,
)
from oncall_pg import PostgresKeys, PostgresStore

NOW = datetime(2025, 6, 2, 17, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
HASH = "ab" * 32


def primary(**changes: Any) -> Schedule:
    return Schedule(
        team="ops",
        name=changes.pop("name", "primary"),
        members=changes.pop("members", ["Ann", "Bob", "Cid"]),
        days=list(Weekday),
        start=time(9),
        end=time(17),
        **changes,
    )


def cover(member: str, hours: float) -> Override:
    start = NOW + timedelta(hours=hours)
    return Override(member=member, start=start, end=start + timedelta(hours=2))


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[PostgresStore]:
    opened = await PostgresStore.open(database_url, min_size=1, max_size=4)
    # A team with something of every kind to change: a schedule, a deleted one, a
    # future override, one under way, and a key.
    fine = Author(actor="setup", at=NOW)
    await opened.create_schedule(primary(), now=NOW, by=fine)
    await opened.create_schedule(primary(name="gone"), now=NOW, by=fine)
    await opened.delete_schedule("ops", "gone", now=NOW, by=fine)
    await opened.add_overrides("ops", [cover("Dee", 3), cover("Eve", -1)], by=fine)
    keys = PostgresKeys(opened.pool)
    await keys.create(name="old", hash=HASH, scope="read", teams=[], now=NOW, by=fine)
    yield opened
    await opened.close()


Write = Callable[[PostgresStore, Author], Awaitable[object]]

WRITES: dict[str, Write] = {
    "create": lambda s, by: s.create_schedule(primary(name="new"), now=NOW, by=by),
    "re-create": lambda s, by: s.create_schedule(
        primary(name="gone", effective=LATER), now=NOW, by=by
    ),
    "edit": lambda s, by: s.edit_schedule(primary(members=["Zed"]), now=NOW, by=by),
    "delete": lambda s, by: s.delete_schedule("ops", "primary", now=NOW, by=by),
    "rotate": lambda s, by: s.append_rotation_change(
        "ops", RotationChange(schedule="primary", effective=LATER, position=2), by=by
    ),
    "swap": lambda s, by: s.add_overrides("ops", [cover("Fay", 5), cover("Gus", 6)], by=by),
    "remove override": lambda s, by: s.delete_override("ops", 1, now=NOW, by=by),
    "end override": lambda s, by: s.delete_override("ops", 2, now=NOW, by=by),
    "remove without a clock": lambda s, by: s.delete_override("ops", 2, by=by),
    "create key": lambda s, by: PostgresKeys(s.pool).create(
        name="new", hash="cd" * 32, scope="write", teams=["ops"], now=NOW, by=by
    ),
    "revoke key": lambda s, by: PostgresKeys(s.pool).revoke("old", now=NOW, by=by),
}


async def everything(store: PostgresStore) -> tuple[object, ...]:
    """All that a write could change: the team, the overrides, the keys, the trail."""
    keys = await PostgresKeys(store.pool).list()
    return (
        await store.load_team("ops"),
        await store.list_overrides("ops"),
        keys,
        await store.list_audit(None),
    )


async def execute(url: str, *statements: str) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        for statement in statements:
            await connection.execute(statement)  # type: ignore[arg-type]


@pytest.mark.parametrize("write", WRITES)
async def test_each_write_commits_with_its_entries(store: PostgresStore, write: str) -> None:
    before = await store.list_audit(None)
    await WRITES[write](store, Author(actor="bot", at=NOW, request_id="r-1"))
    after = await store.list_audit(None)
    new = after[: len(after) - len(before)]
    assert new and all(e.actor == "bot" and e.request_id == "r-1" for e in new)
    assert len(new) == (2 if write == "swap" else 1)


@pytest.mark.parametrize("write", WRITES)
async def test_a_change_whose_entry_cannot_be_written_is_not_stored(
    store: PostgresStore, database_url: str, write: str
) -> None:
    await execute(
        database_url,
        """CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'no entry for %', NEW.actor; END; $$""",
        """CREATE TRIGGER refuse BEFORE INSERT ON audit_entries
        FOR EACH ROW WHEN (NEW.actor = 'doomed') EXECUTE FUNCTION refuse()""",
    )
    before = await everything(store)
    with pytest.raises((psycopg.Error, OncallError), match="no entry for doomed"):
        await WRITES[write](store, Author(actor="doomed", at=NOW))
    assert await everything(store) == before
    # The same write by anybody else goes through, with its entry.
    await WRITES[write](store, Author(actor="fine", at=NOW))
    assert (await store.list_audit(None))[0].actor == "fine"


@pytest.mark.parametrize("write", ["create", "edit", "swap", "end override", "create key"])
async def test_a_session_that_dies_after_its_entry_leaves_neither(
    store: PostgresStore, database_url: str, write: str
) -> None:
    # The entry is inserted, then the session is killed before the commit: as if the
    # server crashed between the last statement and COMMIT.
    await execute(
        database_url,
        """CREATE FUNCTION die() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(5);
        RETURN NULL; END; $$""",
        """CREATE TRIGGER die AFTER INSERT ON audit_entries
        FOR EACH ROW WHEN (NEW.actor = 'crash') EXECUTE FUNCTION die()""",
    )
    before = await everything(store)
    with pytest.raises((psycopg.Error, OncallError)):
        await WRITES[write](store, Author(actor="crash", at=NOW))
    assert await everything(store) == before  # the pool replaced the dead connection


async def test_the_trail_is_append_only(store: PostgresStore, database_url: str) -> None:
    before = await store.list_audit(None)
    for statement in (
        "UPDATE audit_entries SET actor = 'someone else'",
        "DELETE FROM audit_entries",
        "TRUNCATE audit_entries",
    ):
        with pytest.raises(psycopg.errors.RestrictViolation, match="append-only"):
            await execute(database_url, statement)
    assert await store.list_audit(None) == before


async def test_key_changes_are_recorded_without_their_hash(store: PostgresStore) -> None:
    keys = PostgresKeys(store.pool)
    by = Author(actor="cli:root", at=NOW)
    await keys.create(name="bot", hash="ef" * 32, scope="write", teams=["ops"], now=NOW, by=by)
    await keys.revoke("bot", now=LATER, by=by)
    revoked, created = (await store.list_audit(None))[:2]
    assert (created.action, revoked.action) == (AuditAction.KEY_CREATED, AuditAction.KEY_REVOKED)
    for entry in (created, revoked):
        assert entry.team is None and entry.actor == "cli:root"
        assert entry.detail == {"name": "bot", "scope": "write", "teams": ["ops"]}
    # Key changes belong to no team: a team's trail leaves them out.
    assert all(
        e.action.value.startswith(("schedule", "override")) for e in await store.list_audit("ops")
    )
