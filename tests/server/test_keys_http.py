"""API keys over HTTP (POST /keys, DELETE /keys/{name}), for admins, on PostgreSQL:
the secret is shown once and works at once, a revocation counts at once, both are
audited by the admin's key name, bad input is a 400 naming the field, and memory
mode says keys are configuration."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.server.test_keys import SHIFT, app_client, bearer, keyed


@pytest.fixture
def client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> Iterator[TestClient]:
    monkeypatch.chdir(tmp_path)
    environ = keyed(ONCALL_DATABASE__URL=database_url)
    del environ["ONCALL_USE_DATABASE"]
    with app_client(environ) as test_client:
        yield test_client


def test_an_admin_creates_a_key_that_works_at_once_and_revokes_it(client: TestClient) -> None:
    answer = client.post(
        "/keys",
        json={"name": "ci-bot", "scope": "write", "teams": ["ops"]},
        headers=bearer("admin"),
    )
    assert answer.status_code == 201, answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    created = answer.json()
    secret = created.pop("secret")
    assert secret.startswith("oncall_") and created["name"] == "ci-bot"
    assert (created["scope"], created["teams"], created["revoked_at"]) == ("write", ["ops"], None)
    mine = {"Authorization": f"Bearer {secret}"}
    assert client.post("/schedule", json=SHIFT, headers=mine).status_code == 201
    assert client.post("/schedule", json={**SHIFT, "team": "dev"}, headers=mine).status_code == 403
    listed = {
        key["name"]: key for key in client.get("/keys", headers=bearer("admin")).json()["keys"]
    }
    assert "secret" not in listed["ci-bot"] and "hash" not in listed["ci-bot"]
    revoked = client.delete("/keys/ci-bot", headers=bearer("admin"))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert client.post("/schedule", json=SHIFT, headers=mine).status_code == 401  # at once
    assert client.delete("/keys/ci-bot", headers=bearer("admin")).status_code == 404
    # The trail: who made and revoked it, and what the key wrote; never the secret.
    trail = client.get("/audit", headers=bearer("admin")).json()["entries"]
    assert [(e["action"], e["actor"]) for e in reversed(trail)] == [
        ("key.created", "admin"),
        ("schedule.created", "ci-bot"),
        ("key.revoked", "admin"),
    ]
    assert secret not in json.dumps(trail)


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"name": "x", "scope": "root"}, 400, "scope"),
        ({"name": ""}, 400, "name"),
        ({"name": "x", "teams": "ops"}, 400, "teams"),
        ({"name": "x", "teams": ["\x00"]}, 400, "teams"),
        ({"name": "x", "secret": "mine"}, 400, "secret"),
        ({"name": "admin"}, 409, None),  # a configured key's name
        ({"name": "bot"}, 409, None),  # a name an earlier POST took
    ],
)
def test_bad_input_is_refused_and_creates_nothing(
    client: TestClient, body: dict[str, object], status: int, field: str | None
) -> None:
    if body == {"name": "bot"}:
        first = client.post("/keys", json=body, headers=bearer("admin"))
        assert first.status_code == 201
    before = client.get("/keys", headers=bearer("admin")).json()
    answer = client.post("/keys", json=body, headers=bearer("admin"))
    assert answer.status_code == status, answer.text
    if field is not None:
        assert field in answer.json()["error"]
    assert client.get("/keys", headers=bearer("admin")).json() == before


@pytest.mark.parametrize("who", [None, "reader", "writer", "ops-writer"])
def test_only_admins_manage_keys(client: TestClient, who: str | None) -> None:
    headers = bearer(who) if who else {}
    assert client.post("/keys", json={"name": "x"}, headers=headers).status_code in (401, 403)
    assert client.delete("/keys/reader", headers=headers).status_code in (401, 403)


def test_memory_mode_says_keys_are_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with app_client(keyed()) as memory:
        answer = memory.post("/keys", json={"name": "x"}, headers=bearer("admin"))
        assert answer.status_code == 409 and "server.api_keys" in answer.json()["error"]
        assert memory.delete("/keys/reader", headers=bearer("admin")).status_code == 409
