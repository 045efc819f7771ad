"""The rules of writing versions (oncall_core.store's write helpers)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import attrs
import pytest

from oncall_core import (
    Conflict,
    Deletion,
    NotFound,
    PastIsReadOnly,
    PreconditionFailed,
    Schedule,
    ScheduleExists,
    TeamState,
    ValidationError,
    Weekday,
)
from oncall_core.store import (
    CLOCK_DRIFT,
    creation,
    deletion,
    edit,
    effective_from,
    rotation_change,
)

NOW = datetime(2025, 5, 5, 12, tzinfo=UTC)


def schedule(**changes: object) -> Schedule:
    base = Schedule(
        team="ops",
        name="primary",
        members=["Ann", "Bob", "Ann"],
        days=list(Weekday),
        start=time(9),
        end=time(17),
    )
    return attrs.evolve(base, **changes)


def team(*extra: Schedule, deletions: tuple[Deletion, ...] = ()) -> TeamState:
    return TeamState(team="ops", schedules=[schedule(), *extra], deletions=deletions)


class TestEffectiveFrom:
    def test_none_is_now(self) -> None:
        assert effective_from(None, NOW) == NOW

    def test_the_future_is_kept(self) -> None:
        later = NOW + timedelta(days=3)
        assert effective_from(later, NOW) == later

    def test_less_than_a_minute_ago_is_now(self) -> None:
        assert effective_from(NOW - CLOCK_DRIFT + timedelta(seconds=1), NOW) == NOW

    def test_more_than_a_minute_ago_is_read_only(self) -> None:
        with pytest.raises(PastIsReadOnly) as error:
            effective_from(NOW - CLOCK_DRIFT - timedelta(microseconds=1), NOW, "at")
        assert error.value.field == "at"
        assert "the past is read-only" in error.value.message


class TestCreation:
    def test_a_new_name_keeps_its_effective_even_none(self) -> None:
        assert creation(None, schedule(), NOW).effective is None
        assert creation(team(), schedule(name="other"), NOW).effective is None

    def test_a_live_name_exists(self) -> None:
        with pytest.raises(ScheduleExists):
            creation(team(), schedule(), NOW)

    def test_a_deleted_name_is_re_created_from_now(self) -> None:
        ended = team(deletions=(Deletion(schedule="primary", effective=NOW - timedelta(1)),))
        assert creation(ended, schedule(), NOW).effective == NOW

    def test_not_before_its_deletion(self) -> None:
        later = NOW + timedelta(days=2)
        ended = team(deletions=(Deletion(schedule="primary", effective=later),))
        with pytest.raises(Conflict, match="re-create it from then on"):
            creation(ended, schedule(), NOW)
        assert creation(ended, schedule(effective=later + timedelta(1)), NOW).effective == (
            later + timedelta(1)
        )


class TestEditAndDeletion:
    def test_an_edit_takes_effect_now_by_default(self) -> None:
        assert edit(team(), schedule(members=["Cid"]), NOW).effective == NOW

    def test_a_stale_revision_fails_the_precondition(self) -> None:
        with pytest.raises(PreconditionFailed) as error:
            edit(team(), schedule(), NOW, expected=2)
        assert (error.value.expected, error.value.actual) == (2, 1)
        with pytest.raises(PreconditionFailed):
            deletion(team(), "ops", "primary", now=NOW, expected=0)

    def test_a_schedule_not_in_force_then_is_not_found(self) -> None:
        ended = team(deletions=(Deletion(schedule="primary", effective=NOW),))
        with pytest.raises(NotFound):
            edit(ended, schedule(), NOW + timedelta(hours=1))
        with pytest.raises(NotFound):
            deletion(ended, "ops", "primary", now=NOW + timedelta(hours=1))
        with pytest.raises(NotFound):
            edit(None, schedule(), NOW)

    def test_a_second_write_at_one_instant_conflicts(self) -> None:
        edited = team(schedule(members=["Cid"], effective=NOW))
        with pytest.raises(Conflict, match="already changes at 2025-05-05T12:00:00Z"):
            edit(edited, schedule(members=["Dan"]), NOW)
        with pytest.raises(Conflict):
            deletion(edited, "ops", "primary", now=NOW)

    def test_a_deletion_before_a_scheduled_version_conflicts(self) -> None:
        scheduled = team(schedule(members=["Cid"], effective=NOW + timedelta(days=7)))
        with pytest.raises(Conflict, match="delete it at or after then"):
            deletion(scheduled, "ops", "primary", now=NOW)
        assert deletion(
            scheduled, "ops", "primary", now=NOW, effective=NOW + timedelta(days=8)
        ) == Deletion(schedule="primary", effective=NOW + timedelta(days=8))


class TestRotationChange:
    def test_advance_now(self) -> None:
        change = rotation_change(team(), "ops", "primary", now=NOW)
        assert (change.effective, change.position) == (NOW, None)

    def test_to_a_member_takes_their_first_place(self) -> None:
        assert rotation_change(team(), "ops", "primary", now=NOW, to="Ann").position == 0
        assert rotation_change(team(), "ops", "primary", now=NOW, to="Bob").position == 1

    def test_to_a_stranger_is_refused_naming_to(self) -> None:
        with pytest.raises(ValidationError) as error:
            rotation_change(team(), "ops", "primary", now=NOW, to="Zed")
        assert error.value.field == "to"

    def test_not_in_the_past(self) -> None:
        with pytest.raises(PastIsReadOnly):
            rotation_change(team(), "ops", "primary", now=NOW, at=NOW - timedelta(hours=1))
