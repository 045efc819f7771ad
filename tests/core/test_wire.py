"""Seed-compatible parsing: exact messages, accepted spellings, and the JSON converter."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone
from typing import Any

import pytest

from oncall_core import (
    Override,
    Rotation,
    RotationChange,
    RotationKind,
    Schedule,
    TeamState,
    ValidationError,
    Weekday,
    format_instant,
    format_time_of_day,
    from_json,
    parse_instant,
    parse_schedule_request,
    parse_time_of_day,
    parse_weekday,
    to_json,
)
from tests.seed import WEEKDAY_SHIFT

VALID = WEEKDAY_SHIFT


def rejected(body: object, **kwargs: Any) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        parse_schedule_request(body, **kwargs)
    return caught.value


@pytest.mark.parametrize(
    ("change", "message", "field"),
    [
        ({"team": ""}, "team is required", "team"),
        ({"team": None}, "team is required", "team"),
        ({"name": ""}, "name is required", "name"),
        ({"members": []}, "at least one member is required", "members"),
        ({"members": None}, "at least one member is required", "members"),
        ({"days": []}, "at least one day is required", "days"),
        ({"start": ""}, "start time is required", "start"),
        ({"end": ""}, "end time is required", "end"),
        ({"days": ["Monday", "Funday"]}, "invalid day: Funday", "days"),
        ({"start": "9AM"}, "invalid start time format, use '3:04PM' format", "start"),
        ({"start": "13:00PM"}, "invalid start time format, use '3:04PM' format", "start"),
        ({"end": "25:00"}, "invalid end time format, use '3:04PM' format", "end"),
        ({"end": "9:00AM"}, "start time must be before end time", "end"),
        ({"end": "8:00AM"}, "start time must be before end time", "end"),
    ],
)
def test_seed_messages(change: dict[str, Any], message: str, field: str) -> None:
    error = rejected({**VALID, **change})
    assert (error.message, error.field) == (message, field)


def test_missing_fields_are_reported_in_the_seed_order() -> None:
    body: dict[str, Any] = {}
    order = ["team", "name", "members", "days", "start", "end"]
    for key in order:
        assert rejected(body).field == key
        body[key] = VALID[key]
    assert parse_schedule_request(body).name == "Weekday Shift"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"team": 7}, "team"),
        ({"name": ["x"]}, "name"),
        ({"members": "John"}, "members"),
        ({"members": ["John", 3]}, "members[1]"),
        ({"members": ["John", " "]}, "members[1]"),
        ({"days": "Monday"}, "days"),
        ({"start": 900}, "start"),
        ({"overnight": "yes"}, "overnight"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
        ({"timezone": 5}, "timezone"),
        ({"priority": "high"}, "priority"),
        ({"priority": True}, "priority"),
        ({"rotation": "weekly"}, "rotation"),
        ({"rotation": {"kind": "yearly"}}, "rotation.kind"),
        (
            {"rotation": {"kind": "weekly", "every": 0, "start": "2025-01-06T09:00:00Z"}},
            "rotation.every",
        ),
        (
            {"rotation": {"kind": "weekly", "every": 1.5, "start": "2025-01-06T09:00:00Z"}},
            "rotation.every",
        ),
        ({"rotation": {"kind": "weekly", "start": "2025-01-06T09:00:00"}}, "rotation.start"),
        ({"rotation": {"kind": "weekly"}}, "rotation.start"),
        ({"rotation": {"kind": "manual", "start": "2025-01-06T09:00:00Z"}}, "rotation.start"),
        (
            {"rotation": {"kind": "per_shift", "every": 2, "start": "2025-01-06T09:00:00Z"}},
            "rotation.every",
        ),
        ({"rotation": {"kind": "weekly", "evry": 2}}, "rotation.evry"),
        ({"overnight": True, "start": "8:00AM", "end": "9:00AM"}, "end"),
    ],
)
def test_bad_extensions_and_types_name_their_field(change: dict[str, Any], field: str) -> None:
    assert rejected({**VALID, **change}).field == field


def test_a_body_that_is_not_an_object_is_rejected() -> None:
    assert rejected(["not", "an", "object"]).message == "invalid request body"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9:00AM", time(9)),
        ("9:00 am", time(9)),
        ("09:00am", time(9)),
        ("1:30PM", time(13, 30)),
        ("12:00AM", time(0)),
        ("12:00PM", time(12)),
        ("12:30am", time(0, 30)),
        ("21:30", time(21, 30)),
        ("0:00", time(0)),
        (" 5:00PM ", time(17)),
    ],
)
def test_time_of_day_spellings(text: str, expected: time) -> None:
    assert parse_time_of_day(text, "start") == expected


@pytest.mark.parametrize("moment", [time(0), time(9), time(12), time(13, 30), time(23, 59, 30)])
def test_time_of_day_formats_back(moment: time) -> None:
    assert parse_time_of_day(format_time_of_day(moment), "start") == moment


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("monday", Weekday.MONDAY),
        ("SUNDAY", Weekday.SUNDAY),
        ("Tue", Weekday.TUESDAY),
        ("sat", Weekday.SATURDAY),
    ],
)
def test_weekday_spellings(text: str, day: Weekday) -> None:
    assert parse_weekday(text) is day


def test_duplicate_days_collapse() -> None:
    schedule = parse_schedule_request({**VALID, "days": ["Monday", "mon", "MONDAY"]})
    assert schedule.days == frozenset({Weekday.MONDAY})


def test_defaults_of_the_extensions() -> None:
    schedule = parse_schedule_request(VALID)
    assert (schedule.timezone, schedule.overnight, schedule.priority) == ("UTC", False, 0)
    assert schedule.rotation == Rotation()
    assert schedule.members == ("John", "Jane", "Joe")


def test_members_may_repeat() -> None:
    assert parse_schedule_request({**VALID, "members": ["A", "B", "A"]}).members == ("A", "B", "A")


@pytest.mark.parametrize(
    ("created", "anchor"),
    [
        # A window start: anchored there.
        (datetime(2025, 1, 6, 9, tzinfo=UTC), datetime(2025, 1, 6, 9, tzinfo=UTC)),
        # Monday 10:30:07.123 inside Monday's 9-5 window: the next start, Tuesday 09:00.
        (datetime(2025, 1, 6, 10, 30, 7, 123000, tzinfo=UTC), datetime(2025, 1, 7, 9, tzinfo=UTC)),
        # Friday evening: the next weekday window, Monday 09:00.
        (datetime(2025, 1, 10, 18, tzinfo=UTC), datetime(2025, 1, 13, 9, tzinfo=UTC)),
    ],
)
def test_a_rotation_without_start_is_anchored_at_the_next_window_start(
    created: datetime, anchor: datetime
) -> None:
    for kind in ("hourly", "daily", "weekly", "per_shift"):
        schedule = parse_schedule_request({**VALID, "rotation": {"kind": kind}}, created_at=created)
        assert schedule.rotation.start == anchor


def test_the_anchor_of_a_rotation_without_start_follows_the_dst_rule() -> None:
    # 2:30AM does not exist in Chicago on 2020-03-08: that window starts at the jump,
    # 08:00Z, which is the first window start at or after 07:59Z.
    body = {
        **VALID,
        "days": ["Sunday", "Monday"],
        "start": "2:30AM",
        "end": "4:00AM",
        "timezone": "America/Chicago",
        "rotation": {"kind": "daily"},
    }
    created = datetime(2020, 3, 8, 7, 59, tzinfo=UTC)
    schedule = parse_schedule_request(body, created_at=created)
    assert schedule.rotation.start == datetime(2020, 3, 8, 8, tzinfo=UTC)


def test_an_explicit_rotation_start_is_kept() -> None:
    start = "2025-01-06T10:30:00Z"
    body = {**VALID, "rotation": {"kind": "daily", "start": start}}
    schedule = parse_schedule_request(body, created_at=datetime(2025, 2, 1, tzinfo=UTC))
    assert schedule.rotation == Rotation(kind=RotationKind.DAILY, start=parse_instant(start))


class TestInstants:
    @pytest.mark.parametrize(
        "text",
        [
            "2025-04-28T14:30:00Z",
            "2025-04-28T16:30:00+02:00",
            "2025-04-28T09:30:00-05:00",
            "2025-04-28t14:30:00z",
            "2025-04-28T14:30:00.000000000Z",
            "2025-04-28 14:30:00Z",
        ],
    )
    def test_offsets_denote_the_same_instant(self, text: str) -> None:
        assert parse_instant(text) == datetime(2025, 4, 28, 14, 30, tzinfo=UTC)

    def test_fractions_keep_microseconds(self) -> None:
        assert parse_instant("2025-04-28T14:30:00.123456789Z").microsecond == 123456
        assert parse_instant("2025-04-28T14:30:00.5Z").microsecond == 500000

    @pytest.mark.parametrize(
        "text",
        [
            "2025-04-28T14:30:00",
            "2025-04-28",
            "yesterday",
            "",
            "2025-13-28T14:30:00Z",
            "2025-04-28T14:30Z",
            42,
        ],
    )
    def test_bad_or_naive_instants_are_rejected(self, text: object) -> None:
        with pytest.raises(ValidationError) as caught:
            parse_instant(text)
        assert caught.value.message == "invalid time format, use RFC3339 format"
        assert caught.value.field == "time"

    def test_format_uses_z_for_utc_and_keeps_other_offsets(self) -> None:
        assert format_instant(datetime(2025, 4, 28, 14, 30, tzinfo=UTC)) == "2025-04-28T14:30:00Z"
        plus_two = timezone(timedelta(hours=2))
        assert (
            format_instant(datetime(2025, 4, 28, 16, 30, tzinfo=plus_two))
            == "2025-04-28T16:30:00+02:00"
        )


class TestConverter:
    def test_schedule_json_is_the_request_shape(self) -> None:
        schedule = parse_schedule_request(
            {
                **VALID,
                "timezone": "America/Chicago",
                "rotation": {"kind": "weekly", "every": 2, "start": "2025-01-06T09:00:00-05:00"},
                "priority": 3,
            }
        )
        assert to_json(schedule) == {
            **VALID,
            "overnight": False,
            "timezone": "America/Chicago",
            # The model keeps instants in UTC: 09:00-05:00 is 14:00Z.
            "rotation": {"kind": "weekly", "every": 2, "start": "2025-01-06T14:00:00Z"},
            "priority": 3,
        }

    def test_team_state_round_trips(self) -> None:
        schedule = parse_schedule_request(VALID)
        state = TeamState(
            team="ops-team",
            schedules=[schedule],
            changes=[
                RotationChange(
                    schedule="Weekday Shift", effective=datetime(2025, 1, 1, tzinfo=UTC)
                ),
                RotationChange(
                    schedule="Weekday Shift", effective=datetime(2025, 2, 1, tzinfo=UTC), position=2
                ),
            ],
            overrides=[
                Override(
                    member="Sub",
                    start=datetime(2025, 3, 1, tzinfo=UTC),
                    end=datetime(2025, 3, 2, tzinfo=UTC),
                    schedule="Weekday Shift",
                    reason="vacation",
                )
            ],
        )
        assert from_json(to_json(state), TeamState) == state

    @pytest.mark.parametrize(
        ("data", "field"),
        [
            ({"member": "A", "end": "2025-01-02T00:00:00Z"}, "start"),
            (
                {"member": "A", "start": "2025-01-01T00:00:00", "end": "2025-01-02T00:00:00Z"},
                "start",
            ),
            (
                {"member": "A", "start": "2025-01-03T00:00:00Z", "end": "2025-01-02T00:00:00Z"},
                "end",
            ),
            (
                {"member": "", "start": "2025-01-01T00:00:00Z", "end": "2025-01-02T00:00:00Z"},
                "member",
            ),
        ],
    )
    def test_bad_overrides_name_their_field(self, data: dict[str, Any], field: str) -> None:
        with pytest.raises(ValidationError) as caught:
            from_json(data, Override)
        assert caught.value.field == field

    def test_nested_errors_carry_their_path(self) -> None:
        with pytest.raises(ValidationError) as caught:
            from_json({"team": "ops-team", "schedules": [{**VALID, "end": "25:00"}]}, TeamState)
        assert caught.value.field == "schedules[0].end"

    def test_schedules_of_another_team_are_rejected(self) -> None:
        with pytest.raises(ValidationError) as caught:
            TeamState(team="other", schedules=[parse_schedule_request(VALID)])
        assert caught.value.field == "team"

    def test_constructing_directly_validates_too(self) -> None:
        with pytest.raises(ValidationError) as caught:
            Schedule(team="t", name="n", members="Alice", days=[0], start=time(9), end=time(17))
        assert caught.value.field == "members"
        with pytest.raises(ValidationError) as caught:
            Schedule(team="t", name="n", members=["A"], days=[9], start=time(9), end=time(17))
        assert caught.value.message == "invalid day: 9"


@pytest.mark.parametrize("text", ["\u0669:\u0660\u0660AM", "\uff19:\uff10\uff10AM", "\u0969:00"])
def test_times_of_day_are_ascii(text: str) -> None:
    # Arabic-Indic, fullwidth and Devanagari digits are digits to Python, not to us.
    with pytest.raises(ValidationError) as caught:
        parse_time_of_day(text, "start")
    assert caught.value.message == "invalid start time format, use '3:04PM' format"


def test_instants_are_ascii() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_instant("\uff12025-04-28T14:30:00Z")
    assert caught.value.message == "invalid time format, use RFC3339 format"
