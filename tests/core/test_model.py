"""The model's own rules: an object that exists is valid, however it was built."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oncall_core import (
    MAX_EVERY,
    MAX_PRIORITY,
    MAX_TEXT,
    MIN_PRIORITY,
    REFUSED_CATEGORIES,
    Override,
    Rotation,
    RotationChange,
    RotationKind,
    Schedule,
    TeamState,
    ValidationError,
    clean_text,
)

START = datetime(2025, 5, 5, 9, tzinfo=UTC)


def schedule(**changes: Any) -> Schedule:
    fields: dict[str, Any] = {
        "team": "ops",
        "name": "primary",
        "members": ["Ann", "Bob", "Cid"],
        "days": [0, 1, 2],
        "start": time(9),
        "end": time(17),
    }
    return Schedule(**{**fields, **changes})


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"overnight": "yes"}, "overnight"),
        ({"overnight": 1}, "overnight"),
        ({"priority": "high"}, "priority"),
        ({"priority": True}, "priority"),
        ({"timezone": 5}, "timezone"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"members": ["Ann", 7]}, "members[1]"),
        ({"team": 3}, "team"),
    ],
)
def test_a_schedule_checks_the_type_of_every_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        schedule(**changes)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"schedule": 3}, "schedule"), ({"reason": ["x"]}, "reason"), ({"id": "7"}, "id")],
)
def test_an_override_checks_the_type_of_every_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Override(member="Ann", start=START, end=START.replace(hour=10), **changes)
    assert caught.value.field == field


@pytest.mark.parametrize("position", [3, 7])
def test_a_team_state_refuses_a_position_beyond_the_members(position: int) -> None:
    change = RotationChange(schedule="primary", effective=START, position=position)
    with pytest.raises(ValidationError) as caught:
        TeamState(team="ops", schedules=[schedule()], changes=[change])
    assert caught.value.field == "position"
    assert caught.value.message == "position must be below the number of members (3)"


def test_a_team_state_accepts_the_last_position() -> None:
    change = RotationChange(schedule="primary", effective=START, position=2)
    state = TeamState(team="ops", schedules=[schedule()], changes=[change])
    assert state.changes == (change,)


# Text: one rule for every text field (oncall_core._text).


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("\ud800", "team must be valid Unicode text"),
        ("ops\x00", "team must not contain control or invisible characters"),
        ("ops\nteam", "team must not contain control or invisible characters"),
        ("ops\u200bteam", "team must not contain control or invisible characters"),  # zero width
        ("ops\u202eteam", "team must not contain control or invisible characters"),  # bidi
        ("ops\u2028team", "team must not contain control or invisible characters"),  # line sep.
        (" \t\u3000 ", "team is required"),
        ("x" * 201, "team must be at most 200 characters"),
        (7, "team must be a string"),
    ],
)
def test_text_the_stores_cannot_hold_or_that_misleads_is_refused(
    value: object, message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        schedule(team=value)
    assert (caught.value.field, caught.value.message) == ("team", message)


def test_text_is_normalized_so_that_names_that_look_alike_are_one_name() -> None:
    composed, decomposed = "Caf\u00e9", "Cafe\u0301"
    assert schedule(name=composed) == schedule(name=f"  {decomposed} ")
    assert schedule(members=[decomposed]).members == (composed,)
    override = Override(member=decomposed, start=START, end=START.replace(hour=10))
    assert override.member == composed


@pytest.mark.parametrize("field", ["schedule", "reason"])
def test_override_text_follows_the_same_rule(field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Override(member="Ann", start=START, end=START.replace(hour=10), **{field: "a\x00"})
    assert caught.value.field == field


def _cleaned_by_the_general_rule(value: str) -> str | None:
    text = unicodedata.normalize("NFC", value).strip()
    if not text or len(text) > MAX_TEXT:
        return None
    if any(unicodedata.category(char) in REFUSED_CATEGORIES for char in text):
        return None
    return text


@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_ascii_text_is_cleaned_as_the_general_rule_cleans_it(value: str) -> None:
    # clean_text takes a shorter path for ASCII: it must keep and refuse the same.
    try:
        cleaned: str | None = clean_text(value, "name")
    except ValidationError:
        cleaned = None
    assert cleaned == _cleaned_by_the_general_rule(value)


@given(st.text())
def test_clean_text_keeps_only_text_every_store_can_hold(value: str) -> None:
    try:
        cleaned = clean_text(value, "name")
    except ValidationError as error:
        assert error.field == "name"
        return
    cleaned.encode("utf-8")  # valid Unicode: PostgreSQL can store it
    assert "\x00" not in cleaned
    assert cleaned == unicodedata.normalize("NFC", cleaned) == cleaned.strip()
    assert 0 < len(cleaned) <= MAX_TEXT
    assert clean_text(cleaned, "name") == cleaned  # idempotent: a lookup finds it


# Integers: ranges every store holds.


@pytest.mark.parametrize("priority", [MAX_PRIORITY + 1, 2**63, 10**30, MIN_PRIORITY - 1])
def test_a_priority_beyond_32_bits_is_refused(priority: int) -> None:
    with pytest.raises(ValidationError) as caught:
        schedule(priority=priority)
    assert caught.value.field == "priority"
    assert caught.value.message == "priority must be between -2147483648 and 2147483647"


def test_the_priority_range_is_inclusive() -> None:
    assert schedule(priority=MIN_PRIORITY).priority == -(2**31)
    assert schedule(priority=MAX_PRIORITY).priority == 2**31 - 1


@pytest.mark.parametrize("every", [MAX_EVERY + 1, 10**12])
def test_a_rotation_every_beyond_1000_is_refused(every: int) -> None:
    with pytest.raises(ValidationError) as caught:
        Rotation(kind=RotationKind.HOURLY, every=every, start=START)
    assert caught.value.message == "rotation.every must be at most 1000"
    assert Rotation(kind=RotationKind.WEEKLY, every=MAX_EVERY, start=START).every == 1000


# Zones: IANA regions and UTC only.

NOT_A_REGION = "is not a region: use an IANA region name such as Europe/Berlin, or UTC"


@pytest.mark.parametrize(
    "zone", ["localtime", "Factory", "posixrules", "right/UTC", "posix/Europe/Berlin", "EST"]
)
def test_zone_names_that_are_not_regions_are_refused(zone: str) -> None:
    with pytest.raises(ValidationError) as caught:
        schedule(timezone=zone)
    assert caught.value.field == "timezone"
    assert caught.value.message == f"time zone {zone} {NOT_A_REGION}"


@pytest.mark.parametrize("zone", ["UTC", "Etc/UTC", "Europe/Berlin", "America/Argentina/Salta"])
def test_region_names_and_utc_are_accepted(zone: str) -> None:
    assert schedule(timezone=zone).timezone == zone
