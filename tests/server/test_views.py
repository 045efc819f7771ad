"""The read-only views over HTTP (issue 11), on each store: who is on call (a team's and
every team's), shifts, gaps, the hours report, one member's shifts across teams.

The clock is stopped at Monday 2025-04-28 14:30 UTC (conftest.NOW).
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

EVERY_DAY = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
DAY = {
    "name": "Day",
    "members": ["Ann", "Bob"],
    "days": EVERY_DAY,
    "start": "9:00AM",
    "end": "5:00PM",
    "priority": 1,
    "rotation": {"kind": "daily", "start": "2025-04-21T09:00:00Z"},
}
BACKUP = {
    "name": "Backup",
    "members": ["Cy"],
    "days": EVERY_DAY,
    "start": "8:00AM",
    "end": "8:00PM",
}


@pytest.fixture
def ops(client: TestClient) -> TestClient:
    """Team ops: Day (priority 1, Bob today, Ann tomorrow) over Backup (Cy, 08-20)."""
    for schedule in (DAY, BACKUP):
        assert client.post("/teams/ops/schedules", json=schedule).status_code == 201
    return client


def get(client: TestClient, path: str) -> Any:
    response = client.get(path)
    assert response.status_code == 200, response.text
    return response.json()


# 1. Everyone on call at an instant, in precedence order, each with until and next.
def test_everyone_on_call_in_precedence_order(ops: TestClient) -> None:
    answer = get(ops, "/teams/ops/oncall?time=2025-04-28T14:30:00Z")
    assert answer == {
        "team": "ops",
        "time": "2025-04-28T14:30:00Z",
        "oncall": [
            {
                "member": "Bob",
                "schedule": "Day",
                "source": "rotation",
                "override": None,
                "until": "2025-04-28T17:00:00Z",
                "next": None,
            },
            {
                "member": "Cy",
                "schedule": "Backup",
                "source": "rotation",
                "override": None,
                "until": "2025-04-28T20:00:00Z",
                "next": None,
            },
        ],
    }
    assert get(ops, "/teams/ops/oncall?time=now") == answer
    assert get(ops, "/teams/ops/oncall") == answer
    evening = get(ops, "/teams/ops/oncall?time=2025-04-28T18:00:00Z")["oncall"]
    assert [(a["member"], a["schedule"]) for a in evening] == [("Cy", "Backup")]
    assert get(ops, "/teams/ops/oncall?time=2025-04-28T23:00:00Z")["oncall"] == []


def test_an_override_is_named_in_the_answer_and_as_the_next(ops: TestClient) -> None:
    body = {"member": "Dee", "start": "2025-04-28T17:00:00Z", "end": "2025-04-28T21:00:00Z"}
    override = ops.post("/teams/ops/overrides", json=body).json()
    backup = get(ops, "/teams/ops/oncall")["oncall"][1]
    assert backup["next"] == {"member": "Dee", "schedule": "Backup"}
    later = get(ops, "/teams/ops/oncall?time=2025-04-28T20:30:00Z")["oncall"]
    assert later == [
        {
            "member": "Dee",
            "schedule": None,
            "source": "override",
            "override": override["id"],
            "until": "2025-04-28T21:00:00Z",
            "next": None,
        }
    ]


# 2. Every team's answer, a page of teams by name.
def test_every_team_on_call_a_page_at_a_time(client: TestClient) -> None:
    for team in ["c", "a", "b"]:
        assert client.post(f"/teams/{team}/schedules", json=BACKUP).status_code == 201
    first = get(client, "/oncall?limit=2")
    assert first["time"] == "2025-04-28T14:30:00Z"
    assert [t["team"] for t in first["teams"]] == ["a", "b"]
    assert all(t["oncall"][0]["member"] == "Cy" for t in first["teams"])
    rest = get(client, f"/oncall?limit=2&cursor={first['next_cursor']}")
    assert ([t["team"] for t in rest["teams"]], rest["next_cursor"]) == (["c"], None)
    night = get(client, "/oncall?time=2025-04-28T23:00:00Z")
    assert [(t["team"], t["oncall"]) for t in night["teams"]] == [("a", []), ("b", []), ("c", [])]


# 3. The timeline: member, schedule, start, end and source; at most 366 days.
def test_shifts_are_the_timeline(ops: TestClient) -> None:
    body = {"member": "Dee", "start": "2025-04-29T10:00:00Z", "end": "2025-04-29T11:00:00Z"}
    assert ops.post("/teams/ops/overrides", json=body).status_code == 201
    found = get(ops, "/teams/ops/shifts?from=2025-04-29T00:00:00Z&to=2025-04-30T00:00:00Z")
    assert (found["from"], found["to"]) == ("2025-04-29T00:00:00Z", "2025-04-30T00:00:00Z")
    assert [
        (s["start"][11:16], s["end"][11:16], s["member"], s["source"]) for s in found["shifts"]
    ] == [
        ("08:00", "09:00", "Cy", "rotation"),
        ("09:00", "10:00", "Ann", "rotation"),
        ("10:00", "11:00", "Dee", "override"),
        ("11:00", "17:00", "Ann", "rotation"),
        ("17:00", "20:00", "Cy", "rotation"),
    ]
    alone = get(
        ops, "/teams/ops/shifts?from=2025-04-29T00:00:00Z&to=2025-04-30T00:00:00Z&schedule=Backup"
    )
    # Backup alone: the team-wide override reaches it too.
    assert [(s["member"], s["schedule"]) for s in alone["shifts"]] == [
        ("Cy", "Backup"),
        ("Dee", "Backup"),
        ("Cy", "Backup"),
    ]
    default = get(ops, "/teams/ops/shifts")
    assert (default["from"], default["to"]) == ("2025-04-28T14:30:00Z", "2025-05-05T14:30:00Z")
    year = get(ops, "/teams/ops/shifts?from=2025-01-01T00:00:00Z&to=2026-01-02T00:00:00Z")
    assert len(year["shifts"]) > 700  # 366 days is allowed


# 4. When nobody is on call.
def test_gaps(ops: TestClient) -> None:
    found = get(ops, "/teams/ops/gaps?from=2025-04-29T00:00:00Z&to=2025-04-30T12:00:00Z")
    assert found["gaps"] == [
        {"start": "2025-04-29T00:00:00Z", "end": "2025-04-29T08:00:00Z"},
        {"start": "2025-04-29T20:00:00Z", "end": "2025-04-30T08:00:00Z"},
    ]


# 5. Hours per member and, within each, per schedule.
def test_the_report_gives_hours_per_member_and_schedule(ops: TestClient) -> None:
    body = {"member": "Cy", "start": "2025-04-29T21:00:00Z", "end": "2025-04-29T22:00:00Z"}
    assert ops.post("/teams/ops/overrides", json=body).status_code == 201
    report = get(ops, "/teams/ops/report?from=2025-04-29T00:00:00Z&to=2025-04-30T00:00:00Z")
    assert report["members"] == [
        {"member": "Ann", "hours": 8.0, "schedules": [{"schedule": "Day", "hours": 8.0}]},
        {
            "member": "Cy",
            "hours": 5.0,
            "schedules": [{"schedule": None, "hours": 1.0}, {"schedule": "Backup", "hours": 4.0}],
        },
    ]


# 6. One member's shifts across every team they belong to, each with its team.
def test_a_members_shifts_across_teams(ops: TestClient) -> None:
    other = {**BACKUP, "name": "Evenings", "start": "6:00PM", "end": "11:00PM"}
    assert ops.post("/teams/support/schedules", json=other).status_code == 201
    found = get(ops, "/members/Cy/shifts?from=2025-04-29T00:00:00Z&to=2025-04-30T00:00:00Z")
    assert found["member"] == "Cy"
    assert [
        (s["team"], s["schedule"], s["start"][11:16], s["end"][11:16]) for s in found["shifts"]
    ] == [
        ("ops", "Backup", "08:00", "09:00"),
        ("ops", "Backup", "17:00", "20:00"),
        ("support", "Evenings", "18:00", "23:00"),
    ]
    assert get(ops, "/members/Nobody/shifts")["shifts"] == []


# 7. Bad input is a 4xx naming the field, never a 500.
@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/teams/ops/oncall?time=tomorrow", "time"),
        ("/oncall?time=2025-04-28T14:30:00", "time"),
        ("/oncall?cursor=garbled!", "cursor"),
        ("/oncall?limit=501", "limit"),
        ("/teams/ops/shifts?from=x", "from"),
        ("/teams/ops/shifts?to=2025-13-01T00:00:00Z", "to"),
        ("/teams/ops/shifts?from=2025-01-01T00:00:00Z&to=2026-01-03T00:00:00Z", "to"),
        ("/teams/ops/shifts?from=2025-05-01T00:00:00Z&to=2025-04-01T00:00:00Z", "to"),
        ("/teams/ops/shifts?from=2399-12-31T00:00:00Z", "to"),
        ("/teams/ops/gaps?to=1900-01-02T00:00:00Z", "from"),  # 7 days before: 1899
        ("/teams/ops/report?from=2025-01-01T00:00:00Z&to=2026-06-01T00:00:00Z", "to"),
        ("/teams/ops/shifts?schedule=%00", "schedule"),
        ("/members/%00/shifts", "member"),
        ("/members/Cy/shifts?to=soon", "to"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(ops: TestClient, path: str, field: str) -> None:
    response = ops.get(path)
    assert response.status_code == 400, response.text
    assert field in response.json()["error"]


@pytest.mark.parametrize(
    "path",
    [
        "/teams/nobody/oncall",
        "/teams/nobody/shifts",
        "/teams/nobody/gaps",
        "/teams/nobody/report",
        "/teams/ops/shifts?schedule=Night",
    ],
)
def test_an_unknown_team_or_schedule_is_a_404(ops: TestClient, path: str) -> None:
    assert ops.get(path).status_code == 404
