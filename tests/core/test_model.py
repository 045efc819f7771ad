"""The model's own rules: an object that exists is valid, however it was built."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

import pytest

from oncall_core import Override, RotationChange, Schedule, TeamState, ValidationError

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
