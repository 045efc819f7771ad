"""Several server processes on the same listening sockets (``server.workers`` above 1).

Theory of operation
-------------------
The command binds the sockets (``_listen``); then the parent process, the supervisor,
does what must happen once: it starts the embedded PostgreSQL in embedded mode (and
keeps it running, as a single server does, ``_storage``), applies the migrations, and
starts ``server.workers`` worker processes.  Each worker is a whole server but for
those once-only jobs: it receives the listening sockets and the database's connection
string, opens its own pool, team-state cache, API key ring and metrics on it, and
serves (``_serving``); the kernel gives each new connection to one of the workers
accepting on the shared sockets.  The parent serves nothing.  For the workers the
embedded PostgreSQL is an external database that someone else runs: they never start,
watch, migrate or stop it.

Workers are started with multiprocessing's ``spawn`` method, a fresh interpreter that
imports the server, not with ``fork``, a copy of the parent as it is at that moment.
The parent by then has run an event loop and its executor's threads (a forked child
would inherit their locks in whatever state they were in, without the threads),
holds the embedded PostgreSQL's handle (whose exit hook stops the server: a worker
leaving would stop everybody's database), and has drawn the random per-process
prefix of request ids (``_logging``), which must differ between workers; and uvloop,
which each worker runs, does not support forking a process that has run a loop.
A spawned worker costs its own imports (a fraction of a second, once).  The sockets
cross to it as file descriptors, which multiprocessing duplicates into the new
process, as uvicorn's own multiprocess mode does.

Supervision.  The parent waits, on its event loop, for one of three things:

- SIGTERM or SIGINT: it sends SIGTERM to every worker, which stops as a single server
  does (no new connections, requests in flight finish for up to
  :data:`~oncall_server._serving.GRACEFUL_SHUTDOWN` seconds), waits for them (a
  worker still running :data:`STOP_GUARD` seconds later is killed), stops the
  embedded PostgreSQL, and exits 0.
- A worker's exit: it is started again (a warning with its pid and exit status), so
  that a crash or a kill does not leave the server a worker short; a worker that exits
  less than :data:`RESTART_PAUSE` seconds after its start is started again only that
  long after, so that one crashing at once costs no busy loop.  Except a worker that
  exits with status 3: it could not open the store (the database refuses it), every
  new one would fail alike, and a supervisor above us is better placed to retry; so
  the parent stops the others and exits 3, as a single server would.
- The embedded PostgreSQL lost for good: it stops the workers and exits 1.

Workers run in their own process group, so that a Ctrl-C at a terminal (a SIGINT to
the foreground group) reaches the parent alone, which stops them in order; otherwise a
worker could exit before the parent has heard of the signal, and be restarted.  In
exchange a worker watches its parent: all hold the reading end of a pipe whose writing
end only the parent holds, and a worker stops gracefully when that end reads
end-of-file, which happens when the parent is gone, even by ``kill -9``.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import socket
import sys
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

import uvicorn

from ._config import Config
from ._logging import configure_logging
from ._serving import GRACEFUL_SHUTDOWN, listening, plainly, serve
from ._storage import StartupError, database_url, prepare_database

log = logging.getLogger("oncall_server")

# Seconds a worker gets to stop, beyond uvicorn's graceful shutdown, before it is killed.
STOP_GUARD = 10
# Seconds at least between the start of a worker and the start of its replacement.
RESTART_PAUSE = 1.0
# The exit status of a worker (and of the command) whose store did not open.
_STARTUP_FAILED = 3
# What the parent's event queue holds besides the slot of a worker that exited.
_STOP = -1


def supervise(config: Config, sockets: list[socket.socket]) -> int:
    """Run ``config.server.workers`` workers on ``sockets`` until SIGTERM/SIGINT, with
    the database prepared once (see the module docstring); the exit status, as a single
    server's: 0 when stopped, 1 when the embedded PostgreSQL was lost for good, 3 when
    the database could not be prepared or a worker could not open it."""
    try:
        return asyncio.run(_supervise(config, sockets))
    finally:
        for sock in sockets:
            sock.close()


async def _supervise(config: Config, sockets: list[socket.socket]) -> int:
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[int] = asyncio.Queue()
    lost: list[str] = []

    def on_lost(reason: str) -> None:
        log.error("storage lost", extra={"fields": {"error": reason}})
        lost.append(reason)
        events.put_nowait(_STOP)

    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(stop_signal, events.put_nowait, _STOP)
    try:
        async with database_url(config, on_lost=on_lost) as url:
            await prepare_database(config, url)
            if not events.empty():  # SIGTERM, or lost, while the database started
                return 1 if lost else 0
            fields = {**listening(config, sockets), "workers": config.server.workers}
            log.info("listening", extra={"fields": fields, "text": plainly(fields)})
            status = await _Workers(config, sockets, url, events).run()
    except StartupError as error:
        log.error("start-up failed", extra={"fields": {"error": str(error)}})
        return _STARTUP_FAILED
    finally:
        for stop_signal in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(stop_signal)
    return 1 if lost else status


class _Workers:
    """The worker processes, one per slot, and what the parent does when one exits.

    Everything here runs on the parent's one event loop: a worker's exit is an event
    on ``events`` (its slot), put there by a reader on the process's sentinel, as is a
    request to stop (:data:`_STOP`), so the decisions below are never concurrent.
    """

    def __init__(
        self, config: Config, sockets: list[socket.socket], url: str, events: asyncio.Queue[int]
    ) -> None:
        self.config, self.sockets, self.url, self.events = config, sockets, url, events
        self.context = multiprocessing.get_context("spawn")
        # The workers hold the reading end; the writing end is ours alone, and closes
        # with this process: that is how a worker learns that its parent is gone.
        self.parent_alive, self.parent_end = self.context.Pipe(duplex=False)
        self.processes: dict[int, BaseProcess] = {}
        self.started: dict[int, float] = {}
        self.restarts: dict[int, asyncio.TimerHandle] = {}  # slots waiting for a new worker

    async def run(self) -> int:
        """Start the workers, keep them running until asked to stop, stop them; the
        exit status (0, or 3 when a worker could not open the store)."""
        loop = asyncio.get_running_loop()
        status = 0
        try:
            for slot in range(self.config.server.workers):
                self._start(slot)
            while (slot := await self.events.get()) != _STOP:
                process = self.processes.pop(slot)
                process.join()  # it has exited: this only reaps it
                fields = {"worker": process.pid, "exit_status": process.exitcode}
                process.close()
                if fields["exit_status"] == _STARTUP_FAILED:
                    log.error("worker could not start; stopping", extra={"fields": fields})
                    status = _STARTUP_FAILED
                    break
                log.warning("worker died; restarting it", extra={"fields": fields})
                pause = max(0.0, self.started[slot] + RESTART_PAUSE - loop.time())
                self.restarts[slot] = loop.call_later(pause, self._start, slot)
        finally:
            for pending in self.restarts.values():
                pending.cancel()
            await self._stop_all()
            self.parent_alive.close()
            self.parent_end.close()
        return status

    def _start(self, slot: int) -> None:
        self.restarts.pop(slot, None)
        process = self.context.Process(
            target=work,
            args=(self.config, self.sockets, self.url, self.parent_alive),
            name=f"oncall-server worker {slot}",
        )
        process.start()
        loop = asyncio.get_running_loop()
        loop.add_reader(process.sentinel, self._exited, slot, process)
        self.processes[slot] = process
        self.started[slot] = loop.time()
        log.debug("worker started", extra={"fields": {"worker": process.pid, "slot": slot}})

    def _exited(self, slot: int, process: BaseProcess) -> None:
        asyncio.get_running_loop().remove_reader(process.sentinel)
        self.events.put_nowait(slot)

    async def _stop_all(self) -> None:
        """SIGTERM to every worker, then wait; kill those that outlast the guard."""
        for process in self.processes.values():
            process.terminate()  # SIGTERM; nothing if it has just exited
        try:
            async with asyncio.timeout(GRACEFUL_SHUTDOWN + STOP_GUARD):
                # Ends: each worker exits once (SIGTERM, or the kill below), and its
                # exit is one event; other events here are further stop requests.
                while self.processes:
                    slot = await self.events.get()
                    if slot != _STOP:
                        self.processes.pop(slot).join()
        except TimeoutError:
            for process in self.processes.values():
                fields = {"worker": process.pid}
                log.error("worker did not stop; killing it", extra={"fields": fields})
                asyncio.get_running_loop().remove_reader(process.sentinel)
                process.kill()
                process.join()
            self.processes.clear()


def work(config: Config, sockets: list[socket.socket], url: str, parent_alive: Connection) -> None:
    """A worker process's whole life (the target of a spawned process): serve on
    ``sockets`` with the database at ``url``, until SIGTERM or until the parent is
    gone; exits with :func:`~oncall_server._serving.serve`'s status."""
    os.setpgid(0, 0)  # a terminal's Ctrl-C is for the parent, which stops us in order
    configure_logging(config.logging.level, config.logging.format, pid=True)

    def started(server: uvicorn.Server) -> None:
        def parent_gone() -> None:
            asyncio.get_running_loop().remove_reader(parent_alive.fileno())
            log.warning("supervisor gone; stopping")
            server.should_exit = True

        asyncio.get_running_loop().add_reader(parent_alive.fileno(), parent_gone)
        log.info("worker serving")

    sys.exit(serve(config, sockets, url=url, started=started))
