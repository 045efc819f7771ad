"""Input the model refuses, over HTTP in every store: a clear 400, and nothing changes.

Each case is one class of bad input (text a store cannot hold or that
misleads, integers beyond what the stores hold, JSON nested too deep, zones that are not regions,
digits that are not ASCII).  Every case first creates a valid schedule, sends
the bad request, and then checks that the team answers exactly as before.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.seed import WEEKDAY_SHIFT

NOT_A_REGION = "is not a region: use an IANA region name such as Europe/Berlin, or UTC"
INVISIBLE = "must not contain control or invisible characters"


def post_raw(client: TestClient, body: dict[str, Any]) -> Any:
    # ensure_ascii writes a lone surrogate as the JSON escape "\ud800", as an attacker would.
    content = json.dumps(body, ensure_ascii=True)
    return client.post("/schedule", content=content, headers={"content-type": "application/json"})


def snapshot(client: TestClient) -> list[tuple[int, Any]]:
    """What the seed's team answers, now and at night, and its stored schedule."""
    team = WEEKDAY_SHIFT["team"]
    responses = [
        client.get("/schedule", params={"team": team, "time": "2025-04-28T14:30:00Z"}),
        client.get("/schedule", params={"team": team, "time": "2025-04-28T23:30:00Z"}),
        client.get(f"/teams/{team}/schedules/{WEEKDAY_SHIFT['name']}"),
    ]
    return [(response.status_code, response.json()) for response in responses]


# (change to the seed's body, the message of the 400); the same team, another name,
# so that a write that slipped through would change the team's answers.
CASES = [
    # Text a JSON decoder accepts but a store cannot hold, or that misleads.
    ({"name": "Night\ud800"}, "name must be valid Unicode text"),
    ({"members": ["Ann\ud800"]}, "members[0] must be valid Unicode text"),
    ({"name": "Night\x00"}, f"name {INVISIBLE}"),
    ({"members": ["Ann", "Bob\x00"]}, f"members[1] {INVISIBLE}"),
    ({"timezone": "UTC\x00"}, f"timezone {INVISIBLE}"),
    ({"name": "Night\u200b"}, f"name {INVISIBLE}"),
    ({"members": ["\u202eAnn"]}, f"members[0] {INVISIBLE}"),
    ({"name": "Night\nShift"}, f"name {INVISIBLE}"),
    ({"name": " \u3000 "}, "name is required"),
    ({"name": "n" * 201}, "name must be at most 200 characters"),
    # Integers beyond what the stores hold.
    ({"priority": 2**31}, "priority must be between -2147483648 and 2147483647"),
    ({"priority": 2**63}, "priority must be between -2147483648 and 2147483647"),
    ({"priority": 10**30}, "priority must be between -2147483648 and 2147483647"),
    ({"priority": -(2**31) - 1}, "priority must be between -2147483648 and 2147483647"),
    (
        {"rotation": {"kind": "hourly", "every": 10**12, "start": "2025-04-28T09:00:00Z"}},
        "rotation.every must be at most 1000",
    ),
    # Zones that are not regions.
    ({"timezone": "localtime"}, f"time zone localtime {NOT_A_REGION}"),
    ({"timezone": "Factory"}, f"time zone Factory {NOT_A_REGION}"),
    ({"timezone": "posixrules"}, f"time zone posixrules {NOT_A_REGION}"),
    ({"timezone": "right/UTC"}, f"time zone right/UTC {NOT_A_REGION}"),
    ({"timezone": "posix/Europe/Berlin"}, f"time zone posix/Europe/Berlin {NOT_A_REGION}"),
    # JSON nested deeper than a body may be (a RecursionError was a 500).
    ({"members": json.loads("[" * 100 + "]" * 100)}, "invalid request body"),
    ({"rotation": json.loads('{"a":' * 100 + "1" + "}" * 100)}, "invalid request body"),
    # Digits that are not ASCII.
    ({"start": "\u0669:\u0660\u0660AM"}, "invalid start time format, use '3:04PM' format"),
    ({"end": "\uff15:\uff10\uff10PM"}, "invalid end time format, use '3:04PM' format"),
]


@pytest.mark.parametrize(("change", "message"), CASES)
def test_refused_input_is_a_400_and_changes_nothing(
    client: TestClient, change: dict[str, Any], message: str
) -> None:
    assert post_raw(client, WEEKDAY_SHIFT).status_code == 201
    before = snapshot(client)
    response = post_raw(client, {**WEEKDAY_SHIFT, "name": "Night", **change})
    assert (response.status_code, response.json()) == (400, {"error": message})
    assert snapshot(client) == before
    assert client.get(f"/teams/{WEEKDAY_SHIFT['team']}/schedules/Night").status_code == 404


def test_the_text_rule_holds_for_a_new_team_too(client: TestClient) -> None:
    # A refused create of a team that does not exist yet leaves no team behind.
    response = post_raw(client, {**WEEKDAY_SHIFT, "team": "ghost\x00"})
    assert (response.status_code, response.json()) == (400, {"error": f"team {INVISIBLE}"})
    response = post_raw(client, {**WEEKDAY_SHIFT, "team": "ghost\ud800"})
    assert (response.status_code, response.json()) == (
        400,
        {"error": "team must be valid Unicode text"},
    )
    lookup = client.get("/schedule", params={"team": "ghost", "time": "2025-04-28T14:30:00Z"})
    assert lookup.status_code == 404


def test_names_are_stored_normalized_in_every_store(client: TestClient) -> None:
    # "Cafe" + combining acute and the composed "Café" are one name.
    body = {**WEEKDAY_SHIFT, "team": "  Cafe\u0301 ", "members": ["Zoe\u0308"]}
    created = post_raw(client, body)
    assert created.status_code == 201
    assert (created.json()["team"], created.json()["members"]) == ("Caf\u00e9", ["Zo\u00eb"])
    duplicate = post_raw(client, {**WEEKDAY_SHIFT, "team": "Caf\u00e9"})
    assert duplicate.status_code == 409
