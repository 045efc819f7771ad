"""Override writes, swaps and per-schedule views in the core."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import attrs
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from oncall_core import (
    Conflict,
    NotFound,
    Override,
    PastIsReadOnly,
    Rotation,
    RotationKind,
    Schedule,
    TeamState,
    Unprocessable,
    Weekday,
    gaps,
    hours_per_member,
    hours_per_schedule,
    oncall_at,
    shift_starting,
    swap_overrides,
    timeline,
)
from oncall_core.store import override_creation, override_removal
from oncall_core.strategies import instants, team_states

MONDAY = datetime(2025, 5, 5, 9, tzinfo=UTC)
NOW = MONDAY + timedelta(days=1)


def daily(**changes: object) -> Schedule:
    """Every day 09:00-17:00 UTC, a daily rotation of Ann, Bob, Cid from Monday."""
    schedule = Schedule(
        team="ops",
        name="day",
        members=["Ann", "Bob", "Cid"],
        days=list(Weekday),
        start=time(9),
        end=time(17),
        rotation=Rotation(kind=RotationKind.DAILY, start=MONDAY),
    )
    return attrs.evolve(schedule, **changes)


TEAM = TeamState(team="ops", schedules=[daily()])


class TestOverrideWrites:
    def test_a_start_less_than_a_minute_old_is_now(self) -> None:
        cover = Override(member="Sub", start=NOW - timedelta(seconds=30), end=NOW + timedelta(1))
        assert override_creation(TEAM, "ops", cover, NOW).start == NOW

    def test_a_start_in_the_past_is_refused(self) -> None:
        cover = Override(member="Sub", start=NOW - timedelta(hours=1), end=NOW + timedelta(1))
        with pytest.raises(PastIsReadOnly) as error:
            override_creation(TEAM, "ops", cover, NOW)
        assert error.value.field == "start"

    def test_an_unknown_team_or_schedule_is_not_found(self) -> None:
        cover = Override(member="Sub", start=NOW, end=NOW + timedelta(1), schedule="night")
        with pytest.raises(NotFound):
            override_creation(TEAM, "ops", cover, NOW)
        with pytest.raises(NotFound):
            override_creation(None, "web", attrs.evolve(cover, schedule=None), NOW)

    def test_removal_keeps_the_past(self) -> None:
        future = Override(member="A", start=NOW + timedelta(1), end=NOW + timedelta(2), id=1)
        ongoing = Override(member="B", start=NOW - timedelta(1), end=NOW + timedelta(1), id=2)
        ended = Override(member="C", start=NOW - timedelta(2), end=NOW - timedelta(1), id=3)
        team = attrs.evolve(TEAM, overrides=[future, ongoing, ended])
        assert override_removal(team, "ops", 1, NOW) is None
        assert override_removal(team, "ops", 2, NOW) == attrs.evolve(ongoing, end=NOW)
        with pytest.raises(Conflict, match="past is read-only"):
            override_removal(team, "ops", 3, NOW)
        with pytest.raises(NotFound):
            override_removal(team, "ops", 4, NOW)


class TestSwaps:
    def test_two_members_trade_their_shifts(self) -> None:
        wednesday, thursday = MONDAY + timedelta(days=2), MONDAY + timedelta(days=3)
        first, second = swap_overrides(TEAM, "day", wednesday, thursday)
        assert (first.member, first.start, first.end) == (
            "Ann",
            wednesday,
            wednesday + timedelta(hours=8),
        )
        assert (second.member, second.start) == ("Cid", thursday)
        swapped = attrs.evolve(TEAM, overrides=[first, second])
        assert oncall_at(swapped, wednesday).member == "Ann"  # type: ignore[union-attr]
        assert oncall_at(swapped, thursday).member == "Cid"  # type: ignore[union-attr]

    def test_an_instant_that_starts_no_shift_is_unprocessable(self) -> None:
        with pytest.raises(Unprocessable) as error:
            swap_overrides(TEAM, "day", MONDAY + timedelta(hours=1), MONDAY + timedelta(days=1))
        assert error.value.field == "shifts"

    def test_two_shifts_of_one_member_are_unprocessable(self) -> None:
        with pytest.raises(Unprocessable, match="nothing to swap"):
            swap_overrides(TEAM, "day", MONDAY, MONDAY + timedelta(days=3))

    def test_an_unknown_schedule_is_not_found(self) -> None:
        with pytest.raises(NotFound):
            shift_starting(TEAM, "night", MONDAY)


@given(team_states(), instants(), st.integers(min_value=1, max_value=72))
def test_a_schedules_own_timeline_is_its_answer_alone(
    team: TeamState, start: datetime, hours: int
) -> None:
    # Where a schedule is the team's answer, its own timeline says the same.
    end = start + timedelta(hours=hours)
    name = team.names[0]
    own = timeline(team, start, end, schedule=name)
    for shift in timeline(team, start, end):
        if shift.schedule != name:
            continue
        covering = [s for s in own if s.start <= shift.start < s.end]
        assume(covering)
        assert covering[0].member == shift.member


@given(team_states(), instants(), st.integers(min_value=1, max_value=14))
def test_hours_per_schedule_add_up_to_hours_per_member(
    team: TeamState, start: datetime, days: int
) -> None:
    end = start + timedelta(days=days)
    per_schedule = hours_per_schedule(team, start, end)
    assert {m: sum(s.values(), timedelta()) for m, s in per_schedule.items()} == (
        hours_per_member(team, start, end)
    )
    # And together they are the whole range but its gaps, which gaps() finds apart.
    covered = sum((d for s in per_schedule.values() for d in s.values()), timedelta())
    uncovered = sum((g.end - g.start for g in gaps(team, start, end)), timedelta())
    assert covered + uncovered == end - start


@st.composite
def team_and_two_shifts(draw: st.DrawFn) -> tuple[TeamState, str, datetime, datetime]:
    """A team, one of its schedules, and the starts of two of that schedule's shifts
    held by different members."""
    team = draw(team_states())
    name = draw(st.sampled_from(team.names))
    start = draw(instants())
    own = [s for s in timeline(team, start, start + timedelta(days=21), schedule=name)]
    starts = [
        s
        for s in own
        if s.start > start and s.end < start + timedelta(days=21)  # whole shifts only
    ]
    assume(len({s.member for s in starts}) >= 2)
    first = draw(st.sampled_from(starts))
    second = draw(st.sampled_from([s for s in starts if s.member != first.member]))
    return team, name, first.start, second.start


@given(team_and_two_shifts())
def test_a_swap_trades_the_two_shifts_and_nothing_else(
    case: tuple[TeamState, str, datetime, datetime],
) -> None:
    team, name, first, second = case
    one, other = shift_starting(team, name, first), shift_starting(team, name, second)
    swapped = attrs.evolve(
        team, overrides=(*team.overrides, *swap_overrides(team, name, first, second))
    )
    # The schedule's own shifts: each member now holds the other's (a swapped shift
    # may join an override of the same member just before it: one shift then).
    for shift, taker in ((one, other.member), (other, one.member)):
        held = timeline(swapped, shift.start, shift.end, schedule=name)
        assert {s.member for s in held} == {taker}
        assert held[0].start == shift.start and held[-1].end == shift.end
    # Outside the two shifts, the team's answers are what they were.
    low = min(first, second) - timedelta(days=2)
    high = max(one.end, other.end) + timedelta(days=2)
    for at in (low, one.start - timedelta(microseconds=1), one.end, other.end, high):
        if one.start <= at < one.end or other.start <= at < other.end:
            continue
        before, after = oncall_at(team, at), oncall_at(swapped, at)
        assert (before and before.member) == (after and after.member)
