"""PostgresStore: the :class:`oncall_core.Store` protocol on PostgreSQL (psycopg 3, async).

Connections come from a ``psycopg_pool.AsyncConnectionPool`` in autocommit
mode: a read is one statement and one round trip (``load_team`` returns the
whole team as one JSON document), and each write runs in one explicit
transaction.  Every statement is a named, parametrised query from
``sql/queries.sql``; every call goes through :func:`oncall_pg._errors.domain_errors`,
so callers see only oncall_core's domain errors.

Schedules are stored as versions (``sql/migrations/0003_schedule_versions.sql``):
a write of a schedule appends a version or a deletion to the append-only
``schedule_versions`` table and never updates or deletes one; the identity row
in ``schedules`` is what writers of one schedule lock.  Writers of a team's
overrides lock the team's row instead (see the comment above ``add_override``).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import attrs
import psycopg
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from oncall_core import (
    AuditAction,
    AuditEntry,
    Author,
    Deletion,
    Override,
    RotationChange,
    Schedule,
    TeamState,
    from_json,
)
from oncall_core.store import (
    TeamSummary,
    check_limit,
    creation,
    deletion,
    deletion_entries,
    edit,
    override_creation,
    override_deletion_entries,
    override_entries,
    override_not_found,
    override_removal,
    rotation_entries,
    schedule_not_found,
    team_not_found,
    trusted_team_state,
    version_entries,
)

from ._checks import WINDOW, RecentUseCheck
from ._errors import domain_errors, worth_retrying
from ._queries import QUERIES

T = TypeVar("T")
Connection = AsyncConnection[dict[str, Any]]

HELD_STATES = 1000
"""How many teams' last loaded states a store holds at most, for load_team."""

# A read that fails because its connection broke mid-query (the server
# restarted, a network blip) or lost a serialization race is retried; a write is
# not, since it may have committed.  The pool drops broken connections.
_READ_ATTEMPTS = 4


class PostgresStore:
    """A :class:`oncall_core.Store` backed by PostgreSQL."""

    def __init__(
        self,
        pool: AsyncConnectionPool[Connection],
        *,
        owns_pool: bool = False,
        held_states: int = HELD_STATES,
    ) -> None:
        """Use an open pool of autocommit connections with ``dict_row`` rows.

        A pool passed in is closed by :meth:`close` only when ``owns_pool``.
        ``load_team`` holds the states of the ``held_states`` teams it loaded last.
        """
        self._pool = pool
        self._owns_pool = owns_pool
        # The team states last loaded, with the revision each was loaded at (see
        # load_team): the most recently used HELD_STATES.
        self._held: OrderedDict[str, tuple[int, TeamState]] = OrderedDict()
        self._held_states = held_states
        # The pool's check when open() made the pool: told which connections work.
        self._recent: RecentUseCheck | None = None

    @classmethod
    async def open(
        cls,
        conninfo: str,
        *,
        min_size: int = 2,
        max_size: int = 10,
        timeout: float = 5.0,
        reconnect_timeout: float = 5.0,
        held_states: int = HELD_STATES,
        check_after: float = WINDOW,
    ) -> PostgresStore:
        """Open a pool to ``conninfo`` and a store that owns it.

        ``timeout`` bounds both the wait for the first connections and, later, the
        wait for a free connection, after which calls raise StorageUnavailable.
        ``reconnect_timeout`` bounds how long the pool retries one lost connection
        with growing pauses before starting afresh: after an outage, calls succeed
        again within about that long of the server's return.  A pooled connection
        is checked (one empty query) before every write, and before a read unless
        it worked within ``check_after`` seconds (0: before every read too); see
        :class:`RecentUseCheck`.  ``held_states``: see :meth:`__init__`.
        """
        recent = RecentUseCheck(check_after)
        pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
            conninfo,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            reconnect_timeout=reconnect_timeout,
            kwargs={"autocommit": True, "row_factory": dict_row},
            # An empty query before a write, and before a read on a connection that
            # has not worked within a moment: a connection broken by a server restart
            # is replaced before a write uses it (see _checks for the trade-off).
            check=recent,
            open=False,
        )
        async with domain_errors():
            await pool.open(wait=True, timeout=timeout)
        store = cls(pool, owns_pool=True, held_states=held_states)
        store._recent = recent
        return store

    @property
    def pool(self) -> AsyncConnectionPool[Connection]:
        """The pool the store's calls take their connections from.

        For the pool's statistics (``pool.get_stats()``) and for statements of
        your own next to the store's; :meth:`close` closes it if the store opened it.
        """
        return self._pool

    async def close(self) -> None:
        """Close the pool if this store opened it."""
        if self._owns_pool:
            await self._pool.close()

    async def _read(self, work: Callable[[Connection], Awaitable[T]]) -> T:
        # Ends: each attempt returns, raises, or (if the raw psycopg error is worth
        # retrying) goes round again; the last attempt raises whatever it meets.
        for attempt in range(1, _READ_ATTEMPTS + 1):
            async with domain_errors():
                try:
                    async with self._pool.connection() as connection:
                        result = await work(connection)
                        if self._recent is not None:
                            self._recent.worked(connection)
                        return result
                except psycopg.Error as error:
                    if self._recent is not None and isinstance(error, psycopg.OperationalError):
                        self._recent.suspect()  # the retry, and what follows, check again
                    if attempt == _READ_ATTEMPTS or not worth_retrying(error):
                        raise
            await asyncio.sleep(0.05 * (attempt - 1))
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _write(
        self,
        work: Callable[[Connection], Awaitable[T]],
        *,
        team: str,
        name: str | None = None,
        revise: bool = True,
    ) -> T:
        # Every write first raises the team's revision (revise_team), which locks the
        # team's row: see the comment above create_schedule.  revise=False: the work
        # does it itself (a create's upsert_team; an override write's revise_team,
        # for the team's id).  A write's checkout is always checked
        # (see _checks): it is not retried.
        with RecentUseCheck.writing():
            async with domain_errors(team=team, name=name), self._pool.connection() as connection:
                async with connection.transaction():
                    if revise:
                        await connection.execute(QUERIES["revise_team"], {"team": team})
                    result = await work(connection)
                if self._recent is not None:
                    self._recent.worked(connection)
                return result

    # Reads

    async def load_team(self, team: str) -> TeamState | None:
        """See :meth:`oncall_core.Store.load_team`.

        The state is always the stored one, read after the call began.  When the
        store holds the state it last loaded for the team, one indexed lookup of
        the team's revision (which every write raises in its own transaction:
        migration 0007) tells whether it is still the stored one; it is then
        returned as is, the same object, so what callers derived from it (a
        compiled team, answers) stays valid.  Otherwise the team is loaded (one
        statement) and held, with its revision.
        """
        return await self._read(lambda connection: self._load_held(connection, team))

    async def _load_held(self, connection: Connection, team: str) -> TeamState | None:
        held = self._held.get(team)
        if held is not None:
            cursor = await connection.execute(
                QUERIES["team_revision"], {"team": team}, prepare=_prepare(connection)
            )
            row = await cursor.fetchone()
            revision = row["revision"] if row is not None else None
            if revision == held[0]:
                self._held.move_to_end(team)
                return held[1]
        loaded = await _load_team_revision(connection, team)
        if loaded is None:
            self._held.pop(team, None)
            return None
        state, revision = loaded
        self._held[team] = (revision, state)
        self._held.move_to_end(team)
        if len(self._held) > self._held_states:
            self._held.popitem(last=False)
        return state

    async def ping(self) -> None:
        """See :meth:`oncall_core.Store.ping`: one trivial statement."""

        async def work(connection: Connection) -> None:
            await connection.execute(QUERIES["ping"])

        await self._read(work)

    async def list_teams(
        self, *, at: datetime, after: str | None = None, limit: int | None = None
    ) -> tuple[TeamSummary, ...]:
        """See :meth:`oncall_core.Store.list_teams`: one statement, paged by name."""
        check_limit(limit)

        async def work(connection: Connection) -> tuple[TeamSummary, ...]:
            cursor = await connection.execute(
                QUERIES["list_teams"], {"at": at, "after": after, "limit": limit}
            )
            return tuple(
                TeamSummary(row["team"], row["schedules"]) for row in await cursor.fetchall()
            )

        return await self._read(work)

    async def list_overrides(
        self, team: str, *, start: datetime | None = None, end: datetime | None = None
    ) -> tuple[Override, ...]:
        """See :meth:`oncall_core.Store.list_overrides`: one statement, by the team's index."""

        async def work(connection: Connection) -> tuple[Override, ...]:
            cursor = await connection.execute(
                QUERIES["list_overrides"], {"team": team, "start": start, "end": end}
            )
            return tuple(from_json(row["override"], Override) for row in await cursor.fetchall())

        return await self._read(work)

    async def list_audit(
        self, team: str | None, *, before: int | None = None, limit: int | None = None
    ) -> tuple[AuditEntry, ...]:
        """See :meth:`oncall_core.Store.list_audit`: one statement, by an index."""
        check_limit(limit)
        query = "list_audit" if team is None else "list_team_audit"
        params = {"team": team, "before": before, "limit": limit}

        async def work(connection: Connection) -> tuple[AuditEntry, ...]:
            cursor = await connection.execute(QUERIES[query], params)
            return tuple(
                AuditEntry(**{**row, "action": AuditAction(row["action"])})
                for row in await cursor.fetchall()
            )

        return await self._read(work)

    async def teams_of_member(self, member: str) -> tuple[str, ...]:
        """See :meth:`oncall_core.Store.teams_of_member`: one statement, from the member's
        rows (it reads no other team's)."""

        async def work(connection: Connection) -> tuple[str, ...]:
            cursor = await connection.execute(QUERIES["teams_of_member"], {"member": member})
            return tuple(row["team"] for row in await cursor.fetchall())

        return await self._read(work)

    async def load_teams(self, teams: Sequence[str]) -> dict[str, TeamState]:
        """See :meth:`oncall_core.Store.load_teams`: one statement for all of them."""
        names = list(dict.fromkeys(teams))
        if not names:
            return {}
        return await self._read(lambda connection: _load_teams(connection, names))

    # Writes.  Each runs in one transaction that first raises the team's revision
    # (migration 0007), which locks the team's row (revise_team; a create's
    # upsert_team), then locks the identity row of the schedule it writes, reads
    # the team's state and applies the core's write rules to it.  Critical
    # section: between the team's lock and the commit no other write of the team
    # can read or append (it waits at the lock); at READ COMMITTED the state is
    # read by a statement that starts after the lock is granted, so it sees what
    # the previous holder committed, and the revision and history a write decides
    # on are still the latest when it commits.  Every write takes the team's row
    # before any schedule's, so two writes never wait on each other in a cycle.
    # The schedule's row lock is still taken (it is what an older replica's
    # writers of the schedule wait on).

    async def create_schedule(
        self, schedule: Schedule, *, now: datetime | None = None, by: Author | None = None
    ) -> Schedule:
        """See :meth:`oncall_core.Store.create_schedule`: one transaction."""

        async def work(connection: Connection) -> Schedule:
            team_id = await _one(connection, "upsert_team", team=schedule.team)
            created = await _optional(
                connection, "insert_schedule", team_id=team_id, name=schedule.name
            )
            if created is not None:
                # A name the team never had: its first version involves no other
                # stored row (the model checked the schedule when it was built), so
                # the team's state need not be read.
                await _insert_version(connection, created, schedule)
                await record(connection, version_entries(by, schedule, created=True))
                return schedule
            schedule_id = await _locked_schedule_id(connection, schedule.team, schedule.name)
            state = await _load_team(connection, schedule.team)
            version = creation(state, schedule, now)
            assert state is not None  # upsert_team created it
            # Building the state this write produces is the check.
            attrs.evolve(state, schedules=(*state.schedules, version))
            await _insert_version(connection, schedule_id, version)
            await record(connection, version_entries(by, version, created=True))
            return version

        return await self._write(work, team=schedule.team, name=schedule.name, revise=False)

    async def edit_schedule(
        self,
        schedule: Schedule,
        *,
        now: datetime,
        expected: int | None = None,
        by: Author | None = None,
    ) -> Schedule:
        """See :meth:`oncall_core.Store.edit_schedule`: one transaction."""

        async def work(connection: Connection) -> Schedule:
            schedule_id = await _optional(
                connection, "lock_schedule", team=schedule.team, name=schedule.name
            )
            state = await _load_team(connection, schedule.team)
            version = edit(state, schedule, now, expected)
            assert state is not None and schedule_id is not None  # edit found the schedule
            # Building the state this write produces is the check: the model refuses
            # new members below a position the stored history sets.
            attrs.evolve(state, schedules=(*state.schedules, version))
            await _insert_version(connection, schedule_id, version)
            await record(connection, version_entries(by, version, created=False))
            return version

        return await self._write(work, team=schedule.team, name=schedule.name)

    async def delete_schedule(
        self,
        team: str,
        name: str,
        *,
        now: datetime,
        effective: datetime | None = None,
        expected: int | None = None,
        by: Author | None = None,
    ) -> Deletion:
        """See :meth:`oncall_core.Store.delete_schedule`: appends a deletion, deletes nothing."""

        async def work(connection: Connection) -> Deletion:
            schedule_id = await _optional(connection, "lock_schedule", team=team, name=name)
            state = await _load_team(connection, team)
            ended = deletion(state, team, name, now=now, effective=effective, expected=expected)
            assert state is not None and schedule_id is not None  # deletion found the schedule
            attrs.evolve(state, deletions=(*state.deletions, ended))
            await connection.execute(
                QUERIES["insert_deletion"],
                {"schedule_id": schedule_id, "effective": ended.effective},
            )
            await record(connection, deletion_entries(by, team, ended))
            return ended

        return await self._write(work, team=team, name=name)

    async def append_rotation_change(
        self, team: str, change: RotationChange, *, by: Author | None = None
    ) -> RotationChange:
        """See :meth:`oncall_core.Store.append_rotation_change`.

        The schedule's row lock serialises concurrent appends: none is lost, none
        is applied twice, and each gets the next sequence number.
        """

        async def work(connection: Connection) -> RotationChange:
            schedule_id = await _locked_schedule_id(connection, team, change.schedule)
            state = await _locked_team_state(connection, team)
            # Building the state this write produces is the check: the model refuses
            # a change where the schedule is not in force, or a position outside the
            # members of the version in force at the change's instant.
            attrs.evolve(state, changes=(*state.changes, change))
            await connection.execute(
                QUERIES["append_rotation_change"],
                {
                    "schedule_id": schedule_id,
                    "effective": change.effective,
                    "position": change.position,
                },
            )
            await record(connection, rotation_entries(by, team, change))
            return change

        return await self._write(work, team=team, name=change.schedule)

    # Writes of overrides raise the team's revision themselves (revise_team, which
    # gives them the team's id; revise=False), then read the team's state and apply
    # the core's rules (override_creation, override_removal) to it.  Under the
    # team's row lock no other write of the team can run, so what the rules read
    # (whether the team has ever had a schedule of a name, and its overrides) is
    # stable until the commit.

    async def add_override(
        self,
        team: str,
        override: Override,
        *,
        now: datetime | None = None,
        by: Author | None = None,
    ) -> Override:
        """See :meth:`oncall_core.Store.add_override`."""
        (stored,) = await self.add_overrides(team, [override], now=now, by=by)
        return stored

    async def add_overrides(
        self,
        team: str,
        overrides: Sequence[Override],
        *,
        now: datetime | None = None,
        by: Author | None = None,
    ) -> tuple[Override, ...]:
        """See :meth:`oncall_core.Store.add_overrides`: one transaction, so all or none.

        Every override is checked before the first is inserted; the inserts follow
        one another in order, each taking the next id.
        """

        async def work(connection: Connection) -> tuple[Override, ...]:
            team_id = await _optional(connection, "revise_team", team=team)
            state = await _load_team(connection, team) if team_id is not None else None
            adding = [override_creation(state, team, override, now) for override in overrides]
            if state is None:
                raise team_not_found(team)
            # Building the state this write produces is the check.
            attrs.evolve(state, overrides=(*state.overrides, *adding))
            users = await _user_ids(connection, [override.member for override in adding])
            stored = []
            for override in adding:
                override_id = await _one(
                    connection,
                    "insert_override",
                    team_id=team_id,
                    schedule=override.schedule,
                    user_id=users[override.member],
                    start=override.start,
                    end=override.end,
                    reason=override.reason,
                )
                stored.append(attrs.evolve(override, id=override_id))
            await record(connection, override_entries(by, team, stored))
            return tuple(stored)

        return await self._write(work, team=team, revise=False)

    async def delete_override(
        self,
        team: str,
        override_id: int,
        *,
        now: datetime | None = None,
        by: Author | None = None,
    ) -> Override | None:
        """See :meth:`oncall_core.Store.delete_override`: one transaction."""

        async def work(connection: Connection) -> Override | None:
            team_id = await _optional(connection, "revise_team", team=team)
            if now is None:
                removed = await _optional(connection, "delete_override", team=team, id=override_id)
                if removed is None:
                    raise override_not_found(team, override_id)
                before = from_json(removed, Override)
                await record(connection, override_deletion_entries(by, team, before, None))
                return None
            state = await _load_team(connection, team) if team_id is not None else None
            ended = override_removal(state, team, override_id, now)
            assert state is not None  # override_removal found the override in it
            (before,) = (o for o in state.overrides if o.id == override_id)
            if ended is None:
                await connection.execute(
                    QUERIES["delete_override"], {"team": team, "id": override_id}
                )
            else:
                await connection.execute(
                    QUERIES["end_override"],
                    {"team_id": team_id, "id": override_id, "end": ended.end},
                )
            await record(connection, override_deletion_entries(by, team, before, ended))
            return ended

        return await self._write(work, team=team, revise=False)


async def record(connection: Connection, entries: Sequence[AuditEntry]) -> None:
    """Insert audit entries in the transaction of the change they record."""
    for entry in entries:
        await connection.execute(
            QUERIES["insert_audit_entry"],
            {
                "team": entry.team,
                "at": entry.at,
                "actor": entry.actor,
                "request_id": entry.request_id,
                "action": entry.action.value,
                "schedule": entry.schedule,
                "detail": Jsonb(entry.detail),
            },
        )


async def _one(connection: Connection, query: str, **params: Any) -> Any:
    """The first column of the one row a query returns."""
    value = await _optional(connection, query, **params)
    if value is None:
        raise LookupError(f"{query} returned no row")
    return value


async def _optional(connection: Connection, query: str, **params: Any) -> Any:
    """The first column of the first row a query returns, or None."""
    cursor = await connection.execute(QUERIES[query], params)
    row = await cursor.fetchone()
    return next(iter(row.values())) if row is not None else None


async def _locked_schedule_id(connection: Connection, team: str, name: str) -> int:
    """A schedule's id, its row locked until the end of the transaction."""
    schedule_id = await _optional(connection, "lock_schedule", team=team, name=name)
    if schedule_id is None:
        raise schedule_not_found(team, name)
    return int(schedule_id)


async def _load_team_revision(connection: Connection, team: str) -> tuple[TeamState, int] | None:
    """The team's state and the revision it has in the same snapshot, or None."""
    # Prepared on its first use on each connection, not psycopg's default sixth:
    # every uncached request runs it.  Unless the connection prepares nothing
    # (prepare_threshold None, as behind a transaction-pooling PgBouncer).  The
    # document is what our checked writes stored, so it is built without
    # checking it again (trusted_team_state).
    cursor = await connection.execute(
        QUERIES["load_team"], {"team": team}, prepare=_prepare(connection)
    )
    row = await cursor.fetchone()
    return (trusted_team_state(row["state"]), row["revision"]) if row is not None else None


async def _load_team(connection: Connection, team: str) -> TeamState | None:
    loaded = await _load_team_revision(connection, team)
    return loaded[0] if loaded is not None else None


def _prepare(connection: Connection) -> bool | None:
    """``prepare=`` for a statement run on every uncached request: prepared at once,
    unless the connection prepares nothing (then None: as it is set)."""
    return None if connection.prepare_threshold is None else True


async def _load_teams(connection: Connection, teams: list[str]) -> dict[str, TeamState]:
    cursor = await connection.execute(QUERIES["load_teams"], {"teams": teams})
    states = (trusted_team_state(row["state"]) for row in await cursor.fetchall())
    return {state.team: state for state in states}


async def _locked_team_state(connection: Connection, team: str) -> TeamState:
    """The stored state of a team one of whose schedules the caller has locked.

    A write builds from it the state it would produce, so that the model refuses
    what it must before anything is written.  The schedule's row lock keeps any
    concurrent write to that schedule from slipping between the check and the
    write.
    """
    state = await _load_team(connection, team)
    assert state is not None  # the caller found and locked one of its schedules
    return state


async def _user_ids(connection: Connection, names: Sequence[str]) -> dict[str, int]:
    cursor = await connection.execute(QUERIES["upsert_users"], {"names": list(names)})
    return {row["username"]: row["id"] for row in await cursor.fetchall()}


async def _insert_version(connection: Connection, schedule_id: int, version: Schedule) -> None:
    """Append one version of a schedule's definition, with its days and members."""
    version_id = await _one(
        connection,
        "insert_version",
        schedule_id=schedule_id,
        effective=version.effective,
        **_version_row(version),
    )
    users = await _user_ids(connection, version.members)
    await connection.execute(
        QUERIES["insert_days"],
        {"version_id": version_id, "days": sorted(int(day) for day in version.days)},
    )
    await connection.execute(
        QUERIES["insert_members"],
        {"version_id": version_id, "user_ids": [users[m] for m in version.members]},
    )


def _version_row(schedule: Schedule) -> dict[str, Any]:
    """The definition columns of a ``schedule_versions`` row, as query parameters."""
    return {
        "start": schedule.start,
        "end": schedule.end,
        "overnight": schedule.overnight,
        "timezone": schedule.timezone,
        "kind": schedule.rotation.kind.value,
        "every": schedule.rotation.every,
        "rotation_start": schedule.rotation.start,
        "priority": schedule.priority,
    }
