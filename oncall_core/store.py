"""What a store implementer needs: the storage protocol, its errors, and a reference store.

Two implementations honour :class:`Store`: :class:`MemoryStore` here (pure, for
tests, library users and ``ONCALL_USE_DATABASE=false``) and
``oncall_pg.PostgresStore``.  One contract test suite runs against both, so they
cannot drift.

Rules every store keeps (and the contract suite checks):

- Everything is append-only: a schedule's versions and deletions, its rotation
  history (nothing rewrites or drops a past entry); overrides are the one
  thing that may be deleted.
- A write of a version applies the rules of :mod:`oncall_core._edits` (the
  past is read-only; If-Match revisions) to the state it locked.
- Overrides are kept in creation order and get an ``id`` from the store.
- A call that raises changes nothing.
- A write given an :class:`Author` (``by=``) keeps its audit entries
  (:mod:`oncall_core._audit`'s rules) with its change, atomically; entries are
  append-only and get increasing ids.
- Every rule about what may be stored is the model's: a store builds the
  :class:`TeamState` a write would produce *before* committing it, so a write
  the model refuses (a rotation position beyond the members, an edit below a
  position the stored history sets) raises :class:`ValidationError` and stores nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import attrs

from ._audit import (
    AuditEntry,
    Author,
    deletion_entries,
    override_deletion_entries,
    override_entries,
    rotation_entries,
    version_entries,
)
from ._edits import (
    CLOCK_DRIFT,
    check_new_override,
    check_revision,
    creation,
    deletion,
    edit,
    effective_from,
    override_creation,
    override_removal,
    rotation_change,
)
from ._errors import (
    ValidationError,
    override_not_found,
    schedule_not_found,
    team_not_found,
)
from ._model import Deletion, Override, RotationChange, Schedule, TeamState
from ._stored import trusted_team_state

__all__ = [
    "CLOCK_DRIFT",
    "AuditEntry",
    "Author",
    "MemoryStore",
    "Store",
    "TeamSummary",
    "check_limit",
    "check_new_override",
    "check_revision",
    "creation",
    "deletion",
    "deletion_entries",
    "edit",
    "effective_from",
    "override_creation",
    "override_deletion_entries",
    "override_entries",
    "override_not_found",
    "override_removal",
    "rotation_change",
    "rotation_entries",
    "schedule_not_found",
    "team_not_found",
    "trusted_team_state",
    "version_entries",
]


@attrs.frozen
class TeamSummary:
    """A team and how many schedules it has in force at the instant asked about."""

    team: str
    schedules: int


class Store(Protocol):
    """Storage of teams, schedule versions, rotation history and overrides.

    Writes of versions take the caller's ``now`` (a store reads no clock) and
    apply the rules of :mod:`oncall_core.store`'s write helpers
    (:func:`creation`, :func:`edit`, :func:`deletion`) to the state they lock.
    """

    async def create_schedule(
        self, schedule: Schedule, *, now: datetime | None = None, by: Author | None = None
    ) -> Schedule:
        """Store the first version of a schedule (its team is created on first use), or
        re-create a deleted one; the version as stored.

        Raises :class:`ScheduleExists` when the team has a schedule of that name
        that is not deleted; see :func:`creation`.
        """
        ...

    async def edit_schedule(
        self,
        schedule: Schedule,
        *,
        now: datetime,
        expected: int | None = None,
        by: Author | None = None,
    ) -> Schedule:
        """Append a version of the schedule of the same team and name; the version as
        stored, in force from ``schedule.effective`` (None: ``now``).

        See :func:`edit` for the errors; :class:`ValidationError` also when the
        stored rotation history sets a position the new member list lacks.
        """
        ...

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
        """End a schedule at ``effective`` (None: ``now``); see :func:`deletion`."""
        ...

    async def list_teams(
        self, *, at: datetime, after: str | None = None, limit: int | None = None
    ) -> tuple[TeamSummary, ...]:
        """Teams sorted by name (those after ``after``, at most ``limit``), each with the
        number of its schedules in force at ``at``.

        Raises :class:`ValidationError` (field ``limit``) for a negative limit.
        """
        ...

    async def append_rotation_change(
        self, team: str, change: RotationChange, *, by: Author | None = None
    ) -> RotationChange:
        """Append to a schedule's rotation history.

        Raises :class:`NotFound` for an unknown schedule and :class:`ValidationError`
        when the schedule is not in force at the change's instant or the position
        is outside the members of the version in force then.
        """
        ...

    async def add_override(
        self,
        team: str,
        override: Override,
        *,
        now: datetime | None = None,
        by: Author | None = None,
    ) -> Override:
        """Store an override and return it with its ``id`` (see :meth:`add_overrides`)."""
        ...

    async def add_overrides(
        self,
        team: str,
        overrides: Sequence[Override],
        *,
        now: datetime | None = None,
        by: Author | None = None,
    ) -> tuple[Override, ...]:
        """Store overrides, all or none (a swap is two), in order; each with its ``id``.

        With ``now``, each starts now or later (:func:`override_creation`: a start
        less than a minute old is taken as now, an earlier one is refused).
        Raises :class:`NotFound` for an unknown team or schedule.
        """
        ...

    async def list_overrides(
        self, team: str, *, start: datetime | None = None, end: datetime | None = None
    ) -> tuple[Override, ...]:
        """A team's overrides in creation order; with ``start``/``end``, those that
        overlap [start, end)."""
        ...

    async def delete_override(
        self,
        team: str,
        override_id: int,
        *,
        now: datetime | None = None,
        by: Author | None = None,
    ) -> Override | None:
        """Delete one override; :class:`NotFound` if the team has none with that id.

        With ``now`` the past is read-only (:func:`override_removal`): an override
        that has not started goes (None), one under way ends ``now`` (returned),
        one that has ended is a :class:`Conflict`.  Without ``now`` it goes.
        """
        ...

    async def list_audit(
        self, team: str | None, *, before: int | None = None, limit: int | None = None
    ) -> tuple[AuditEntry, ...]:
        """Audit entries, newest first: ``team``'s (None: every entry, key changes
        too), those with an id below ``before``, at most ``limit``.

        Raises :class:`ValidationError` (field ``limit``) for a negative limit.
        """
        ...

    async def teams_of_member(self, member: str) -> tuple[str, ...]:
        """The teams, sorted, whose schedules (any version) or overrides name ``member``."""
        ...

    async def load_team(self, team: str) -> TeamState | None:
        """Everything needed to resolve the team, in one call; None for an unknown team."""
        ...

    async def load_teams(self, teams: Sequence[str]) -> dict[str, TeamState]:
        """Several teams at once (one round trip where it matters), by name; unknown
        teams are left out."""
        ...

    async def ping(self) -> None:
        """Check that the store can serve requests; :class:`StorageUnavailable` if not."""
        ...

    async def close(self) -> None:
        """Release the store's resources."""
        ...


def check_limit(limit: int | None) -> None:
    """Raise :class:`ValidationError` (field ``limit``) unless ``limit`` is None or an
    integer of at least 0."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValidationError("limit must be a non-negative integer", field="limit")


# The reference store.  Every method completes without awaiting, so on one
# asyncio event loop each call is atomic; it is not meant to be shared between
# threads.  A team's TeamState is built once per change and handed out as the same
# object, so the resolution cache (keyed on the state) keeps working between writes.


@attrs.define
class _Team:
    state: TeamState  # every write replaces it with the state the write produces


class MemoryStore:
    """A :class:`Store` that keeps everything in this process's memory.

    Each write builds the team's next :class:`TeamState` (which validates it)
    and only then keeps it, with its audit entries, so a refused write changes
    nothing.
    """

    def __init__(self) -> None:
        self._teams: dict[str, _Team] = {}
        self._last_override_id = 0
        self._audit: list[AuditEntry] = []  # in the order written: ids 1, 2, ...

    def _state(self, team: str) -> TeamState:
        record = self._teams.get(team)
        if record is None:
            raise team_not_found(team)
        return record.state

    def _named(self, team: str, name: str) -> TeamState:
        record = self._teams.get(team)
        if record is None or not record.state.history(name):
            raise schedule_not_found(team, name)
        return record.state

    async def create_schedule(
        self, schedule: Schedule, *, now: datetime | None = None, by: Author | None = None
    ) -> Schedule:
        """See :meth:`Store.create_schedule`."""
        record = self._teams.get(schedule.team)
        state = record.state if record is not None else TeamState(team=schedule.team)
        version = creation(state, schedule, now)
        entries = version_entries(by, version, created=True)
        self._keep(attrs.evolve(state, schedules=(*state.schedules, version)), entries)
        return version

    async def edit_schedule(
        self,
        schedule: Schedule,
        *,
        now: datetime,
        expected: int | None = None,
        by: Author | None = None,
    ) -> Schedule:
        """See :meth:`Store.edit_schedule`."""
        record = self._teams.get(schedule.team)
        state = record.state if record is not None else None
        version = edit(state, schedule, now, expected)
        assert state is not None  # edit found the schedule
        entries = version_entries(by, version, created=False)
        self._keep(attrs.evolve(state, schedules=(*state.schedules, version)), entries)
        return version

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
        """See :meth:`Store.delete_schedule`."""
        record = self._teams.get(team)
        state = record.state if record is not None else None
        ended = deletion(state, team, name, now=now, effective=effective, expected=expected)
        assert state is not None  # deletion found the schedule
        entries = deletion_entries(by, team, ended)
        self._keep(attrs.evolve(state, deletions=(*state.deletions, ended)), entries)
        return ended

    async def list_teams(
        self, *, at: datetime, after: str | None = None, limit: int | None = None
    ) -> tuple[TeamSummary, ...]:
        """See :meth:`Store.list_teams`."""
        check_limit(limit)
        names = sorted(name for name in self._teams if after is None or name > after)
        return tuple(
            TeamSummary(name, len(self._teams[name].state.in_force(at))) for name in names[:limit]
        )

    async def append_rotation_change(
        self, team: str, change: RotationChange, *, by: Author | None = None
    ) -> RotationChange:
        """See :meth:`Store.append_rotation_change`."""
        state = self._named(team, change.schedule)
        entries = rotation_entries(by, team, change)
        self._keep(attrs.evolve(state, changes=(*state.changes, change)), entries)
        return change

    async def add_override(
        self,
        team: str,
        override: Override,
        *,
        now: datetime | None = None,
        by: Author | None = None,
    ) -> Override:
        """See :meth:`Store.add_override`."""
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
        """See :meth:`Store.add_overrides`."""
        state = self._state(team)
        added = tuple(
            attrs.evolve(
                override_creation(state, team, override, now), id=self._last_override_id + n
            )
            for n, override in enumerate(overrides, start=1)
        )
        entries = override_entries(by, team, added)
        self._keep(attrs.evolve(state, overrides=(*state.overrides, *added)), entries)
        self._last_override_id += len(added)
        return added

    async def list_overrides(
        self, team: str, *, start: datetime | None = None, end: datetime | None = None
    ) -> tuple[Override, ...]:
        """See :meth:`Store.list_overrides`."""
        record = self._teams.get(team)
        found = record.state.overrides if record is not None else ()
        return tuple(
            o for o in found if (start is None or o.end > start) and (end is None or o.start < end)
        )

    async def delete_override(
        self,
        team: str,
        override_id: int,
        *,
        now: datetime | None = None,
        by: Author | None = None,
    ) -> Override | None:
        """See :meth:`Store.delete_override`."""
        record = self._teams.get(team)
        state = record.state if record is not None else None
        ended = override_removal(state, team, override_id, now)
        assert state is not None  # override_removal found the override in it
        (before,) = (o for o in state.overrides if o.id == override_id)
        entries = override_deletion_entries(by, team, before, ended)
        overrides = [ended if o.id == override_id else o for o in state.overrides]
        self._keep(attrs.evolve(state, overrides=[o for o in overrides if o is not None]), entries)
        return ended

    async def list_audit(
        self, team: str | None, *, before: int | None = None, limit: int | None = None
    ) -> tuple[AuditEntry, ...]:
        """See :meth:`Store.list_audit`."""
        check_limit(limit)
        newest_first = (
            entry
            for entry in reversed(self._audit)
            if (team is None or entry.team == team)
            and (before is None or (entry.id is not None and entry.id < before))
        )
        return tuple(itertools.islice(newest_first, limit))

    async def teams_of_member(self, member: str) -> tuple[str, ...]:
        """See :meth:`Store.teams_of_member`."""
        return tuple(
            sorted(
                name
                for name, record in self._teams.items()
                if any(member in s.members for s in record.state.schedules)
                or any(o.member == member for o in record.state.overrides)
            )
        )

    async def load_team(self, team: str) -> TeamState | None:
        """See :meth:`Store.load_team`."""
        record = self._teams.get(team)
        return record.state if record is not None else None

    async def load_teams(self, teams: Sequence[str]) -> dict[str, TeamState]:
        """See :meth:`Store.load_teams`."""
        return {team: self._teams[team].state for team in teams if team in self._teams}

    async def ping(self) -> None:
        """Always ready: the data is in this process."""

    async def close(self) -> None:
        """Nothing to release."""

    def _keep(self, state: TeamState, entries: Sequence[AuditEntry] = ()) -> None:
        """Keep a team's next state (already validated: it was built) and the audit
        entries of the write that made it, together."""
        self._teams[state.team] = _Team(state)
        first = len(self._audit) + 1
        self._audit.extend(attrs.evolve(e, id=first + n) for n, e in enumerate(entries))
