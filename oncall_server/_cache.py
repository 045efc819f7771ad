"""A short-lived, bounded cache of team states in front of a shared store.

Why: answering ``GET /schedule`` from PostgreSQL costs a round trip and a model
build per request; most requests ask about the same few teams again and again.

The rules that keep it correct with several replicas on one database:

- An entry lives at most ``ttl`` seconds (at most 1): a write made through
  another replica is seen within that time.
- A write through this replica (a create, a new version, a deletion, a
  rotation change, an override) drops the team's entry before returning,
  refused or not, so a replica always reads its own writes.
- A load that was in flight while a write went through is not cached: a write
  forgets the team's load in flight, and a load stores its result only if it is
  still the team's current load.
- Concurrent misses for one team share one load (when an entry expires under
  load, one query refreshes it, not one per request in flight); a reader that
  comes after a write never joins a load that started before it.

The rule that keeps its memory flat, whatever strangers ask about: it holds at
most ``max_entries`` entries and about ``max_bytes`` bytes, unknown teams (the
404s) included.  Entries are kept in the order they were stored; storing one
drops the expired entries at the front, then the oldest until both bounds hold.
A state larger than ``max_bytes`` on its own is not cached.  Nothing else grows
with the names asked: the loads in flight are bounded by the requests in flight.

Everything here runs on one event loop, and no method awaits between reading
and updating the dictionaries, so no lock is needed.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TypeVar

import attrs

from oncall_core import (
    AuditEntry,
    Author,
    Deletion,
    Override,
    RotationChange,
    Schedule,
    Store,
    TeamState,
)
from oncall_core.store import TeamSummary

T = TypeVar("T")
MAX_TTL = 1.0
DEFAULT_MAX_ENTRIES = 10_000
"""How many team states the cache holds at most, by default."""
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
"""About how many bytes of team states the cache holds at most, by default."""

# Rough costs of the objects behind an entry, so that the byte bound counts what a
# small entry really costs (an unknown team's entry is mostly overhead).
_ENTRY_BYTES = 400  # the key's slot, the entry, the state object
_ITEM_BYTES = 400  # one schedule, rotation change or override, besides its text
_MEMBER_BYTES = 60  # one member name, besides its text


def entry_size(team: str, state: TeamState | None) -> int:
    """The approximate number of bytes a cache entry for ``team`` holding ``state`` uses."""
    size = _ENTRY_BYTES + len(team.encode())
    if state is not None:
        for schedule in state.schedules:
            size += _ITEM_BYTES + len(schedule.name.encode()) + len(schedule.timezone.encode())
            size += sum(_MEMBER_BYTES + len(member.encode()) for member in schedule.members)
        for override in state.overrides:
            size += _ITEM_BYTES + sum(len(text.encode()) for text in _texts(override))
        size += _ITEM_BYTES * (len(state.changes) + len(state.deletions))
    return size


def _texts(override: Override) -> list[str]:
    return [value for value in attrs.astuple(override, recurse=False) if isinstance(value, str)]


@attrs.define
class _Entry:
    state: TeamState | None
    expires: float
    size: int


class CachedStore:
    """A :class:`oncall_core.Store` that caches ``load_team`` for ``ttl`` seconds."""

    def __init__(
        self,
        store: Store,
        *,
        ttl: float,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Wrap ``store``; ``0 < ttl <= 1`` seconds, at least one entry and one byte."""
        if not 0 < ttl <= MAX_TTL:
            raise ValueError(f"ttl must be above 0 and at most {MAX_TTL} seconds")
        if max_entries < 1 or max_bytes < 1:
            raise ValueError("max_entries and max_bytes must be at least 1")
        self._store = store
        self._ttl = ttl
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._bytes = 0  # the sum of the entries' sizes
        self._loading: dict[str, asyncio.Task[TeamState | None]] = {}
        self.hits = 0
        """How many team states were answered from the cache (for the metrics)."""
        self.misses = 0
        """How many team states asked for were not fresh in the cache."""

    @property
    def wrapped(self) -> Store:
        """The store this one wraps."""
        return self._store

    @property
    def entries(self) -> int:
        """How many team states the cache holds now."""
        return len(self._entries)

    @property
    def size(self) -> int:
        """About how many bytes the cached team states use now (see :func:`entry_size`)."""
        return self._bytes

    async def load_team(self, team: str) -> TeamState | None:
        """The team's state, from the cache when fresh; concurrent misses share one load."""
        now = self._clock()
        entry = self._entries.get(team)
        if entry is not None and now < entry.expires:
            self.hits += 1
            return entry.state
        self.misses += 1
        loading = self._loading.get(team)
        if loading is None:
            loading = asyncio.ensure_future(self._load(team, now))
            self._loading[team] = loading
            loading.add_done_callback(lambda done: self._forget(team, done))
        # Shielded: a caller that goes away does not cancel the others' load.
        return await asyncio.shield(loading)

    async def _load(self, team: str, now: float) -> TeamState | None:
        # An unchanged team comes back as the same object (PostgresStore holds the
        # states it loaded, by revision), so what is derived from it survives a reload.
        state = await self._store.load_team(team)
        # Still the team's current load: no write went through since it started
        # (a write forgets the load in flight, see _written).
        if self._loading.get(team) is asyncio.current_task():
            self._keep(team, _Entry(state, now + self._ttl, entry_size(team, state)), now)
        return state

    def _keep(self, team: str, entry: _Entry, now: float) -> None:
        self._drop(team)
        if entry.size > self._max_bytes:
            return
        self._entries[team] = entry
        self._bytes += entry.size
        # Expired entries first, then the oldest, until both bounds hold.  Ends:
        # each pass drops one entry, and the one just stored alone fits.
        while self._entries:
            oldest_team, oldest = next(iter(self._entries.items()))
            over = len(self._entries) > self._max_entries or self._bytes > self._max_bytes
            if not over and now < oldest.expires:
                break
            self._drop(oldest_team)

    def _drop(self, team: str) -> None:
        entry = self._entries.pop(team, None)
        if entry is not None:
            self._bytes -= entry.size

    def _forget(self, team: str, done: asyncio.Task[TeamState | None]) -> None:
        if self._loading.get(team) is done:
            del self._loading[team]

    def _written(self, team: str) -> None:
        self._drop(team)
        # A load already under way may predate the write: it will not store its
        # result, and later readers start afresh.
        self._loading.pop(team, None)

    async def _writing(self, team: str, write: Awaitable[T]) -> T:
        try:
            return await write
        finally:
            self._written(team)

    async def create_schedule(
        self, schedule: Schedule, *, now: datetime | None = None, by: Author | None = None
    ) -> Schedule:
        """See :meth:`oncall_core.Store.create_schedule`."""
        return await self._writing(
            schedule.team, self._store.create_schedule(schedule, now=now, by=by)
        )

    async def edit_schedule(
        self,
        schedule: Schedule,
        *,
        now: datetime,
        expected: int | None = None,
        by: Author | None = None,
    ) -> Schedule:
        """See :meth:`oncall_core.Store.edit_schedule`."""
        return await self._writing(
            schedule.team, self._store.edit_schedule(schedule, now=now, expected=expected, by=by)
        )

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
        """See :meth:`oncall_core.Store.delete_schedule`."""
        return await self._writing(
            team,
            self._store.delete_schedule(
                team, name, now=now, effective=effective, expected=expected, by=by
            ),
        )

    async def append_rotation_change(
        self, team: str, change: RotationChange, *, by: Author | None = None
    ) -> RotationChange:
        """See :meth:`oncall_core.Store.append_rotation_change`."""
        return await self._writing(team, self._store.append_rotation_change(team, change, by=by))

    async def add_override(
        self,
        team: str,
        override: Override,
        *,
        now: datetime | None = None,
        by: Author | None = None,
    ) -> Override:
        """See :meth:`oncall_core.Store.add_override`."""
        return await self._writing(team, self._store.add_override(team, override, now=now, by=by))

    async def add_overrides(
        self,
        team: str,
        overrides: Sequence[Override],
        *,
        now: datetime | None = None,
        by: Author | None = None,
    ) -> tuple[Override, ...]:
        """See :meth:`oncall_core.Store.add_overrides`."""
        return await self._writing(team, self._store.add_overrides(team, overrides, now=now, by=by))

    async def delete_override(
        self,
        team: str,
        override_id: int,
        *,
        now: datetime | None = None,
        by: Author | None = None,
    ) -> Override | None:
        """See :meth:`oncall_core.Store.delete_override`."""
        return await self._writing(
            team, self._store.delete_override(team, override_id, now=now, by=by)
        )

    async def list_overrides(
        self, team: str, *, start: datetime | None = None, end: datetime | None = None
    ) -> tuple[Override, ...]:
        """See :meth:`oncall_core.Store.list_overrides` (not cached)."""
        return await self._store.list_overrides(team, start=start, end=end)

    async def list_audit(
        self, team: str | None, *, before: int | None = None, limit: int | None = None
    ) -> tuple[AuditEntry, ...]:
        """See :meth:`oncall_core.Store.list_audit` (not cached)."""
        return await self._store.list_audit(team, before=before, limit=limit)

    async def teams_of_member(self, member: str) -> tuple[str, ...]:
        """See :meth:`oncall_core.Store.teams_of_member` (not cached)."""
        return await self._store.teams_of_member(member)

    async def load_teams(self, teams: Sequence[str]) -> dict[str, TeamState]:
        """See :meth:`oncall_core.Store.load_teams`: fresh entries from the cache, the
        others in one call to the store (not cached: only :meth:`load_team` keeps the
        rules that stop a load overtaken by a write from being stored)."""
        now = self._clock()
        found: dict[str, TeamState] = {}
        missing = []
        for team in teams:
            entry = self._entries.get(team)
            if entry is not None and now < entry.expires:
                self.hits += 1
                if entry.state is not None:
                    found[team] = entry.state
            else:
                self.misses += 1
                missing.append(team)
        if missing:
            found.update(await self._store.load_teams(missing))
        return {team: found[team] for team in teams if team in found}

    async def list_teams(
        self, *, at: datetime, after: str | None = None, limit: int | None = None
    ) -> tuple[TeamSummary, ...]:
        """See :meth:`oncall_core.Store.list_teams` (not cached)."""
        return await self._store.list_teams(at=at, after=after, limit=limit)

    async def ping(self) -> None:
        """See :meth:`oncall_core.Store.ping` (always asks the store)."""
        await self._store.ping()

    async def close(self) -> None:
        """Close the wrapped store."""
        await self._store.close()
