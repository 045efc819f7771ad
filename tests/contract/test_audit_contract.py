"""The audit trail's contract, on every store: each write given an author records
what it stored, by whom, when and in which request; a write without one, or a
refused write, records nothing; the trail pages newest first, by team or whole."""

from __future__ import annotations

import uuid
from datetime import timedelta

import attrs
import pytest
from hypothesis import given

from oncall_core import (
    AuditAction,
    AuditEntry,
    Author,
    Conflict,
    MemoryStore,
    OncallError,
    PastIsReadOnly,
    RotationChange,
    ScheduleExists,
    Store,
    ValidationError,
    to_json,
)
from tests.contract.conftest import open_store
from tests.contract.test_store_contract import NOW, Write, shift_at, version_writes, weekly
from tests.postgres import run_in_thread

BY = Author(actor="ci-bot", at=NOW, request_id="req-1")


def as_written(entries: tuple[AuditEntry, ...]) -> list[AuditEntry]:
    """Entries oldest first, without the ids each store gives."""
    return [attrs.evolve(entry, id=None) for entry in reversed(entries)]


def expected(action: AuditAction, effect: object, *, schedule: str | None) -> AuditEntry:
    return AuditEntry(
        team="ops",
        at=BY.at,
        actor=BY.actor,
        request_id=BY.request_id,
        action=action,
        schedule=schedule,
        detail=to_json(effect),
    )


class TestEveryWriteIsRecorded:
    async def test_each_write_records_what_it_stored_by_whom_when_and_where(
        self, store: Store
    ) -> None:
        created = await store.create_schedule(weekly(), now=NOW, by=BY)
        edited = await store.edit_schedule(weekly(priority=5), now=NOW, by=BY)
        change = await store.append_rotation_change(
            "ops",
            RotationChange(schedule="primary", effective=NOW + timedelta(hours=1), position=1),
            by=BY,
        )
        future, ongoing = await store.add_overrides(
            "ops", [shift_at("Dee", 2, schedule="primary"), shift_at("Eve", 0)], now=NOW, by=BY
        )
        assert future.id is not None and ongoing.id is not None
        later = NOW + timedelta(minutes=30)
        assert await store.delete_override("ops", future.id, now=later, by=BY) is None
        ended = await store.delete_override("ops", ongoing.id, now=later, by=BY)
        gone = NOW + timedelta(hours=2)  # after the rotation change
        deleted = await store.delete_schedule("ops", "primary", now=NOW, effective=gone, by=BY)
        again = await store.create_schedule(
            attrs.evolve(weekly(), effective=gone + timedelta(hours=1)), now=later, by=BY
        )
        A = AuditAction
        assert as_written(await store.list_audit("ops")) == [
            expected(A.SCHEDULE_CREATED, created, schedule="primary"),
            expected(A.SCHEDULE_EDITED, edited, schedule="primary"),
            expected(A.ROTATION_CHANGED, change, schedule="primary"),
            expected(A.OVERRIDE_ADDED, future, schedule="primary"),
            expected(A.OVERRIDE_ADDED, ongoing, schedule=None),
            expected(A.OVERRIDE_REMOVED, future, schedule="primary"),
            expected(A.OVERRIDE_ENDED, ended, schedule=None),
            expected(A.SCHEDULE_DELETED, deleted, schedule="primary"),
            expected(A.SCHEDULE_CREATED, again, schedule="primary"),
        ]
        # Every entry of a write carries its override's id, as stored.
        assert [e.detail.get("id") for e in as_written(await store.list_audit("ops"))][3:7] == [
            future.id,
            ongoing.id,
            future.id,
            ongoing.id,
        ]

    async def test_a_delete_without_a_clock_records_the_override_it_removed(
        self, store: Store
    ) -> None:
        await store.create_schedule(weekly())
        added = await store.add_override("ops", shift_at("Dee", -5))
        assert added.id is not None
        assert await store.delete_override("ops", added.id, by=BY) is None
        assert as_written(await store.list_audit("ops")) == [
            expected(AuditAction.OVERRIDE_REMOVED, added, schedule=None)
        ]

    async def test_a_write_without_an_author_records_nothing(self, store: Store) -> None:
        await store.create_schedule(weekly(), now=NOW)
        await store.edit_schedule(weekly(priority=5), now=NOW)
        stored = await store.add_override("ops", shift_at("Dee", 1), now=NOW)
        assert stored.id is not None
        await store.delete_override("ops", stored.id, now=NOW)
        await store.delete_schedule("ops", "primary", now=NOW + timedelta(hours=1))
        assert await store.list_audit("ops") == ()
        assert await store.list_audit(None) == ()


class TestRefusedWritesRecordNothing:
    async def test_no_entry_for_any_refused_write(self, store: Store) -> None:
        await store.create_schedule(weekly(), now=NOW, by=BY)
        before = await store.list_audit(None)
        refused = [
            (ScheduleExists, store.create_schedule(weekly(), now=NOW, by=BY)),
            (
                PastIsReadOnly,
                store.edit_schedule(
                    attrs.evolve(weekly(), effective=NOW - timedelta(days=1)), now=NOW, by=BY
                ),
            ),
            (
                ValidationError,
                store.append_rotation_change(
                    "ops",
                    RotationChange(schedule="primary", effective=NOW, position=99),
                    by=BY,
                ),
            ),
            # The second override starts in the past: neither is stored, nor recorded.
            (
                PastIsReadOnly,
                store.add_overrides(
                    "ops", [shift_at("Dee", 1), shift_at("Eve", -3)], now=NOW, by=BY
                ),
            ),
        ]
        for error, write in refused:
            with pytest.raises(error):
                await write
        ended = await store.add_override("ops", shift_at("Dee", 1), now=NOW)
        assert ended.id is not None
        with pytest.raises(Conflict):
            await store.delete_override("ops", ended.id, now=NOW + timedelta(hours=5), by=BY)
        assert await store.list_audit(None) == before


class TestListing:
    async def test_newest_first_by_team_or_whole_a_page_at_a_time(self, store: Store) -> None:
        for team in ("ops", "web", "ops"):
            name = f"s{len(await store.list_audit(None))}"
            await store.create_schedule(weekly(team=team, name=name), now=NOW, by=BY)
        every = await store.list_audit(None)
        assert [(e.team, e.schedule) for e in every] == [
            ("ops", "s2"),
            ("web", "s1"),
            ("ops", "s0"),
        ]
        ids = [e.id for e in every]
        assert all(isinstance(i, int) for i in ids) and ids == sorted(ids, reverse=True)
        ops = await store.list_audit("ops")
        assert ops == (every[0], every[2])
        assert await store.list_audit("ops", limit=1) == (every[0],)
        assert await store.list_audit("ops", before=every[0].id) == (every[2],)
        assert await store.list_audit(None, before=every[1].id, limit=5) == (every[2],)
        assert await store.list_audit(None, limit=0) == ()
        assert await store.list_audit("nobody") == ()
        with pytest.raises(ValidationError) as refused:
            await store.list_audit(None, limit=-1)
        assert refused.value.field == "limit"


async def audited_writes(store: Store, writes: list[Write]) -> list[AuditEntry]:
    """Apply the writes, each by an author with its own request id; the team's trail."""
    for number, (what, index, hours, definition) in enumerate(writes):
        by = Author(actor="bot", at=NOW, request_id=f"r{number}")
        version = attrs.evolve(definition, name=f"s{index}")
        moment = NOW + timedelta(hours=hours)
        try:
            if what == "create":
                await store.create_schedule(version, now=moment, by=by)
            elif what == "edit":
                await store.edit_schedule(version, now=NOW, by=by)
            else:
                await store.delete_schedule(
                    version.team, version.name, now=NOW, effective=moment, by=by
                )
        except OncallError:
            pass
    return as_written(await store.list_audit(writes[0][3].team))


def test_both_stores_record_the_same_trail_for_the_same_writes(
    request: pytest.FixtureRequest,
) -> None:
    request.getfixturevalue("database_url")

    @given(version_writes())
    def same(writes: list[Write]) -> None:
        async def scenario() -> None:
            postgres = await open_store("postgres", request)
            try:
                memory = MemoryStore()
                trail = await audited_writes(memory, writes)
                assert await audited_writes(postgres, writes) == trail
                # One entry per write taken, and the taken writes are what the team holds.
                state = await memory.load_team(writes[0][3].team)
                stored = len(state.schedules) + len(state.deletions) if state else 0
                assert len(trail) == stored
            finally:
                await postgres.close()

        run_in_thread(scenario())

    same()


def test_an_author_is_checked() -> None:
    with pytest.raises(ValidationError) as refused:
        Author(actor="", at=NOW)
    assert refused.value.field == "actor"
    with pytest.raises(ValidationError) as refused:
        Author(actor="bot", at=NOW.replace(tzinfo=None))
    assert refused.value.field == "at"
    with pytest.raises(ValidationError) as refused:
        Author(actor="bot", at=NOW, request_id="x" * 201)
    assert refused.value.field == "request_id"
    assert Author(actor="bot", at=NOW, request_id=uuid.uuid4().hex).request_id
