"""API keys in PostgreSQL: the ``api_keys`` table (``sql/migrations/0005_api_keys.sql``).

The adapter stores and reads key records; it knows nothing of secrets, scopes'
meaning or HTTP (that is the server's).  A record holds the SHA-256 hash of a key,
never the key.  Every call is one transaction on a connection of the pool, inside
:func:`oncall_pg._errors.domain_errors`; a creation or revocation given an
:class:`oncall_core.Author` is recorded in the audit trail in that transaction
(the key's name, scope and teams: never its hash).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs
from psycopg import errors
from psycopg_pool import AsyncConnectionPool

from oncall_core import AuditAction, Author, Conflict, audit_entry

from ._errors import domain_errors
from ._queries import QUERIES
from ._store import Connection, record


def _strings(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(values)


@attrs.frozen(kw_only=True)
class KeyRecord:
    """One API key as stored: ``name``, the hex SHA-256 ``hash`` of its secret, its
    ``scope`` (``read``, ``write`` or ``admin``), the ``teams`` it is limited to
    (empty: every team), when it was created, last used and revoked (None: never)."""

    name: str
    hash: str
    scope: str
    teams: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    created_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> KeyRecord:
        """The record of a row of ``api_keys``."""
        return cls(**{field.name: row[field.name] for field in attrs.fields(cls)})


class PostgresKeys:
    """The API keys of a PostgreSQL database, through a pool of autocommit connections
    with ``dict_row`` rows (say :attr:`PostgresStore.pool <oncall_pg.PostgresStore.pool>`);
    the pool is not closed here."""

    def __init__(self, pool: AsyncConnectionPool[Connection]) -> None:
        """Use ``pool``'s connections."""
        self._pool = pool

    async def create(
        self,
        *,
        name: str,
        hash: str,
        scope: str,
        teams: Sequence[str],
        now: datetime,
        by: Author | None = None,
    ) -> KeyRecord:
        """Store a new key; raises :class:`oncall_core.Conflict` if the name (even of
        a revoked key) or the hash is taken, :class:`oncall_core.ValidationError` for
        a hash or scope the table refuses."""
        params = {"name": name, "hash": hash, "scope": scope, "teams": list(teams)}
        try:
            async with (
                domain_errors(),
                self._pool.connection() as connection,
                connection.transaction(),
            ):
                cursor = await connection.execute(
                    QUERIES["insert_api_key"], {**params, "created_at": now}
                )
                row = await cursor.fetchone()
                assert row is not None
                await _record_key_change(connection, by, AuditAction.KEY_CREATED, row)
        except Conflict as error:
            cause = error.__cause__
            if isinstance(cause, errors.UniqueViolation) and (
                cause.diag.constraint_name == "api_keys_name_key"
            ):
                raise Conflict(f"an API key named {name!r} exists already") from cause
            raise
        return KeyRecord.from_row(row)

    async def list(self) -> tuple[KeyRecord, ...]:
        """Every key, revoked ones too, by name."""
        async with domain_errors(), self._pool.connection() as connection:
            cursor = await connection.execute(QUERIES["list_api_keys"])
            return tuple(KeyRecord.from_row(row) for row in await cursor.fetchall())

    async def revoke(
        self, name: str, *, now: datetime, by: Author | None = None
    ) -> KeyRecord | None:
        """Revoke the key called ``name`` as of ``now``; the revoked record, or None if
        there is no such key that is not revoked already."""
        async with (
            domain_errors(),
            self._pool.connection() as connection,
            connection.transaction(),
        ):
            cursor = await connection.execute(QUERIES["revoke_api_key"], {"name": name, "now": now})
            row = await cursor.fetchone()
            if row is not None:
                await _record_key_change(connection, by, AuditAction.KEY_REVOKED, row)
        return KeyRecord.from_row(row) if row is not None else None

    async def touch(self, used: Mapping[str, datetime]) -> None:
        """Record, in one statement, when each named key was last used (a time
        earlier than the one stored is ignored)."""
        if not used:
            return
        names = list(used)
        params = {"names": names, "times": [used[name] for name in names]}
        async with domain_errors(), self._pool.connection() as connection:
            await connection.execute(QUERIES["touch_api_keys"], params)


async def _record_key_change(
    connection: Connection, by: Author | None, action: AuditAction, row: Mapping[str, Any]
) -> None:
    if by is not None:
        effect = {"name": row["name"], "scope": row["scope"], "teams": list(row["teams"])}
        await record(connection, [audit_entry(by, action, team=None, effect=effect)])
