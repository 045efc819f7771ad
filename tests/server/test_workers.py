"""``serve --workers 2``: real processes sharing the listening socket, on an external
PostgreSQL and on the embedded one that the parent runs for them.

Which worker answered a request is read from the access log: with workers, every line
carries the ``pid`` of the process that wrote it, and each request is sent with its
own ``X-Request-ID``.  The kernel chooses the worker for each new connection, so the
requests go in parallel rounds until each worker has answered some.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]  # ships no types
import pytest

from tests.server.test_process import SHIFT, START_GUARD, STOP_GUARD, Server, free_port, run_cli

WORKERS = 2
QUERY = "/schedule?team=ops&time=2025-04-28T14:30:00Z"
# Rounds of parallel requests before concluding that a worker does not answer: a
# guard, far above the one or two rounds it takes.
ROUNDS = 50
PER_ROUND = 32
# Margins over the bounds the server promises (cache_ttl, the key ring's refresh), for
# a load or a refresh under way at the moment of the write: correctness bounds.
MARGIN = 0.5
CACHE_TTL = 1.0
KEY_REFRESH = 1.0  # seconds: each worker reads the api_keys table that often (security.md)


def lines(server: Server) -> list[dict[str, Any]]:
    """The complete lines of the server's log so far (a worker may be mid-line)."""
    text = server.log.read_text()
    return [json.loads(line) for line in text[: text.rfind("\n") + 1].splitlines() if line]


def serving(server: Server) -> list[int]:
    """The pids of the workers that said they serve, in order."""
    return [line["pid"] for line in lines(server) if line["event"] == "worker serving"]


def wait_for(server: Server, count: int) -> list[int]:
    """The pids of the first ``count`` workers that serve, once they all do."""
    deadline = time.monotonic() + START_GUARD
    while len(found := serving(server)) < count:
        assert server.process.poll() is None, server.log.read_text()
        assert time.monotonic() < deadline, f"not {count} workers: {server.log.read_text()}"
        time.sleep(0.1)
    return found[:count]


@pytest.fixture
def run_workers(tmp_path: Path) -> Iterator[Any]:
    """Start ``serve --workers 2`` with ``environ``; (the server, its workers' pids)."""
    started: list[Server] = []

    def start(environ: dict[str, str]) -> tuple[Server, list[int]]:
        server = Server(environ, tmp_path, "serve", "--workers", str(WORKERS))
        started.append(server)
        server.wait_ready()
        return server, wait_for(server, WORKERS)

    yield start
    for server in started:
        if server.process.poll() is None:
            family = psutil.Process(server.process.pid).children(recursive=True)
            server.process.kill()
            server.process.wait()
            for process in family:
                process.kill()


def call(
    server: Server, method: str, path: str, headers: dict[str, str] | None = None, body: Any = None
) -> tuple[int, Any, str]:
    """One request on a new connection; (status, decoded body, its request id)."""
    request_id = uuid.uuid4().hex
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=STOP_GUARD)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        connection.request(
            method, path, body=payload, headers={"X-Request-ID": request_id, **(headers or {})}
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null"), request_id
    finally:
        connection.close()


def answered_by(server: Server, request_ids: list[str]) -> dict[str, int]:
    """The pid that logged each request, once each has its line (written after the answer)."""
    deadline = time.monotonic() + STOP_GUARD
    while True:
        found = {
            line["request_id"]: line["pid"]
            for line in lines(server)
            if line["event"] == "request" and line["request_id"] in request_ids
        }
        if len(found) == len(request_ids):
            return found
        assert time.monotonic() < deadline, "requests without their access-log line"
        time.sleep(0.05)


def across(
    server: Server, workers: list[int], path: str, headers: dict[str, str] | None = None
) -> list[tuple[int, Any, int]]:
    """GET ``path`` in parallel rounds until every worker has answered; (status, body,
    pid) of every request sent."""
    answers: list[tuple[int, Any, str]] = []
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _round in range(ROUNDS):
            answers += pool.map(lambda _: call(server, "GET", path, headers), range(PER_ROUND))
            pids = answered_by(server, [request_id for _s, _b, request_id in answers])
            if set(pids.values()) == set(workers):
                return [(status, body, pids[request_id]) for status, body, request_id in answers]
    raise AssertionError(f"not every worker of {workers} answered: {set(pids.values())}")


def test_two_workers_on_postgresql_answer_and_see_each_others_writes_within_the_cache_ttl(
    run_workers: Any, database_url: str
) -> None:
    server, workers = run_workers(
        {
            "ONCALL_DATABASE__URL": database_url,
            "ONCALL_DATABASE__CACHE_TTL": str(CACHE_TTL),
            "ONCALL_LOGGING__LEVEL": "debug",  # for the migrations line, at debug when idle
        }
    )
    assert len(set(workers)) == WORKERS
    parent = psutil.Process(server.process.pid)
    assert set(workers) <= {child.pid for child in parent.children()}
    # Every worker caches the team as unknown...
    assert {status for status, _body, _pid in across(server, workers, QUERY)} == {404}
    # ... a write goes through one of them, and within cache_ttl every one sees it.
    assert call(server, "POST", "/schedule", body={**SHIFT, "name": "day"})[0] == 201
    time.sleep(CACHE_TTL + MARGIN)
    answers = across(server, workers, QUERY)
    assert {(status, body["oncall"]) for status, body, _pid in answers} == {(200, "Ann")}
    assert server.stop() == 0
    log = lines(server)
    listening = [line for line in log if line["event"] == "listening"]
    assert [(line["pid"], line["mode"], line["workers"]) for line in listening] == [
        (server.process.pid, "external", WORKERS)
    ]
    # The migrations ran once, in the parent, before any worker started.
    assert [line["pid"] for line in log if line["event"] == "migrations"] == [parent.pid]
    assert (log[-1]["event"], log[-1]["pid"], log[-1]["exit_status"]) == (
        "stopped",
        server.process.pid,
        0,
    )


def test_a_revoked_key_is_refused_by_every_worker_within_a_second(
    run_workers: Any, database_url: str, tmp_path: Path
) -> None:
    environ = {"ONCALL_DATABASE__URL": database_url}
    created = run_cli(tmp_path, environ, "keys", "create", "--name", "viewer")
    assert created.returncode == 0, created.stderr
    key = {"Authorization": f"Bearer {created.stdout.strip()}"}
    server, workers = run_workers({**environ, "ONCALL_SERVER__READ_REQUIRES_KEY": "true"})
    assert {status for status, _body, _pid in across(server, workers, "/teams", key)} == {200}
    revoked = run_cli(tmp_path, environ, "keys", "revoke", "viewer")
    assert revoked.returncode == 0, revoked.stderr
    time.sleep(KEY_REFRESH + MARGIN)  # each worker reads the keys every second
    assert {status for status, _body, _pid in across(server, workers, "/teams", key)} == {401}
    assert server.stop() == 0


def test_sigterm_stops_the_workers_then_the_embedded_postgresql_that_they_share(
    run_workers: Any, tmp_path: Path
) -> None:
    data_dir = tmp_path / "pgdata"
    server, workers = run_workers({"ONCALL_DATABASE__DATA_DIR": str(data_dir)})
    # The parent alone started PostgreSQL and is its one registered user; the workers
    # connect to it through its socket.
    assert json.loads((data_dir / ".handle_pids.json").read_text()) == [server.process.pid]
    postmaster = psutil.Process(int((data_dir / "postmaster.pid").read_text().split()[0]))
    assert call(server, "POST", "/schedule", body={**SHIFT, "name": "day"})[0] == 201
    answers = across(server, workers, QUERY)
    assert {(status, body["oncall"]) for status, body, _pid in answers} == {(200, "Ann")}
    family = [
        *psutil.Process(server.process.pid).children(recursive=True),
        postmaster,
        *postmaster.children(recursive=True),
    ]

    assert server.stop() == 0
    _gone, alive = psutil.wait_procs(family, timeout=STOP_GUARD)
    assert alive == []
    log = lines(server)
    assert (log[-1]["event"], log[-1]["exit_status"]) == ("stopped", 0)
    problems = {line["event"] for line in log if line["level"] in ("warning", "error")}
    assert problems <= {"no API key configured: writes are open"}
    # PostgreSQL was stopped cleanly: a single server starts on the same data, which is there.
    single = Server({"ONCALL_DATABASE__DATA_DIR": str(data_dir)}, tmp_path)
    try:
        single.wait_ready()
        status, body = single.request("GET", QUERY)
        assert (status, body["oncall"]) == (200, "Ann")
        assert single.stop() == 0
    finally:
        if single.process.poll() is None:
            single.process.kill()
            single.process.wait()


def test_a_worker_that_dies_is_replaced(run_workers: Any, database_url: str) -> None:
    server, workers = run_workers({"ONCALL_DATABASE__URL": database_url})
    os.kill(workers[0], signal.SIGKILL)
    replacement = wait_for(server, WORKERS + 1)[-1]
    died = [line for line in lines(server) if line["event"] == "worker died; restarting it"]
    assert [(line["level"], line["worker"], line["exit_status"]) for line in died] == [
        ("warning", workers[0], -signal.SIGKILL)
    ]
    now = [workers[1], replacement]
    assert {status for status, _body, _pid in across(server, now, "/teams")} == {200}
    assert server.stop() == 0


def test_workers_stop_when_their_supervisor_is_killed(run_workers: Any, database_url: str) -> None:
    server, workers = run_workers({"ONCALL_DATABASE__URL": database_url})
    family = psutil.Process(server.process.pid).children(recursive=True)
    server.process.kill()
    server.process.wait()
    _gone, alive = psutil.wait_procs(family, timeout=STOP_GUARD)
    assert alive == []
    gone = [line["pid"] for line in lines(server) if line["event"] == "supervisor gone; stopping"]
    assert sorted(gone) == sorted(workers)


def test_a_database_that_cannot_be_reached_stops_start_up_before_any_worker(
    tmp_path: Path,
) -> None:
    environ = {"ONCALL_DATABASE__HOST": "127.0.0.1", "ONCALL_DATABASE__PORT": str(free_port())}
    result = run_cli(tmp_path, environ, "serve", "--workers", "2", "--port", str(free_port()))
    assert result.returncode == 3
    events = [json.loads(line)["event"] for line in result.stderr.splitlines()]
    assert events == ["start-up failed", "stopped"]


MEMORY_REFUSED = (
    "oncall-server: configuration error: server.workers: must be 1 with the in-memory store"
    " (use_database false): each worker process would keep its own data, and the workers would"
    " disagree; use PostgreSQL to run several workers, got 2"
)


@pytest.mark.parametrize(
    ("environ", "arguments", "message"),
    [
        ({"ONCALL_USE_DATABASE": "false"}, ("serve", "--workers", "2"),
         f"{MEMORY_REFUSED} (from --workers; from ONCALL_USE_DATABASE)"),
        ({"ONCALL_USE_DATABASE": "false", "ONCALL_SERVER__WORKERS": "2"}, ("check-config",),
         f"{MEMORY_REFUSED} (from ONCALL_SERVER__WORKERS; from ONCALL_USE_DATABASE)"),
        ({}, ("serve", "--workers", "0"),
         "oncall-server: configuration error: server.workers: must be at least 1, got 0"
         " (from --workers)"),
        ({}, ("serve", "--workers", "-3"),
         "oncall-server: configuration error: server.workers: must be at least 1, got -3"
         " (from --workers)"),
        ({}, ("serve", "--workers", "two"),
         "oncall-server: configuration error: server.workers: expected an integer, got 'two'"
         " (from --workers)"),
    ],
)  # fmt: skip
def test_workers_that_cannot_be_are_a_configuration_error(
    tmp_path: Path, environ: dict[str, str], arguments: tuple[str, ...], message: str
) -> None:
    result = run_cli(tmp_path, environ, *arguments)
    assert (result.returncode, result.stdout, result.stderr) == (2, "", f"{message}\n")


def test_check_config_shows_the_workers_from_the_file(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("server:\n  workers: 4\n")
    result = run_cli(tmp_path, {}, "check-config")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["server"]["workers"] == 4
    help_text = run_cli(tmp_path, {}, "serve", "--help").stdout
    assert "--workers N" in help_text and "ONCALL_SERVER__WORKERS" in help_text


def test_in_text_each_line_names_its_process(tmp_path: Path, database_url: str) -> None:
    environ = {"ONCALL_DATABASE__URL": database_url, "ONCALL_LOGGING__FORMAT": "text"}
    server = Server(environ, tmp_path, "serve", "--workers", str(WORKERS))
    try:
        server.wait_ready()
        deadline = time.monotonic() + START_GUARD
        while server.log.read_text().count("worker serving") < WORKERS:
            assert time.monotonic() < deadline, server.log.read_text()
            time.sleep(0.1)
        assert server.stop() == 0
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()
    lines = server.log.read_text().splitlines()
    parent = server.process.pid
    assert re.fullmatch(
        rf"\d\d:\d\d:\d\d info    \[{parent}\] listening on http://127\.0\.0\.1:{server.port} "
        r"with 2 workers; the data is in PostgreSQL at .*",
        lines[0],
    ), lines
    workers = {
        int(found[1]) for line in lines if (found := re.search(r"\[(\d+)\] worker serving$", line))
    }
    assert len(workers) == WORKERS and parent not in workers
    assert re.fullmatch(rf"\d\d:\d\d:\d\d info    \[{parent}\] stopped exit_status=0", lines[-1])
