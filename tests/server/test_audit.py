"""The audit trail over HTTP, on both stores: each write is recorded with the key that
made it and the request's id; refused writes record nothing; who may read the trail;
its pages; an open server records ``anonymous``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from oncall_server import create_app, load_config
from tests.server.conftest import NOW
from tests.server.test_keys import KEYS, SECRETS, SHIFT, bearer, digest

OVERRIDE = {"member": "Cid", "start": "2025-04-29T09:00:00Z", "end": "2025-04-29T10:00:00Z"}


def environ_for(kind: str, request: pytest.FixtureRequest, *, keys: bool = True) -> dict[str, str]:
    environ = (
        {"ONCALL_USE_DATABASE": "false"}
        if kind == "memory"
        else {"ONCALL_DATABASE__URL": request.getfixturevalue("database_url")}
    )
    if keys:
        configured = [{**key, "hash": digest(SECRETS[key["name"]])} for key in KEYS]
        environ["ONCALL_SERVER__API_KEYS"] = json.dumps(configured)
    return environ


@pytest.fixture(params=["memory", "postgres"])
def client(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    monkeypatch.chdir(tmp_path)  # no stray config.yaml
    app = create_app(load_config(None, environ_for(request.param, request)), clock=lambda: NOW)
    with TestClient(app) as test_client:
        for team in ("ops", "dev"):
            answer = test_client.post(
                "/schedule", json={**SHIFT, "team": team}, headers=bearer("admin")
            )
            assert answer.status_code == 201, answer.text
        yield test_client


def trail(client: TestClient, path: str = "/teams/ops/audit") -> list[dict[str, Any]]:
    """Every entry of a trail, newest first, a page of two at a time."""
    entries: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = f"?limit=2&cursor={cursor}" if cursor else "?limit=2"
        answer = client.get(path + query, headers=bearer("admin"))
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert len(page["entries"]) <= 2
        entries += page["entries"]
        cursor = page["next_cursor"]
        if cursor is None:
            return entries


def test_each_write_is_recorded_with_its_key_and_request_id(client: TestClient) -> None:
    def write(method: str, path: str, body: Any, who: str, request_id: str) -> Any:
        headers = {**bearer(who), "X-Request-Id": request_id}
        answer = client.request(method, path, json=body, headers=headers)
        assert answer.status_code in (200, 201, 204), answer.text
        assert answer.headers["X-Request-Id"] == request_id
        return answer.json() if answer.status_code != 204 else None

    edited = write(
        "PUT", "/teams/ops/schedules/primary", {**SHIFT, "members": ["Bob"]}, "writer", "w-1"
    )
    turned = write("POST", "/teams/ops/schedules/primary/rotate", {}, "ops-writer", "w-2")
    added = write("POST", "/teams/ops/overrides", OVERRIDE, "writer", "w-3")
    write("DELETE", f"/teams/ops/overrides/{added['id']}", None, "ops-writer", "w-4")
    ended = write(
        "DELETE",
        "/teams/ops/schedules/primary?effective=2025-05-01T00:00:00Z",
        None,
        "admin",
        "w-5",
    )
    recorded = [
        (e["action"], e["actor"], e["request_id"], e["schedule"], e["detail"])
        for e in reversed(trail(client))
    ]
    assert recorded[0][:2] == ("schedule.created", "admin")  # the fixture's POST /schedule
    assert recorded[1:] == [
        ("schedule.edited", "writer", "w-1", "primary", edited),
        ("rotation.changed", "ops-writer", "w-2", "primary", turned["change"]),
        ("override.added", "writer", "w-3", None, added),
        ("override.removed", "ops-writer", "w-4", None, added),
        (
            "schedule.deleted",
            "admin",
            "w-5",
            "primary",
            {"schedule": ended["name"], "effective": ended["effective"]},
        ),
    ]
    assert all(e["at"] == "2025-04-28T14:30:00Z" and e["team"] == "ops" for e in trail(client))
    # Other teams' trails are their own; the whole trail has them all, newest first.
    assert [e["team"] for e in trail(client, "/teams/dev/audit")] == ["dev"]
    every = trail(client, "/audit")
    assert len(every) == len(recorded) + 1
    assert [e["id"] for e in every] == sorted((e["id"] for e in every), reverse=True)


def test_a_request_without_an_id_is_recorded_under_the_one_it_was_answered_with(
    client: TestClient,
) -> None:
    answer = client.post("/teams/ops/overrides", json=OVERRIDE, headers=bearer("writer"))
    assert answer.status_code == 201
    newest = trail(client)[0]
    assert newest["request_id"] == answer.headers["X-Request-Id"]
    assert newest["action"] == "override.added"


def test_a_swap_is_two_entries_of_one_request(client: TestClient) -> None:
    daily = {
        **SHIFT,
        "name": "daily",
        "rotation": {"kind": "daily", "start": "2025-04-28T09:00:00Z"},
    }
    created = client.post("/teams/ops/schedules", json=daily, headers=bearer("writer"))
    assert created.status_code == 201, created.text
    # Ann has Tuesday's shift, Bob Wednesday's.
    body = {"schedule": "daily", "shifts": ["2025-04-29T09:00:00Z", "2025-04-30T09:00:00Z"]}
    answer = client.post("/teams/ops/swaps", json=body, headers=bearer("writer"))
    assert answer.status_code == 201, answer.text
    first, second = trail(client)[:2]
    assert first["request_id"] == second["request_id"] == answer.headers["X-Request-Id"]
    assert [second["detail"], first["detail"]] == answer.json()["overrides"]


@pytest.mark.parametrize(
    ("method", "path", "body", "who"),
    [
        ("POST", "/teams/ops/overrides", OVERRIDE, None),  # 401
        ("POST", "/teams/ops/overrides", OVERRIDE, "reader"),  # 403
        ("POST", "/teams/dev/overrides", OVERRIDE, "ops-writer"),  # 403
        ("POST", "/teams/ops/overrides", {**OVERRIDE, "start": "2025-04-01T00:00:00Z"}, "writer"),
        ("POST", "/teams/ops/overrides", {**OVERRIDE, "member": ""}, "writer"),  # 400
        ("POST", "/schedule", {**SHIFT, "team": "ops"}, "writer"),  # 409: exists
        ("PUT", "/teams/ops/schedules/primary?dry_run=true", SHIFT, "writer"),  # stores nothing
        ("DELETE", "/teams/ops/overrides/999", None, "writer"),  # 404
    ],
)
def test_a_refused_write_records_nothing(
    client: TestClient, method: str, path: str, body: Any, who: str | None
) -> None:
    before = trail(client, "/audit")
    headers = bearer(who) if who else {}
    answer = client.request(method, path, json=body, headers=headers)
    assert answer.status_code in (200, 400, 401, 403, 404, 409, 422)
    assert trail(client, "/audit") == before


@pytest.mark.parametrize(
    ("path", "who", "status"),
    [
        ("/teams/ops/audit", None, 401),
        ("/teams/ops/audit", "reader", 403),
        ("/teams/ops/audit", "writer", 200),
        ("/teams/ops/audit", "ops-writer", 200),
        ("/teams/dev/audit", "ops-writer", 403),
        ("/teams/ops/audit", "admin", 200),
        ("/teams/nobody/audit", "admin", 404),
        ("/audit", "writer", 403),
        ("/audit", "ops-writer", 403),
        ("/audit", "admin", 200),
        ("/audit?cursor=garbled!", "admin", 400),
    ],
)
def test_who_may_read_the_trail(
    client: TestClient, path: str, who: str | None, status: int
) -> None:
    answer = client.get(path, headers=bearer(who) if who else {})
    assert answer.status_code == status, answer.text


@pytest.mark.parametrize("kind", ["memory", "postgres"])
def test_an_open_server_records_anonymous_writes(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app = create_app(load_config(None, environ_for(kind, request, keys=False)), clock=lambda: NOW)
    with TestClient(app) as open_client:
        assert open_client.post("/schedule", json=SHIFT).status_code == 201
        page = open_client.get("/teams/ops/audit").json()
    (entry,) = page["entries"]
    assert (entry["actor"], entry["action"], page["next_cursor"]) == (
        "anonymous",
        "schedule.created",
        None,
    )
