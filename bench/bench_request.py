"""Where the CPU of one request to oncall_server goes, run by hand.

Run from the repository root (under a minute):

    .venv/bin/python bench/bench_request.py

The ASGI apps are called directly in this process, on a uvloop event loop as
uvicorn's, one request at a time: no uvicorn, no sockets, log lines to
/dev/null.  The requests and the team are bench/bench_server.py's (``GET
/schedule`` cycling through 32 instants; the team ``payments`` created with
the same bodies).  Each figure is the CPU time of this process per request,
best of 5 rounds of 4000 requests (1000 when each goes to PostgreSQL, whose own
CPU is not counted here), for: the hello-world app (bench/hello_app.py) alone
and wrapped in our ``RequestLog`` middleware at log levels warning and info;
our app (``create_app``) on the memory store at both levels, and with
``oncall_at``'s answers looked up in a dict (what ``oncall_at`` costs in place);
our app on a throwaway embedded PostgreSQL without and with the team-state
cache; and ``PostgresStore.load_team`` alone.

Then what the metrics (``server.metrics``, on by default) and a required read
key cost: our app on the memory store at level warning with metrics off, on,
and on with ``server.read_requires_key`` (the key sent with every request, to all three),
side by side, rounds interleaved (each goes first in turn) so that a drift of
the machine, and the edge the first of a round has, fall on all alike, best of
9 rounds each, and their ratios to off (issue 12's target: at most 1.10).
The three apps share one memory store (see :func:`metrics_cost` for why), and the
comparison runs in a process of its own.  ``--metrics`` runs only that comparison
(no PostgreSQL, a few seconds).

White-box on purpose: it wraps the hello-world app in
``oncall_server._logging.RequestLog`` and sets up logging with that module's
``configure_logging`` (as the server's CLI does), and replaces ``oncall_at`` in
``oncall_server._routes`` by a dict lookup, to put a cost on the access log and
on ``oncall_at`` in place; no public name reaches either.  Everything else goes
through public names: our apps are built from a ``Config`` as the server builds
them (the comparison's with a store given, as ``create_app`` allows), and their
state comes from their own lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import os
import subprocess
import sys
import tempfile
import time as clock
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from unittest import mock

import hello_app  # bench/ is on sys.path when run
import uvloop
from _report import print_machine, print_table
from bench_server import INSTANT_TEXTS, PATHS, SCHEDULES, TEAM
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message

import oncall_server._routes
from oncall_core import MemoryStore, OnCall, oncall_at, parse_instant, parse_schedule_request
from oncall_pg import EmbeddedPostgres
from oncall_server import ApiKeyConfig, Config, DatabaseConfig, ServerConfig, create_app
from oncall_server._logging import RequestLog, configure_logging

BREAKDOWN_REQUESTS = 4000  # per measurement (a quarter when each goes to PostgreSQL)
BREAKDOWN_ROUNDS = 5


def asgi_scope(path: str) -> dict[str, Any]:
    """The ASGI scope uvicorn would pass for ``GET path``."""
    route, _, query = path.partition("?")
    return {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1", "method": "GET", "scheme": "http", "root_path": "",
            "server": ("127.0.0.1", 1373), "client": ("127.0.0.1", 50000),
            "path": route, "raw_path": route.encode(), "query_string": query.encode(),
            "headers": [(b"host", b"127.0.0.1:1373"), (b"user-agent", b"wrk")]}  # fmt: skip


SCOPES = [asgi_scope(path) for path in PATHS]


async def cpu_us(
    call: Callable[[int], Awaitable[object]], count: int, rounds: int = BREAKDOWN_ROUNDS
) -> float:
    """CPU time of this process per ``await call(n)`` for n below ``count``, in
    microseconds, best of ``rounds``."""
    best = math.inf
    for _ in range(rounds):
        started = clock.process_time()
        for n in range(count):
            await call(n)
        best = min(best, (clock.process_time() - started) / count * 1e6)
    return best


async def asgi_us(
    app: ASGIApp,
    state: dict[str, Any],
    count: int,
    rounds: int = BREAKDOWN_ROUNDS,
    headers: tuple[tuple[bytes, bytes], ...] = (),
) -> float:
    """:func:`cpu_us` of requests to ``app`` cycling through PATHS (with ``headers``
    added); every answer a 200."""
    scopes = [scope | {"headers": [*scope["headers"], *headers]} for scope in SCOPES]

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] != 200:
            raise RuntimeError(f"status {message['status']} in the breakdown")

    async def call(n: int) -> None:
        # uvicorn gives each request a shallow copy of the lifespan's state
        await app(scopes[n % len(scopes)] | {"state": dict(state)}, receive, send)

    return await cpu_us(call, count, rounds)


def log_to_devnull(level: str) -> None:
    """The server's logging set-up, with the lines written to /dev/null."""
    configure_logging(level)
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(open(os.devnull, "w"))  # noqa: SIM115  (kept open: the handler's stream)


async def breakdown(url: str) -> list[list[str]]:
    """(what, CPU per request in microseconds) of each layer, called in this process."""
    full, pg = BREAKDOWN_REQUESTS, BREAKDOWN_REQUESTS // 4
    rows: list[list[str]] = []

    async def measure(label: str, app: ASGIApp, state: dict[str, Any], count: int = full) -> None:
        rows.append([label, f"{await asgi_us(app, state, count):.1f}"])

    logged_hello = Starlette(routes=hello_app.app.routes, middleware=[Middleware(RequestLog)])
    log_to_devnull("warning")
    await measure("hello-world app", hello_app.app, {})
    await measure("hello-world app + RequestLog, level warning", logged_hello, {})
    log_to_devnull("info")
    await measure("hello-world app + RequestLog, level info", logged_hello, {})

    ours = create_app(Config(use_database=False))
    async with ours.router.lifespan_context(ours) as state:
        for body in SCHEDULES:
            await state["store"].create_schedule(parse_schedule_request(body))
        await measure("our app, memory store, level info", ours, state)
        log_to_devnull("warning")
        await measure("our app, memory store, level warning", ours, state)
        team = await state["store"].load_team(TEAM)
        answers = {at: oncall_at(team, at) for at in map(parse_instant, INSTANT_TEXTS)}

        def looked_up(_team: object, at: datetime) -> OnCall | None:
            return answers[at]

        with mock.patch.object(oncall_server._routes, "oncall_at", looked_up):
            await measure("  the same, oncall_at's answers looked up in a dict", ours, state)

    for label, ttl, count in (("no cache", 0.0, pg), ("cache 0.5 s", 0.5, full)):
        ours = create_app(Config(database=DatabaseConfig(url=url, cache_ttl=ttl)))
        async with ours.router.lifespan_context(ours) as state:  # migrates the database
            if not ttl:
                for body in SCHEDULES:
                    await state["store"].create_schedule(parse_schedule_request(body))
            await measure(f"our app, PostgreSQL store, {label}, level warning", ours, state, count)
            if not ttl:
                load = partial(state["store"].load_team, TEAM)
                cost = await cpu_us(lambda _n, load=load: load(), pg)
                rows.append(["  PostgresStore.load_team alone", f"{cost:.1f}"])
    return rows


METRICS_ROUNDS = 9


# A read key required, as issue 12's cost target asks: the secret and its entry.
READ_SECRET = "oncall_bench-reader-0123456789abcdef0123456789abcdef"
READ_KEY = ApiKeyConfig(
    name="bench-reader", hash=hashlib.sha256(READ_SECRET.encode()).hexdigest(), scope="read"
)


async def metrics_cost() -> list[list[str]]:
    """CPU per ``GET /schedule`` of our app (memory store, level warning) with metrics
    off, on, and on with a read key required (sent with each request), rounds
    interleaved, best of :data:`METRICS_ROUNDS` each; and the ratios to off."""
    log_to_devnull("warning")
    configs = {
        "off": ServerConfig(metrics=False),
        "metrics": ServerConfig(metrics=True),
        "metrics+key": ServerConfig(metrics=True, api_keys=(READ_KEY,), read_requires_key=True),
    }
    # One memory store for the three apps, so that they read the very same TeamState.
    # With a store each, their states are equal but not the same object, and the
    # core's resolution cache (oncall_core's compile_team, keyed on the state) holds
    # the first app's: every other app's lookup then compares two states field by
    # field, a few microseconds that one server with one store never pays.
    store = MemoryStore()
    for body in SCHEDULES:
        await store.create_schedule(parse_schedule_request(body))
    apps = {
        name: create_app(Config(server=server, use_database=False), store=store)
        for name, server in configs.items()
    }
    # Every request carries the key, as in bench_server.py: receiving a header is not
    # checking it.
    key = ((b"authorization", f"Bearer {READ_SECRET}".encode()),)
    best = dict.fromkeys(configs, math.inf)
    async with contextlib.AsyncExitStack() as stack:
        states = {
            name: await stack.enter_async_context(app.router.lifespan_context(app))
            for name, app in apps.items()
        }
        names = list(configs)
        for round_ in range(METRICS_ROUNDS):
            # Each goes first in turn: the first of a round runs faster.
            for name in names[round_ % 3 :] + names[: round_ % 3]:
                cost = await asgi_us(
                    apps[name], states[name], BREAKDOWN_REQUESTS, rounds=1, headers=key
                )
                best[name] = min(best[name], cost)
    return [
        ["our app, memory store, level warning, metrics off", f"{best['off']:.1f}"],
        ["  the same, metrics on", f"{best['metrics']:.1f}"],
        ["  the same, metrics on and a read key required", f"{best['metrics+key']:.1f}"],
        ["  metrics on / off", f"{best['metrics'] / best['off']:.3f}"],
        ["  metrics on and key required / off", f"{best['metrics+key'] / best['off']:.3f}"],
    ]


def main() -> None:
    if "--metrics" in sys.argv[1:]:
        print_machine("oncall_server: the cost of metrics")
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            rows = runner.run(metrics_cost())
        print_table(["ASGI app, called directly", "us/request"], rows)
        return
    print_machine("oncall_server in-process breakdown")
    print(
        f"CPU of this process per request, best of {BREAKDOWN_ROUNDS} x {BREAKDOWN_REQUESTS} "
        f"requests ({BREAKDOWN_REQUESTS // 4} when each goes to PostgreSQL, whose own CPU is "
        "not counted here).\n"
    )
    with tempfile.TemporaryDirectory(prefix="oncall-bench-") as scratch:
        postgres = EmbeddedPostgres(Path(scratch) / "data")
        url = postgres.start()
        try:
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:  # as uvicorn's
                rows = runner.run(breakdown(url))
        finally:
            postgres.stop()
    print_table(["ASGI app, called directly", "us/request"], rows)
    # In a process of its own: the breakdown's team states, equal to the comparison's,
    # would fill the core's resolution cache (see metrics_cost).
    print()
    subprocess.run([sys.executable, __file__, "--metrics"], check=True)


if __name__ == "__main__":
    main()
