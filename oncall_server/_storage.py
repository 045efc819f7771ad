"""Choosing and opening the store the configuration asks for, and keeping it alive.

``ONCALL_USE_DATABASE=false`` gives the in-memory store (seed compatible); a
configured database URL or host gives that external PostgreSQL; otherwise the
embedded PostgreSQL runs in the data directory.  In both PostgreSQL modes the
migrations run first (under an advisory lock, so replicas may start together).

Failing to open is :class:`StartupError`, whose message is one line: the cause, then
the configuration key to change.

Theory of operation: the embedded PostgreSQL
-------------------------------------------
The server owns the embedded PostgreSQL, so nobody else will notice if it dies: an
external database has its own supervisor, this one has only us.  While the store is
open, a watcher checks every :data:`WATCH_INTERVAL` seconds that the postmaster still
runs (a look at one process, no query).  When it has died, the watcher starts it again
on the same data directory; PostgreSQL's crash recovery keeps every committed write, and
the pool replaces its broken connections on their next checkout, so requests succeed
again within seconds.  A start can fail while the dead server's last backends are still
exiting, so the watcher retries for :data:`RESTART_GUARD` seconds.  After that it gives
up: it calls ``on_lost`` with the reason, once, and stops watching.  It gives up at
once if the data directory no longer holds the cluster: starting there would create a
new, empty one.  The process can then never serve again, so the caller ends it (the
command exits non-zero, for a supervisor to restart it) or reports it (``/healthz``
answers 503).  The watcher is a task on the server's event loop; a start runs in a
thread, and closing the store waits for one under way before it stops the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import psycopg

from oncall_core import MemoryStore, OncallError, Store
from oncall_pg import (
    EmbeddedPostgres,
    EmbeddedPostgresError,
    PostgresKeys,
    PostgresStore,
    SchemaTooNew,
    conninfo_target,
    default_data_dir,
    migrate,
)

from ._cache import CachedStore
from ._config import KEYS, Config, StorageMode, conninfo, storage_mode

log = logging.getLogger("oncall_server")

# Seconds between two looks at the embedded postmaster.
WATCH_INTERVAL = 0.5
# Seconds the watcher keeps trying to start a dead embedded PostgreSQL again.
RESTART_GUARD = 10.0
# Seconds between two of those attempts.
_RESTART_PAUSE = 0.5


def _setting(*path: str) -> str:
    key = KEYS[path]
    return f"{key.name} ({key.variable})"


# How to do without the embedded PostgreSQL: the end of its start-up error.
_EMBEDDED_REMEDY = (
    f"Set {_setting('database', 'data_dir')} to another directory, "
    f"or do without it: set {_setting('database', 'url')} or "
    f"{_setting('database', 'host')} to use an external PostgreSQL, "
    f"or {KEYS[('use_database',)].variable}=false for the in-memory store."
)


class Liveness:
    """Whether the store can ever serve again: ``lost`` is None, or the reason it cannot
    (the embedded PostgreSQL died for good).  ``/healthz`` reports it."""

    def __init__(self) -> None:
        self.lost: str | None = None

    def lose(self, reason: str) -> None:
        """Record that the store can never serve again, and why."""
        self.lost = reason


class StartupError(Exception):
    """The store could not be opened.  The message is one line: the cause, then the
    configuration key to change."""


def one_line(text: str) -> str:
    """``text`` with its lines joined as sentences: a log line or an error is one line."""
    parts = [part.strip() for part in text.splitlines() if part.strip()]
    return " ".join(part if part[-1] in ".:;!?" else f"{part}." for part in parts[:-1]) + (
        f" {parts[-1]}" if len(parts) > 1 else "".join(parts)
    )


def data_dir(config: Config) -> Path:
    """The embedded PostgreSQL's data directory: ``database.data_dir`` or the default."""
    return Path(config.database.data_dir) if config.database.data_dir else default_data_dir()


def where(config: Config) -> dict[str, object]:
    """Where the data is, for the ``storage`` log line, secrets masked: the mode, and the
    host, port and database actually used (from ``database.url`` when it is set), or the
    embedded data directory."""
    mode = storage_mode(config)
    if mode is StorageMode.MEMORY:
        return {"mode": mode.value}
    if mode is StorageMode.EMBEDDED:
        return {"mode": mode.value, "data_dir": str(data_dir(config))}
    return {"mode": mode.value, **conninfo_target(conninfo(config))}


async def migrate_database(url: str) -> tuple[int, ...]:
    """Apply pending migrations to the database at ``url``; the versions applied."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        return await migrate(connection)


@asynccontextmanager
async def database_url(
    config: Config, *, on_lost: Callable[[str], None] | None = None
) -> AsyncIterator[str]:
    """The URL of the configured PostgreSQL, starting (and finally stopping) the
    embedded one when no external database is configured, and keeping it running
    meanwhile (``on_lost`` is told if that becomes impossible).

    Raises :class:`StartupError` if the embedded PostgreSQL does not start.
    """
    log.debug("storage", extra={"fields": where(config)})
    if storage_mode(config) is StorageMode.EXTERNAL:
        yield conninfo(config)
        return
    server = EmbeddedPostgres(data_dir(config), remedy=_EMBEDDED_REMEDY)
    try:
        url = await asyncio.to_thread(server.start)
    except EmbeddedPostgresError as error:
        raise StartupError(one_line(str(error))) from error
    stopping = asyncio.Event()
    watcher = asyncio.create_task(_keep_running(server, on_lost or _ignore, stopping))
    try:
        yield url
    finally:
        stopping.set()
        await watcher  # a restart under way finishes first; stop() then stops it
        try:
            await asyncio.to_thread(server.stop)
        except EmbeddedPostgresError as error:
            log.error(
                "embedded postgres not stopped", extra={"fields": {"error": one_line(str(error))}}
            )
        else:
            fields = {"data_dir": str(server.data_dir)}
            log.debug("embedded postgres stopped", extra={"fields": fields})


def _ignore(_reason: str) -> None:
    pass


async def _keep_running(
    server: EmbeddedPostgres, on_lost: Callable[[str], None], stopping: asyncio.Event
) -> None:
    """Start the embedded PostgreSQL again whenever it dies, until ``stopping`` is set
    (see the module docstring).  Returns between two looks or two attempts, never in
    the middle of a start, so that the caller's stop() does not race a restart."""
    fields = {"data_dir": str(server.data_dir)}
    loop = asyncio.get_running_loop()
    while not stopping.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), WATCH_INTERVAL)
        if stopping.is_set() or server.is_running:
            continue
        log.warning("embedded postgres died; restarting it", extra={"fields": fields})
        if not (server.data_dir / "PG_VERSION").is_file():
            # Starting would create a new, empty cluster: the data would be gone silently.
            on_lost(
                f"the embedded PostgreSQL died, and its data directory {server.data_dir} "
                "no longer holds its cluster (no PG_VERSION)"
            )
            return
        deadline = loop.time() + RESTART_GUARD
        # Ends: the deadline is fixed, and each attempt takes time or pauses.
        while not stopping.is_set():
            try:
                await asyncio.to_thread(server.start)
            except EmbeddedPostgresError as error:
                if loop.time() >= deadline:
                    reason = (
                        f"the embedded PostgreSQL died and did not start again within "
                        f"{RESTART_GUARD:g} s: {one_line(str(error))}"
                    )
                    on_lost(reason)
                    return
                await asyncio.sleep(_RESTART_PAUSE)
            else:
                log.info("embedded postgres restarted", extra={"fields": fields})
                break


@asynccontextmanager
async def open_store(
    config: Config,
    *,
    on_lost: Callable[[str], None] | None = None,
    wrap: Callable[[Store], Store] | None = None,
    url: str | None = None,
) -> AsyncIterator[Store]:
    """The store the configuration asks for, open for the duration of the block.

    Raises :class:`StartupError` (one line: the cause and the key to change) if it
    cannot be opened.  ``on_lost`` is called, once, with the reason, if the embedded
    PostgreSQL dies and cannot be started again.  ``wrap`` (the metrics' instrument)
    wraps the store under the cache, if any.  ``url``, in the PostgreSQL modes, is a
    database that the caller keeps running and has migrated (a worker's, whose
    supervisor owns the embedded PostgreSQL): it is used as it is, neither started,
    watched nor migrated here.
    """
    if storage_mode(config) is StorageMode.MEMORY:
        log.debug("storage", extra={"fields": where(config)})
        memory: Store = MemoryStore()
        yield wrap(memory) if wrap is not None else memory
        return
    if url is not None:
        async with _open_postgres(config, url, wrap) as store:
            yield store
        return
    async with database_url(config, on_lost=on_lost) as started:
        await prepare_database(config, started)
        async with _open_postgres(config, started, wrap) as store:
            yield store


async def prepare_database(config: Config, url: str) -> None:
    """Apply pending migrations to the database at ``url``, and log the ``migrations``
    line.  Raises :class:`StartupError` (the cause and the key to change) if it fails."""
    try:
        applied = await migrate_database(url)
    except (OncallError, psycopg.Error, OSError) as error:
        raise StartupError(explain(error, config)) from error
    # Worth the operator's attention only when it changed something.
    log.log(
        logging.INFO if applied else logging.DEBUG,
        "migrations",
        extra={"fields": {"applied": list(applied)}},
    )


@asynccontextmanager
async def _open_postgres(
    config: Config, url: str, wrap: Callable[[Store], Store] | None
) -> AsyncIterator[Store]:
    # The pool on a running, migrated database; under the cache if there is one.
    try:
        store: Store = await PostgresStore.open(
            url,
            min_size=config.database.min_connections,
            max_size=config.database.max_connections,
            timeout=config.database.pool_timeout,
        )
    except (OncallError, psycopg.Error, OSError) as error:
        raise StartupError(explain(error, config)) from error
    if wrap is not None:
        store = wrap(store)
    if config.database.cache_ttl:
        store = CachedStore(
            store,
            ttl=config.database.cache_ttl,
            max_entries=config.database.cache_max_entries,
            max_bytes=config.database.cache_max_bytes,
        )
    try:
        yield store
    finally:
        await store.close()


def stored_keys(store: Store) -> PostgresKeys | None:
    """The API keys of the database ``store`` uses (None for the in-memory store)."""
    inner: object = store
    while (below := getattr(inner, "wrapped", None)) is not None:  # the cache, the metrics
        inner = below
    return PostgresKeys(inner.pool) if isinstance(inner, PostgresStore) else None


# The keys to check for a failed connection, by what libpq says.  libpq reports a
# failed connection as text only (there is no SQLSTATE without a result), so these match
# its messages; anything else names every connection key.
_CONNECTION_KEYS: list[tuple[tuple[str, ...], list[tuple[str, str]]]] = [
    (
        ("password authentication failed", "no password supplied", 'role "'),
        [("database", "user"), ("database", "password")],
    ),
    (("does not exist",), [("database", "database")]),  # after 'role "x" does not exist'
    (
        ("Connection refused", "could not translate host name", "timeout expired",
         "No such file or directory", "No route to host"),
        [("database", "host"), ("database", "port")],
    ),
]  # fmt: skip
_EVERY_CONNECTION_KEY = [
    ("database", name) for name in ("host", "port", "user", "password", "database")
]


def explain(error: BaseException, config: Config) -> str:
    """One line for an error that prevents using the database: the cause, then the
    configuration key to change (secrets masked)."""
    if isinstance(error, StartupError | EmbeddedPostgresError):
        return one_line(str(error))
    if isinstance(error, SchemaTooNew):
        return f"{one_line(str(error))}; run a newer oncall-server"
    mode = storage_mode(config)
    if mode is StorageMode.EMBEDDED:
        target = f"the embedded PostgreSQL in {data_dir(config)}"
        keys = _setting("database", "data_dir")
    else:
        place = where(config)
        target = f"PostgreSQL at {place['host']}:{place['port']}, database {place['database']}"
        if config.database.url is not None:
            keys = _setting("database", "url")
        else:
            said = str(error)
            paths = next(
                (paths for words, paths in _CONNECTION_KEYS if any(w in said for w in words)),
                _EVERY_CONNECTION_KEY,
            )
            keys = " or ".join(_setting(*path) for path in paths)
    # psycopg's messages name host, port, user and database, never the password.
    cause = one_line(str(error)) or type(error).__name__
    remedy = f"check {keys}"
    if mode is StorageMode.EXTERNAL and config.database.url is None:
        remedy += f"; or unset {_setting('database', 'host')} to use the embedded PostgreSQL"
    return f"cannot use {target}: {cause}; {remedy}"
