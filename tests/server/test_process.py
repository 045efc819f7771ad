"""The real server process: start-up, JSON logs, SIGTERM under load, embedded mode, config."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest

from oncall_pg import migrations

# Not speed goals: guards so that a hang fails the test instead of stalling the suite.
START_GUARD = 60
STOP_GUARD = 30

SHIFT = {
    "team": "ops",
    "members": ["Ann", "Bob"],
    "days": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"],
    "start": "9:00AM",
    "end": "5:00PM",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """``python -m oncall_server`` in a child process, on a free port."""

    def __init__(
        self, environ: dict[str, str], cwd: Path, *arguments: str, port: int | None = None
    ) -> None:
        self.port = port or free_port()
        env = {
            **os.environ,
            "ONCALL_SERVER__ADDRESS": "127.0.0.1",
            "ONCALL_SERVER__PORT": str(self.port),
            "ONCALL_LOGGING__FORMAT": "json",  # whatever the developer's shell says
            **environ,
        }
        env.pop("ONCALL_CONFIG", None)
        self.log = cwd / f"server-{self.port}.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "oncall_server", *arguments],
            env=env,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("wb"),
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_GUARD
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.log.read_text()}")
            try:
                if self.request("GET", "/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server not ready: {self.log.read_text()}")

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=STOP_GUARD)
        try:
            payload = json.dumps(body).encode() if body is not None else None
            connection.request(method, path, body=payload)
            response = connection.getresponse()
            return response.status, json.loads(response.read() or b"null")
        finally:
            connection.close()

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(STOP_GUARD)

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]


@pytest.fixture
def run_server(tmp_path: Path) -> Iterator[Any]:
    started: list[Server] = []

    def start(environ: dict[str, str], *arguments: str, port: int | None = None) -> Server:
        server = Server(environ, tmp_path, *arguments, port=port)
        started.append(server)
        server.wait_ready()
        return server

    yield start
    for server in started:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()


def test_memory_mode_serves_logs_json_and_stops_cleanly(run_server: Any) -> None:
    server = run_server({"ONCALL_USE_DATABASE": "false"})
    status, _ = server.request("POST", "/schedule", {**SHIFT, "name": "day"})
    assert status == 201
    status, body = server.request("GET", "/schedule?team=ops&time=2025-04-28T14:30:00Z")
    assert (status, body["oncall"]) == (200, "Ann")
    assert server.stop() == 0
    lines = server.log_lines()  # every line is JSON
    events = [line["event"] for line in lines]
    assert events[0] == "listening" and events[-1] == "stopped"
    listening = lines[0]
    assert (listening["mode"], listening["url"]) == ("memory", f"http://127.0.0.1:{server.port}")
    requests = [line for line in lines if line["event"] == "request"]
    assert {(r["method"], r["path"], r["status"]) for r in requests} >= {
        ("POST", "/schedule", 201),
        ("GET", "/schedule", 200),
    }
    assert all(len(r["request_id"]) == 32 and r["duration_ms"] >= 0 for r in requests)


def test_sigterm_under_load_loses_no_acknowledged_write(run_server: Any, database_url: str) -> None:
    server = run_server({"ONCALL_DATABASE__URL": database_url})

    def create(index: int) -> tuple[int, str]:
        name = f"shift-{index}"
        try:
            return server.request("POST", "/schedule", {**SHIFT, "name": name})[0], name
        except OSError:
            return 0, name  # refused or cut off: not acknowledged

    with ThreadPoolExecutor(max_workers=16) as pool:
        futures = [pool.submit(create, index) for index in range(400)]
        time.sleep(0.3)
        server.process.send_signal(signal.SIGTERM)
        results = [future.result() for future in futures]
    assert server.process.wait(STOP_GUARD) == 0
    acknowledged = {name for status, name in results if status == 201}
    assert acknowledged, "the server stopped before acknowledging anything"
    with psycopg.connect(database_url) as connection:
        stored = {row[0] for row in connection.execute("SELECT name FROM schedules")}
    assert acknowledged <= stored


def test_the_storage_line_shows_the_host_port_and_database_a_url_names(
    run_server: Any, database_url: str
) -> None:
    parts = psycopg.conninfo.conninfo_to_dict(database_url)
    server = run_server({"ONCALL_DATABASE__URL": database_url, "ONCALL_LOGGING__LEVEL": "debug"})
    assert server.stop() == 0
    lines = server.log_lines()
    storage = next(line for line in lines if line["event"] == "storage")
    listening = next(line for line in lines if line["event"] == "listening")
    assert {key: listening[key] for key in ("mode", "host", "port", "database")} == {
        key: storage[key] for key in ("mode", "host", "port", "database")
    }
    assert storage == {
        **{key: storage[key] for key in ("time", "level", "logger", "event")},
        "mode": "external",
        "host": parts.get("host") or "(libpq default)",
        "port": int(parts.get("port") or 5432),
        "database": parts["dbname"],
    }


def test_embedded_mode_keeps_data_across_restarts(run_server: Any, tmp_path: Path) -> None:
    environ = {"ONCALL_DATABASE__DATA_DIR": str(tmp_path / "pgdata")}
    first = run_server(environ)
    assert first.request("POST", "/schedule", {**SHIFT, "name": "day"})[0] == 201
    assert first.stop() == 0
    listening = next(line for line in first.log_lines() if line["event"] == "listening")
    assert (listening["mode"], listening["data_dir"]) == ("embedded", str(tmp_path / "pgdata"))
    second = run_server(environ)
    status, body = second.request("GET", "/schedule?team=ops&time=2025-04-28T14:30:00Z")
    assert (status, body["oncall"]) == (200, "Ann")
    assert second.stop() == 0


def run_cli(
    tmp_path: Path, environ: dict[str, str], *arguments: str
) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ONCALL_")}
    return subprocess.run(
        [sys.executable, "-m", "oncall_server", *arguments],
        env={**env, **environ},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=START_GUARD,
    )


def test_check_config_shows_file_then_env_with_secrets_masked(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(
        "server:\n  port: 8080\ndatabase:\n  host: db.internal\n  password: hunter2\n"
    )
    result = run_cli(tmp_path, {"ONCALL_SERVER__PORT": "9090"}, "check-config")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["server"]["port"] == 9090  # env wins over the file
    assert shown["database"]["host"] == "db.internal"  # the file wins over defaults
    assert shown["storage"] == "external"
    assert "hunter2" not in result.stdout + result.stderr


def test_bad_configuration_stops_start_up_with_one_line(tmp_path: Path) -> None:
    result = run_cli(tmp_path, {"ONCALL_SERVER__PORT": "70000"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "server.port" in lines[0]


def test_a_key_given_twice_in_the_file_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("server:\n  port: 8080\nserver:\n  port: 9090\n")
    result = run_cli(tmp_path, {}, "check-config")
    assert (result.returncode, result.stdout, result.stderr) == (
        2,
        "",
        "oncall-server: configuration error: server: duplicate key, at lines 1 and 3"
        " (in config.yaml)\n",
    )


def test_migrate_command_applies_migrations(tmp_path: Path, empty_database_url: str) -> None:
    result = run_cli(tmp_path, {"ONCALL_DATABASE__URL": empty_database_url}, "migrate")
    assert result.returncode == 0, result.stderr
    with psycopg.connect(empty_database_url) as connection:
        versions = [row[0] for row in connection.execute("SELECT version FROM schema_migrations")]
    assert versions == [migration.version for migration in migrations()]


def test_help_on_each_command_names_the_environment_variables(tmp_path: Path) -> None:
    for arguments in [
        ("--help",),
        ("serve", "--help"),
        ("migrate", "--help"),
        ("check-config", "--help"),
    ]:
        result = run_cli(tmp_path, {}, *arguments)
        assert result.returncode == 0 and "usage: oncall-server" in result.stdout
        assert "ONCALL_CONFIG names the config file" in result.stdout
        for variable in ("ONCALL_SERVER__PORT", "ONCALL_DATABASE__URL", "ONCALL_USE_DATABASE"):
            assert variable in result.stdout
    serve = run_cli(tmp_path, {}, "serve", "--help").stdout
    assert "--host ADDRESS" in serve and "--port PORT" in serve and "--config PATH" in serve


def test_version(tmp_path: Path) -> None:
    result = run_cli(tmp_path, {}, "--version")
    assert (result.returncode, result.stdout) == (0, "oncall-server 0.1.0\n")


def test_serve_takes_host_and_port_options_which_win_over_the_environment(
    run_server: Any,
) -> None:
    port = free_port()
    server = run_server(
        {"ONCALL_USE_DATABASE": "false", "ONCALL_SERVER__ADDRESS": "0.0.0.0"},
        "serve", "--host", "127.0.0.1", "--port", str(port),
        port=port,
    )  # fmt: skip
    assert server.request("GET", "/healthz") == (200, {"status": "ok"})
    assert server.stop() == 0


@pytest.mark.parametrize("where", ["before", "after"])
def test_config_is_accepted_before_and_after_the_command(tmp_path: Path, where: str) -> None:
    (tmp_path / "prod.yaml").write_text("server:\n  port: 8080\n")
    arguments = ("--config", "prod.yaml")
    command = (*arguments, "check-config") if where == "before" else ("check-config", *arguments)
    result = run_cli(tmp_path, {}, *command)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["server"]["port"] == 8080


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("serve", "--port", "18100x"),
         "server.port: expected an integer, got '18100x' (from --port)"),
        (("serve", "--port", "0"), "server.port: must be between 1 and 65535, got 0 (from --port)"),
        (("check-config", "--config", "missing.yaml"),
         "config file not found: missing.yaml (from --config)"),
    ],
)  # fmt: skip
def test_a_bad_option_is_a_configuration_error(
    tmp_path: Path, arguments: tuple[str, ...], message: str
) -> None:
    result = run_cli(tmp_path, {}, *arguments)
    assert (result.returncode, result.stdout, result.stderr) == (
        2,
        "",
        f"oncall-server: configuration error: {message}\n",
    )


def test_migrate_reports_an_unreachable_database_in_one_log_line(tmp_path: Path) -> None:
    environ = {"ONCALL_DATABASE__HOST": "127.0.0.1", "ONCALL_DATABASE__PORT": str(free_port())}
    result = run_cli(tmp_path, environ, "migrate")
    assert result.returncode == 1
    lines = [json.loads(line) for line in result.stderr.splitlines()]  # JSON, no traceback
    assert any(line["event"] == "migration failed" for line in lines)


def test_the_served_app_keeps_the_configured_body_timeout(run_server: Any) -> None:
    # `serve` builds its app around a store it opened itself: the limits of the
    # configuration must still apply there (a stalled body is cut at 0.3 s, not 10).
    server = run_server({"ONCALL_USE_DATABASE": "false", "ONCALL_SERVER__BODY_TIMEOUT": "0.3"})
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as connection:
        connection.sendall(b"POST /schedule HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        received = b""
        while chunk := connection.recv(65536):  # the server closes after a 408
            received += chunk
        response = received.decode("latin-1")
    assert response.startswith("HTTP/1.1 408 ")
    assert '{"error":"request body not received within 0.3 seconds"}' in response
    assert server.stop() == 0
