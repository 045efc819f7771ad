"""API keys and scopes over HTTP (docs/security.md): 401, 403 and 200 for each scope
and team on a read, a write and an admin route; the open mode; ``read_requires_key``;
a revocation seen by two replicas within a second."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from starlette.testclient import TestClient

from oncall_core import MemoryStore, StorageUnavailable
from oncall_pg import PostgresKeys
from oncall_server import create_app, load_config
from tests.server.conftest import NOW

SHIFT = {
    "name": "primary",
    "team": "ops",
    "members": ["Ann", "Bob"],
    "days": ["Mon", "Tue", "Wed", "Thu", "Fri"],
    "start": "09:00",
    "end": "17:00",
}
SECRETS = {
    "reader": "oncall_reader-secret-0123456789abcdef0123456789",
    "writer": "oncall_writer-secret-0123456789abcdef0123456789",
    "admin": "oncall_admin-secret-0123456789abcdef0123456789",
    "ops-writer": "oncall_ops-writer-secret-0123456789abcdef012345",
}
KEYS = [
    {"name": "reader", "scope": "read"},
    {"name": "writer", "scope": "write"},
    {"name": "admin", "scope": "admin"},
    {"name": "ops-writer", "scope": "write", "teams": ["ops"]},
]


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {SECRETS[name]}"}


def app_client(environ: dict[str, str]) -> TestClient:
    return TestClient(create_app(load_config(None, environ), clock=lambda: NOW))


def keyed(**extra: str) -> dict[str, str]:
    keys = [{**key, "hash": digest(SECRETS[key["name"]])} for key in KEYS]
    return {"ONCALL_USE_DATABASE": "false", "ONCALL_SERVER__API_KEYS": json.dumps(keys), **extra}


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray config.yaml
    return tmp_path


@pytest.fixture
def client(in_tmp: Path) -> Iterator[TestClient]:
    with app_client(keyed()) as test_client:
        # Two teams, created by a key that may write every team.
        for team in ("ops", "dev"):
            answer = test_client.post(
                "/schedule", json={**SHIFT, "team": team}, headers=bearer("writer")
            )
            assert answer.status_code == 201, answer.text
        yield test_client


READ = ("GET", "/teams/{team}/schedules/primary", None)
WRITE = ("POST", "/teams/{team}/schedules/primary/rotate", {})
ADMIN = ("GET", "/keys", None)


def call(client: TestClient, route: tuple[str, str, Any], team: str, who: str | None) -> Any:
    method, path, body = route
    headers = bearer(who) if who else {}
    return client.request(method, path.format(team=team), json=body, headers=headers)


@pytest.mark.parametrize(
    ("route", "who", "team", "status"),
    [
        (READ, None, "ops", 200),  # reads are open unless read_requires_key
        (READ, "reader", "ops", 200),
        (READ, "ops-writer", "ops", 200),
        (READ, "ops-writer", "dev", 403),
        (WRITE, None, "ops", 401),
        (WRITE, "reader", "ops", 403),
        (WRITE, "writer", "dev", 201),
        (WRITE, "ops-writer", "ops", 201),
        (WRITE, "ops-writer", "dev", 403),
        (WRITE, "admin", "dev", 201),
        (ADMIN, None, "", 401),
        (ADMIN, "writer", "", 403),
        (ADMIN, "ops-writer", "", 403),
        (ADMIN, "admin", "", 200),
    ],
)
def test_each_scope_and_team_on_a_read_a_write_and_an_admin_route(
    client: TestClient, route: tuple[str, str, Any], who: str | None, team: str, status: int
) -> None:
    answer = call(client, route, team, who)
    assert answer.status_code == status, answer.text
    if status == 401:
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        assert set(answer.json()) == {"error"}
    if status == 403:
        assert set(answer.json()) == {"error"}


def test_a_wrong_key_is_401_even_on_an_open_read(client: TestClient) -> None:
    answer = client.get("/teams", headers={"Authorization": "Bearer oncall_nope"})
    assert answer.status_code == 401
    assert "oncall_nope" not in answer.text


def test_a_team_key_creates_schedules_only_for_its_teams(client: TestClient) -> None:
    headers = bearer("ops-writer")
    refused = client.post("/schedule", json={**SHIFT, "team": "qa"}, headers=headers)
    assert refused.status_code == 403
    assert client.get("/teams/qa/schedules").status_code == 404  # nothing was created
    created = client.post("/schedule", json={**SHIFT, "name": "second"}, headers=headers)
    assert created.status_code == 201, created.text
    assert client.post("/schedule", json=[1], headers=headers).status_code == 403  # no team


def test_a_team_key_may_not_use_routes_spanning_every_team(client: TestClient) -> None:
    assert client.get("/oncall", headers=bearer("ops-writer")).status_code == 403
    assert client.get("/oncall", headers=bearer("reader")).status_code == 200
    query = {"team": "dev", "time": "2025-04-28T14:30:00Z"}
    assert client.get("/schedule", params=query, headers=bearer("ops-writer")).status_code == 403
    query["team"] = "ops"
    assert client.get("/schedule", params=query, headers=bearer("ops-writer")).status_code == 200


def test_health_endpoints_stay_open(client: TestClient) -> None:
    for path in ("/healthz", "/readyz", "/openapi.json"):
        assert client.get(path).status_code == 200


def test_read_requires_key(in_tmp: Path) -> None:
    with app_client(keyed(ONCALL_SERVER__READ_REQUIRES_KEY="true")) as client:
        assert client.get("/teams").status_code == 401
        assert client.get("/teams", headers=bearer("reader")).status_code == 200
        assert client.get("/healthz").status_code == 200


def test_without_keys_the_server_is_open_as_the_seed_was(in_tmp: Path) -> None:
    with app_client({"ONCALL_USE_DATABASE": "false"}) as client:
        assert client.post("/schedule", json=SHIFT).status_code == 201
        assert client.get("/teams").status_code == 200
        assert client.get("/keys").status_code == 200  # nothing to protect yet


# On PostgreSQL: keys in the database, refreshed on every replica.


async def _with_keys(url: str, work: Any) -> Any:
    async with AsyncConnectionPool(
        url, kwargs={"autocommit": True, "row_factory": dict_row}, open=False
    ) as pool:
        return await work(PostgresKeys(pool))


def test_a_revocation_counts_on_two_replicas_within_a_second(
    in_tmp: Path, database_url: str
) -> None:
    environ = {"ONCALL_DATABASE__URL": database_url}
    secret = SECRETS["writer"]
    now = datetime.now(UTC)

    async def create(keys: PostgresKeys) -> None:
        await keys.create(name="ci-bot", hash=digest(secret), scope="write", teams=[], now=now)

    async def revoke(keys: PostgresKeys) -> None:
        assert await keys.revoke("ci-bot", now=now) is not None

    with app_client(environ) as one, app_client(environ) as two:
        assert one.post("/schedule", json=SHIFT).status_code == 201  # open: no key yet
        asyncio.run(_with_keys(database_url, create))
        body = {**SHIFT, "team": "dev"}
        for replica in (one, two):
            until_closed(lambda r=replica: r.post("/schedule", json=body).status_code == 401)
            answer = replica.post(
                "/teams/ops/schedules/primary/rotate",
                json={},
                headers={"Authorization": f"Bearer {secret}"},
            )
            assert answer.status_code == 201, answer.text
        asyncio.run(_with_keys(database_url, revoke))
        started = time.monotonic()
        for replica in (one, two):
            until_closed(
                lambda r=replica: (
                    r.post(
                        "/teams/ops/schedules/primary/rotate",
                        json={},
                        headers={"Authorization": f"Bearer {secret}"},
                    ).status_code
                    == 401
                )
            )
        assert time.monotonic() - started < 1.5  # refreshed every second
        # A revoked key still counts: the server did not become open again.
        assert one.post("/schedule", json=body).status_code == 401


def until_closed(done: Any, guard: float = 2.0) -> None:
    deadline = time.monotonic() + guard
    while not done():
        assert time.monotonic() < deadline, "not refreshed in time"
        time.sleep(0.05)


def test_last_use_is_written_in_batches_not_per_request(in_tmp: Path, database_url: str) -> None:
    secret = SECRETS["reader"]

    async def create(keys: PostgresKeys) -> None:
        now = datetime.now(UTC)
        await keys.create(name="viewer", hash=digest(secret), scope="read", teams=[], now=now)

    async def last_used(keys: PostgresKeys) -> Any:
        return (await keys.list())[0].last_used_at

    asyncio.run(_with_keys(database_url, create))
    with app_client({"ONCALL_DATABASE__URL": database_url}) as client:
        for _ in range(20):
            assert client.get("/teams", headers=bearer("reader")).status_code == 200
        assert asyncio.run(_with_keys(database_url, last_used)) is None  # not yet written
    assert asyncio.run(_with_keys(database_url, last_used)) == NOW  # at shutdown


class Unready(MemoryStore):
    async def ping(self) -> None:
        raise StorageUnavailable("storage unavailable: db.internal:5432 refused")


def test_readyz_explains_a_503_only_to_callers_with_a_key(in_tmp: Path) -> None:
    config = load_config(None, keyed())
    with TestClient(create_app(config, store=Unready(), clock=lambda: NOW)) as client:
        assert client.get("/readyz").json() == {"status": "unavailable"}
        explained = client.get("/readyz", headers=bearer("reader"))
        assert explained.status_code == 503 and "db.internal" in explained.json()["error"]


def test_the_openapi_document_names_the_bearer_scheme_and_each_scope(
    client: TestClient,
) -> None:
    document = client.get("/openapi.json").json()
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    paths = document["paths"]
    assert paths["/schedule"]["post"]["x-oncall-scope"] == "write"
    assert paths["/schedule"]["get"]["x-oncall-scope"] == "read"
    assert paths["/teams/{team}/swaps"]["post"]["security"] == [{"bearer": []}, {}]
    assert "401" in paths["/teams/{team}/swaps"]["post"]["responses"]
    assert paths["/healthz"]["get"]["security"] == []
