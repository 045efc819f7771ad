"""Choosing and opening the store the configuration asks for.

``ONCALL_USE_DATABASE=false`` gives the in-memory store (seed compatible); a
configured database URL or host gives that external PostgreSQL; otherwise the
embedded PostgreSQL runs in the data directory.  In both PostgreSQL modes the
migrations run first (under an advisory lock, so replicas may start together).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import psycopg

from oncall_core import MemoryStore, Store
from oncall_pg import EmbeddedPostgres, PostgresStore, default_data_dir, migrate

from ._cache import CachedStore
from ._config import KEYS, Config, StorageMode, conninfo, describe, storage_mode

log = logging.getLogger("oncall_server")

# How to do without the embedded PostgreSQL: the end of its start-up error.
_EMBEDDED_REMEDY = (
    f"To do without it, set {KEYS[('database', 'url')].variable} "
    f"(or {KEYS[('database', 'host')].variable}) to use an external PostgreSQL, "
    f"or {KEYS[('use_database',)].variable}=false for the in-memory store."
)


async def migrate_database(url: str) -> tuple[int, ...]:
    """Apply pending migrations to the database at ``url``; the versions applied."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        applied = await migrate(connection)
    log.info("migrations", extra={"fields": {"applied": list(applied)}})
    return applied


@asynccontextmanager
async def database_url(config: Config) -> AsyncIterator[str]:
    """The URL of the configured PostgreSQL, starting (and finally stopping) the
    embedded one when no external database is configured."""
    if storage_mode(config) is StorageMode.EXTERNAL:
        log.info("storage", extra={"fields": {"mode": "external", **_where(config)}})
        yield conninfo(config)
        return
    data_dir = Path(config.database.data_dir) if config.database.data_dir else default_data_dir()
    server = EmbeddedPostgres(data_dir, remedy=_EMBEDDED_REMEDY)
    log.info("storage", extra={"fields": {"mode": "embedded", "data_dir": str(data_dir)}})
    url = await asyncio.to_thread(server.start)
    try:
        yield url
    finally:
        await asyncio.to_thread(server.stop)
        log.info("embedded postgres stopped", extra={"fields": {"data_dir": str(data_dir)}})


def _where(config: Config) -> dict[str, object]:
    database = describe(config)["database"]
    assert isinstance(database, dict)
    return {key: database[key] for key in ("url", "host", "port", "database") if database.get(key)}


@asynccontextmanager
async def open_store(config: Config) -> AsyncIterator[Store]:
    """The store the configuration asks for, open for the duration of the block."""
    if storage_mode(config) is StorageMode.MEMORY:
        log.info("storage", extra={"fields": {"mode": "memory"}})
        yield MemoryStore()
        return
    async with database_url(config) as url:
        await migrate_database(url)
        store: Store = await PostgresStore.open(
            url,
            min_size=config.database.min_connections,
            max_size=config.database.max_connections,
            timeout=config.database.pool_timeout,
        )
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
