"""What a store implementer needs: the storage protocol, its errors, and a reference store.

Two implementations honour :class:`Store`: :class:`MemoryStore` here (pure, for
tests, library users and ``ONCALL_USE_DATABASE=false``) and
``oncall_pg.PostgresStore``.  One contract test suite runs against both, so they
cannot drift.

Rules every store keeps (and the contract suite checks):

- Schedules of a team keep their creation order; replacing one keeps its place.
- Rotation history is append-only: nothing rewrites or drops a change, except
  deleting its schedule.
- Overrides are kept in creation order and get an ``id`` from the store.
- A call that raises changes nothing.
- Every rule about what may be stored is the model's: a store builds the
  :class:`TeamState` a write would produce *before* committing it, so a write
  the model refuses (a rotation position beyond the members, a replace below a
  stored position) raises :class:`ValidationError` and stores nothing.
"""

from __future__ import annotations

from typing import Protocol

import attrs

from ._errors import NotFound, ScheduleExists, ValidationError
from ._model import Override, RotationChange, Schedule, TeamState


class Store(Protocol):
    """Storage of teams, schedules, rotation history and overrides."""

    async def create_schedule(self, schedule: Schedule) -> Schedule:
        """Store a new schedule (its team is created on first use).

        Raises :class:`ScheduleExists` when the team has a schedule of that name.
        """
        ...

    async def get_schedule(self, team: str, name: str) -> Schedule:
        """One schedule; :class:`NotFound` if the team has none of that name."""
        ...

    async def list_schedules(self, team: str) -> tuple[Schedule, ...]:
        """A team's schedules in creation order (empty for an unknown team)."""
        ...

    async def replace_schedule(self, schedule: Schedule) -> Schedule:
        """Replace the schedule of the same team and name, keeping its place and history.

        Raises :class:`NotFound` when there is no such schedule, and
        :class:`ValidationError` when the stored rotation history sets a position
        the new member list does not have.
        """
        ...

    async def delete_schedule(self, team: str, name: str) -> None:
        """Delete a schedule with its rotation history and the overrides limited to it.

        Raises :class:`NotFound` when there is no such schedule.
        """
        ...

    async def list_teams(self) -> tuple[str, ...]:
        """The names of all teams, sorted."""
        ...

    async def append_rotation_change(self, team: str, change: RotationChange) -> RotationChange:
        """Append to a schedule's rotation history.

        Raises :class:`NotFound` for an unknown schedule and :class:`ValidationError`
        for a position outside the schedule's members.
        """
        ...

    async def add_override(self, team: str, override: Override) -> Override:
        """Store an override and return it with its ``id``.

        Raises :class:`NotFound` for an unknown team or schedule.
        """
        ...

    async def list_overrides(self, team: str) -> tuple[Override, ...]:
        """A team's overrides in creation order."""
        ...

    async def delete_override(self, team: str, override_id: int) -> None:
        """Delete one override; :class:`NotFound` if the team has none with that id."""
        ...

    async def load_team(self, team: str) -> TeamState | None:
        """Everything needed to resolve the team, in one call; None for an unknown team."""
        ...

    async def ping(self) -> None:
        """Check that the store can serve requests; :class:`StorageUnavailable` if not."""
        ...

    async def close(self) -> None:
        """Release the store's resources."""
        ...


def check_new_override(override: Override) -> None:
    """Raise :class:`ValidationError` when an override to add already has an id."""
    if override.id is not None:
        raise ValidationError("a new override must not have an id", field="id")


def schedule_not_found(team: str, name: str) -> NotFound:
    """The error for a schedule that does not exist."""
    return NotFound(f"team {team!r} has no schedule named {name!r}", team=team, name=name)


def team_not_found(team: str) -> NotFound:
    """The error for a team that does not exist."""
    return NotFound(f"no team named {team!r}", team=team)


def override_not_found(team: str, override_id: int) -> NotFound:
    """The error for an override that does not exist."""
    return NotFound(f"team {team!r} has no override {override_id}", team=team)


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
    and only then keeps it, so a refused write changes nothing.
    """

    def __init__(self) -> None:
        self._teams: dict[str, _Team] = {}
        self._last_override_id = 0

    def _state(self, team: str) -> TeamState:
        record = self._teams.get(team)
        if record is None:
            raise team_not_found(team)
        return record.state

    def _schedule(self, team: str, name: str) -> tuple[TeamState, int]:
        record = self._teams.get(team)
        if record is not None:
            for index, schedule in enumerate(record.state.schedules):
                if schedule.name == name:
                    return record.state, index
        raise schedule_not_found(team, name)

    async def create_schedule(self, schedule: Schedule) -> Schedule:
        """See :meth:`Store.create_schedule`."""
        record = self._teams.get(schedule.team)
        state = record.state if record is not None else TeamState(team=schedule.team)
        if any(s.name == schedule.name for s in state.schedules):
            raise ScheduleExists(schedule.team, schedule.name)
        self._keep(attrs.evolve(state, schedules=(*state.schedules, schedule)))
        return schedule

    async def get_schedule(self, team: str, name: str) -> Schedule:
        """See :meth:`Store.get_schedule`."""
        state, index = self._schedule(team, name)
        return state.schedules[index]

    async def list_schedules(self, team: str) -> tuple[Schedule, ...]:
        """See :meth:`Store.list_schedules`."""
        record = self._teams.get(team)
        return record.state.schedules if record is not None else ()

    async def replace_schedule(self, schedule: Schedule) -> Schedule:
        """See :meth:`Store.replace_schedule`."""
        state, index = self._schedule(schedule.team, schedule.name)
        schedules = list(state.schedules)
        schedules[index] = schedule
        self._keep(attrs.evolve(state, schedules=schedules))
        return schedule

    async def delete_schedule(self, team: str, name: str) -> None:
        """See :meth:`Store.delete_schedule`."""
        state, index = self._schedule(team, name)
        self._keep(
            attrs.evolve(
                state,
                schedules=state.schedules[:index] + state.schedules[index + 1 :],
                changes=[c for c in state.changes if c.schedule != name],
                overrides=[o for o in state.overrides if o.schedule != name],
            )
        )

    async def list_teams(self) -> tuple[str, ...]:
        """See :meth:`Store.list_teams`."""
        return tuple(sorted(self._teams))

    async def append_rotation_change(self, team: str, change: RotationChange) -> RotationChange:
        """See :meth:`Store.append_rotation_change`."""
        state, _ = self._schedule(team, change.schedule)
        self._keep(attrs.evolve(state, changes=(*state.changes, change)))
        return change

    async def add_override(self, team: str, override: Override) -> Override:
        """See :meth:`Store.add_override`."""
        check_new_override(override)
        state = self._state(team)
        if override.schedule is not None:
            self._schedule(team, override.schedule)
        stored = attrs.evolve(override, id=self._last_override_id + 1)
        self._keep(attrs.evolve(state, overrides=(*state.overrides, stored)))
        self._last_override_id += 1
        return stored

    async def list_overrides(self, team: str) -> tuple[Override, ...]:
        """See :meth:`Store.list_overrides`."""
        record = self._teams.get(team)
        return record.state.overrides if record is not None else ()

    async def delete_override(self, team: str, override_id: int) -> None:
        """See :meth:`Store.delete_override`."""
        record = self._teams.get(team)
        state = record.state if record is not None else TeamState(team=team)
        kept = [o for o in state.overrides if o.id != override_id]
        if len(kept) == len(state.overrides):
            raise override_not_found(team, override_id)
        self._keep(attrs.evolve(state, overrides=kept))

    async def load_team(self, team: str) -> TeamState | None:
        """See :meth:`Store.load_team`."""
        record = self._teams.get(team)
        return record.state if record is not None else None

    async def ping(self) -> None:
        """Always ready: the data is in this process."""

    async def close(self) -> None:
        """Nothing to release."""

    def _keep(self, state: TeamState) -> None:
        """Keep a team's next state (already validated: it was built)."""
        self._teams[state.team] = _Team(state)
