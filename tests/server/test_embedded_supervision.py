"""The server owns its embedded PostgreSQL: it restarts it when it dies, keeping the
data; it exits (or /healthz fails) when it cannot; and it shares it with nobody."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from starlette.testclient import TestClient

from oncall_server import create_app, load_config
from tests.server.test_process import SHIFT, STOP_GUARD, Server, free_port, run_cli

# Correctness bounds, not speed goals: the watcher looks every 0.5 s, a restart takes
# about a second, and the pool then replaces its broken connections.
RECOVERY_GUARD = 15
QUERY = "/schedule?team=ops&time=2025-04-28T14:30:00Z"
REMEDY = (
    "Set database.data_dir (ONCALL_DATABASE__DATA_DIR) to another directory, or do without "
    "it: set database.url (ONCALL_DATABASE__URL) or database.host (ONCALL_DATABASE__HOST) to "
    "use an external PostgreSQL, or ONCALL_USE_DATABASE=false for the in-memory store."
)


def kill_postmaster(data_dir: Path) -> int:
    pid = int((data_dir / "postmaster.pid").read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    return pid


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    # No cache: every answer below comes from the database.
    environ = {
        "ONCALL_DATABASE__DATA_DIR": str(tmp_path / "pgdata"),
        "ONCALL_DATABASE__CACHE_TTL": "0",
    }
    started = Server(environ, tmp_path)
    try:
        started.wait_ready()
        yield started
    finally:
        if started.process.poll() is None:
            started.process.kill()
            started.process.wait()


def test_a_killed_embedded_postgresql_is_restarted_and_keeps_the_data(
    server: Server, tmp_path: Path
) -> None:
    assert server.request("POST", "/schedule", {**SHIFT, "name": "day"})[0] == 201
    killed = kill_postmaster(tmp_path / "pgdata")
    died = time.monotonic()

    while (answer := server.request("GET", QUERY))[0] != 200:
        assert answer == (503, {"error": "storage unavailable"})
        assert time.monotonic() - died < RECOVERY_GUARD, "no recovery"
        time.sleep(0.2)

    assert answer[1]["oncall"] == "Ann"  # the data is still there
    assert server.request("POST", "/schedule", {**SHIFT, "name": "night"})[0] == 201
    assert server.request("GET", "/healthz") == (200, {"status": "ok"})
    assert server.request("GET", "/readyz") == (200, {"status": "ready"})
    assert kill_postmaster(tmp_path / "pgdata") != killed  # a new one, and again:
    deadline = time.monotonic() + RECOVERY_GUARD
    while server.log.read_text().count('"embedded postgres restarted"') < 2:
        assert time.monotonic() < deadline, "no restart after a second death"
        time.sleep(0.2)
    # A 503 committed nothing, so the write can be tried again.
    while (status := server.request("POST", "/schedule", {**SHIFT, "name": "late"})[0]) == 503:
        assert time.monotonic() < deadline, "no recovery after a second death"
        time.sleep(0.2)
    assert status == 201
    assert server.stop() == 0
    events = [(line["level"], line["event"]) for line in server.log_lines()]
    assert events.count(("warning", "embedded postgres died; restarting it")) == 2
    assert events.count(("info", "embedded postgres restarted")) == 2


def test_a_server_that_cannot_restart_its_postgresql_exits_with_one_line(
    server: Server, tmp_path: Path
) -> None:
    data_dir = tmp_path / "pgdata"
    data_dir.rename(tmp_path / "moved")  # a start here now would make a new, empty cluster
    kill_postmaster(tmp_path / "moved")

    assert server.process.wait(STOP_GUARD) == 1
    errors = [line for line in server.log_lines() if line["level"] == "error"]
    assert [(line["event"], line["error"]) for line in errors] == [
        (
            "storage lost",
            f"the embedded PostgreSQL died, and its data directory {data_dir} no longer "
            "holds its cluster (no PG_VERSION)",
        )
    ]
    assert server.log_lines()[-1]["event"] == "stopped"
    assert server.log_lines()[-1]["exit_status"] == 1


def test_a_second_server_on_the_same_data_directory_is_refused(
    server: Server, tmp_path: Path
) -> None:
    data_dir = tmp_path / "pgdata"
    environ = {"ONCALL_DATABASE__DATA_DIR": str(data_dir), "ONCALL_SERVER__ADDRESS": "127.0.0.1"}
    second = run_cli(tmp_path, environ, "serve", "--port", str(free_port()))
    assert second.returncode == 3
    lines = [json.loads(line) for line in second.stderr.splitlines()]
    error = [line for line in lines if line["level"] == "error"]
    assert [(line["event"], line["error"]) for line in error] == [
        (
            "start-up failed",
            f"could not start the embedded PostgreSQL server in {data_dir}: another process "
            f"(pid {server.process.pid}) is using it; only one process may use an embedded "
            f"data directory. {REMEDY}",
        )
    ]
    # The first one goes on serving, undisturbed.
    assert server.request("GET", "/readyz") == (200, {"status": "ready"})


def test_healthz_fails_once_the_store_is_lost_for_good(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray config.yaml
    data_dir = tmp_path / "pgdata"
    config = load_config(None, {"ONCALL_DATABASE__DATA_DIR": str(data_dir)})
    with TestClient(create_app(config)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert "oncall_embedded_postgres_up 1.0" in client.get("/metrics").text.splitlines()
        data_dir.rename(tmp_path / "moved")
        kill_postmaster(tmp_path / "moved")
        deadline = time.monotonic() + RECOVERY_GUARD
        while (health := client.get("/healthz")).status_code == 200:
            assert time.monotonic() < deadline, "/healthz still says ok"
            time.sleep(0.2)
        assert (health.status_code, health.json()) == (
            503,
            {
                "status": "failed",
                "error": f"the embedded PostgreSQL died, and its data directory {data_dir} "
                "no longer holds its cluster (no PG_VERSION)",
            },
        )
        # The metrics say so too (the teams are left out: the store cannot count them).
        metrics = client.get("/metrics").text.splitlines()
        assert "oncall_embedded_postgres_up 0.0" in metrics
        assert not any(line.startswith("oncall_teams ") for line in metrics)
        # ... and the OpenAPI document describes that answer.
        document = client.get("/openapi.json").json()
        entry = document["paths"]["/healthz"]["get"]["responses"]["503"]
        schema = entry["content"]["application/json"]["schema"]
        Draft202012Validator({**schema, "components": document["components"]}).validate(
            health.json()
        )
