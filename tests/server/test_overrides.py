"""Overrides and swaps over HTTP (issue 11), on each store: the past stays read-only.

The clock is stopped at Monday 2025-04-28 14:30 UTC (conftest.NOW) unless a test moves it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.server.conftest import NOW, Clock

DAY = {
    "name": "Day",
    "members": ["Ann", "Bob"],
    "days": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    "start": "9:00AM",
    "end": "5:00PM",
    "rotation": {"kind": "daily", "start": "2025-04-21T09:00:00Z"},
}
TOMORROW = {"member": "Cy", "start": "2025-04-29T10:00:00Z", "end": "2025-04-29T12:00:00Z"}


@pytest.fixture
def ops(client: TestClient) -> TestClient:
    """The client, with team ops and its daily rotation (Bob today, Ann tomorrow...)."""
    assert client.post("/teams/ops/schedules", json=DAY).status_code == 201
    return client


def overrides(client: TestClient, query: str = "") -> list[dict[str, Any]]:
    response = client.get(f"/teams/ops/overrides{query}")
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["overrides"]
    return found


# 1. A created override answers 201 with its id and Location, which leads to it.
def test_a_new_override_has_an_id_and_a_location_that_leads_to_it(ops: TestClient) -> None:
    response = ops.post("/teams/ops/overrides", json={**TOMORROW, "reason": "dentist"})
    assert response.status_code == 201, response.text
    created = response.json()
    assert created == {**TOMORROW, "schedule": None, "reason": "dentist", "id": created["id"]}
    assert response.headers["Location"] == f"/teams/ops/overrides/{created['id']}"
    fetched = ops.get(response.headers["Location"])
    assert (fetched.status_code, fetched.json()) == (200, created)
    shift = ops.get("/teams/ops/shifts?from=2025-04-29T10:00:00Z&to=2025-04-29T12:00:00Z")
    # Inside the window of schedule Day, the team-wide override answers for it.
    assert shift.json()["shifts"] == [{**TOMORROW, "schedule": "Day", "source": "override"}]


def test_an_override_limited_to_a_schedule_names_it(ops: TestClient) -> None:
    response = ops.post("/teams/ops/overrides", json={**TOMORROW, "schedule": "Day"})
    assert (response.status_code, response.json()["schedule"]) == (201, "Day")
    missing = ops.post("/teams/ops/overrides", json={**TOMORROW, "schedule": "Night"})
    assert missing.status_code == 404
    assert ops.post("/teams/nobody/overrides", json=TOMORROW).status_code == 404
    assert len(overrides(ops)) == 1  # the refused ones stored nothing


# 2. An override that would start in the past is refused (422); "now" is accepted, and
# a start less than a minute old is taken as now.
def test_the_past_is_read_only_for_a_new_override(ops: TestClient) -> None:
    past = ops.post("/teams/ops/overrides", json={**TOMORROW, "start": "2025-04-28T14:00:00Z"})
    assert past.status_code == 422
    assert past.json() == {
        "error": "start 2025-04-28T14:00:00Z is in the past: the past is read-only"
    }
    now = ops.post("/teams/ops/overrides", json={**TOMORROW, "start": "now"})
    assert (now.status_code, now.json()["start"]) == (201, "2025-04-28T14:30:00Z")
    drift = ops.post("/teams/ops/overrides", json={**TOMORROW, "start": "2025-04-28T14:29:30Z"})
    assert (drift.status_code, drift.json()["start"]) == (201, "2025-04-28T14:30:00Z")
    assert [o["id"] for o in overrides(ops)] == [now.json()["id"], drift.json()["id"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**TOMORROW, "end": TOMORROW["start"]}, "end"),  # start < end
        ({**TOMORROW, "end": "2025-04-29T09:00:00Z"}, "end"),
        ({**TOMORROW, "start": "tomorrow"}, "start"),
        ({**TOMORROW, "start": "2025-04-29T10:00:00"}, "start"),  # no offset
        ({"member": "Cy", "end": "2025-04-29T12:00:00Z"}, "start"),
        ({"member": "Cy", "start": "now"}, "end"),
        ({**TOMORROW, "member": ""}, "member"),
        ({**TOMORROW, "member": 7}, "member"),
        ({**TOMORROW, "colour": "red"}, "colour"),
        ({**TOMORROW, "reason": "x" * 1001}, "reason"),
    ],
)
def test_a_bad_override_is_a_400_naming_the_field(
    ops: TestClient, body: dict[str, Any], field: str
) -> None:
    response = ops.post("/teams/ops/overrides", json=body)
    assert response.status_code == 400, response.text
    assert field in response.json()["error"]
    assert overrides(ops) == []


# 3. Overrides are listed by id, those overlapping from..to, a page at a time.
def test_overrides_are_listed_by_range_a_page_at_a_time(ops: TestClient) -> None:
    ids = []
    for day in range(29, 31):
        for hour in (10, 14):
            start = f"2025-04-{day}T{hour}:00:00Z"
            end = f"2025-04-{day}T{hour + 1}:00:00Z"
            body = {"member": "Cy", "start": start, "end": end}
            ids.append(ops.post("/teams/ops/overrides", json=body).json()["id"])
    assert [o["id"] for o in overrides(ops)] == ids
    in_range = overrides(ops, "?from=2025-04-29T10:30:00Z&to=2025-04-30T10:00:00Z")
    assert [o["id"] for o in in_range] == ids[:2]
    first = ops.get("/teams/ops/overrides?limit=3").json()
    assert [o["id"] for o in first["overrides"]] == ids[:3]
    rest = ops.get(f"/teams/ops/overrides?limit=3&cursor={first['next_cursor']}").json()
    assert ([o["id"] for o in rest["overrides"]], rest["next_cursor"]) == (ids[3:], None)
    assert ops.get("/teams/nobody/overrides").status_code == 404
    for query, field in [
        ("?from=x", "from"),
        ("?to=2025-04-28T00:00:00Z&from=2025-04-29T00:00:00Z", "to"),
        ("?cursor=garbled!", "cursor"),
        ("?limit=0", "limit"),
    ]:
        response = ops.get(f"/teams/ops/overrides{query}")
        assert response.status_code == 400 and field in response.json()["error"], query


# 4. A delete: a future override disappears (204), an ongoing one ends now (200 with
# it), a past one stays (409).
def test_a_delete_keeps_the_past_read_only(ops: TestClient, clock: Clock) -> None:
    future = ops.post("/teams/ops/overrides", json=TOMORROW).json()
    ongoing = ops.post(
        "/teams/ops/overrides",
        json={"member": "Cy", "start": "now", "end": "2025-04-28T16:00:00Z"},
    ).json()
    past = ops.post(
        "/teams/ops/overrides",
        json={"member": "Cy", "start": "now", "end": "2025-04-28T15:00:00Z"},
    ).json()
    clock.now = NOW + timedelta(minutes=45)  # 15:15

    gone = ops.delete(f"/teams/ops/overrides/{future['id']}")
    assert (gone.status_code, gone.content) == (204, b"")
    assert ops.get(f"/teams/ops/overrides/{future['id']}").status_code == 404

    ended = ops.delete(f"/teams/ops/overrides/{ongoing['id']}")
    assert (ended.status_code, ended.json()) == (200, {**ongoing, "end": "2025-04-28T15:15:00Z"})
    assert ops.get(f"/teams/ops/overrides/{ongoing['id']}").json()["end"] == "2025-04-28T15:15:00Z"

    kept = ops.delete(f"/teams/ops/overrides/{past['id']}")
    assert kept.status_code == 409
    assert "the past is read-only" in kept.json()["error"]
    assert [o["id"] for o in overrides(ops)] == [ongoing["id"], past["id"]]

    assert ops.delete("/teams/ops/overrides/999").status_code == 404
    assert ops.delete("/teams/nobody/overrides/1").status_code == 404
    bad = ops.delete("/teams/ops/overrides/one")
    assert (bad.status_code, bad.json()) == (400, {"error": "id must be a positive integer"})


# 5. A swap: the members of the two shifts trade them; 201 with both overrides.
def test_a_swap_trades_two_shifts(ops: TestClient) -> None:
    shifts = ["2025-04-29T09:00:00Z", "2025-04-30T09:00:00Z"]
    before = ops.get("/teams/ops/shifts?from=2025-04-29T00:00:00Z&to=2025-05-01T00:00:00Z")
    members = [s["member"] for s in before.json()["shifts"]]
    assert members == ["Ann", "Bob"]
    response = ops.post("/teams/ops/swaps", json={"schedule": "Day", "shifts": shifts})
    assert response.status_code == 201, response.text
    pair = response.json()["overrides"]
    assert [(o["member"], o["start"], o["end"], o["schedule"]) for o in pair] == [
        ("Bob", "2025-04-29T09:00:00Z", "2025-04-29T17:00:00Z", "Day"),
        ("Ann", "2025-04-30T09:00:00Z", "2025-04-30T17:00:00Z", "Day"),
    ]
    after = ops.get("/teams/ops/shifts?from=2025-04-29T00:00:00Z&to=2025-05-01T00:00:00Z")
    assert [(s["member"], s["source"]) for s in after.json()["shifts"]] == [
        ("Bob", "override"),
        ("Ann", "override"),
    ]
    assert overrides(ops) == pair


# 6. A swap is refused (422) when an instant starts no shift of the schedule, or both
# shifts are one member's; and it is all or nothing.
@pytest.mark.parametrize(
    "shifts",
    [
        ["2025-04-29T10:00:00Z", "2025-04-30T09:00:00Z"],  # 10:00 starts no shift
        ["2025-04-29T09:00:00Z", "2025-05-01T09:00:00Z"],  # both Ann's
        ["2025-04-28T09:00:00Z", "2025-04-29T09:00:00Z"],  # today's began: the past
    ],
)
def test_a_swap_that_cannot_be_is_a_422_and_stores_nothing(
    ops: TestClient, shifts: list[str]
) -> None:
    response = ops.post("/teams/ops/swaps", json={"schedule": "Day", "shifts": shifts})
    assert response.status_code == 422, response.text
    assert overrides(ops) == []


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"schedule": "Day", "shifts": ["2025-04-29T09:00:00Z"]}, 400, "shifts"),
        ({"schedule": "Day", "shifts": "2025-04-29T09:00:00Z"}, 400, "shifts"),
        ({"schedule": "Day", "shifts": ["x", "2025-04-29T09:00:00Z"]}, 400, "shifts"),
        ({"shifts": ["2025-04-29T09:00:00Z", "2025-04-30T09:00:00Z"]}, 400, "schedule"),
        ({"schedule": "Day", "shifts": [], "why": 1}, 400, "why"),
        ({"schedule": "Night", "shifts": ["2025-04-29T09:00:00Z"] * 2}, 404, "Night"),
    ],
)
def test_a_bad_swap_names_the_field(
    ops: TestClient, body: dict[str, Any], status: int, field: str
) -> None:
    response = ops.post("/teams/ops/swaps", json=body)
    assert response.status_code == status, response.text
    assert field in response.json()["error"]
    assert overrides(ops) == []
