"""Several replicas on one database, and a database outage, seen through the HTTP API."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from oncall_pg import EmbeddedPostgres
from oncall_server import create_app, load_config

NOW = datetime(2025, 4, 28, 14, 30, tzinfo=UTC)
# Not a speed goal: a guard so that a hang fails the test instead of stalling the suite.
RECOVERY_GUARD = 60

SHIFT: dict[str, Any] = {
    "team": "ops",
    "name": "day",
    "members": ["Ann", "Bob"],
    "days": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"],
    "start": "9:00AM",
    "end": "5:00PM",
}
QUERY = {"team": "ops", "time": "2025-04-28T14:30:00Z"}


def replica(url: str, **environ: str) -> TestClient:
    config = load_config(None, {"ONCALL_DATABASE__URL": url, **environ})
    return TestClient(create_app(config, clock=lambda: NOW))


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)  # no stray config.yaml
    yield tmp_path


def test_a_write_on_one_replica_is_seen_by_another_within_a_second(
    in_tmp: Path, database_url: str
) -> None:
    with replica(database_url) as first, replica(database_url) as second:
        assert first.post("/schedule", json=SHIFT).status_code == 201
        assert first.get("/schedule", params=QUERY).json()["oncall"] == "Ann"  # its own write
        assert second.get("/schedule", params=QUERY).json()["oncall"] == "Ann"  # now cached
        cover = {**SHIFT, "name": "cover", "members": ["Cid"], "priority": 5}
        written = time.monotonic()
        assert first.post("/schedule", json=cover).status_code == 201
        assert first.get("/schedule", params=QUERY).json()["oncall"] == "Cid"  # at once
        while second.get("/schedule", params=QUERY).json()["oncall"] != "Cid":
            # A correctness bound (the cache's promise), not a speed goal.
            assert time.monotonic() - written < 1.0, "the other replica still answers stale"
            time.sleep(0.05)
        assert second.post("/schedule", json=SHIFT).status_code == 409


def test_an_outage_is_503_and_the_server_recovers_by_itself(in_tmp: Path) -> None:
    database = EmbeddedPostgres(in_tmp / "data")
    url = database.start()
    try:
        with replica(url, ONCALL_DATABASE__POOL_TIMEOUT="1") as client:
            assert client.post("/schedule", json=SHIFT).status_code == 201
            database.stop()
            for response in [
                client.get("/schedule", params=QUERY),
                client.post("/schedule", json={**SHIFT, "name": "other"}),
            ]:
                assert (response.status_code, response.json()) == (
                    503,
                    {"error": "storage unavailable"},
                )
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["status"] == "unavailable" and ready.json()["error"]
            assert client.get("/healthz").status_code == 200
            database.start()
            deadline = time.monotonic() + RECOVERY_GUARD
            while (answer := client.get("/schedule", params=QUERY)).status_code == 503:
                assert time.monotonic() < deadline, "the server did not recover"
                time.sleep(0.2)
            assert answer.json()["oncall"] == "Ann"
            assert client.get("/readyz").status_code == 200
    finally:
        database.stop()
