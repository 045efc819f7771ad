"""Worked scenarios from the issue, with expected instants computed by hand in each test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest

from oncall_core import (
    Override,
    Schedule,
    Source,
    TeamState,
    everyone_on_call,
    gaps,
    hours_per_member,
    oncall_at,
    parse_instant,
    parse_schedule_request,
    rotation_turns,
    timeline,
)

EVERY_DAY = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
WEEKDAYS = EVERY_DAY[:5]


def at(text: str) -> datetime:
    return parse_instant(text)


def schedule(**fields: Any) -> Schedule:
    body = {"team": "ops", "name": "rota", "members": ["A", "B", "C"], "days": EVERY_DAY}
    body.update(fields)
    return parse_schedule_request(body)


def team(*schedules: Schedule, overrides: tuple[Override, ...] = ()) -> TeamState:
    return TeamState(team="ops", schedules=schedules, overrides=overrides)


def turn_starts(state: TeamState, start: str, count: int) -> list[datetime]:
    return [turn.start for turn in rotation_turns(state, "rota", at(start), count)]


class TestSeedExamples:
    weekday_shift = team(
        schedule(
            name="Weekday Shift",
            members=["John", "Jane", "Joe"],
            days=WEEKDAYS,
            start="9:00AM",
            end="5:00PM",
        )
    )

    def test_the_seed_readme_query_answers_john(self) -> None:
        answer = oncall_at(self.weekday_shift, at("2025-04-28T14:30:00Z"))
        assert answer is not None
        assert (answer.member, answer.schedule) == ("John", "Weekday Shift")
        assert answer.until == at("2025-04-28T17:00:00Z")
        assert answer.next_member is None

    def test_windows_are_half_open(self) -> None:
        assert oncall_at(self.weekday_shift, at("2025-04-28T09:00:00Z")) is not None
        assert oncall_at(self.weekday_shift, at("2025-04-28T16:59:59.999999Z")) is not None
        assert oncall_at(self.weekday_shift, at("2025-04-28T17:00:00Z")) is None
        assert oncall_at(self.weekday_shift, at("2025-04-28T08:59:59Z")) is None

    def test_weekends_and_unknown_days_are_not_covered(self) -> None:
        assert oncall_at(self.weekday_shift, at("2025-04-26T12:00:00Z")) is None  # Saturday

    def test_offsets_denote_the_same_instant(self) -> None:
        utc = oncall_at(self.weekday_shift, at("2025-04-28T14:30:00Z"))
        berlin = oncall_at(self.weekday_shift, at("2025-04-28T16:30:00+02:00"))
        assert utc == berlin


class TestDaylightSaving:
    def test_daily_handoff_at_230_jumps_to_0300_on_spring_forward(self) -> None:
        state = team(
            schedule(
                start="2:30AM",
                end="2:30AM",
                overnight=True,
                timezone="America/Chicago",
                rotation={"kind": "daily", "start": "2020-03-06T02:30:00-06:00"},
            )
        )
        starts = turn_starts(state, "2020-03-06T08:30:00Z", 4)
        assert starts == [
            at("2020-03-06T02:30:00-06:00"),
            at("2020-03-07T02:30:00-06:00"),
            at("2020-03-08T03:00:00-05:00"),  # 02:30 does not exist: the jump itself
            at("2020-03-09T02:30:00-05:00"),  # back on the wall clock
        ]
        before = oncall_at(state, at("2020-03-08T07:59:59Z"))
        after = oncall_at(state, at("2020-03-08T08:00:00Z"))
        assert before is not None and after is not None
        assert (before.member, after.member) == ("B", "C")
        assert before.until == at("2020-03-08T08:00:00Z")
        assert before.next_member == "C"

    def test_hourly_handoffs_stay_on_the_wall_clock_when_falling_back(self) -> None:
        state = team(
            schedule(
                start="12:00AM",
                end="12:00AM",
                overnight=True,
                timezone="America/Chicago",
                rotation={"kind": "hourly", "start": "2020-11-01T00:30:00-05:00"},
            )
        )
        turns = rotation_turns(state, "rota", at("2020-11-01T05:30:00Z"), 4)
        assert [turn.start for turn in turns] == [
            at("2020-11-01T00:30:00-05:00"),
            at("2020-11-01T01:30:00-05:00"),  # 01:30 CDT: the first of the two 01:30s
            at("2020-11-01T02:30:00-06:00"),  # 02:30 CST
            at("2020-11-01T03:30:00-06:00"),
        ]
        assert turns[1].end - turns[1].start == timedelta(hours=2)
        # The second 01:30 (CST) is inside B's long turn, not a handoff.
        answer = oncall_at(state, at("2020-11-01T01:30:00-06:00"))
        assert answer is not None
        assert answer.member == "B"
        assert answer.until == at("2020-11-01T02:30:00-06:00")

    def test_hourly_handoffs_when_springing_forward_skip_nobody(self) -> None:
        state = team(
            schedule(
                start="12:00AM",
                end="12:00AM",
                overnight=True,
                timezone="America/Chicago",
                rotation={"kind": "hourly", "start": "2020-03-08T00:30:00-06:00"},
            )
        )
        turns = rotation_turns(state, "rota", at("2020-03-08T06:30:00Z"), 4)
        assert [turn.start for turn in turns] == [
            at("2020-03-08T00:30:00-06:00"),
            at("2020-03-08T01:30:00-06:00"),
            at("2020-03-08T03:00:00-05:00"),  # the clock jumped over 02:30
            at("2020-03-08T03:30:00-05:00"),
        ]
        assert [turn.member for turn in turns] == ["A", "B", "C", "A"]
        assert turns[1].end - turns[1].start == timedelta(minutes=30)
        assert turns[2].end - turns[2].start == timedelta(minutes=30)
        shifts = timeline(state, at("2020-03-08T07:00:00Z"), at("2020-03-08T09:00:00Z"))
        assert [(s.member, s.start) for s in shifts] == [
            ("A", at("2020-03-08T07:00:00Z")),  # 01:00 CST, inside A's 00:30 turn
            ("B", at("2020-03-08T07:30:00Z")),
            ("C", at("2020-03-08T08:00:00Z")),
            ("A", at("2020-03-08T08:30:00Z")),
        ]

    def test_daily_rotation_at_0200_on_lord_howe_across_its_half_hour_changes(self) -> None:
        state = team(
            schedule(
                start="2:00AM",
                end="2:00AM",
                overnight=True,
                timezone="Australia/Lord_Howe",
                rotation={"kind": "daily", "start": "2020-04-04T02:00:00+11:00"},
            )
        )
        # 2020-04-05 02:00 +11:00 the clock falls back to 01:30 +10:30; 02:00 is next
        # shown (once) at 02:00 +10:30, half an hour later in real time.
        turns = rotation_turns(state, "rota", at("2020-04-04T02:00:00+11:00"), 3)
        assert [turn.start for turn in turns] == [
            at("2020-04-04T02:00:00+11:00"),
            at("2020-04-05T02:00:00+10:30"),
            at("2020-04-06T02:00:00+10:30"),
        ]
        assert turns[0].end - turns[0].start == timedelta(hours=24, minutes=30)
        # 2020-10-04 02:00 +10:30 the clock springs to 02:30 +11:00: 02:00 is skipped,
        # so that handoff is the jump itself, and the turn before is half an hour short.
        spring = rotation_turns(state, "rota", at("2020-10-03T02:00:00+10:30"), 3)
        assert [turn.start for turn in spring] == [
            at("2020-10-03T02:00:00+10:30"),
            at("2020-10-04T02:30:00+11:00"),
            at("2020-10-05T02:00:00+11:00"),
        ]
        assert spring[0].end - spring[0].start == timedelta(hours=24)
        assert spring[1].end - spring[1].start == timedelta(hours=23, minutes=30)

    def test_weekly_monday_midnight_handoff_across_fall_back_is_a_week_and_an_hour(self) -> None:
        state = team(
            schedule(
                start="12:00AM",
                end="12:00AM",
                overnight=True,
                timezone="America/Chicago",
                rotation={"kind": "weekly", "start": "2020-10-26T00:00:00-05:00"},
            )
        )
        turns = rotation_turns(state, "rota", at("2020-10-26T05:00:00Z"), 3)
        assert [turn.start for turn in turns] == [
            at("2020-10-26T00:00:00-05:00"),
            at("2020-11-02T00:00:00-06:00"),
            at("2020-11-09T00:00:00-06:00"),
        ]
        assert turns[0].end - turns[0].start == timedelta(days=7, hours=1)
        shifts = timeline(state, at("2020-10-26T05:00:00Z"), at("2020-11-16T06:00:00Z"))
        assert [(s.member, s.start, s.end) for s in shifts] == [
            (turn.member, turn.start, turn.end) for turn in turns
        ]

    def test_nine_to_five_ends_at_five_local_on_dst_days(self) -> None:
        state = team(schedule(start="9:00AM", end="5:00PM", timezone="America/New_York"))
        shifts = timeline(state, at("2020-03-08T00:00:00Z"), at("2020-03-09T00:00:00Z"))
        assert [(s.start, s.end) for s in shifts] == [
            (at("2020-03-08T09:00:00-04:00"), at("2020-03-08T17:00:00-04:00"))
        ]

    # Pacific/Apia went from 2011-12-29 23:59:59 -10:00 to 2011-12-31 00:00 +14:00:
    # the whole of 2011-12-30 was skipped, at the jump 2011-12-30T10:00Z.
    jump = at("2011-12-30T10:00:00Z")

    def test_apia_daily_handoff_on_the_skipped_day_happens_at_the_jump(self) -> None:
        state = team(
            schedule(
                members=["A", "B", "C", "D"],
                start="12:00PM",
                end="12:00PM",
                overnight=True,
                timezone="Pacific/Apia",
                rotation={"kind": "daily", "start": "2011-12-28T12:00:00-10:00"},
            )
        )
        shifts = timeline(state, at("2011-12-29T00:00:00Z"), at("2012-01-01T00:00:00Z"))
        assert [(shift.member, shift.start) for shift in shifts] == [
            ("A", at("2011-12-29T00:00:00Z")),
            ("B", at("2011-12-29T12:00:00-10:00")),
            ("C", self.jump),  # the 30th's noon never happened: C takes over at the jump
            ("D", at("2011-12-31T12:00:00+14:00")),
            ("A", at("2012-01-01T12:00:00+14:00")),
        ]

    def test_apia_hourly_turns_inside_the_skipped_day_have_zero_length(self) -> None:
        state = team(
            schedule(
                members=["A", "B", "C", "D"],
                start="12:00AM",
                end="12:00AM",
                overnight=True,
                timezone="Pacific/Apia",
                rotation={"kind": "hourly", "start": "2011-12-29T00:00:00-10:00"},
            )
        )
        turns = rotation_turns(state, "rota", at("2011-12-29T00:00:00-10:00"), 52)
        # Wall times 30th 00:00 .. 23:00 and 31st 00:00 all denote the jump: turns 24..47
        # have zero length and still count, turn 48 (A's) starts at the jump.
        squeezed = [index for index, turn in enumerate(turns) if turn.start == turn.end]
        assert squeezed == list(range(24, 48))
        assert all(turn.start == self.jump for turn in turns[24:49])
        assert [turn.member for turn in turns] == ["A", "B", "C", "D"] * 13
        shifts = timeline(state, at("2011-12-30T09:00:00Z"), at("2011-12-30T11:00:00Z"))
        assert [(s.member, s.start, s.end) for s in shifts] == [
            ("D", at("2011-12-30T09:00:00Z"), self.jump),  # turn 23: 29th 23:00 -10:00
            ("A", self.jump, at("2011-12-30T11:00:00Z")),  # turn 48: 31st 00:00 +14:00
        ]


class TestWindows:
    def test_overnight_window_covers_until_next_morning_on_listed_days_only(self) -> None:
        state = team(schedule(days=WEEKDAYS, start="8:00PM", end="8:00AM", overnight=True))
        assert oncall_at(state, at("2025-05-02T20:00:00Z")) is not None  # Friday 20:00
        assert oncall_at(state, at("2025-05-03T07:59:00Z")) is not None  # Saturday 07:59
        assert oncall_at(state, at("2025-05-03T08:00:00Z")) is None
        assert oncall_at(state, at("2025-05-03T20:00:00Z")) is None  # Saturday 20:00
        assert oncall_at(state, at("2025-05-04T20:00:00Z")) is None  # Sunday 20:00
        assert oncall_at(state, at("2025-05-05T07:00:00Z")) is None  # Sunday night off

    def test_8am_to_8am_overnight_weekdays_is_one_span_monday_to_saturday(self) -> None:
        state = team(schedule(days=WEEKDAYS, start="8:00AM", end="8:00AM", overnight=True))
        shifts = timeline(state, at("2025-05-04T00:00:00Z"), at("2025-05-11T00:00:00Z"))
        assert [(s.start, s.end, s.member) for s in shifts] == [
            (at("2025-05-05T08:00:00Z"), at("2025-05-10T08:00:00Z"), "A")
        ]
        answer = oncall_at(state, at("2025-05-06T12:00:00Z"))
        assert answer is not None and answer.until == at("2025-05-10T08:00:00Z")
        assert [
            (g.start, g.end)
            for g in gaps(state, at("2025-05-04T00:00:00Z"), at("2025-05-11T00:00:00Z"))
        ] == [
            (at("2025-05-04T00:00:00Z"), at("2025-05-05T08:00:00Z")),
            (at("2025-05-10T08:00:00Z"), at("2025-05-11T00:00:00Z")),
        ]

    def test_a_schedule_covering_all_time_with_one_member_never_changes(self) -> None:
        state = team(
            schedule(
                members=["A", "A"],
                start="12:00AM",
                end="12:00AM",
                overnight=True,
                rotation={"kind": "hourly", "start": "2025-01-01T00:00:00Z"},
            )
        )
        answer = oncall_at(state, at("2025-01-01T10:30:00Z"))
        assert answer is not None
        assert (answer.member, answer.until, answer.next_member) == ("A", None, None)


class TestRotationKinds:
    mon_wed_fri: ClassVar = ["Monday", "Wednesday", "Friday"]

    def members_on(self, state: TeamState, days: list[str]) -> list[str]:
        answers = [oncall_at(state, at(day)) for day in days]
        return [answer.member for answer in answers if answer is not None]

    days: ClassVar = [  # Monday 2025-05-05 onwards, at noon, for two weeks
        f"2025-05-{day:02d}T12:00:00Z" for day in range(5, 19)
    ]

    def test_per_shift_gives_each_occurrence_to_the_next_member(self) -> None:
        state = team(
            schedule(
                members=["A", "B"],
                days=self.mon_wed_fri,
                start="9:00AM",
                end="5:00PM",
                rotation={"kind": "per_shift", "start": "2025-05-05T00:00:00Z"},
            )
        )
        assert self.members_on(state, self.days) == ["A", "B", "A", "B", "A", "B"]

    def test_daily_turns_every_calendar_day_even_when_not_covered(self) -> None:
        state = team(
            schedule(
                members=["A", "B"],
                days=self.mon_wed_fri,
                start="9:00AM",
                end="5:00PM",
                rotation={"kind": "daily", "start": "2025-05-05T09:00:00Z"},
            )
        )
        # Mon(0) Wed(2) Fri(4) Mon(7) Wed(9) Fri(11): turns 0,2,4 are A; 7,9,11 are B.
        assert self.members_on(state, self.days) == ["A", "A", "A", "B", "B", "B"]

    def test_weekend_coverage_per_shift(self) -> None:
        state = team(
            schedule(
                members=["Alice", "Bob", "Charlie"],
                days=["Saturday", "Sunday"],
                start="9:00AM",
                end="5:00PM",
                rotation={"kind": "per_shift", "start": "2025-01-04T00:00:00Z"},
            )
        )
        saturdays_and_sundays = ["2025-01-04", "2025-01-05", "2025-01-11", "2025-01-12"]
        assert self.members_on(state, [f"{d}T12:00:00Z" for d in saturdays_and_sundays]) == [
            "Alice",
            "Bob",
            "Charlie",
            "Alice",
        ]

    def test_before_the_anchor_the_rotation_runs_backwards(self) -> None:
        state = team(
            schedule(
                start="12:00AM",
                end="12:00AM",
                overnight=True,
                rotation={"kind": "weekly", "every": 2, "start": "2025-01-06T09:00:00Z"},
            )
        )
        answers = [
            oncall_at(state, at(moment))
            for moment in ("2025-01-06T08:59:59Z", "2024-12-23T09:00:00Z", "2024-12-23T08:59:59Z")
        ]
        assert [a.member for a in answers if a] == ["C", "C", "B"]


class TestPrecedenceAndOverrides:
    def test_higher_priority_cuts_lower_and_the_later_override_wins(self) -> None:
        base = schedule(
            name="base", members=["Low"], start="12:00AM", end="12:00AM", overnight=True, priority=1
        )
        day = schedule(name="day", members=["High"], start="9:00AM", end="5:00PM", priority=2)
        first = Override(
            member="Sub1", start=at("2025-05-05T12:00:00Z"), end=at("2025-05-05T20:00:00Z")
        )
        second = Override(
            member="Sub2",
            start=at("2025-05-05T14:00:00Z"),
            end=at("2025-05-05T15:00:00Z"),
            schedule="day",
        )
        state = team(base, day, overrides=(first, second))
        shifts = timeline(state, at("2025-05-05T00:00:00Z"), at("2025-05-06T00:00:00Z"))
        assert [(s.start.hour, s.end.hour, s.member, s.schedule, s.source) for s in shifts] == [
            (0, 9, "Low", "base", Source.ROTATION),
            (9, 12, "High", "day", Source.ROTATION),
            (12, 14, "Sub1", "day", Source.OVERRIDE),
            (14, 15, "Sub2", "day", Source.OVERRIDE),
            (15, 17, "Sub1", "day", Source.OVERRIDE),
            (17, 20, "Sub1", "base", Source.OVERRIDE),
            (20, 0, "Low", "base", Source.ROTATION),
        ]
        hours = hours_per_member(state, at("2025-05-05T00:00:00Z"), at("2025-05-06T00:00:00Z"))
        assert hours == {
            "Low": timedelta(hours=13),
            "High": timedelta(hours=3),
            "Sub1": timedelta(hours=7),
            "Sub2": timedelta(hours=1),
        }
        everyone = everyone_on_call(state, at("2025-05-05T14:30:00Z"))
        assert [(a.member, a.schedule) for a in everyone] == [("Sub2", "day"), ("Sub1", "base")]

    def test_equal_priorities_go_to_the_schedule_created_first(self) -> None:
        first = schedule(name="first", members=["One"], start="9:00AM", end="5:00PM")
        second = schedule(name="second", members=["Two"], start="9:00AM", end="5:00PM")
        assert oncall_at(team(first, second), at("2025-05-05T12:00:00Z")).member == "One"  # type: ignore[union-attr]
        assert oncall_at(team(second, first), at("2025-05-05T12:00:00Z")).member == "Two"  # type: ignore[union-attr]

    def test_next_on_call_includes_overrides(self) -> None:
        rota = schedule(members=["A", "B"], start="9:00AM", end="5:00PM")
        cover = Override(
            member="Sub", start=at("2025-05-05T17:00:00Z"), end=at("2025-05-05T18:00:00Z")
        )
        answer = oncall_at(team(rota, overrides=(cover,)), at("2025-05-05T16:00:00Z"))
        assert answer is not None
        assert (answer.until, answer.next_member, answer.next_schedule) == (
            at("2025-05-05T17:00:00Z"),
            "Sub",
            None,
        )

    def test_schedule_limited_override_fills_only_that_schedules_windows(self) -> None:
        rota = schedule(members=["A"], start="9:00AM", end="5:00PM")
        cover = Override(
            member="Sub",
            start=at("2025-05-05T16:00:00Z"),
            end=at("2025-05-05T18:00:00Z"),
            schedule="rota",
        )
        state = team(rota, overrides=(cover,))
        assert oncall_at(state, at("2025-05-05T16:30:00Z")).member == "Sub"  # type: ignore[union-attr]
        assert oncall_at(state, at("2025-05-05T17:30:00Z")) is None


@pytest.mark.parametrize("moment", ["2025-05-05T12:00:00", "2025-05-05"])
def test_naive_query_instants_are_rejected(moment: str) -> None:
    from oncall_core import ValidationError

    state = team(schedule(start="9:00AM", end="5:00PM"))
    with pytest.raises(ValidationError):
        oncall_at(state, datetime.fromisoformat(moment))


class TestRangeEdges:
    every_day = schedule(
        start="12:00AM",
        end="12:00AM",
        overnight=True,
        members=["A", "B"],
        rotation={"kind": "weekly", "start": "2025-01-06T00:00:00Z"},
    )

    @pytest.mark.parametrize("year", [1, 1899, 2400, 9999])
    def test_instants_outside_the_supported_range_are_rejected(self, year: int) -> None:
        from oncall_core import ValidationError

        with pytest.raises(ValidationError) as caught:
            oncall_at(team(self.every_day), datetime(year, 6, 1, tzinfo=UTC))
        assert caught.value.field == "at"

    def test_no_change_is_reported_beyond_the_supported_range(self) -> None:
        answer = oncall_at(team(self.every_day), at("2399-12-31T12:00:00Z"))
        assert answer is not None and answer.until is None

    def test_anchors_outside_the_range_are_rejected(self) -> None:
        from oncall_core import ValidationError

        with pytest.raises(ValidationError) as caught:
            schedule(
                start="9:00AM",
                end="5:00PM",
                rotation={"kind": "daily", "start": "0001-01-01T00:00:00Z"},
            )
        assert caught.value.field == "rotation.start"
