"""``oncall-server keys`` and a real server process: create, list and revoke with and
without a running server, and no secret (nor its hash) in any line the server logs."""

from __future__ import annotations

import asyncio
import getpass
import hashlib
import http.client
import json
import time
from pathlib import Path
from typing import Any

from oncall_core import AuditEntry
from oncall_pg import PostgresStore
from tests.server.test_keys import SHIFT
from tests.server.test_process import STOP_GUARD, Server, run_cli


def request(
    server: Server, method: str, path: str, secret: str | None = None, body: Any = None
) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=STOP_GUARD)
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    try:
        payload = json.dumps(body).encode() if body is not None else None
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def create(tmp_path: Path, environ: dict[str, str], *options: str) -> str:
    done = run_cli(tmp_path, environ, "keys", "create", *options)
    assert done.returncode == 0, done.stderr
    secret = done.stdout.strip()
    assert secret.startswith("oncall_") and len(secret) > 40
    assert secret not in done.stderr
    return secret


def listed(tmp_path: Path, environ: dict[str, str]) -> list[dict[str, Any]]:
    done = run_cli(tmp_path, environ, "keys", "list")
    assert done.returncode == 0, done.stderr
    keys: list[dict[str, Any]] = json.loads(done.stdout)["keys"]
    return keys


def test_in_memory_mode_create_prints_the_config_entry(tmp_path: Path) -> None:
    environ = {"ONCALL_USE_DATABASE": "false"}
    secret = create(tmp_path, environ, "--name", "ci-bot", "--scope", "write", "--team", "ops")
    done = run_cli(tmp_path, environ, "keys", "create", "--name", "x")
    entry = json.loads(done.stderr.split("- ", 1)[1])
    assert set(entry) == {"name", "hash", "scope", "teams"}
    digest = hashlib.sha256(secret.encode()).hexdigest()
    configured = {
        **environ,
        "ONCALL_SERVER__API_KEYS": json.dumps([{"name": "ci-bot", "hash": digest}]),
    }
    assert [key["name"] for key in listed(tmp_path, configured)] == ["ci-bot"]
    taken = run_cli(tmp_path, configured, "keys", "create", "--name", "ci-bot")
    assert taken.returncode == 1 and "exists already" in taken.stderr
    assert run_cli(tmp_path, environ, "keys", "revoke", "ci-bot").returncode == 1


def test_keys_on_a_database_with_a_running_server_and_no_secret_in_its_log(
    tmp_path: Path, database_url: str
) -> None:
    environ = {"ONCALL_DATABASE__URL": database_url}
    writer = create(tmp_path, environ, "--name", "ci-bot", "--scope", "write", "--team", "ops")
    reader = create(tmp_path, environ, "--name", "viewer")
    duplicate = run_cli(tmp_path, environ, "keys", "create", "--name", "ci-bot")
    assert duplicate.returncode == 1 and "exists already" in duplicate.stderr
    server = Server({**environ, "ONCALL_LOGGING__LEVEL": "debug"}, tmp_path)
    try:
        server.wait_ready()
        assert request(server, "POST", "/schedule", body=SHIFT) == 401
        assert request(server, "POST", "/schedule", reader, SHIFT) == 403
        assert request(server, "POST", "/schedule", writer, {**SHIFT, "team": "dev"}) == 403
        assert request(server, "POST", "/schedule", writer, SHIFT) == 201
        assert request(server, "GET", "/teams/ops/schedules", reader) == 200
        wrong = "oncall_" + "x" * 43
        assert request(server, "GET", "/teams", wrong) == 401
        assert request(server, "GET", "/keys", writer) == 403
        keys = {key["name"]: key for key in listed(tmp_path, environ)}
        assert keys["ci-bot"]["scope"] == "write" and keys["ci-bot"]["teams"] == ["ops"]
        assert keys["viewer"]["revoked_at"] is None
        revoked = run_cli(tmp_path, environ, "keys", "revoke", "ci-bot")
        assert revoked.returncode == 0, revoked.stderr
        deadline = time.monotonic() + 1.5
        while request(server, "POST", "/schedule", writer, SHIFT) != 401:
            assert time.monotonic() < deadline, "the revocation did not count within a second"
            time.sleep(0.05)
        assert run_cli(tmp_path, environ, "keys", "revoke", "ci-bot").returncode == 1
        assert server.stop() == 0
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()
    text = server.log.read_text()
    lines = server.log_lines()  # every line is JSON
    assert len(lines) > 10
    for secret in (writer, reader, wrong):
        for shown in (secret, hashlib.sha256(secret.encode()).hexdigest()):
            assert shown not in text
    # The last use was written at shutdown.
    keys = {key["name"]: key for key in listed(tmp_path, environ)}
    assert keys["viewer"]["last_used_at"] is not None
    assert keys["ci-bot"]["revoked_at"] is not None
    assert "hash" not in keys["viewer"]
    # The audit trail has each key change, by the operator, and the write, by its key.
    trail = [
        (e.action.value, e.actor, e.detail.get("name"))
        for e in reversed(asyncio.run(audit_trail(database_url)))
    ]
    operator = f"cli:{getpass.getuser()}"
    assert trail == [
        ("key.created", operator, "ci-bot"),
        ("key.created", operator, "viewer"),
        ("schedule.created", "ci-bot", "primary"),
        ("key.revoked", operator, "ci-bot"),
    ]


async def audit_trail(url: str) -> tuple[AuditEntry, ...]:
    store = await PostgresStore.open(url, min_size=1, max_size=1)
    try:
        return await store.list_audit(None)
    finally:
        await store.close()


def test_embedded_keys_with_and_without_a_running_server(tmp_path: Path) -> None:
    environ = {"ONCALL_DATABASE__DATA_DIR": str(tmp_path / "pgdata")}
    admin = create(tmp_path, environ, "--name", "root", "--scope", "admin")  # starts it
    server = Server(environ, tmp_path)
    try:
        server.wait_ready()
        assert request(server, "GET", "/keys", admin) == 200
        reader = create(tmp_path, environ, "--name", "late")  # through the running server
        deadline = time.monotonic() + 1.5
        while request(server, "GET", "/teams", reader) != 200:
            assert time.monotonic() < deadline, "the new key did not count within a second"
            time.sleep(0.05)
        assert [key["name"] for key in listed(tmp_path, environ)] == ["late", "root"]
        assert server.stop() == 0
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()
