"""The seed service's own example request (its README's curl example), shared by tests."""

from typing import Any

WEEKDAY_SHIFT: dict[str, Any] = {
    "name": "Weekday Shift",
    "team": "ops-team",
    "members": ["John", "Jane", "Joe"],
    "days": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"],
    "start": "9:00AM",
    "end": "5:00PM",
}
