"""The store contract: every behaviour, checked on every store (memory and PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time, timedelta

import attrs
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from oncall_core import (
    Conflict,
    Deletion,
    MemoryStore,
    NotFound,
    OncallError,
    Override,
    PastIsReadOnly,
    PreconditionFailed,
    Rotation,
    RotationChange,
    RotationKind,
    Schedule,
    ScheduleExists,
    Shift,
    Store,
    TeamState,
    ValidationError,
    Weekday,
    clean_text,
    from_json,
    oncall_at,
    timeline,
    to_json,
)
from oncall_core.store import TeamSummary
from oncall_core.strategies import overrides, rotation_changes, schedules
from tests.contract.conftest import STORES, open_store
from tests.postgres import run_in_thread

MONDAY_NOON = datetime(2025, 5, 5, 17, tzinfo=UTC)  # noon in Chicago, inside weekly()
NOW = datetime(2025, 6, 2, 17, tzinfo=UTC)  # "now" for writes: a Monday noon in Chicago
WEEK = timedelta(days=7)


def weekly(team: str = "ops", name: str = "primary", **changes: object) -> Schedule:
    schedule = Schedule(
        team=team,
        name=name,
        members=["Ann", "Bob", "Ann", "Cid"],
        days=[Weekday.MONDAY, Weekday.FRIDAY, Weekday.SUNDAY],
        start=time(9),
        end=time(17, 30),
        timezone="America/Chicago",
        rotation=Rotation(
            kind=RotationKind.WEEKLY, every=2, start=datetime(2025, 1, 6, 15, tzinfo=UTC)
        ),
        priority=3,
    )
    return attrs.evolve(schedule, **changes)


def nights(team: str = "ops", name: str = "nights") -> Schedule:
    return Schedule(
        team=team,
        name=name,
        members=["Dee"],
        days=list(Weekday),
        start=time(20),
        end=time(8),
        overnight=True,
    )


async def unchanged(store: Store, team: str, call: Callable[[], Awaitable[object]]) -> None:
    """The call raises, and the team's state is what it was."""
    before = await store.load_team(team)
    with pytest.raises(Exception) as caught:
        await call()
    assert await store.load_team(team) == before
    raise caught.value


class TestSchedules:
    async def test_a_created_schedule_reads_back_equal(self, store: Store) -> None:
        created = await store.create_schedule(weekly())
        assert created == weekly()
        assert await store.load_team("ops") == TeamState(team="ops", schedules=[weekly()])
        assert await store.list_teams(at=NOW) == (TeamSummary("ops", 1),)

    async def test_a_duplicate_name_is_rejected_and_changes_nothing(self, store: Store) -> None:
        await store.create_schedule(weekly())
        with pytest.raises(ScheduleExists) as caught:
            await unchanged(store, "ops", lambda: store.create_schedule(weekly(members=["Zed"])))
        assert (caught.value.team, caught.value.name) == ("ops", "primary")

    async def test_the_same_name_in_another_team_is_fine(self, store: Store) -> None:
        await store.create_schedule(weekly())
        await store.create_schedule(weekly(team="web"))
        assert await store.list_teams(at=NOW) == (TeamSummary("ops", 1), TeamSummary("web", 1))

    async def test_schedules_are_listed_in_the_order_their_versions_were_written(
        self, store: Store
    ) -> None:
        for name in ["c", "a", "b"]:
            await store.create_schedule(weekly(name=name))
        edited = await store.edit_schedule(weekly(name="a", members=["Zed"]), now=NOW)
        state = await store.load_team("ops")
        assert state is not None
        assert [(s.name, s.effective) for s in state.schedules] == [
            ("c", None),
            ("a", None),
            ("b", None),
            ("a", NOW),
        ]
        assert state.schedules[-1] == edited
        assert state.names == ("c", "a", "b")

    async def test_unknown_schedules_and_teams(self, store: Store) -> None:
        assert await store.load_team("nobody") is None
        assert await store.list_overrides("nobody") == ()
        assert await store.list_teams(at=NOW) == ()
        with pytest.raises(NotFound):
            await store.edit_schedule(weekly(team="nobody"), now=NOW)
        with pytest.raises(NotFound):
            await store.delete_schedule("nobody", "primary", now=NOW)
        await store.create_schedule(weekly())
        with pytest.raises(NotFound):
            await unchanged(
                store, "ops", lambda: store.edit_schedule(weekly(name="other"), now=NOW)
            )
        with pytest.raises(NotFound):
            await unchanged(store, "ops", lambda: store.delete_schedule("ops", "other", now=NOW))


def past_instants() -> list[datetime]:
    """Every hour of the month before NOW (the past, whose answers must not change)."""
    return [NOW - timedelta(hours=hours) for hours in range(1, 31 * 24)]


async def in_force_over_the_past(store: Store, team: str) -> list[tuple[Schedule, ...]]:
    """The versions in force at each past instant: what the past's answers are built from."""
    state = await store.load_team(team)
    assert state is not None
    return [state.in_force(at) for at in past_instants()]


async def timeline_before(store: Store, team: str) -> tuple[Shift, ...]:
    """The team's shifts over the month before NOW."""
    state = await store.load_team(team)
    assert state is not None
    return timeline(state, NOW - timedelta(days=31), NOW)


class TestAnswersOverVersions:
    async def test_an_edit_leaves_past_answers_and_changes_future_ones(self, store: Store) -> None:
        await store.create_schedule(weekly())
        await store.create_schedule(nights())
        await store.append_rotation_change(
            "ops", RotationChange(schedule="primary", effective=MONDAY_NOON)
        )
        past = await timeline_before(store, "ops")
        await store.edit_schedule(weekly(members=["Zed"], start=time(8), priority=9), now=NOW)
        assert await timeline_before(store, "ops") == past
        state = await store.load_team("ops")
        assert state is not None
        answer = oncall_at(state, NOW + timedelta(hours=1))
        assert answer is not None and (answer.member, answer.schedule) == ("Zed", "primary")

    async def test_a_delete_leaves_past_answers_and_ends_future_ones(self, store: Store) -> None:
        await store.create_schedule(weekly())
        await store.create_schedule(nights())
        past = await timeline_before(store, "ops")
        await store.delete_schedule("ops", "primary", now=NOW)
        assert await timeline_before(store, "ops") == past
        state = await store.load_team("ops")
        assert state is not None
        assert all(shift.schedule != "primary" for shift in timeline(state, NOW, NOW + WEEK))

    async def test_a_future_version_answers_from_its_instant(self, store: Store) -> None:
        await store.create_schedule(weekly())
        await store.edit_schedule(weekly(members=["Zed"], effective=NOW + WEEK), now=NOW)
        state = await store.load_team("ops")
        assert state is not None
        before = oncall_at(state, NOW + timedelta(hours=1))
        after = oncall_at(state, NOW + WEEK + timedelta(hours=1))
        assert before is not None and before.member != "Zed"
        assert after is not None and after.member == "Zed"


class TestVersions:
    async def test_an_edit_appends_a_version_and_the_past_is_unchanged(self, store: Store) -> None:
        await store.create_schedule(weekly())
        await store.create_schedule(nights())
        await store.append_rotation_change(
            "ops", RotationChange(schedule="primary", effective=MONDAY_NOON)
        )
        past = await in_force_over_the_past(store, "ops")
        edited = await store.edit_schedule(
            weekly(members=["Zed"], start=time(8), priority=9), now=NOW
        )
        assert edited == weekly(members=["Zed"], start=time(8), priority=9, effective=NOW)
        state = await store.load_team("ops")
        assert state is not None
        assert state.schedules == (weekly(), nights(), edited)
        assert state.revision("primary") == 2 and state.revision("nights") == 1
        assert await in_force_over_the_past(store, "ops") == past
        assert state.in_force(NOW) == (edited, nights())

    async def test_a_delete_keeps_past_answers_and_ends_future_ones(self, store: Store) -> None:
        await store.create_schedule(weekly())
        await store.create_schedule(nights())
        change = RotationChange(schedule="primary", effective=MONDAY_NOON)
        await store.append_rotation_change("ops", change)
        limited = await store.add_override("ops", cover("Sub", schedule="primary"))
        past = await in_force_over_the_past(store, "ops")
        ended = await store.delete_schedule("ops", "primary", now=NOW)
        assert ended == Deletion(schedule="primary", effective=NOW)
        state = await store.load_team("ops")
        assert state is not None
        # Nothing is dropped: the versions, the history and the overrides stay.
        assert state.schedules == (weekly(), nights())
        assert state.deletions == (ended,)
        assert state.changes == (change,) and state.overrides == (limited,)
        assert state.revision("primary") == 2
        assert await in_force_over_the_past(store, "ops") == past
        assert state.schedule_at("primary", NOW - timedelta(seconds=1)) == weekly()
        assert state.schedule_at("primary", NOW) is None
        assert state.in_force(NOW + WEEK) == (nights(),)
        assert await store.list_teams(at=NOW - timedelta(seconds=1)) == (TeamSummary("ops", 2),)
        assert await store.list_teams(at=NOW) == (TeamSummary("ops", 1),)
        # A deleted schedule cannot be edited or deleted again.
        with pytest.raises(NotFound):
            await unchanged(
                store, "ops", lambda: store.edit_schedule(weekly(), now=NOW + timedelta(hours=1))
            )
        with pytest.raises(NotFound):
            await unchanged(
                store,
                "ops",
                lambda: store.delete_schedule("ops", "primary", now=NOW + timedelta(hours=1)),
            )

    async def test_a_deleted_schedule_is_re_created_from_then_on(self, store: Store) -> None:
        await store.create_schedule(weekly())
        with pytest.raises(ScheduleExists):
            await unchanged(store, "ops", lambda: store.create_schedule(weekly(), now=NOW))
        await store.delete_schedule("ops", "primary", now=NOW)
        later = NOW + timedelta(days=1)
        again = await store.create_schedule(weekly(members=["Zed"]), now=later)
        assert again == weekly(members=["Zed"], effective=later)
        state = await store.load_team("ops")
        assert state is not None
        assert state.history("primary") == (
            weekly(),
            Deletion(schedule="primary", effective=NOW),
            again,
        )
        assert state.schedule_at("primary", NOW + timedelta(hours=1)) is None
        assert state.schedule_at("primary", later) == again
        assert state.revision("primary") == 3
        with pytest.raises(ScheduleExists):
            await unchanged(store, "ops", lambda: store.create_schedule(weekly(), now=later))

    async def test_re_creating_before_the_deletion_is_a_conflict(self, store: Store) -> None:
        await store.create_schedule(weekly())
        await store.delete_schedule("ops", "primary", now=NOW, effective=NOW + WEEK)
        with pytest.raises(Conflict):
            await unchanged(
                store, "ops", lambda: store.create_schedule(weekly(members=["Zed"]), now=NOW)
            )
        with pytest.raises(Conflict):
            await unchanged(
                store,
                "ops",
                lambda: store.create_schedule(
                    weekly(members=["Zed"], effective=NOW + timedelta(days=3)), now=NOW
                ),
            )

    async def test_the_past_is_read_only_and_a_refused_write_stores_nothing(
        self, store: Store
    ) -> None:
        await store.create_schedule(weekly())
        past = NOW - timedelta(minutes=2)
        with pytest.raises(PastIsReadOnly) as caught:
            await unchanged(
                store,
                "ops",
                lambda: store.edit_schedule(weekly(members=["Zed"], effective=past), now=NOW),
            )
        assert caught.value.field == "effective"
        with pytest.raises(PastIsReadOnly):
            await unchanged(
                store,
                "ops",
                lambda: store.delete_schedule("ops", "primary", now=NOW, effective=past),
            )
        await store.delete_schedule("ops", "primary", now=NOW)
        with pytest.raises(PastIsReadOnly):
            await unchanged(
                store,
                "ops",
                lambda: store.create_schedule(
                    weekly(effective=NOW + timedelta(hours=1)), now=NOW + timedelta(hours=2)
                ),
            )

    async def test_an_effective_less_than_a_minute_old_is_taken_as_now(self, store: Store) -> None:
        await store.create_schedule(weekly())
        drifted = weekly(members=["Zed"], effective=NOW - timedelta(seconds=59))
        assert (await store.edit_schedule(drifted, now=NOW)).effective == NOW
        ended = await store.delete_schedule(
            "ops", "primary", now=NOW + timedelta(hours=1), effective=NOW + timedelta(seconds=3570)
        )
        assert ended.effective == NOW + timedelta(hours=1)
        state = await store.load_team("ops")
        assert state is not None
        assert [v.effective for v in state.history("primary")] == [
            None,
            NOW,
            NOW + timedelta(hours=1),
        ]

    async def test_a_deletion_before_a_scheduled_rotation_change_conflicts(
        self, store: Store
    ) -> None:
        await store.create_schedule(weekly())
        change = RotationChange(schedule="primary", effective=NOW + WEEK)
        await store.append_rotation_change("ops", change)
        with pytest.raises(Conflict, match="rotation change"):
            await unchanged(store, "ops", lambda: store.delete_schedule("ops", "primary", now=NOW))
        later = NOW + WEEK + timedelta(seconds=1)
        ended = await store.delete_schedule("ops", "primary", now=NOW, effective=later)
        assert ended == Deletion(schedule="primary", effective=later)

    async def test_a_future_version_takes_over_at_its_instant(self, store: Store) -> None:
        await store.create_schedule(weekly())
        future = weekly(members=["Zed"], effective=NOW + WEEK)
        assert await store.edit_schedule(future, now=NOW) == future
        state = await store.load_team("ops")
        assert state is not None
        assert state.schedule_at("primary", NOW + WEEK - timedelta(seconds=1)) == weekly()
        assert state.schedule_at("primary", NOW + WEEK) == future
        assert state.in_force(NOW) == (weekly(),)
        assert state.in_force(NOW + WEEK) == (future,)
        # A deletion before the scheduled version would end it only until then.
        with pytest.raises(Conflict):
            await unchanged(store, "ops", lambda: store.delete_schedule("ops", "primary", now=NOW))
        # An edit at the very instant of the scheduled one conflicts with it.
        with pytest.raises(Conflict, match="already changes"):
            await unchanged(store, "ops", lambda: store.edit_schedule(future, now=NOW))

    async def test_an_expected_revision_that_is_not_current_fails_and_stores_nothing(
        self, store: Store
    ) -> None:
        await store.create_schedule(weekly())
        with pytest.raises(PreconditionFailed) as caught:
            await unchanged(
                store,
                "ops",
                lambda: store.edit_schedule(weekly(members=["Zed"]), now=NOW, expected=2),
            )
        assert (caught.value.expected, caught.value.actual) == (2, 1)
        await store.edit_schedule(weekly(members=["Zed"]), now=NOW, expected=1)
        later = NOW + timedelta(hours=1)
        with pytest.raises(PreconditionFailed):
            await unchanged(
                store, "ops", lambda: store.delete_schedule("ops", "primary", now=later, expected=1)
            )
        await store.delete_schedule("ops", "primary", now=later, expected=2)
        state = await store.load_team("ops")
        assert state is not None and state.revision("primary") == 3

    async def test_two_concurrent_edits_expecting_one_revision_one_wins(self, store: Store) -> None:
        await store.create_schedule(weekly())
        results = await asyncio.gather(
            store.edit_schedule(weekly(members=["Zed"]), now=NOW, expected=1),
            store.edit_schedule(
                weekly(members=["Yan"]), now=NOW + timedelta(seconds=1), expected=1
            ),
            return_exceptions=True,
        )
        won = [r for r in results if isinstance(r, Schedule)]
        lost = [r for r in results if not isinstance(r, Schedule)]
        assert len(won) == 1 and len(lost) == 1
        assert isinstance(lost[0], PreconditionFailed) and lost[0].actual == 2
        state = await store.load_team("ops")
        assert state is not None
        assert state.schedules == (weekly(), won[0]) and state.revision("primary") == 2

    async def test_an_edit_below_a_position_a_later_change_sets_is_refused(
        self, store: Store
    ) -> None:
        await store.create_schedule(weekly())  # four members
        change = RotationChange(schedule="primary", effective=NOW + WEEK, position=3)
        await store.append_rotation_change("ops", change)
        with pytest.raises(ValidationError) as caught:
            await unchanged(
                store, "ops", lambda: store.edit_schedule(weekly(members=["Ann", "Bob"]), now=NOW)
            )
        assert caught.value.field == "position"
        # A change before the edit is checked against the version in force then.
        earlier = RotationChange(schedule="primary", effective=NOW - WEEK, position=3)
        await store.append_rotation_change("ops", earlier)
        edited = await store.edit_schedule(
            weekly(members=["Ann", "Bob"], effective=NOW + WEEK + timedelta(hours=1)), now=NOW
        )
        assert edited.effective == NOW + WEEK + timedelta(hours=1)

    async def test_a_rotation_change_where_the_schedule_is_not_in_force_is_refused(
        self, store: Store
    ) -> None:
        await store.create_schedule(weekly())
        await store.delete_schedule("ops", "primary", now=NOW)
        with pytest.raises(ValidationError) as caught:
            await unchanged(
                store,
                "ops",
                lambda: store.append_rotation_change(
                    "ops", RotationChange(schedule="primary", effective=NOW + timedelta(hours=1))
                ),
            )
        assert caught.value.field == "effective"


class TestListTeams:
    @pytest.mark.parametrize("limit", [-1, True, 1.5])
    async def test_a_limit_that_is_not_a_count_is_refused(
        self, store: Store, limit: object
    ) -> None:
        await store.create_schedule(weekly())
        with pytest.raises(ValidationError) as caught:
            await store.list_teams(at=NOW, limit=limit)  # type: ignore[arg-type]
        assert caught.value.field == "limit"

    async def test_teams_are_sorted_with_the_schedules_in_force_and_paged_by_name(
        self, store: Store
    ) -> None:
        for team, count in [("web", 1), ("db", 3), ("ops", 2), ("Ops", 1), ("ünicode", 1)]:
            for index in range(count):
                await store.create_schedule(weekly(team=team, name=f"s{index}"))
        await store.delete_schedule("db", "s0", now=NOW)
        await store.delete_schedule("ops", "s1", now=NOW, effective=NOW + WEEK)
        await store.create_schedule(weekly(team="web", name="later", effective=NOW + WEEK))
        everything = await store.list_teams(at=NOW)
        assert everything == (
            TeamSummary("Ops", 1),
            TeamSummary("db", 2),
            TeamSummary("ops", 2),
            TeamSummary("web", 1),
            TeamSummary("ünicode", 1),
        )
        assert await store.list_teams(at=NOW - timedelta(seconds=1)) == (
            TeamSummary("Ops", 1),
            TeamSummary("db", 3),
            TeamSummary("ops", 2),
            TeamSummary("web", 1),
            TeamSummary("ünicode", 1),
        )
        assert [s.schedules for s in await store.list_teams(at=NOW + WEEK)] == [1, 2, 1, 2, 1]
        pages = []
        after = None
        # Ends: each page starts after the last name of the one before, and the
        # names are finite; an empty page stops it.
        while page := await store.list_teams(at=NOW, after=after, limit=2):
            assert len(page) <= 2
            pages.append(page)
            after = page[-1].team
        assert [len(page) for page in pages] == [2, 2, 1]
        assert tuple(summary for page in pages for summary in page) == everything
        assert await store.list_teams(at=NOW, after="ops") == everything[3:]
        assert await store.list_teams(at=NOW, after="ünicode") == ()
        assert await store.list_teams(at=NOW, limit=0) == ()


def cover(member: str, schedule: str | None = None, hours: int = 2) -> Override:
    return Override(
        member=member,
        start=MONDAY_NOON,
        end=MONDAY_NOON + timedelta(hours=hours),
        schedule=schedule,
        reason="dentist",
    )


class TestRotationHistory:
    async def test_changes_are_appended_in_order_and_resolve(self, store: Store) -> None:
        await store.create_schedule(nights())
        await store.create_schedule(attrs.evolve(weekly(), rotation=Rotation()))
        changes = [
            RotationChange(schedule="primary", effective=MONDAY_NOON - timedelta(days=1)),
            RotationChange(schedule="primary", effective=MONDAY_NOON, position=3),
            RotationChange(schedule="primary", effective=MONDAY_NOON - timedelta(days=2)),
        ]
        for change in changes:
            assert await store.append_rotation_change("ops", change) == change
        state = await store.load_team("ops")
        assert state is not None
        assert state.changes == tuple(changes)
        answer = oncall_at(state, MONDAY_NOON + timedelta(hours=1))
        assert answer is not None and answer.member == "Cid"

    async def test_bad_changes_are_rejected_and_change_nothing(self, store: Store) -> None:
        await store.create_schedule(weekly())
        with pytest.raises(NotFound):
            await unchanged(
                store,
                "ops",
                lambda: store.append_rotation_change(
                    "ops", RotationChange(schedule="other", effective=MONDAY_NOON)
                ),
            )
        with pytest.raises(ValidationError) as caught:
            await unchanged(
                store,
                "ops",
                lambda: store.append_rotation_change(
                    "ops", RotationChange(schedule="primary", effective=MONDAY_NOON, position=4)
                ),
            )
        assert caught.value.field == "position"


class TestOverrides:
    async def test_overrides_get_ids_and_keep_creation_order(self, store: Store) -> None:
        await store.create_schedule(weekly())
        first = await store.add_override("ops", cover("Sub"))
        second = await store.add_override("ops", cover("Two", schedule="primary", hours=1))
        assert first.id is not None and second.id is not None and first.id != second.id
        assert attrs.evolve(first, id=None) == cover("Sub")
        assert await store.list_overrides("ops") == (first, second)
        state = await store.load_team("ops")
        assert state is not None
        answer = oncall_at(state, MONDAY_NOON + timedelta(minutes=30))
        assert answer is not None and answer.member == "Two"

    async def test_delete_override(self, store: Store) -> None:
        await store.create_schedule(weekly())
        first = await store.add_override("ops", cover("Sub"))
        second = await store.add_override("ops", cover("Two"))
        assert first.id is not None
        await store.delete_override("ops", first.id)
        assert await store.list_overrides("ops") == (second,)
        with pytest.raises(NotFound):
            await unchanged(store, "ops", lambda: store.delete_override("ops", first.id or 0))
        with pytest.raises(NotFound):
            await store.delete_override("web", second.id or 0)

    async def test_bad_overrides_are_rejected_and_change_nothing(self, store: Store) -> None:
        await store.create_schedule(weekly())
        with pytest.raises(NotFound):
            await store.add_override("nobody", cover("Sub"))
        with pytest.raises(NotFound):
            await unchanged(store, "ops", lambda: store.add_override("ops", cover("S", "other")))
        with pytest.raises(ValidationError):
            await unchanged(
                store, "ops", lambda: store.add_override("ops", attrs.evolve(cover("S"), id=7))
            )


class TestLoadTeam:
    async def test_load_team_is_the_whole_state(self, store: Store) -> None:
        await store.create_schedule(weekly())
        await store.create_schedule(nights())
        change = RotationChange(schedule="nights", effective=MONDAY_NOON)
        await store.append_rotation_change("ops", change)
        override = await store.add_override("ops", cover("Sub", schedule="nights"))
        assert await store.load_team("ops") == TeamState(
            team="ops",
            schedules=[weekly(), nights()],
            changes=[change],
            overrides=[override],
        )

    async def test_versions_and_deletions_load_as_written_and_round_trip_as_json(
        self, store: Store
    ) -> None:
        await store.create_schedule(nights())
        await store.create_schedule(weekly(effective=MONDAY_NOON))
        await store.edit_schedule(weekly(members=["Zed"], effective=NOW + WEEK), now=NOW)
        await store.edit_schedule(nights(), now=NOW)
        await store.delete_schedule("ops", "nights", now=NOW + timedelta(hours=1))
        await store.create_schedule(nights(), now=NOW + timedelta(days=1, microseconds=7))
        change = RotationChange(schedule="primary", effective=NOW + timedelta(days=2))
        await store.append_rotation_change("ops", change)
        expected = TeamState(
            team="ops",
            schedules=[
                nights(),
                weekly(effective=MONDAY_NOON),
                weekly(members=["Zed"], effective=NOW + WEEK),
                attrs.evolve(nights(), effective=NOW),
                attrs.evolve(nights(), effective=NOW + timedelta(days=1, microseconds=7)),
            ],
            deletions=[Deletion(schedule="nights", effective=NOW + timedelta(hours=1))],
            changes=[change],
        )
        loaded = await store.load_team("ops")
        assert loaded == expected
        assert from_json(to_json(loaded), TeamState) == loaded


@st.composite
def team_contents(draw: st.DrawFn) -> tuple[list[Schedule], list[RotationChange], list[Override]]:
    team = f"team-{uuid.uuid4().hex[:8]}"
    count = draw(st.integers(min_value=1, max_value=3))
    drawn = [draw(schedules(team=team, name=f"s{index}")) for index in range(count)]
    names = [schedule.name for schedule in drawn]
    changes = draw(st.lists(rotation_changes(drawn), max_size=3))
    return drawn, changes, draw(st.lists(overrides(names), max_size=3))


@pytest.mark.parametrize("kind", STORES)
def test_any_team_round_trips_through_the_store(kind: str, request: pytest.FixtureRequest) -> None:
    if kind == "postgres":
        request.getfixturevalue("database_url")

    @given(team_contents())
    def round_trip(contents: tuple[list[Schedule], list[RotationChange], list[Override]]) -> None:
        drawn, changes, added = contents
        team = drawn[0].team

        async def scenario() -> None:
            store = await open_store(kind, request)
            try:
                for schedule in drawn:
                    await store.create_schedule(schedule)
                for change in changes:
                    await store.append_rotation_change(team, change)
                stored = [await store.add_override(team, override) for override in added]
                expected = TeamState(team=team, schedules=drawn, changes=changes, overrides=stored)
                assert await store.load_team(team) == expected
            finally:
                await store.close()

        run_in_thread(scenario())

    round_trip()


async def test_a_working_store_answers_ping_and_ping_changes_nothing(store: Store) -> None:
    await store.create_schedule(weekly())
    before = await store.load_team("ops")
    assert await store.ping() is None  # no StorageUnavailable: the store is ready
    assert await store.load_team("ops") == before
    assert await store.list_teams(at=NOW) == (TeamSummary("ops", 1),)


@st.composite
def accepted_texts(draw: st.DrawFn) -> tuple[str, str, str, str]:
    """Team, schedule, member and reason drawn from Unicode (combining marks, other
    scripts, emoji, odd spaces...), kept when the model accepts them.  Surrogates
    and controls, which it always refuses, are left out of the draw so that few
    examples are wasted; tests/core/test_model.py draws those."""
    alphabet = st.characters(exclude_categories=["Cs", "Cc"])
    texts = [draw(st.text(alphabet, min_size=1, max_size=12)) for _ in range(4)]
    try:
        for index, text in enumerate(texts):
            texts[index] = clean_text(text, "text")
    except ValidationError:
        assume(False)
    return texts[0], texts[1], texts[2], texts[3]


@pytest.mark.parametrize("kind", STORES)
def test_any_text_the_model_accepts_round_trips_through_the_store(
    kind: str, request: pytest.FixtureRequest
) -> None:
    if kind == "postgres":
        request.getfixturevalue("database_url")

    @given(accepted_texts())
    def round_trip(texts: tuple[str, str, str, str]) -> None:
        team, name, member, reason = texts
        team = f"{team}-{uuid.uuid4().hex[:8]}"  # each example a new team in a shared database
        schedule = weekly(team=team, name=name, members=[member, "Bob"])
        override = Override(member=member, start=MONDAY_NOON, end=MONDAY_NOON + timedelta(hours=1))

        async def scenario() -> None:
            store = await open_store(kind, request)
            try:
                await store.create_schedule(schedule)
                stored = await store.add_override(team, attrs.evolve(override, reason=reason))
                loaded = await store.load_team(team)
                assert loaded == TeamState(team=team, schedules=[schedule], overrides=[stored])
            finally:
                await store.close()

        run_in_thread(scenario())

    round_trip()


Write = tuple[str, int, int, Schedule]  # what, which name, hours after NOW, a definition


@st.composite
def version_writes(draw: st.DrawFn) -> list[Write]:
    """Creates, edits and deletes of a few names at drawn instants, in any order: many
    of them are refused (exists, not in force, the past, a later version...)."""
    team = f"team-{uuid.uuid4().hex[:8]}"
    definitions = [draw(schedules(team=team, name=f"s{index}")) for index in range(2)]
    return draw(
        st.lists(
            st.tuples(
                st.sampled_from(["create", "edit", "delete"]),
                st.integers(min_value=0, max_value=1),
                st.integers(min_value=-2, max_value=48),
                st.sampled_from(definitions),
            ),
            min_size=1,
            max_size=8,
        )
    )


async def apply_writes(store: Store, writes: list[Write]) -> list[object]:
    """Each write's outcome on a store: what it returned, or the class of what it raised."""
    outcomes: list[object] = []
    for what, index, hours, definition in writes:
        name = f"s{index}"
        moment = NOW + timedelta(hours=hours)
        version = attrs.evolve(definition, name=name)
        try:
            if what == "create":
                outcomes.append(await store.create_schedule(version, now=moment))
            elif what == "edit":
                outcomes.append(await store.edit_schedule(version, now=NOW, expected=None))
            else:
                outcomes.append(
                    await store.delete_schedule(version.team, name, now=NOW, effective=moment)
                )
        except OncallError as error:
            outcomes.append(type(error))
    return outcomes


def test_both_stores_take_and_refuse_the_same_version_writes(
    request: pytest.FixtureRequest,
) -> None:
    request.getfixturevalue("database_url")

    @given(version_writes())
    def same(writes: list[Write]) -> None:
        team = writes[0][3].team

        async def scenario() -> None:
            memory = MemoryStore()
            postgres = await open_store("postgres", request)
            try:
                assert await apply_writes(postgres, writes) == await apply_writes(memory, writes)
                loaded = await postgres.load_team(team)
                assert loaded == await memory.load_team(team)
                if loaded is not None:
                    assert from_json(to_json(loaded), TeamState) == loaded
                # The database is shared between examples: other teams are there too.
                for at in (NOW, NOW + WEEK):
                    summaries = await postgres.list_teams(at=at)
                    ours = tuple(summary for summary in summaries if summary.team == team)
                    assert ours == await memory.list_teams(at=at)
            finally:
                await postgres.close()

        run_in_thread(scenario())

    same()


def shift_at(member: str, hours: float, length: float = 2, schedule: str | None = None) -> Override:
    """An override of ``member`` from ``hours`` after NOW, ``length`` hours long."""
    start = NOW + timedelta(hours=hours)
    return Override(
        member=member, start=start, end=start + timedelta(hours=length), schedule=schedule
    )


class TestAddOverrides:
    async def test_a_swap_is_stored_whole_with_ids_in_order(self, store: Store) -> None:
        await store.create_schedule(weekly())
        before = await store.add_override("ops", shift_at("Sub", 1), now=NOW)
        swap = [shift_at("Bob", 24, schedule="primary"), shift_at("Ann", 48, schedule="primary")]
        stored = await store.add_overrides("ops", swap, now=NOW)
        assert [attrs.evolve(o, id=None) for o in stored] == swap
        ids = [o.id or 0 for o in (before, *stored)]
        assert 0 < ids[0] < ids[1] < ids[2]
        assert await store.list_overrides("ops") == (before, *stored)
        assert await store.add_overrides("ops", [], now=NOW) == ()

    @pytest.mark.parametrize(
        ("second", "error"),
        [
            (shift_at("Bob", 48, schedule="other"), NotFound),
            (shift_at("Bob", -1), PastIsReadOnly),
            (attrs.evolve(shift_at("Bob", 48), id=7), ValidationError),
        ],
    )
    async def test_a_bad_second_override_stores_neither(
        self, store: Store, second: Override, error: type[Exception]
    ) -> None:
        await store.create_schedule(weekly())
        first = shift_at("Ann", 24, schedule="primary")
        with pytest.raises(error):
            await unchanged(
                store, "ops", lambda: store.add_overrides("ops", [first, second], now=NOW)
            )
        assert await store.list_overrides("ops") == ()

    async def test_an_override_starts_now_or_later(self, store: Store) -> None:
        await store.create_schedule(weekly())
        with pytest.raises(PastIsReadOnly) as caught:
            await unchanged(
                store,
                "ops",
                lambda: store.add_override("ops", shift_at("Sub", -2 / 60), now=NOW),
            )
        assert caught.value.field == "start"
        drifted = await store.add_override("ops", shift_at("Sub", -59 / 3600), now=NOW)
        assert drifted.start == NOW
        assert drifted.end == NOW + timedelta(hours=2, seconds=-59)
        # Without now, the past is the caller's business (imports, tests).
        past = await store.add_override("ops", shift_at("Old", -48))
        assert past.start == NOW - timedelta(hours=48)
        assert await store.list_overrides("ops") == (drifted, past)

    async def test_an_override_that_would_end_by_now_is_refused(self, store: Store) -> None:
        await store.create_schedule(weekly())
        short = Override(member="Sub", start=NOW - timedelta(seconds=30), end=NOW)
        with pytest.raises(ValidationError) as caught:
            await unchanged(store, "ops", lambda: store.add_override("ops", short, now=NOW))
        assert caught.value.field == "end"

    async def test_unknown_teams_and_schedules_with_now(self, store: Store) -> None:
        with pytest.raises(NotFound):
            await store.add_overrides("nobody", [shift_at("Sub", 1)], now=NOW)
        with pytest.raises(NotFound):
            await store.add_override("nobody", shift_at("Sub", 1))
        for now in (None, NOW):  # nothing to add is still an unknown team
            with pytest.raises(NotFound):
                await store.add_overrides("nobody", [], now=now)
        assert await store.load_team("nobody") is None
        await store.create_schedule(weekly())
        with pytest.raises(NotFound):
            await unchanged(
                store,
                "ops",
                lambda: store.add_override("ops", shift_at("S", 1, schedule="other"), now=NOW),
            )

    async def test_a_deleted_schedule_may_still_be_named(self, store: Store) -> None:
        # The core's rule: a schedule the team ever had (its history is kept).
        await store.create_schedule(weekly())
        await store.delete_schedule("ops", "primary", now=NOW)
        stored = await store.add_override("ops", shift_at("S", 1, schedule="primary"), now=NOW)
        assert await store.list_overrides("ops") == (stored,)


class TestOverridesByRange:
    async def test_overlap_of_half_open_ranges_in_creation_order(self, store: Store) -> None:
        await store.create_schedule(weekly())
        await store.create_schedule(weekly(team="web"))
        wide = await store.add_override("ops", shift_at("Wide", 8, 12, schedule="primary"))
        early = await store.add_override("ops", shift_at("Early", 10))  # [10, 12)
        late = await store.add_override("ops", shift_at("Late", 12))  # [12, 14)
        await store.add_override("web", shift_at("Other", 12))

        async def between(start: float | None, end: float | None) -> tuple[Override, ...]:
            return await store.list_overrides(
                "ops",
                start=None if start is None else NOW + timedelta(hours=start),
                end=None if end is None else NOW + timedelta(hours=end),
            )

        assert await between(None, None) == (wide, early, late)
        assert await store.list_overrides("ops") == (wide, early, late)
        # One ending exactly at start, or starting exactly at end, does not overlap.
        assert await between(12, 14) == (wide, late)
        assert await between(None, 12) == (wide, early)
        assert await between(14, None) == (wide,)
        assert await between(11.5, 12.5) == (wide, early, late)
        assert await between(20, 30) == ()
        assert await between(0, 8) == ()
        assert await store.list_overrides("nobody", start=NOW, end=NOW + WEEK) == ()


class TestDeleteOverrideWithNow:
    async def test_future_goes_ongoing_ends_now_past_conflicts(self, store: Store) -> None:
        await store.create_schedule(weekly())
        future = await store.add_override("ops", shift_at("Future", 1))
        ongoing = await store.add_override("ops", shift_at("Ongoing", -1))
        ended = await store.add_override("ops", shift_at("Ended", -3))
        assert future.id and ongoing.id and ended.id
        assert await store.delete_override("ops", future.id, now=NOW) is None
        cut = await store.delete_override("ops", ongoing.id, now=NOW)
        assert cut == attrs.evolve(ongoing, end=NOW)
        assert await store.list_overrides("ops") == (cut, ended)
        with pytest.raises(Conflict):
            await unchanged(store, "ops", lambda: store.delete_override("ops", ended.id, now=NOW))
        # The one that ended now has ended too: it cannot be cut again.
        with pytest.raises(Conflict):
            await unchanged(store, "ops", lambda: store.delete_override("ops", ongoing.id, now=NOW))
        with pytest.raises(NotFound):
            await unchanged(store, "ops", lambda: store.delete_override("ops", future.id, now=NOW))
        with pytest.raises(NotFound):
            await store.delete_override("web", ended.id, now=NOW)
        # Without now, any override goes.
        assert await store.delete_override("ops", ended.id) is None
        assert await store.list_overrides("ops") == (cut,)


class TestTeamsOfMember:
    async def test_through_any_version_and_through_overrides_sorted(self, store: Store) -> None:
        await store.create_schedule(weekly(team="web"))  # Ann now
        await store.create_schedule(weekly(team="Ops"))  # Ann in the first version only
        await store.edit_schedule(weekly(team="Ops", members=["Zed"]), now=NOW)
        await store.create_schedule(weekly(team="db", members=["Zed"]))
        await store.create_schedule(nights(team="ünicode"))
        cover_ann = await store.add_override("db", shift_at("Ann", 1))  # Ann by override
        assert await store.teams_of_member("Ann") == ("Ops", "db", "web")
        assert await store.teams_of_member("Zed") == ("Ops", "db")
        assert await store.teams_of_member("Dee") == ("ünicode",)
        assert await store.teams_of_member("Nobody") == ()
        assert cover_ann.id is not None
        await store.delete_override("db", cover_ann.id)
        assert await store.teams_of_member("Ann") == ("Ops", "web")
        # A deleted schedule is still history: its members stay.
        await store.delete_schedule("web", "primary", now=NOW)
        assert await store.teams_of_member("Ann") == ("Ops", "web")


class TestLoadTeams:
    async def test_several_teams_at_once_unknown_left_out(self, store: Store) -> None:
        await store.create_schedule(weekly())
        await store.create_schedule(nights(team="web"))
        await store.add_override("web", shift_at("Sub", 1))
        ops, web = await store.load_team("ops"), await store.load_team("web")
        assert await store.load_teams(["web", "nobody", "ops"]) == {"ops": ops, "web": web}
        assert await store.load_teams(["ops", "ops"]) == {"ops": ops}
        assert await store.load_teams([]) == {}
        assert await store.load_teams(["nobody"]) == {}


OverrideWrite = tuple[str, int, list[tuple[str, int, int, str | None]]]  # what, now, overrides


@st.composite
def override_writes(draw: st.DrawFn) -> list[OverrideWrite]:
    """Adds (of one or two overrides) and deletes at drawn instants, many refused (the
    past, an unknown schedule, an ended override...)."""
    shift = st.tuples(
        st.sampled_from(["Ann", "Bob"]),
        st.integers(min_value=-3, max_value=30),  # start, hours after NOW
        st.integers(min_value=1, max_value=8),  # length in hours
        st.sampled_from([None, "primary", "other"]),
    )
    return draw(
        st.lists(
            st.one_of(
                st.tuples(
                    st.just("add"),
                    st.integers(min_value=0, max_value=24),
                    st.lists(shift, min_size=1, max_size=2),
                ),
                st.tuples(
                    st.just("delete"),
                    st.integers(min_value=0, max_value=24),
                    st.lists(shift, min_size=1, max_size=1),  # which: its start
                ),
            ),
            min_size=1,
            max_size=8,
        )
    )


async def apply_override_writes(
    store: Store, team: str, writes: list[OverrideWrite]
) -> list[object]:
    """Each write's outcome (ids left out: each store numbers its own), or the class of
    what it raised; the last entry is the team's overrides at the end."""
    await store.create_schedule(weekly(team=team))
    outcomes: list[object] = []
    for what, hours, shifts in writes:
        now = NOW + timedelta(hours=hours)
        try:
            if what == "add":
                added = [
                    Override(
                        member=member,
                        start=NOW + timedelta(hours=start),
                        end=NOW + timedelta(hours=start + length),
                        schedule=schedule,
                    )
                    for member, start, length, schedule in shifts
                ]
                stored = await store.add_overrides(team, added, now=now)
                outcomes.append(tuple(attrs.evolve(o, id=None) for o in stored))
            else:
                existing = await store.list_overrides(team)
                which = existing[shifts[0][1] % len(existing)].id if existing else 424242
                ended = await store.delete_override(team, which or 0, now=now)
                outcomes.append(ended and attrs.evolve(ended, id=None))
        except OncallError as error:
            outcomes.append(type(error))
    outcomes.append(tuple(attrs.evolve(o, id=None) for o in await store.list_overrides(team)))
    return outcomes


def test_both_stores_take_and_refuse_the_same_override_writes(
    request: pytest.FixtureRequest,
) -> None:
    request.getfixturevalue("database_url")

    @given(override_writes())
    def same(writes: list[OverrideWrite]) -> None:
        team = f"team-{uuid.uuid4().hex[:8]}"  # each example a new team in a shared database

        async def scenario() -> None:
            postgres = await open_store("postgres", request)
            try:
                expected = await apply_override_writes(MemoryStore(), team, writes)
                assert await apply_override_writes(postgres, team, writes) == expected
            finally:
                await postgres.close()

        run_in_thread(scenario())

    same()
