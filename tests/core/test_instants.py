"""The engine compares instants, never wall readings.

Python compares, orders and hashes two aware datetimes that share a tzinfo by
their wall fields, ignoring ``fold``; and a wall reading near a daylight-saving
transition is not an instant.  Each example below is a case where the two
disagree, with the expected answer computed by hand in a comment.  Chicago is
UTC-5 (CDT) before 2020-11-01T07:00Z and UTC-6 (CST) after it; on 2020-03-08
its clock jumps from 02:00 CST to 03:00 CDT at 08:00Z.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from oncall_core import (
    Override,
    Rotation,
    RotationChange,
    RotationKind,
    Schedule,
    TeamState,
    ValidationError,
    Weekday,
    oncall_at,
    parse_instant,
    parse_schedule_request,
    rotation_turns,
    timeline,
    to_json,
)
from oncall_core.strategies import ZONES, instants, team_states

CHI = ZoneInfo("America/Chicago")
EVERY_DAY = [day.title for day in Weekday]


def at(text: str) -> datetime:
    return parse_instant(text)


def rota(**fields: object) -> TeamState:
    body: dict[str, object] = {
        "team": "ops",
        "name": "s",
        "members": ["A", "B", "C"],
        "days": EVERY_DAY,
        "start": "12:00AM",
        "end": "12:00AM",
        "overnight": True,
        **fields,
    }
    return TeamState(team="ops", schedules=[parse_schedule_request(body)])


def member(state: TeamState, when: str) -> str | None:
    answer = oncall_at(state, at(when))
    return answer.member if answer is not None else None


class TestInstantsNotWallFields:
    def test_an_override_ending_in_the_second_pass_of_a_repeated_hour_is_valid(self) -> None:
        # 01:45 CDT is 06:45Z; 01:15 CST (fold=1) is 07:15Z: a 30-minute override,
        # although its end's wall reading (01:15) is before its start's (01:45).
        override = Override(
            member="X",
            start=datetime(2020, 11, 1, 1, 45, tzinfo=CHI),
            end=datetime(2020, 11, 1, 1, 15, fold=1, tzinfo=CHI),
        )
        assert override.end - override.start == timedelta(minutes=30)
        state = attrs.evolve(rota(), overrides=[override])
        assert member(state, "2020-11-01T07:00:00Z") == "X"
        assert member(state, "2020-11-01T07:15:00Z") == "A"

    def test_an_override_ending_before_it_starts_is_refused_however_written(self) -> None:
        # Swapped: starts at 07:15Z and ends at 06:45Z, although 01:45 > 01:15 on the wall.
        with pytest.raises(ValidationError) as caught:
            Override(
                member="X",
                start=datetime(2020, 11, 1, 1, 15, fold=1, tzinfo=CHI),
                end=datetime(2020, 11, 1, 1, 45, tzinfo=CHI),
            )
        assert caught.value.field == "end"

    def test_history_is_folded_in_order_of_effective_instant(self) -> None:
        # Manual [A, B, C], 24/7 in UTC.  Set position 2 at 01:45 CDT (06:45Z), then
        # advance at 01:15 CST (fold=1: 07:15Z, after the first change).
        state = attrs.evolve(
            rota(),
            changes=[
                RotationChange(
                    schedule="s", effective=datetime(2020, 11, 1, 1, 45, tzinfo=CHI), position=2
                ),
                RotationChange(
                    schedule="s", effective=datetime(2020, 11, 1, 1, 15, fold=1, tzinfo=CHI)
                ),
            ],
        )
        # 06:40Z: nothing yet, A, until the set at 06:45Z makes it C.
        early = oncall_at(state, at("2020-11-01T06:40:00Z"))
        assert early is not None
        assert (early.member, early.until, early.next_member) == (
            "A",
            at("2020-11-01T06:45:00Z"),
            "C",
        )
        # 06:50Z: C (position 2), until the advance at 07:15Z wraps to A.
        middle = oncall_at(state, at("2020-11-01T06:50:00Z"))
        assert middle is not None
        assert (middle.member, middle.until, middle.next_member) == (
            "C",
            at("2020-11-01T07:15:00Z"),
            "A",
        )
        # 07:20Z: advanced from position 2: A.
        assert member(state, "2020-11-01T07:20:00Z") == "A"

    def test_states_differing_only_in_fold_are_different_states(self) -> None:
        # 02:30 on 2020-03-08 does not exist in Chicago.  fold=0 reads it with the
        # offset before the jump (CST: 08:30Z, shown as 03:30 CDT); fold=1 with the
        # offset after it (CDT: 07:30Z, shown as 01:30 CST).  Daily rotations of [A, B]
        # anchored there hand off at 03:30 and at 01:30 local time respectively.
        def anchored(fold: int) -> TeamState:
            start = datetime(2020, 3, 8, 2, 30, fold=fold, tzinfo=CHI)
            return rota(
                members=["A", "B"],
                timezone="America/Chicago",
                rotation={"kind": "daily", "start": start.astimezone(UTC).isoformat()},
            )

        def direct(fold: int) -> TeamState:
            start = datetime(2020, 3, 8, 2, 30, fold=fold, tzinfo=CHI)
            schedule = anchored(fold).schedules[0]
            rotation = Rotation(kind=RotationKind.DAILY, start=start)
            return TeamState(team="ops", schedules=[attrs.evolve(schedule, rotation=rotation)])

        first, second = direct(0), direct(1)
        assert (first, second) == (anchored(0), anchored(1))
        assert first != second
        # 2020-03-10T07:30Z is 02:30 CDT.  First: handoffs at 03:30 on the 8th (A) and
        # the 9th (B): B.  Second: at 01:30 on the 8th (A), 9th (B) and 10th (A): A.
        # The answers must not depend on which state was asked first.
        assert member(second, "2020-03-10T07:30:00Z") == "A"
        assert member(first, "2020-03-10T07:30:00Z") == "B"
        assert member(direct(1), "2020-03-10T07:30:00Z") == "A"


class TestPerShiftComparesInstants:
    def test_a_window_starting_at_the_jump_is_the_first_for_an_anchor_on_the_jump(self) -> None:
        # Window 2:30AM-4:00AM.  On 2020-03-08, 02:30 does not exist: the window starts
        # at the jump, 08:00Z, exactly the anchor (03:00 CDT): it is A's.  Next day B.
        state = rota(
            start="2:30AM",
            end="4:00AM",
            overnight=False,
            timezone="America/Chicago",
            rotation={"kind": "per_shift", "start": "2020-03-08T03:00:00-05:00"},
        )
        assert member(state, "2020-03-08T08:10:00Z") == "A"
        assert member(state, "2020-03-09T08:00:00Z") == "B"  # 03:00 CDT on the 9th
        turns = rotation_turns(state, "s", at("2020-03-08T08:00:00Z"), 2)
        assert [(t.start, t.member) for t in turns] == [
            (at("2020-03-08T08:00:00Z"), "A"),  # 02:30 -> the jump
            (at("2020-03-09T07:30:00Z"), "B"),  # 02:30 CDT
        ]

    def test_a_window_in_the_first_pass_of_a_repeated_hour_is_before_an_anchor_in_the_second(
        self,
    ) -> None:
        # Window 1:45AM-3:00AM; anchor 2020-11-01T01:30-06:00 = 07:30Z, the second 01:30.
        # That day's window starts at the first 01:45 (06:45Z), before the anchor: it is
        # the last member's (C); the next day's (07:45Z on the 2nd) is A's.
        state = rota(
            start="1:45AM",
            end="3:00AM",
            overnight=False,
            timezone="America/Chicago",
            rotation={"kind": "per_shift", "start": "2020-11-01T01:30:00-06:00"},
        )
        assert member(state, "2020-11-01T07:00:00Z") == "C"
        assert member(state, "2020-11-02T08:00:00Z") == "A"
        turns = rotation_turns(state, "s", at("2020-11-01T07:00:00Z"), 2)
        assert [(t.start, t.end, t.member) for t in turns] == [
            (at("2020-11-01T06:45:00Z"), at("2020-11-01T09:00:00Z"), "C"),
            (at("2020-11-02T07:45:00Z"), at("2020-11-02T09:00:00Z"), "A"),
        ]


class TestSettledReadings:
    def test_a_periodic_anchor_in_a_repeated_hour_hands_off_at_the_first_occurrence(self) -> None:
        # Daily, anchored at 07:30Z on 2020-11-01 (01:30 CST, the second 01:30).  The
        # handoff time is the anchor's reading, 01:30; handoff 0 is the first 01:30,
        # 06:30Z, an hour before the anchor instant.  So at 06:45Z it is A's turn and
        # at 06:15Z still C's (turn -1); the next handoff is 01:30 CST on the 2nd (07:30Z).
        state = rota(
            timezone="America/Chicago",
            rotation={"kind": "daily", "start": "2020-11-01T07:30:00Z"},
        )
        assert member(state, "2020-11-01T06:15:00Z") == "C"
        answer = oncall_at(state, at("2020-11-01T06:45:00Z"))
        assert answer is not None
        assert (answer.member, answer.until) == ("A", at("2020-11-02T07:30:00Z"))
        turns = rotation_turns(state, "s", at("2020-11-01T07:30:00Z"), 1)
        assert [(t.start, t.member) for t in turns] == [(at("2020-11-01T06:30:00Z"), "A")]

    def test_a_per_shift_window_inside_a_skipped_stretch_is_a_turn_of_zero_length(self) -> None:
        # Sundays 2:00AM-2:30AM.  On 2020-03-08 both ends fall in the skipped hour and
        # denote the jump (08:00Z): B's turn has no length, appears in no timeline, and
        # still counts, so C has the next Sunday.
        state = rota(
            days=["Sunday"],
            start="2:00AM",
            end="2:30AM",
            overnight=False,
            timezone="America/Chicago",
            rotation={"kind": "per_shift", "start": "2020-03-01T00:00:00-06:00"},
        )
        turns = rotation_turns(state, "s", at("2020-03-01T00:00:00Z"), 3)
        assert [(t.start, t.end, t.member) for t in turns] == [
            (at("2020-03-01T08:00:00Z"), at("2020-03-01T08:30:00Z"), "A"),
            (at("2020-03-08T08:00:00Z"), at("2020-03-08T08:00:00Z"), "B"),
            (at("2020-03-15T07:00:00Z"), at("2020-03-15T07:30:00Z"), "C"),
        ]
        shifts = timeline(state, at("2020-03-01T00:00:00Z"), at("2020-03-16T00:00:00Z"))
        assert [(s.start, s.member) for s in shifts] == [
            (at("2020-03-01T08:00:00Z"), "A"),
            (at("2020-03-15T07:00:00Z"), "C"),
        ]

    def test_window_membership_in_a_repeated_hour_follows_the_mapping_rule(self) -> None:
        # Window 1:00AM-1:30AM.  On 2020-11-01 1:30AM maps to its first occurrence
        # (06:30Z), so the window is 06:00Z-06:30Z.  07:15Z shows 01:15 CST (second
        # pass) but is not inside it.
        state = rota(start="1:00AM", end="1:30AM", overnight=False, timezone="America/Chicago")
        assert member(state, "2020-11-01T06:15:00Z") == "A"
        assert member(state, "2020-11-01T07:15:00Z") is None


def written_in(state: TeamState, zone: tzinfo) -> TeamState:
    """The same state with every instant written in ``zone``."""

    def rewritten(schedule: Schedule) -> Schedule:
        start, effective = schedule.rotation.start, schedule.effective
        if effective is not None:
            schedule = attrs.evolve(schedule, effective=effective.astimezone(zone))
        if start is None:
            return schedule
        return attrs.evolve(
            schedule, rotation=attrs.evolve(schedule.rotation, start=start.astimezone(zone))
        )

    return attrs.evolve(
        state,
        schedules=[rewritten(schedule) for schedule in state.schedules],
        changes=[attrs.evolve(c, effective=c.effective.astimezone(zone)) for c in state.changes],
        deletions=[
            attrs.evolve(d, effective=d.effective.astimezone(zone)) for d in state.deletions
        ],
        overrides=[
            attrs.evolve(o, start=o.start.astimezone(zone), end=o.end.astimezone(zone))
            for o in state.overrides
        ],
    )


@given(
    team_states(),
    instants(),
    st.integers(min_value=-14 * 4, max_value=14 * 4),
    st.sampled_from(ZONES),
)
def test_how_instants_are_written_changes_nothing(
    state: TeamState, when: datetime, quarters: int, zone: str
) -> None:
    # The same scenario with instants written in UTC, at a fixed offset, and in a
    # zone's local time (fold set by astimezone): the same state, the same answers.
    fixed = timezone(timedelta(minutes=15 * quarters))
    versions = [written_in(state, UTC), written_in(state, fixed), written_in(state, ZoneInfo(zone))]
    assert all(version == versions[0] for version in versions)
    assert all(to_json(version) == to_json(versions[0]) for version in versions)
    assert len({hash(version) for version in versions}) == 1
    end = when + timedelta(days=2)
    for version in versions:
        assert oncall_at(version, when) == oncall_at(versions[0], when)
        assert timeline(version, when, end) == timeline(versions[0], when, end)
