"""A short-lived cache of team states in front of a shared store.

Why: answering ``GET /schedule`` from PostgreSQL costs a round trip and a model
build per request; most requests ask about the same few teams again and again.

The rules that keep it correct with several replicas on one database:

- An entry lives at most ``ttl`` seconds (at most 1): a write made through
  another replica is seen within that time.
- A write through this replica drops the team's entry before returning, so a
  replica always reads its own writes.
- A load that was in flight while a write went through is not cached: every
  write bumps the team's generation, and a load stores its result only if the
  generation it started under is still current.
- Concurrent misses for one team share one load (when an entry expires under
  load, one query refreshes it, not one per request in flight); a reader that
  comes after a write never joins a load that started before it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import attrs

from oncall_core import Override, RotationChange, Schedule, Store, TeamState

T = TypeVar("T")
MAX_TTL = 1.0


@attrs.define
class _Entry:
    state: TeamState | None
    expires: float


class CachedStore:
    """A :class:`oncall_core.Store` that caches ``load_team`` for ``ttl`` seconds."""

    def __init__(
        self, store: Store, *, ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Wrap ``store``; ``0 < ttl <= 1`` seconds."""
        if not 0 < ttl <= MAX_TTL:
            raise ValueError(f"ttl must be above 0 and at most {MAX_TTL} seconds")
        self._store = store
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._generations: dict[str, int] = {}
        self._loading: dict[str, asyncio.Future[TeamState | None]] = {}

    async def load_team(self, team: str) -> TeamState | None:
        """The team's state, from the cache when fresh; concurrent misses share one load."""
        now = self._clock()
        entry = self._entries.get(team)
        if entry is not None and now < entry.expires:
            return entry.state
        loading = self._loading.get(team)
        if loading is None:
            loading = asyncio.ensure_future(self._load(team, now))
            self._loading[team] = loading
            loading.add_done_callback(lambda done: self._forget(team, done))
        # Shielded: a caller that goes away does not cancel the others' load.
        return await asyncio.shield(loading)

    async def _load(self, team: str, now: float) -> TeamState | None:
        generation = self._generations.get(team, 0)
        state = await self._store.load_team(team)
        if self._generations.get(team, 0) == generation:
            self._entries[team] = _Entry(state, now + self._ttl)
        return state

    def _forget(self, team: str, done: asyncio.Future[TeamState | None]) -> None:
        if self._loading.get(team) is done:
            del self._loading[team]

    def _written(self, team: str) -> None:
        self._generations[team] = self._generations.get(team, 0) + 1
        self._entries.pop(team, None)
        # A load already under way may predate the write: later readers start afresh.
        self._loading.pop(team, None)

    async def _writing(self, team: str, write: Awaitable[T]) -> T:
        try:
            return await write
        finally:
            self._written(team)

    async def create_schedule(self, schedule: Schedule) -> Schedule:
        """See :meth:`oncall_core.Store.create_schedule`."""
        return await self._writing(schedule.team, self._store.create_schedule(schedule))

    async def replace_schedule(self, schedule: Schedule) -> Schedule:
        """See :meth:`oncall_core.Store.replace_schedule`."""
        return await self._writing(schedule.team, self._store.replace_schedule(schedule))

    async def delete_schedule(self, team: str, name: str) -> None:
        """See :meth:`oncall_core.Store.delete_schedule`."""
        await self._writing(team, self._store.delete_schedule(team, name))

    async def append_rotation_change(self, team: str, change: RotationChange) -> RotationChange:
        """See :meth:`oncall_core.Store.append_rotation_change`."""
        return await self._writing(team, self._store.append_rotation_change(team, change))

    async def add_override(self, team: str, override: Override) -> Override:
        """See :meth:`oncall_core.Store.add_override`."""
        return await self._writing(team, self._store.add_override(team, override))

    async def delete_override(self, team: str, override_id: int) -> None:
        """See :meth:`oncall_core.Store.delete_override`."""
        await self._writing(team, self._store.delete_override(team, override_id))

    async def get_schedule(self, team: str, name: str) -> Schedule:
        """See :meth:`oncall_core.Store.get_schedule` (not cached)."""
        return await self._store.get_schedule(team, name)

    async def list_schedules(self, team: str) -> tuple[Schedule, ...]:
        """See :meth:`oncall_core.Store.list_schedules` (not cached)."""
        return await self._store.list_schedules(team)

    async def list_overrides(self, team: str) -> tuple[Override, ...]:
        """See :meth:`oncall_core.Store.list_overrides` (not cached)."""
        return await self._store.list_overrides(team)

    async def list_teams(self) -> tuple[str, ...]:
        """See :meth:`oncall_core.Store.list_teams` (not cached)."""
        return await self._store.list_teams()

    async def ping(self) -> None:
        """See :meth:`oncall_core.Store.ping` (always asks the store)."""
        await self._store.ping()

    async def close(self) -> None:
        """Close the wrapped store."""
        await self._store.close()
