"""Schedule versions over HTTP (issue 10): create, read, edit, delete and rotate a
schedule under ``/teams/{team}/schedules``, on both stores (the ``client`` fixture).

The server's clock is :data:`NOW` (Monday 2025-04-28 14:30Z, inside the seed's
9-to-5 shift) unless a test moves it with the ``clock`` fixture.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from oncall_core import MemoryStore, format_instant
from oncall_server import create_app
from tests.seed import WEEKDAY_SHIFT
from tests.server.conftest import NOW, Clock

TEAM = "/teams/ops-team/schedules"
SHIFT = f"{TEAM}/Weekday%20Shift"
PAST_TIMES = ["2025-04-21T10:00:00Z", "2025-04-28T09:30:00Z", "2025-04-28T14:00:00Z"]
"""Instants before the server's clock, whose answers no write may change."""


def on_call(client: TestClient, time: str, team: str = "ops-team") -> tuple[int, Any]:
    response = client.get("/schedule", params={"team": team, "time": time})
    return response.status_code, response.json()


def past_answers(client: TestClient) -> list[tuple[int, Any]]:
    """Who was on call at :data:`PAST_TIMES` (not ``until`` and ``next``, which look
    ahead into the future, which writes may change)."""
    answers = [on_call(client, time) for time in PAST_TIMES]
    return [
        (status, {key: body[key] for key in ("oncall", "schedule", "source") if key in body})
        for status, body in answers
    ]


def create(client: TestClient, **changes: Any) -> Any:
    response = client.post(TEAM, json={**WEEKDAY_SHIFT, **changes})
    assert response.status_code == 201, response.json()
    return response


def revision(client: TestClient, path: str = SHIFT) -> str:
    return str(client.get(path).headers["etag"])


def test_create_under_a_team_answers_the_location_and_the_etag(client: TestClient) -> None:
    created = create(client)
    assert created.headers["location"] == SHIFT
    assert created.headers["etag"] == '"1"'
    got = client.get(SHIFT)
    assert (got.status_code, got.json(), got.headers["etag"]) == (200, created.json(), '"1"')
    # The seed's endpoint and this one share the schedules: a duplicate is a 409 either way.
    assert client.post("/schedule", json=WEEKDAY_SHIFT).status_code == 409
    assert client.post(TEAM, json=WEEKDAY_SHIFT).status_code == 409


def test_the_team_comes_from_the_path(client: TestClient) -> None:
    body = {key: value for key, value in WEEKDAY_SHIFT.items() if key != "team"}
    assert client.post(TEAM, json=body).json()["team"] == "ops-team"
    other = client.post(TEAM, json={**WEEKDAY_SHIFT, "name": "b", "team": "dev"})
    assert other.status_code == 400
    assert "team 'dev' in the body is not the team in the path" in other.json()["error"]
    assert client.get(f"{TEAM}/b").status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", TEAM, {**WEEKDAY_SHIFT, "colour": "red"}, "colour"),
        ("PUT", SHIFT, {**WEEKDAY_SHIFT, "members": ["A"], "nmae": "x"}, "nmae"),
        ("POST", f"{SHIFT}/rotate", {"too": "Jane"}, "too"),
    ],
)
def test_unknown_fields_are_refused_and_change_nothing(
    client: TestClient, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    create(client)
    before = client.get(f"{SHIFT}/versions").json(), client.get(f"{SHIFT}/history").json()
    response = client.request(method, path, json=body)
    assert (response.status_code, response.json()) == (400, {"error": f"unknown field: {field}"})
    after = client.get(f"{SHIFT}/versions").json(), client.get(f"{SHIFT}/history").json()
    assert after == before


def test_teams_are_listed_with_their_schedules_in_force(client: TestClient) -> None:
    create(client)
    create(client, name="Later", effective="2025-05-01T00:00:00Z")
    assert client.post("/teams/dev/schedules", json={**WEEKDAY_SHIFT, "team": "dev"}).is_success
    listed = client.get("/teams").json()
    assert listed == {
        "teams": [{"team": "dev", "schedules": 1}, {"team": "ops-team", "schedules": 1}],
        "next_cursor": None,
    }


def test_schedules_in_force_now_or_at_another_instant(client: TestClient) -> None:
    create(client, name="B")
    create(client, name="A", effective="2025-05-01T00:00:00Z")
    names = [s["name"] for s in client.get(TEAM).json()["schedules"]]
    assert names == ["B"]
    later = client.get(TEAM, params={"at": "2025-05-02T00:00:00Z"}).json()["schedules"]
    assert [s["name"] for s in later] == ["B", "A"]  # creation order, not by name
    assert later[1]["effective"] == "2025-05-01T00:00:00Z"
    assert client.get("/teams/nobody/schedules").status_code == 404


def test_a_future_schedule_is_answered_as_the_next_one_scheduled(client: TestClient) -> None:
    create(client, effective="2025-05-01T00:00:00Z")
    assert client.get(SHIFT).json()["effective"] == "2025-05-01T00:00:00Z"
    before = client.get(SHIFT, params={"at": "2025-04-30T00:00:00Z"})
    assert before.status_code == 404


def test_put_appends_a_version_and_the_past_does_not_change(client: TestClient) -> None:
    create(client)
    past = past_answers(client)
    changed = client.put(SHIFT, json={**WEEKDAY_SHIFT, "members": ["Ann", "Bob"]})
    assert changed.status_code == 200
    assert changed.headers["etag"] == '"2"'
    assert changed.json()["effective"] == "2025-04-28T14:30:00Z"
    assert changed.json()["members"] == ["Ann", "Bob"]
    assert past_answers(client) == past
    # The version in force then, by ?at=; the old one before its end.
    old = client.get(SHIFT, params={"at": "2025-04-28T14:00:00Z"}).json()
    assert old["members"] == ["John", "Jane", "Joe"]
    assert revision(client) == '"2"'


def test_put_without_a_rotation_start_keeps_the_old_cadence(client: TestClient) -> None:
    weekly = {"kind": "weekly", "start": "2025-04-07T09:00:00Z"}
    create(client, rotation=weekly)
    changed = client.put(
        SHIFT,
        json={**WEEKDAY_SHIFT, "members": ["A", "B"], "rotation": {"kind": "weekly"}},
    )
    assert changed.json()["rotation"]["start"] == "2025-04-07T09:00:00Z"


@pytest.mark.parametrize(
    ("method", "path", "arguments"),
    [
        ("PUT", SHIFT, {"json": {**WEEKDAY_SHIFT, "effective": "2025-04-28T14:00:00Z"}}),
        ("DELETE", f"{SHIFT}?effective=2025-04-28T14:00:00Z", {}),
        ("POST", f"{SHIFT}/rotate", {"json": {"at": "2025-04-28T14:28:59Z"}}),
    ],
)
def test_a_write_in_the_past_is_422_and_changes_nothing(
    client: TestClient, method: str, path: str, arguments: dict[str, Any]
) -> None:
    create(client)
    before = client.get(f"{SHIFT}/versions").json(), client.get(f"{SHIFT}/history").json()
    response = client.request(method, path, **arguments)
    assert response.status_code == 422
    assert "is in the past: the past is read-only" in response.json()["error"]
    after = client.get(f"{SHIFT}/versions").json(), client.get(f"{SHIFT}/history").json()
    assert after == before


def test_less_than_a_minute_ago_is_taken_as_now(client: TestClient) -> None:
    create(client)
    body = {**WEEKDAY_SHIFT, "members": ["A"], "effective": "2025-04-28T14:29:30Z"}
    assert client.put(SHIFT, json=body).json()["effective"] == "2025-04-28T14:30:00Z"


class TestIfMatch:
    def test_a_stale_revision_is_412_and_changes_nothing(self, client: TestClient) -> None:
        create(client)
        assert client.put(SHIFT, json={**WEEKDAY_SHIFT, "members": ["A"]}).status_code == 200
        past = past_answers(client)
        versions = client.get(f"{SHIFT}/versions").json()
        for method, arguments in [
            ("PUT", {"json": {**WEEKDAY_SHIFT, "members": ["B"]}}),
            ("DELETE", {}),
        ]:
            stale = client.request(method, SHIFT, headers={"If-Match": '"1"'}, **arguments)
            assert stale.status_code == 412
            assert "changed: revision 2, not 1" in stale.json()["error"]
        assert client.get(f"{SHIFT}/versions").json() == versions
        assert revision(client) == '"2"'
        assert past_answers(client) == past

    @pytest.mark.parametrize("tag", ['"1"', 'W/"1"', "*", '"7", "1"', ' "1" '])
    def test_a_current_revision_matches(self, client: TestClient, tag: str) -> None:
        create(client)
        changed = client.put(
            SHIFT, json={**WEEKDAY_SHIFT, "members": ["A"]}, headers={"If-Match": tag}
        )
        assert (changed.status_code, changed.headers["etag"]) == (200, '"2"')

    @pytest.mark.parametrize("tag", ["1", '"1', "", '"1",', '*, "1"'])
    def test_a_malformed_if_match_is_400(self, client: TestClient, tag: str) -> None:
        create(client)
        response = client.put(
            SHIFT, json={**WEEKDAY_SHIFT, "members": ["A"]}, headers={"If-Match": tag}
        )
        assert (response.status_code, response.json()) == (
            400,
            {"error": 'If-Match must be "*" or entity tags such as "3"'},
        )
        assert revision(client) == '"1"'

    def test_a_tag_that_is_not_ours_matches_nothing(self, client: TestClient) -> None:
        create(client)
        response = client.put(
            SHIFT, json={**WEEKDAY_SHIFT, "members": ["A"]}, headers={"If-Match": '"abc"'}
        )
        assert response.status_code == 412


class TestDryRun:
    BODY: ClassVar[dict[str, Any]] = {
        **WEEKDAY_SHIFT,
        "members": ["Ann", "Bob"],
        "effective": "2025-04-30T00:00:00Z",
    }

    def test_it_stores_nothing_and_predicts_the_put(self, client: TestClient) -> None:
        create(client, rotation={"kind": "daily", "start": "2025-04-28T09:00:00Z"})
        versions = client.get(f"{SHIFT}/versions").json()
        dry = client.put(f"{SHIFT}?dry_run=true", json=self.BODY, headers={"If-Match": '"1"'})
        assert dry.status_code == 200
        assert client.get(f"{SHIFT}/versions").json() == versions
        assert revision(client) == '"1"'
        predicted = dry.json()
        assert predicted["before"][0]["start"] == "2025-04-28T14:30:00Z"
        assert predicted["before"][-1]["end"] <= "2025-05-26T14:30:00Z"
        done = client.put(SHIFT, json=self.BODY)
        assert done.json() == predicted["version"]
        # A second version at the same instant conflicts alike, with or without dry run.
        again = client.put(f"{SHIFT}?dry_run=true", json=self.BODY)
        assert again.status_code == 409
        assert again.json() == client.put(SHIFT, json=self.BODY).json()

    def test_its_errors_are_those_of_the_put(self, client: TestClient) -> None:
        create(client)
        stale = client.put(f"{SHIFT}?dry_run=true", json=self.BODY, headers={"If-Match": '"9"'})
        assert stale.status_code == 412
        bad = client.put(f"{SHIFT}?dry_run=yes", json=self.BODY)
        assert (bad.status_code, bad.json()) == (400, {"error": "dry_run must be true or false"})
        missing = client.put(f"{TEAM}/none?dry_run=true", json={**self.BODY, "name": "none"})
        assert missing.status_code == 404


def test_delete_ends_the_schedule_and_a_post_re_creates_it(
    client: TestClient, clock: Clock
) -> None:
    create(client)
    past = past_answers(client)
    ended = client.delete(SHIFT)
    assert (ended.status_code, ended.headers["etag"]) == (200, '"2"')
    assert ended.json() == {
        "team": "ops-team",
        "name": "Weekday Shift",
        "deleted": True,
        "effective": "2025-04-28T14:30:00Z",
    }
    assert past_answers(client) == past
    assert client.get(SHIFT).status_code == 404
    assert client.delete(SHIFT).status_code == 404
    assert client.put(SHIFT, json=WEEKDAY_SHIFT).status_code == 404
    clock.now = NOW + timedelta(minutes=5)
    again = client.post(TEAM, json={**WEEKDAY_SHIFT, "members": ["Zed"]})
    assert (again.status_code, again.headers["etag"]) == (201, '"3"')
    assert again.json()["effective"] == "2025-04-28T14:35:00Z"
    assert past_answers(client) == past
    versions = client.get(f"{SHIFT}/versions").json()["versions"]
    assert [v.get("deleted", False) for v in versions] == [False, True, False]


def test_a_future_deletion_keeps_the_schedule_until_then(client: TestClient) -> None:
    create(client)
    ended = client.delete(f"{SHIFT}?effective=2025-04-30T00:00:00Z")
    assert ended.json()["effective"] == "2025-04-30T00:00:00Z"
    assert client.get(SHIFT).status_code == 200
    # A re-creation must come after the end.
    early = client.post(TEAM, json={**WEEKDAY_SHIFT, "effective": "2025-04-29T00:00:00Z"})
    assert early.status_code == 409


class TestRotate:
    def test_advance_hand_over_and_history_newest_first(self, client: TestClient) -> None:
        create(client)
        past = past_answers(client)
        advanced = client.post(f"{SHIFT}/rotate", json={})
        assert advanced.status_code == 201
        assert advanced.json()["change"] == {
            "schedule": "Weekday Shift",
            "effective": "2025-04-28T14:30:00Z",
            "position": None,
        }
        assert set(advanced.json()["turn"]) == {"member", "start", "end"}
        handed = client.post(f"{SHIFT}/rotate", json={"to": "Joe", "at": "2025-04-29T00:00:00Z"})
        assert handed.json()["change"]["position"] == 2
        assert handed.json()["turn"]["member"] == "Joe"
        empty = client.post(f"{SHIFT}/rotate")  # no body: advance
        assert empty.status_code == 201
        history = client.get(f"{SHIFT}/history").json()
        assert [(c["effective"], c["position"]) for c in history["changes"]] == [
            ("2025-04-29T00:00:00Z", 2),
            ("2025-04-28T14:30:00Z", None),  # appended last: first among equals
            ("2025-04-28T14:30:00Z", None),
        ]
        assert past_answers(client) == past

    @pytest.mark.parametrize(
        ("body", "status", "message"),
        [
            ({"to": "Nobody"}, 400, "'Nobody' is not a member of schedule 'Weekday Shift'"),
            ({"to": 3}, 400, "to must be a string"),
            ({"at": "soon"}, 400, "invalid at format, use RFC3339 format"),
        ],
    )
    def test_bad_rotations_are_refused(
        self, client: TestClient, body: dict[str, Any], status: int, message: str
    ) -> None:
        create(client)
        response = client.post(f"{SHIFT}/rotate", json=body)
        assert (response.status_code, response.json()) == (status, {"error": message})
        assert client.get(f"{SHIFT}/history").json()["changes"] == []

    def test_an_unknown_schedule_is_404(self, client: TestClient) -> None:
        assert client.post(f"{TEAM}/none/rotate", json={}).status_code == 404
        assert client.get(f"{TEAM}/none/history").status_code == 404
        assert client.get(f"{TEAM}/none/versions").status_code == 404


@pytest.mark.parametrize("name", ["a/b", "with space", "équipe ✓", "100%", "x?y#z"])
def test_any_name_works_on_every_endpoint_percent_encoded(client: TestClient, name: str) -> None:
    from urllib.parse import quote

    team = f"t {name}"
    base = f"/teams/{quote(team, safe='')}/schedules"
    path = f"{base}/{quote(name, safe='')}"
    body = {**WEEKDAY_SHIFT, "team": team, "name": name}
    created = client.post(base, json=body)
    assert (created.status_code, created.headers["location"]) == (201, path)
    assert client.get(path).json()["name"] == name
    assert client.get(base).json()["schedules"][0]["name"] == name
    future = {**body, "members": ["A"], "effective": "2025-04-29T00:00:00Z"}
    assert client.put(path, json=future).status_code == 200
    assert client.post(f"{path}/rotate", json={}).status_code == 201
    assert len(client.get(f"{path}/history").json()["changes"]) == 1
    assert len(client.get(f"{path}/versions").json()["versions"]) == 2
    assert client.delete(f"{path}?effective=2025-04-30T00:00:00Z").status_code == 200


def test_answers_follow_the_versions_in_force(client: TestClient, clock: Clock) -> None:
    create(client, name="Later", effective="2025-05-01T00:00:00Z", members=["Lea"], priority=1)
    create(client)
    assert on_call(client, "2025-04-28T15:00:00Z")[1]["oncall"] == "John"
    assert on_call(client, "2025-05-01T10:00:00Z")[1]["oncall"] == "Lea"
    client.put(SHIFT, json={**WEEKDAY_SHIFT, "members": ["Ann", "Bob"]})
    assert on_call(client, "2025-04-28T15:00:00Z")[1]["oncall"] == "Ann"
    clock.now = NOW + timedelta(minutes=5)
    client.delete(SHIFT)
    assert on_call(client, "2025-04-28T15:00:00Z")[0] == 404
    clock.now = NOW + timedelta(minutes=10)
    client.post(TEAM, json={**WEEKDAY_SHIFT, "members": ["Zed"]})
    assert on_call(client, "2025-04-28T15:00:00Z")[1]["oncall"] == "Zed"
    client.delete(f"{SHIFT}?effective=2025-04-30T00:00:00Z")
    assert on_call(client, "2025-04-29T10:00:00Z")[1]["oncall"] == "Zed"
    assert on_call(client, "2025-04-30T10:00:00Z")[0] == 404


def test_a_dry_runs_after_is_the_timeline_once_the_put_is_applied(client: TestClient) -> None:
    create(client, rotation={"kind": "daily", "start": "2025-04-28T09:00:00Z"})
    predicted = client.put(f"{SHIFT}?dry_run=true", json=TestDryRun.BODY).json()
    assert predicted["before"] != predicted["after"]
    client.put(SHIFT, json=TestDryRun.BODY)
    # Each predicted shift's member is the answer at its start, once applied.
    for shift in predicted["after"]:
        answer = on_call(client, shift["start"])[1]
        assert (answer["oncall"], answer["schedule"]) == (shift["member"], shift["schedule"])


# A property: whatever edits, deletions, re-creations and rotations go through HTTP,
# the answers about instants already past never change.  On the memory store, each
# example with a fresh app whose clock moves forward between writes.

STEP = st.integers(min_value=0, max_value=3 * 24 * 60)  # minutes the clock moves on
WRITE = st.one_of(
    st.tuples(
        st.just("put"),
        st.lists(st.sampled_from(["Ann", "Bob", "Cid"]), min_size=1, max_size=3),
        st.sampled_from([{"kind": "manual"}, {"kind": "daily"}, {"kind": "per_shift"}]),
        st.integers(min_value=0, max_value=5 * 24 * 60),  # minutes after now it takes effect
    ),
    st.tuples(st.just("delete"), st.integers(min_value=0, max_value=5 * 24 * 60)),
    st.tuples(st.just("create"), st.integers(min_value=0, max_value=5 * 24 * 60)),
    st.tuples(st.just("rotate"), st.sampled_from([None, "Ann", "Bob"])),
)


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(writes=st.lists(st.tuples(STEP, WRITE), min_size=1, max_size=8))
def test_no_write_through_http_changes_an_answer_about_the_past(
    writes: list[tuple[int, tuple[Any, ...]]],
) -> None:
    clock = Clock()
    with TestClient(create_app(store=MemoryStore(), clock=clock)) as client:
        create(client, rotation={"kind": "daily"}, members=["Ann", "Bob"])
        asked: dict[str, tuple[int, Any]] = {}  # instant -> answer, once it is past
        for minutes, write in writes:
            clock.now += timedelta(minutes=minutes)
            for hour in range(0, 24 * 8, 5):
                at = NOW - timedelta(days=1) + timedelta(hours=hour)
                if at < clock.now:
                    asked.setdefault(format_instant(at), who(client, format_instant(at)))
            later = format_instant(
                clock.now + timedelta(minutes=write[-1] if write[0] != "rotate" else 0)
            )
            if write[0] == "put":
                body = {
                    **WEEKDAY_SHIFT,
                    "members": write[1],
                    "rotation": write[3],
                    "effective": later,
                }
                client.put(SHIFT, json=body)
            elif write[0] == "delete":
                client.delete(SHIFT, params={"effective": later})
            elif write[0] == "create":
                client.post(TEAM, json={**WEEKDAY_SHIFT, "effective": later})
            else:
                client.post(f"{SHIFT}/rotate", json={} if write[1] is None else {"to": write[1]})
            for at, answer in asked.items():
                assert who(client, at) == answer, (at, write)


def who(client: TestClient, time: str) -> tuple[int, Any, Any]:
    status, body = on_call(client, time)
    return status, body.get("oncall"), body.get("schedule")
