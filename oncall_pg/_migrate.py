"""Schema migrations: numbered SQL files applied once, in order, under an advisory lock.

``sql/migrations/NNNN_name.sql`` files ship inside the package.  ``migrate``
takes a session-level ``pg_advisory_lock`` so that several replicas starting at
once migrate exactly once (the others wait, then find nothing to do), records
each applied version in ``schema_migrations``, runs each file in its own
transaction, and refuses a database whose schema is newer than this code.
"""

from __future__ import annotations

import re
from importlib.resources import files
from typing import Any

import attrs
from psycopg import AsyncConnection

from oncall_core import OncallError

from ._queries import QUERIES

# An arbitrary, fixed key: "oncall" in ASCII.
MIGRATION_LOCK = 0x6F6E63616C6C

_FILE_NAME = re.compile(r"(?P<version>\d{4})_(?P<name>\w+)\.sql")


class SchemaTooNew(OncallError):
    """The database has migrations this code does not know: it was migrated by newer code."""


@attrs.frozen
class Migration:
    """One numbered SQL file."""

    version: int
    name: str
    sql: str


def migrations() -> tuple[Migration, ...]:
    """The migrations shipped with the package, in version order."""
    found = []
    for entry in files("oncall_pg").joinpath("sql", "migrations").iterdir():
        match = _FILE_NAME.fullmatch(entry.name)
        if match:
            found.append(
                Migration(int(match["version"]), match["name"], entry.read_text(encoding="utf-8"))
            )
    return tuple(sorted(found, key=lambda migration: migration.version))


async def migrate(connection: AsyncConnection[Any], *, up_to: int | None = None) -> tuple[int, ...]:
    """Apply the pending migrations; the versions applied (empty when up to date).

    ``up_to`` stops after that version (default: apply them all).  ``connection``
    must be in autocommit mode: the lock is held by the session and each
    migration runs in its own transaction.  Raises :class:`SchemaTooNew`.
    """
    if not connection.autocommit:
        raise ValueError("migrate() needs a connection in autocommit mode")
    known = migrations()
    await connection.execute(QUERIES["lock_migrations"], {"key": MIGRATION_LOCK})
    try:
        await connection.execute(QUERIES["create_schema_migrations"])
        cursor = await connection.execute(QUERIES["applied_migrations"])
        applied = {row[0] for row in await cursor.fetchall()}
        newest = max((migration.version for migration in known), default=0)
        if applied and max(applied) > newest:
            raise SchemaTooNew(
                f"the database schema is at version {max(applied)}, newer than this code "
                f"knows ({newest}): upgrade oncall-schedule before starting it on this database"
            )
        done = []
        for migration in known:
            if migration.version in applied:
                continue
            if up_to is not None and migration.version > up_to:
                break
            async with connection.transaction():
                # Shipped with the package, never built from input: safe to run as text.
                await connection.execute(migration.sql)
                await connection.execute(
                    QUERIES["record_migration"],
                    {"version": migration.version, "name": migration.name},
                )
            done.append(migration.version)
        return tuple(done)
    finally:
        await connection.execute(QUERIES["unlock_migrations"], {"key": MIGRATION_LOCK})
