"""Serving on sockets the command has bound: one uvicorn server on one store.

This is the whole of ``serve`` with one worker, and the work of each worker process
with several (``_workers``); the only difference is who owns the database.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from collections.abc import Callable

import uvicorn

from ._app import create_app
from ._config import Config
from ._limits import server_limits
from ._storage import StartupError, open_store, where

log = logging.getLogger("oncall_server")

# Seconds uvicorn waits for requests in flight once asked to stop (SIGTERM/SIGINT).
GRACEFUL_SHUTDOWN = 10


def serve(
    config: Config,
    sockets: list[socket.socket],
    *,
    url: str | None = None,
    started: Callable[[uvicorn.Server], None] | None = None,
) -> int:
    """Open the store, serve on ``sockets`` until SIGTERM/SIGINT, close them; the exit
    status (0, 1 when the store was lost for good, 3 when it did not open).

    ``url`` is a database someone else runs and has migrated (see
    :func:`~oncall_server._storage.open_store`).  ``started``, if given, is called in
    the event loop once the store is open, just before serving, with the uvicorn
    server, in place of the ``listening`` line (a worker logs its own).
    """
    settings = uvicorn.Config(
        _not_yet_open,  # replaced by the app once the store is open
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
        **server_limits(config),
    )
    lost: list[str] = []
    server = uvicorn.Server(settings)

    def on_lost(reason: str) -> None:
        # The store can never serve again: stop, and exit non-zero for a supervisor.
        log.error("storage lost", extra={"fields": {"error": reason}})
        lost.append(reason)
        server.should_exit = True

    def on_stop_signal(_number: int, _frame: object) -> None:
        server.should_exit = True  # the server then stops as soon as it has started

    # From here on SIGTERM/SIGINT stop the server gracefully: uvicorn's own handlers
    # while it serves; before, and after (uvicorn raises the signal again for the
    # handler that was there before it), this one, so the process logs "stopped".
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, on_stop_signal)

    async def run() -> int:
        try:
            async with open_store(config, on_lost=on_lost, url=url) as store:
                settings.app = create_app(config, store=store)
                if started is not None:
                    started(server)
                else:
                    fields = listening(config, sockets)
                    log.info("listening", extra={"fields": fields, "text": plainly(fields)})
                await server.serve(sockets=sockets)
        except StartupError as error:
            log.error("start-up failed", extra={"fields": {"error": str(error)}})
            return 3
        finally:
            for sock in sockets:
                sock.close()
        return 1 if lost else 0

    with asyncio.Runner(loop_factory=settings.get_loop_factory()) as runner:
        return runner.run(run())


def plainly(fields: dict[str, object]) -> str:
    """Where the server listens and where its data is, in a sentence."""
    data = {
        "memory": "in memory (lost when the server stops)",
        "embedded": f"in the embedded PostgreSQL in {fields.get('data_dir')}",
        "external": (
            f"in PostgreSQL at {fields.get('host')}:{fields.get('port')}, "
            f"database {fields.get('database')}"
        ),
    }[str(fields["mode"])]
    workers = f" with {fields['workers']} workers" if "workers" in fields else ""
    return f"listening on {fields['url']}{workers}; the data is {data}"


async def _not_yet_open(_scope: object, _receive: object, _send: object) -> None:
    raise RuntimeError("the store is not open yet")


def listening(config: Config, sockets: list[socket.socket]) -> dict[str, object]:
    """The fields of the ``listening`` line: the URL served, and where the data is."""
    host, port = sockets[0].getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return {"url": f"http://{shown}:{port}", **where(config)}
