"""Property-based tests of the engine, with the strategies shipped in oncall_core.strategies."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import attrs
from hypothesis import assume, given
from hypothesis import strategies as st

from oncall_core import (
    OnCall,
    RotationChange,
    RotationKind,
    Schedule,
    Shift,
    Source,
    TeamState,
    everyone_on_call,
    from_json,
    oncall_at,
    rotation_turns,
    timeline,
    to_json,
)
from oncall_core.strategies import (
    instants,
    rotation_changes,
    schedules,
    team_states,
    transitions,
)
from tests.core import oracle

US = timedelta(microseconds=1)


def key(answer: OnCall | None) -> tuple[str, str | None, bool] | None:
    """What an answer says: member, schedule, and whether an override applied."""
    if answer is None:
        return None
    return answer.member, answer.schedule, answer.source is Source.OVERRIDE


def shift_key(shift: Shift) -> tuple[str, str | None, bool]:
    return shift.member, shift.schedule, shift.source is Source.OVERRIDE


@given(team_states(), instants())
def test_engine_agrees_with_the_independent_oracle(team: TeamState, at: datetime) -> None:
    assert key(oncall_at(team, at)) == oracle.answer(team, at)


@given(team_states(), instants(), st.integers(min_value=1, max_value=72))
def test_timeline_agrees_with_oncall_at(team: TeamState, start: datetime, hours: int) -> None:
    end = start + timedelta(hours=hours)
    shifts = timeline(team, start, end)
    for shift in shifts:
        assert start <= shift.start < shift.end <= end
        probes = [shift.start, shift.end - US, shift.start + (shift.end - shift.start) / 3]
        for probe in probes:
            assert key(oncall_at(team, probe)) == shift_key(shift)
    for before, after in pairwise(shifts):
        assert before.end <= after.start
        if before.end == after.start:  # touching shifts are merged unless the answer changes
            assert shift_key(before) != shift_key(after)
        else:  # nobody is on call in between
            assert oncall_at(team, before.end) is None
            assert oncall_at(team, after.start - US) is None
    if not shifts:
        assert oncall_at(team, start) is None


@given(team_states(), instants(), st.floats(min_value=0, max_value=1))
def test_until_is_exact(team: TeamState, at: datetime, fraction: float) -> None:
    answer = oncall_at(team, at)
    assume(answer is not None)
    assert answer is not None
    if answer.until is None:  # never changes: check a year ahead
        assert key(oncall_at(team, at + timedelta(days=365))) == key(answer)
        return
    until = answer.until
    inside = min(at + (until - at) * fraction, until - US)
    for probe in (at, inside, until - US):
        assert at <= probe < until
        assert oracle.answer(team, probe) == key(answer)
    following = oracle.answer(team, until)
    assert following != key(answer)
    assert (following[0] if following else None) == answer.next_member
    assert (following[1] if following else None) == answer.next_schedule


@given(team_states(), instants(any_offset=True))
def test_the_utc_offset_of_a_query_does_not_matter(team: TeamState, at: datetime) -> None:
    assert oncall_at(team, at) == oncall_at(team, at.astimezone(UTC))


@given(
    schedules(name="rota"),
    st.integers(min_value=1, max_value=3),
    instants(),
)
def test_periodic_rotations_are_fair(schedule: Schedule, laps: int, at: datetime) -> None:
    assume(schedule.rotation.kind.is_periodic)
    team = TeamState(team="team", schedules=[schedule])
    count = laps * len(schedule.members)
    turns = rotation_turns(team, "rota", at, count)
    assert len(turns) == count
    expected = Counter({m: laps * n for m, n in Counter(schedule.members).items()})
    assert Counter(turn.member for turn in turns) == expected
    for before, after in pairwise(turns):
        assert before.start <= before.end == after.start


@given(team_states(), instants())
def test_overrides_are_local(team: TeamState, at: datetime) -> None:
    assume(all(not o.start <= at < o.end for o in team.overrides))
    without = attrs.evolve(team, overrides=())
    with_overrides, plain = oncall_at(team, at), oncall_at(without, at)
    assert (with_overrides is None) == (plain is None)
    if with_overrides is not None and plain is not None:
        assert (with_overrides.member, with_overrides.schedule) == (plain.member, plain.schedule)


@st.composite
def team_and_later_change(draw: st.DrawFn) -> tuple[TeamState, RotationChange, datetime]:
    team = draw(team_states())
    change = draw(rotation_changes(team.schedules))
    version = team.schedule_at(change.schedule, change.effective)
    assume(version is not None)
    assert version is not None
    if change.position is not None:
        change = attrs.evolve(change, position=change.position % len(version.members))
    before = draw(instants())
    assume(before < change.effective)
    return team, change, before


@given(team_and_later_change())
def test_history_is_stable(case: tuple[TeamState, RotationChange, datetime]) -> None:
    team, change, before = case
    later = attrs.evolve(team, changes=(*team.changes, change))
    old, new = oncall_at(team, before), oncall_at(later, before)
    assert key(old) == key(new)


@given(team_states())
def test_model_round_trips_through_json(team: TeamState) -> None:
    assert from_json(to_json(team), TeamState) == team
    for schedule in team.schedules:
        assert from_json(to_json(schedule), Schedule) == schedule


@st.composite
def dst_schedule_and_range(draw: st.DrawFn) -> tuple[Schedule, datetime, datetime]:
    zone = draw(
        st.sampled_from(
            ["America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Pacific/Apia"]
        )
    )
    schedule = attrs.evolve(draw(schedules(name="s")), timezone=zone, members=("Solo",))
    transition = draw(st.sampled_from(transitions(zone)))
    start = transition - timedelta(days=draw(st.integers(min_value=0, max_value=3)))
    return schedule, start, transition + timedelta(days=3)


@given(dst_schedule_and_range())
def test_windows_start_and_end_at_their_wall_times_across_dst(
    case: tuple[Schedule, datetime, datetime],
) -> None:
    schedule, start, end = case
    team = TeamState(team="team", schedules=[schedule])
    shifts = timeline(team, start, end)
    window_starts = set()
    window_ends = set()
    for moment in (start, end, *(m for shift in shifts for m in (shift.start, shift.end))):
        for _, opens, closes in oracle.windows(schedule, moment):
            window_starts.add(opens)
            window_ends.add(closes)
    for shift in shifts:
        assert shift.start == start or shift.start in window_starts
        assert shift.end == end or shift.end in window_ends
    # No instant is covered twice: one schedule's windows never overlap.
    spans = sorted(
        {(opens, closes) for m in (start, end) for _, opens, closes in oracle.windows(schedule, m)}
    )
    for (_, closes), (opens, _) in pairwise(spans):
        assert closes <= opens


@given(schedules(name="s"), instants())
def test_rotation_turns_agree_with_oncall_at_inside_windows(
    schedule: Schedule, at: datetime
) -> None:
    assume(schedule.rotation.kind is not RotationKind.MANUAL)
    team = TeamState(team="team", schedules=[schedule])
    for turn in rotation_turns(team, "s", at, 3):
        if turn.start == turn.end:
            continue
        answer = oncall_at(team, turn.start)
        if answer is not None:
            assert answer.member == turn.member


@given(team_states(), instants())
def test_everyone_on_call_leads_with_the_team_answer(team: TeamState, at: datetime) -> None:
    everyone = everyone_on_call(team, at)
    answer = oncall_at(team, at)
    assert (answer is None) == (not everyone)
    if answer is not None:
        assert key(everyone[0]) == key(answer)
        covering = [s.name for s in team.in_force(at) if oracle.covering_day(s, at) is not None]
        assert sorted(a.schedule for a in everyone if a.schedule) == sorted(covering)
