"""The HTTP API over both stores, through Starlette's TestClient (real ASGI, real store)."""

from __future__ import annotations

import json
from datetime import time as dt_time
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from oncall_core import MemoryStore, Schedule, ValidationError, Weekday
from oncall_server import create_app
from tests.seed import WEEKDAY_SHIFT


def on_call(client: TestClient, team: str, time: str) -> Any:
    return client.get("/schedule", params={"team": team, "time": time})


class TestSeedEndpoints:
    def test_create_then_ask_as_in_the_seed_readme(self, client: TestClient) -> None:
        created = client.post("/schedule", json=WEEKDAY_SHIFT)
        assert created.status_code == 201
        assert created.headers["location"] == "/teams/ops-team/schedules/Weekday%20Shift"
        assert created.json()["members"] == ["John", "Jane", "Joe"]
        assert client.get(created.headers["location"]).json() == created.json()
        answer = on_call(client, "ops-team", "2025-04-28T14:30:00Z")
        assert answer.status_code == 200
        assert answer.json() == {
            "oncall": "John",
            "schedule": "Weekday Shift",
            "until": "2025-04-28T17:00:00Z",
            "source": "rotation",
        }
        assert all(isinstance(value, str) for value in answer.json().values())

    def test_windows_are_half_open(self, client: TestClient) -> None:
        client.post("/schedule", json=WEEKDAY_SHIFT)
        assert on_call(client, "ops-team", "2025-04-28T09:00:00Z").status_code == 200
        assert on_call(client, "ops-team", "2025-04-28T17:00:00Z").status_code == 404

    def test_offsets_give_the_same_answer(self, client: TestClient) -> None:
        client.post("/schedule", json=WEEKDAY_SHIFT)
        utc = on_call(client, "ops-team", "2025-04-28T14:30:00Z").json()
        berlin = on_call(client, "ops-team", "2025-04-28T16:30:00+02:00").json()
        assert utc == berlin

    def test_nobody_and_unknown_teams_are_404(self, client: TestClient) -> None:
        client.post("/schedule", json=WEEKDAY_SHIFT)
        for team, time in [
            ("ops-team", "2025-04-26T12:00:00Z"),
            ("nobody", "2025-04-28T14:30:00Z"),
        ]:
            response = on_call(client, team, time)
            assert response.status_code == 404
            assert response.json() == {"error": "no oncall member found for the given time"}

    def test_time_now_uses_the_servers_clock(self, client: TestClient) -> None:
        client.post("/schedule", json=WEEKDAY_SHIFT)
        assert on_call(client, "ops-team", "now").json()["oncall"] == "John"

    def test_a_duplicate_is_409_and_changes_nothing(self, client: TestClient) -> None:
        client.post("/schedule", json=WEEKDAY_SHIFT)
        again = client.post("/schedule", json={**WEEKDAY_SHIFT, "members": ["Zed"]})
        assert again.status_code == 409
        assert "already has a schedule" in again.json()["error"]
        assert on_call(client, "ops-team", "2025-04-28T14:30:00Z").json()["oncall"] == "John"

    def test_rotation_and_extensions_over_http(self, client: TestClient) -> None:
        body = {
            **WEEKDAY_SHIFT,
            "timezone": "America/Chicago",
            "rotation": {"kind": "daily", "start": "2025-04-28T09:00:00-05:00"},
        }
        assert client.post("/schedule", json=body).status_code == 201
        monday = on_call(client, "ops-team", "2025-04-28T15:00:00Z").json()
        tuesday = on_call(client, "ops-team", "2025-04-29T15:00:00Z").json()
        assert (monday["oncall"], tuesday["oncall"]) == ("John", "Jane")
        assert monday["until"] == "2025-04-28T22:00:00Z"


SEED_MESSAGES = [
    ({"team": ""}, "team is required"),
    ({"name": ""}, "name is required"),
    ({"members": []}, "at least one member is required"),
    ({"days": []}, "at least one day is required"),
    ({"start": ""}, "start time is required"),
    ({"end": ""}, "end time is required"),
    ({"days": ["Someday"]}, "invalid day: Someday"),
    ({"start": "25:00"}, "invalid start time format, use '3:04PM' format"),
    ({"end": "5PM"}, "invalid end time format, use '3:04PM' format"),
    ({"start": "5:00PM", "end": "9:00AM"}, "start time must be before end time"),
    ({"team": 42}, "team must be a string"),
    ({"members": "John"}, "members must be a list of strings"),
    ({"timezone": "Mars/Base"}, "unknown time zone: Mars/Base"),
]


@pytest.mark.parametrize(("change", "message"), SEED_MESSAGES)
def test_bad_schedules_are_400_with_the_seeds_message(
    client: TestClient, change: dict[str, Any], message: str
) -> None:
    response = client.post("/schedule", json={**WEEKDAY_SHIFT, **change})
    assert (response.status_code, response.json()) == (400, {"error": message})
    assert on_call(client, "ops-team", "2025-04-28T14:30:00Z").status_code == 404


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"", b'"a string"'])
def test_a_body_that_is_not_a_json_object_is_invalid(client: TestClient, body: bytes) -> None:
    response = client.post("/schedule", content=body, headers={"content-type": "application/json"})
    assert (response.status_code, response.json()) == (400, {"error": "invalid request body"})


def nested(depth: int, kind: str) -> str:
    """JSON text nesting ``depth`` arrays or objects."""
    if kind == "array":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("kind", ["array", "object"])
@pytest.mark.parametrize(
    ("depth", "where"), [(2_000, "body"), (2_000, "field"), (900, "field"), (33, "field")]
)
def test_deeply_nested_json_is_an_invalid_body(
    client: TestClient, kind: str, depth: int, where: str
) -> None:
    # Nesting depth counts the body itself: a field's value is one level down.
    inner = nested(depth - 1 if where == "field" else depth, kind)
    body = inner if where == "body" else json.dumps(WEEKDAY_SHIFT)[:-1] + f', "members": {inner}}}'
    response = client.post("/schedule", content=body.encode())
    assert (response.status_code, response.json()) == (400, {"error": "invalid request body"})
    assert on_call(client, "ops-team", "2025-04-28T14:30:00Z").status_code == 404


def test_nesting_up_to_the_limit_is_read(client: TestClient) -> None:
    body = json.dumps(WEEKDAY_SHIFT)[:-1] + f', "extra": {nested(31, "object")}}}'
    assert client.post("/schedule", content=body.encode()).status_code == 201


def test_a_body_over_64_kib_is_413(client: TestClient) -> None:
    big = {**WEEKDAY_SHIFT, "members": ["x" * 1000] * 70}
    response = client.post("/schedule", content=json.dumps(big).encode())
    assert response.status_code == 413
    assert on_call(client, "ops-team", "2025-04-28T14:30:00Z").status_code == 404


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"time": "2025-04-28T14:30:00Z"}, "team query parameter is required"),
        ({"team": "ops-team"}, "time query parameter is required"),
        (
            {"team": "ops-team", "time": "2025-04-28T14:30:00"},
            "invalid time format, use RFC3339 format",
        ),
        ({"team": "ops-team", "time": "yesterday"}, "invalid time format, use RFC3339 format"),
    ],
)
def test_bad_queries_are_400_with_the_seeds_message(
    client: TestClient, params: dict[str, str], message: str
) -> None:
    response = client.get("/schedule", params=params)
    assert (response.status_code, response.json()) == (400, {"error": message})


def test_health_readiness_and_request_ids(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}
    echoed = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    generated = client.get("/healthz").headers["x-request-id"]
    assert len(generated) == 32


def test_unknown_paths_are_json_errors(client: TestClient) -> None:
    missing = client.get("/nothing")
    assert (missing.status_code, missing.json()) == (404, {"error": "Not Found"})


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/schedule", "GET, HEAD, POST"),
        ("/teams/ops-team/schedules/Weekday%20Shift", "DELETE, GET, HEAD, PUT"),
        ("/teams/ops-team/schedules", "GET, HEAD, POST"),
        ("/teams/ops-team/schedules/Weekday%20Shift/rotate", "POST"),
        ("/teams/ops-team/schedules/Weekday%20Shift/versions", "GET, HEAD"),
        ("/teams", "GET, HEAD"),
        ("/healthz", "GET, HEAD"),
        ("/readyz", "GET, HEAD"),
        ("/openapi.json", "GET, HEAD"),
    ],
)
def test_a_wrong_method_is_405_with_allow(client: TestClient, path: str, allow: str) -> None:
    client.post("/schedule", json=WEEKDAY_SHIFT)
    served = set(allow.split(", "))
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]:
        if method in served:
            continue
        response = client.request(method, path)
        assert (response.status_code, response.json()) == (
            405,
            {"error": "Method Not Allowed"},
        )
        assert response.headers["allow"] == allow
    # Nothing changed: the schedule is still there.
    assert on_call(client, "ops-team", "2025-04-28T14:30:00Z").json()["oncall"] == "John"


class BrokenStore(MemoryStore):
    """A store with a bug: loading a team fails unexpectedly."""

    async def load_team(self, team: str) -> Any:
        raise RuntimeError("a bug")


def test_an_unexpected_error_is_a_json_500_with_a_request_id() -> None:
    with TestClient(create_app(store=BrokenStore()), raise_server_exceptions=False) as client:
        response = client.get("/schedule", params={"team": "ops", "time": "2025-04-28T14:30:00Z"})
    assert (response.status_code, response.json()) == (500, {"error": "internal server error"})
    assert len(response.headers["x-request-id"]) == 32


def test_names_with_slashes_have_a_working_location(client: TestClient) -> None:
    created = client.post("/schedule", json={**WEEKDAY_SHIFT, "team": "infra/db", "name": "a/b"})
    assert created.headers["location"] == "/teams/infra%2Fdb/schedules/a%2Fb"
    assert client.get(created.headers["location"]).json()["name"] == "a/b"


def test_a_location_splits_at_the_encoded_segments_not_the_decoded_path(
    client: TestClient,
) -> None:
    tricky = client.post(
        "/schedule", json={**WEEKDAY_SHIFT, "team": "alpha", "name": "x/schedules/y"}
    )
    other = client.post(
        "/schedule", json={**WEEKDAY_SHIFT, "team": "alpha/schedules/x", "name": "y"}
    )
    assert tricky.headers["location"] == "/teams/alpha/schedules/x%2Fschedules%2Fy"
    assert client.get(tricky.headers["location"]).json() == tricky.json()
    assert client.get(other.headers["location"]).json() == other.json()
    assert client.get("/teams/alpha/schedules/x/schedules/y").status_code == 404


@pytest.mark.parametrize(("field", "dots"), [(f, d) for f in ("team", "name") for d in (".", "..")])
def test_dot_segments_are_refused_as_names(client: TestClient, field: str, dots: str) -> None:
    response = client.post("/schedule", json={**WEEKDAY_SHIFT, field: f" {dots} "})
    assert (response.status_code, response.json()) == (
        400,
        {"error": f"{field} must not be '.' or '..'"},
    )
    assert on_call(client, dots, "2025-04-28T14:30:00Z").status_code == 404


def _accepted(text: str) -> bool:
    """Whether the model accepts ``text`` as a team or schedule name."""
    try:
        Schedule(**{**SCHEDULE_ARGUMENTS, "team": text, "name": text})
    except ValidationError:
        return False
    return True


SCHEDULE_ARGUMENTS: dict[str, Any] = {
    "team": "t",
    "name": "n",
    "members": ["John"],
    "days": list(Weekday),
    "start": dt_time(9),
    "end": dt_time(17),
}
# Names with what URLs treat specially: separators, escapes, dots, spaces, non-ASCII.
NAMES = (
    st.sampled_from([".", "..", " . ", "...", "%2E", "a/../b"])
    | st.text(
        st.sampled_from("/%?#.;+&= ~\u00e9\u0301a") | st.characters(codec="utf-8"),
        min_size=1,
        max_size=12,
    )
).filter(_accepted)


def test_every_location_leads_back_to_the_schedule_created(client: TestClient) -> None:
    created: dict[tuple[str, str], Any] = {}  # (team, name) as the model keeps them

    @given(team=NAMES, name=NAMES)
    def post_then_follow(team: str, name: str) -> None:
        model = Schedule(**{**SCHEDULE_ARGUMENTS, "team": team, "name": name})
        response = client.post("/schedule", json={**WEEKDAY_SHIFT, "team": team, "name": name})
        if (model.team, model.name) in created:  # drawn before, or the same once cleaned
            assert response.status_code == 409
            response = created[model.team, model.name]
        assert response.status_code == 201
        created[model.team, model.name] = response
        assert client.get(response.headers["location"]).json() == response.json()
        assert (response.json()["team"], response.json()["name"]) == (model.team, model.name)

    post_then_follow()


def test_a_time_outside_the_supported_range_names_the_parameter(client: TestClient) -> None:
    response = on_call(client, "ops-team", "3000-01-01T00:00:00Z")
    assert response.json() == {"error": "time must be between the years 1900 and 2400"}


class TestTextInQueriesAndPaths:
    """Query parameters and path segments follow the model's text rule (clean_text)."""

    @pytest.mark.parametrize(
        ("team", "message"),
        [
            ("ops\x00team", "team must not contain control or invisible characters"),
            ("ops\u200bteam", "team must not contain control or invisible characters"),
            ("x" * 201, "team must be at most 200 characters"),
            ("   ", "team query parameter is required"),
        ],
    )
    def test_a_team_the_model_refuses_is_400(
        self, client: TestClient, team: str, message: str
    ) -> None:
        response = on_call(client, team, "2025-04-28T14:30:00Z")
        assert (response.status_code, response.json()) == (400, {"error": message})

    @pytest.mark.parametrize(
        ("path", "message"),
        [
            (
                "/teams/ops%00team/schedules/x",
                "team must not contain control or invisible characters",
            ),
            (
                "/teams/ops-team/schedules/a%0Ab",
                "name must not contain control or invisible characters",
            ),
            (f"/teams/ops-team/schedules/{'x' * 201}", "name must be at most 200 characters"),
            ("/teams/%20/schedules/x", "team is required"),
            ("/teams/ops%FFteam/schedules/x", "team must be valid Unicode text"),
        ],
    )
    def test_a_path_segment_the_model_refuses_is_400(
        self, client: TestClient, path: str, message: str
    ) -> None:
        response = client.get(path)
        assert (response.status_code, response.json()) == (400, {"error": message})

    def test_a_lookup_cleans_the_team_as_the_model_did(self, client: TestClient) -> None:
        decomposed = "e\u0301quipe"  # "équipe" in NFD; the model keeps NFC
        created = client.post("/schedule", json={**WEEKDAY_SHIFT, "team": f" {decomposed} "})
        assert created.json()["team"] == "\u00e9quipe"
        for team in [decomposed, "\u00e9quipe", f"  {decomposed}"]:
            answer = on_call(client, team, "2025-04-28T14:30:00Z")
            assert (answer.status_code, answer.json()["oncall"]) == (200, "John")
            path = f"/teams/{quote(team, safe='')}/schedules/Weekday%20Shift%20"
            assert client.get(path).json() == created.json()


def test_a_repeated_query_parameter_is_read_at_its_first_value(client: TestClient) -> None:
    client.post("/schedule", json=WEEKDAY_SHIFT)
    at = "2025-04-28T14:30:00Z"
    first_team = client.get(f"/schedule?team=ops-team&team=nobody&time={at}")
    assert (first_team.status_code, first_team.json()["oncall"]) == (200, "John")
    last_team = client.get(f"/schedule?team=nobody&team=ops-team&time={at}")
    assert (last_team.status_code, last_team.json()) == (
        404,
        {"error": "no oncall member found for the given time"},
    )
    first_time = client.get(f"/schedule?team=ops-team&time={at}&time=yesterday")
    assert first_time.json()["oncall"] == "John"
    last_time = client.get(f"/schedule?team=ops-team&time=yesterday&time={at}")
    assert (last_time.status_code, last_time.json()) == (
        400,
        {"error": "invalid time format, use RFC3339 format"},
    )
    empty_first = client.get(f"/schedule?team=&team=ops-team&time={at}")
    assert (empty_first.status_code, empty_first.json()) == (
        400,
        {"error": "team query parameter is required"},
    )


def test_a_rotation_without_start_hands_off_on_shift_boundaries(client: TestClient) -> None:
    # The server's clock says Monday 2025-04-28 14:30Z, inside the 9-5 UTC shift: the
    # rotation is anchored at the next shift start, Tuesday 09:00Z, not at 14:30:00Z.
    body = {**WEEKDAY_SHIFT, "rotation": {"kind": "weekly"}}
    created = client.post("/schedule", json=body)
    assert created.json()["rotation"] == {
        "kind": "weekly",
        "every": 1,
        "start": "2025-04-29T09:00:00Z",
    }
    stored = client.get(created.headers["location"]).json()
    assert stored["rotation"]["start"] == "2025-04-29T09:00:00Z"
    # Tuesday's shift is John's (turn 0), Monday's the last member's (turn -1).
    tuesday = client.get("/schedule", params={"team": "ops-team", "time": "2025-04-29T10:00:00Z"})
    monday = client.get("/schedule", params={"team": "ops-team", "time": "2025-04-28T15:00:00Z"})
    assert (tuesday.json()["oncall"], monday.json()["oncall"]) == ("John", "Joe")
