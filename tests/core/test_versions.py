"""Schedule versions: every instant is answered by the versions in force then."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, time, timedelta

import attrs
import pytest
from hypothesis import assume, given, reject
from hypothesis import strategies as st

from oncall_core import (
    Deletion,
    Override,
    Rotation,
    RotationChange,
    RotationKind,
    Schedule,
    TeamState,
    ValidationError,
    Weekday,
    oncall_at,
    rotation_turns,
    timeline,
    turn_in_progress,
)
from oncall_core.strategies import MEMBERS, instants, later_version, schedules, team_states

ALL_DAYS = list(Weekday)
MONDAY = datetime(2025, 5, 5, 9, tzinfo=UTC)  # a Monday 09:00 UTC: a weekly handoff


def weekly(members: list[str], **changes: object) -> Schedule:
    """A 24/7 UTC schedule handing off every Monday 09:00 UTC."""
    schedule = Schedule(
        team="ops",
        name="primary",
        members=members,
        days=ALL_DAYS,
        start=time(0),
        end=time(0),
        overnight=True,
        rotation=Rotation(kind=RotationKind.WEEKLY, start=MONDAY),
    )
    return attrs.evolve(schedule, **changes)


def member_at(team: TeamState, at: datetime) -> str | None:
    answer = oncall_at(team, at)
    return answer.member if answer is not None else None


def key(answer: object) -> object:
    if answer is None:
        return None
    return (answer.member, answer.schedule, answer.override is not None)  # type: ignore[attr-defined]


@st.composite
def team_and_edit_at(draw: st.DrawFn) -> tuple[TeamState, TeamState, datetime, str]:
    """A team state, the same state with one more change taking effect at E, E, and
    the kind of change: a new version, a deletion, a re-creation, a rotation
    change, or an override."""
    team = draw(team_states())
    effective = draw(instants())
    name = draw(st.sampled_from(team.names))
    history = team.history(name)
    assume(all(v.effective != effective for v in history))
    in_force = team.schedule_at(name, effective)
    kinds = ["override"]
    if in_force is not None:
        kinds += ["version", "deletion", "advance", "set"]
    elif any(isinstance(v, Deletion) and v.effective < effective for v in history):
        kinds += ["re-creation"]
    kind = draw(st.sampled_from(kinds))
    try:
        if kind == "version":
            assert in_force is not None
            later = attrs.evolve(
                team, schedules=(*team.schedules, draw(later_version(in_force, effective)))
            )
        elif kind == "deletion":
            deletion = Deletion(schedule=name, effective=effective)
            later = attrs.evolve(team, deletions=(*team.deletions, deletion))
        elif kind == "re-creation":
            recreated = attrs.evolve(draw(schedules(name=name)), effective=effective)
            later = attrs.evolve(team, schedules=(*team.schedules, recreated))
        elif kind in ("advance", "set"):
            assert in_force is not None
            position = None
            if kind == "set":
                position = draw(st.integers(min_value=0, max_value=len(in_force.members) - 1))
            change = RotationChange(schedule=name, effective=effective, position=position)
            later = attrs.evolve(team, changes=(*team.changes, change))
        else:
            hours = draw(st.integers(min_value=1, max_value=72))
            override = Override(
                member=draw(st.sampled_from(MEMBERS)),
                start=effective,
                end=effective + timedelta(hours=hours),
                schedule=draw(st.sampled_from([None, name])),
            )
            later = attrs.evolve(team, overrides=(*team.overrides, override))
    except ValidationError:
        # A later rotation change the new version or deletion would leave without
        # a member list: the model refuses the state, so it is not a case.
        reject()
    return team, later, effective, kind


@given(team_and_edit_at(), st.integers(min_value=1, max_value=14 * 24 * 60))
def test_no_change_at_e_alters_an_answer_before_e(
    case: tuple[TeamState, TeamState, datetime, str], minutes_before: int
) -> None:
    team, later, effective, _kind = case
    before = effective - timedelta(minutes=minutes_before)
    assert key(oncall_at(later, before)) == key(oncall_at(team, before))
    # The whole past fortnight, shift by shift, is the same.
    fortnight = effective - timedelta(days=14)
    assert timeline(later, fortnight, effective) == timeline(team, fortnight, effective)


@given(team_and_edit_at())
def test_an_answer_before_e_that_changes_at_e_says_so(
    case: tuple[TeamState, TeamState, datetime, str],
) -> None:
    # A version boundary counts for `until`: an answer can never claim to hold
    # past an instant where the new version gives another one.
    _team, later, effective, _kind = case
    just_before = effective - timedelta(microseconds=1)
    answer = oncall_at(later, just_before)
    if answer is not None and key(oncall_at(later, effective)) != key(answer):
        assert answer.until == effective


@given(team_states(max_versions=3), st.integers(min_value=0, max_value=5))
def test_the_timeline_equals_pointwise_answers_across_version_boundaries(
    team: TeamState, which: int
) -> None:
    boundaries = sorted(
        {v.effective for v in (*team.schedules, *team.deletions) if v.effective is not None}
    )
    assume(boundaries)
    boundary = boundaries[which % len(boundaries)]
    start, end = boundary - timedelta(days=3), boundary + timedelta(days=3)
    shifts = timeline(team, start, end)
    for shift in shifts:
        for at in (shift.start, shift.end - timedelta(microseconds=1)):
            answer = oncall_at(team, at)
            assert answer is not None
            assert (answer.member, answer.schedule) == (shift.member, shift.schedule)
    for earlier, later in itertools.pairwise(shifts):
        assert earlier.end <= later.start
        if earlier.end == later.start:  # touching shifts are different answers
            assert (earlier.member, earlier.schedule, earlier.source) != (
                later.member,
                later.schedule,
                later.source,
            )


@given(
    st.lists(st.sampled_from(MEMBERS), min_size=1, max_size=4),
    st.lists(st.sampled_from(MEMBERS), min_size=1, max_size=4),
    st.integers(min_value=0, max_value=3 * 7 * 24),
    st.sampled_from([RotationKind.HOURLY, RotationKind.DAILY, RotationKind.WEEKLY]),
    st.integers(min_value=1, max_value=3),
)
def test_a_rotation_is_fair_within_each_version(
    old: list[str], new: list[str], hours: int, kind: RotationKind, laps: int
) -> None:
    # After any handover, a version hands each place of its member list one turn
    # per lap: its members get turns in proportion to their places in the list.
    first = weekly(old)
    effective = MONDAY + timedelta(hours=hours, minutes=7)
    second = weekly(new, effective=effective, rotation=Rotation(kind=kind, start=MONDAY))
    team = TeamState(team="ops", schedules=[first, second])
    turns = rotation_turns(team, "primary", effective, 1 + laps * len(new))
    whole = turns[1:]  # the first turn began before the version; the rest are its own
    assert Counter(turn.member for turn in whole) == Counter(
        {member: count * laps for member, count in Counter(new).items()}
    )


@given(team_states(max_versions=0), instants())
def test_a_version_that_repeats_the_definition_changes_no_answer(
    team: TeamState, effective: datetime
) -> None:
    name = team.names[0]
    in_force = team.schedule_at(name, effective)
    assume(in_force is not None and in_force.effective != effective)
    assert in_force is not None
    assume(all(c.effective != effective for c in team.changes))
    same = attrs.evolve(in_force, effective=effective)
    later = attrs.evolve(team, schedules=(*team.schedules, same))
    week = effective + timedelta(days=7)
    start = effective - timedelta(days=2)
    assert timeline(later, start, week) == timeline(team, start, week)


class TestHandover:
    """The handover rule, one example per clause."""

    def test_the_member_in_turn_keeps_it_and_the_old_cadence_continues(self) -> None:
        # Bob's week (from Monday 5 May 09:00) is in progress when Ann is removed.
        tuesday = MONDAY + timedelta(days=8)
        team = TeamState(
            team="ops",
            schedules=[weekly(["Ann", "Bob", "Cid"]), weekly(["Bob", "Cid"], effective=tuesday)],
        )
        assert member_at(team, tuesday - timedelta(hours=1)) == "Bob"
        answer = oncall_at(team, tuesday)
        assert answer is not None
        assert (answer.member, answer.next_member) == ("Bob", "Cid")
        assert answer.until == MONDAY + timedelta(weeks=2)  # the old Monday 09:00 cadence
        assert member_at(team, MONDAY + timedelta(weeks=3)) == "Bob"

    def test_a_removed_member_hands_the_turn_to_the_first_of_the_new_list(self) -> None:
        tuesday = MONDAY + timedelta(days=8)  # Bob's week
        team = TeamState(
            team="ops",
            schedules=[weekly(["Ann", "Bob", "Cid"]), weekly(["Dan", "Eve"], effective=tuesday)],
        )
        assert member_at(team, tuesday) == "Dan"
        assert member_at(team, MONDAY + timedelta(weeks=2)) == "Eve"

    def test_a_repeated_member_keeps_their_place(self) -> None:
        # Ann's second turn ([Ann, Bob, Ann]) is in progress: the next is Ann's first
        # place's successor only if the place moved.  Same list: nothing changes.
        week_three = MONDAY + timedelta(weeks=2, days=1)
        old = weekly(["Ann", "Bob", "Ann", "Cid"])
        new = weekly(["Ann", "Bob", "Ann", "Cid"], priority=1, effective=week_three)
        team = TeamState(team="ops", schedules=[old, new])
        plain = TeamState(team="ops", schedules=[old])
        later = week_three + timedelta(weeks=4)
        assert [s.member for s in timeline(team, week_three, later)] == [
            s.member for s in timeline(plain, week_three, later)
        ]

    def test_a_new_start_re_anchors_the_handoffs(self) -> None:
        tuesday = MONDAY + timedelta(days=8)
        friday = MONDAY + timedelta(days=11)  # handoffs move to Fridays 09:00
        team = TeamState(
            team="ops",
            schedules=[
                weekly(["Ann", "Bob", "Cid"]),
                weekly(
                    ["Ann", "Bob", "Cid"],
                    effective=tuesday,
                    rotation=Rotation(kind=RotationKind.WEEKLY, start=friday),
                ),
            ],
        )
        answer = oncall_at(team, tuesday)
        assert answer is not None
        # Bob's turn began with the old cadence and ends at the new anchor (the
        # turn the new rotation has in progress on Tuesday ends on Friday).
        assert (answer.member, answer.until, answer.next_member) == ("Bob", friday, "Cid")

    def test_a_rotation_change_after_e_counts_positions_in_the_new_list(self) -> None:
        tuesday = MONDAY + timedelta(days=8)
        team = TeamState(
            team="ops",
            schedules=[weekly(["Ann", "Bob", "Cid"]), weekly(["Eve", "Dan"], effective=tuesday)],
            changes=[RotationChange(schedule="primary", effective=tuesday, position=1)],
        )
        assert member_at(team, tuesday) == "Dan"

    def test_a_change_at_e_applies_on_top_of_the_handover(self) -> None:
        tuesday = MONDAY + timedelta(days=8)  # Bob's week
        team = TeamState(
            team="ops",
            schedules=[
                weekly(["Ann", "Bob", "Cid"]),
                weekly(["Ann", "Bob", "Cid"], effective=tuesday),
            ],
            changes=[RotationChange(schedule="primary", effective=tuesday)],
        )
        assert member_at(team, tuesday) == "Cid"


class TestDeletionAndRecreation:
    def test_a_deleted_schedule_keeps_its_past_and_answers_nothing_after(self) -> None:
        end = MONDAY + timedelta(days=3)
        team = TeamState(
            team="ops",
            schedules=[weekly(["Ann", "Bob"])],
            deletions=[Deletion(schedule="primary", effective=end)],
        )
        answer = oncall_at(team, end - timedelta(hours=1))
        assert answer is not None
        assert (answer.member, answer.until, answer.next_member) == ("Ann", end, None)
        assert oncall_at(team, end) is None
        assert team.in_force(end) == ()

    def test_a_re_created_schedule_starts_afresh_and_ranks_as_created_then(self) -> None:
        end = MONDAY + timedelta(days=3)
        again = end + timedelta(days=1)
        other = weekly(["Zed"], name="other")
        recreated = weekly(
            ["Cid", "Dan"],
            effective=again,
            rotation=Rotation(kind=RotationKind.WEEKLY, start=again),
        )
        team = TeamState(
            team="ops",
            schedules=[weekly(["Ann", "Bob"]), other, recreated],
            deletions=[Deletion(schedule="primary", effective=end)],
        )
        # Before the deletion, "primary" (created first) wins the priority tie.
        assert member_at(team, end - timedelta(hours=1)) == "Ann"
        # Re-created after "other", it now loses the tie to it.
        assert member_at(team, again) == "Zed"
        alone = attrs.evolve(team, schedules=[weekly(["Ann", "Bob"]), recreated])
        assert oncall_at(alone, again).member == "Cid"  # a fresh rotation: its first member


class TestHistoryRules:
    def test_a_second_beginning_of_time_version_is_refused(self) -> None:
        with pytest.raises(ValidationError) as error:
            TeamState(team="ops", schedules=[weekly(["Ann"]), weekly(["Bob"])])
        assert error.value.field == "effective"

    def test_two_versions_at_one_instant_are_refused(self) -> None:
        with pytest.raises(ValidationError, match="already changes"):
            TeamState(
                team="ops",
                schedules=[weekly(["Ann"]), weekly(["Bob"], effective=MONDAY)],
                deletions=[Deletion(schedule="primary", effective=MONDAY)],
            )

    def test_a_rotation_change_where_the_schedule_is_not_in_force_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="not in force"):
            TeamState(
                team="ops",
                schedules=[weekly(["Ann"], effective=MONDAY)],
                changes=[RotationChange(schedule="primary", effective=MONDAY - timedelta(1))],
            )

    def test_a_position_counts_in_the_version_in_force_at_the_change(self) -> None:
        later = MONDAY + timedelta(days=1)
        schedules = [weekly(["Ann", "Bob", "Cid"]), weekly(["Ann"], effective=later)]
        TeamState(
            team="ops",
            schedules=schedules,
            changes=[RotationChange(schedule="primary", effective=MONDAY, position=2)],
        )
        with pytest.raises(ValidationError) as error:
            TeamState(
                team="ops",
                schedules=schedules,
                changes=[RotationChange(schedule="primary", effective=later, position=2)],
            )
        assert error.value.field == "position"


def test_turn_in_progress_of_a_manual_rotation_runs_from_change_to_change() -> None:
    manual = weekly(["Ann", "Bob"], rotation=Rotation())
    advance = RotationChange(schedule="primary", effective=MONDAY)
    later = MONDAY + timedelta(days=2)
    team = TeamState(
        team="ops",
        schedules=[manual],
        changes=[advance, RotationChange(schedule="primary", effective=later)],
    )
    turn = turn_in_progress(team, "primary", MONDAY + timedelta(hours=1))
    assert (turn.member, turn.start, turn.end) == ("Bob", MONDAY, later)
    first = turn_in_progress(team, "primary", MONDAY - timedelta(hours=1))
    assert (first.member, first.start, first.end) == ("Ann", None, MONDAY)


def test_a_turn_handed_over_in_mid_turn_is_the_new_members_from_the_change() -> None:
    wednesday = MONDAY + timedelta(days=2)
    team = TeamState(
        team="ops",
        schedules=[weekly(["Ann", "Bob", "Cid"])],
        changes=[RotationChange(schedule="primary", effective=wednesday, position=2)],
    )
    turn = turn_in_progress(team, "primary", wednesday)
    assert (turn.member, turn.start, turn.end) == ("Cid", wednesday, MONDAY + timedelta(weeks=1))
    before = turn_in_progress(team, "primary", wednesday - timedelta(hours=1))
    assert (before.member, before.start) == ("Ann", MONDAY)
    assert [t.member for t in rotation_turns(team, "primary", wednesday, 3)] == [
        "Cid",
        "Ann",
        "Bob",
    ]
