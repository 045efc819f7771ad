"""An in-memory :class:`Store` with the full semantics (not the seed's "first member" shortcut).

Every method completes without awaiting, so on one asyncio event loop each call
is atomic.  It is not meant to be shared between threads.  A team's
:class:`TeamState` is built once per change and handed out as the same object,
so the resolution cache (keyed on the state) keeps working between writes.
"""

from __future__ import annotations

import attrs

from ._errors import ScheduleExists
from ._model import Override, RotationChange, Schedule, TeamState
from ._store import (
    check_new_override,
    check_rotation_change,
    override_not_found,
    schedule_not_found,
    team_not_found,
)


@attrs.define
class _Team:
    schedules: list[Schedule] = attrs.Factory(list)
    changes: list[RotationChange] = attrs.Factory(list)
    overrides: list[Override] = attrs.Factory(list)
    state: TeamState | None = None  # built on demand, dropped on every write


class MemoryStore:
    """A :class:`Store` that keeps everything in this process's memory."""

    def __init__(self) -> None:
        self._teams: dict[str, _Team] = {}
        self._last_override_id = 0

    def _schedule_index(self, team: str, name: str) -> tuple[_Team, int]:
        record = self._teams.get(team)
        if record is not None:
            for index, schedule in enumerate(record.schedules):
                if schedule.name == name:
                    return record, index
        raise schedule_not_found(team, name)

    @staticmethod
    def _changed(record: _Team) -> None:
        record.state = None

    async def create_schedule(self, schedule: Schedule) -> Schedule:
        """See :meth:`Store.create_schedule`."""
        record = self._teams.get(schedule.team)
        if record is not None and any(s.name == schedule.name for s in record.schedules):
            raise ScheduleExists(schedule.team, schedule.name)
        record = self._teams.setdefault(schedule.team, _Team())
        record.schedules.append(schedule)
        self._changed(record)
        return schedule

    async def get_schedule(self, team: str, name: str) -> Schedule:
        """See :meth:`Store.get_schedule`."""
        record, index = self._schedule_index(team, name)
        return record.schedules[index]

    async def list_schedules(self, team: str) -> tuple[Schedule, ...]:
        """See :meth:`Store.list_schedules`."""
        record = self._teams.get(team)
        return tuple(record.schedules) if record is not None else ()

    async def replace_schedule(self, schedule: Schedule) -> Schedule:
        """See :meth:`Store.replace_schedule`."""
        record, index = self._schedule_index(schedule.team, schedule.name)
        record.schedules[index] = schedule
        self._changed(record)
        return schedule

    async def delete_schedule(self, team: str, name: str) -> None:
        """See :meth:`Store.delete_schedule`."""
        record, index = self._schedule_index(team, name)
        del record.schedules[index]
        record.changes = [c for c in record.changes if c.schedule != name]
        record.overrides = [o for o in record.overrides if o.schedule != name]
        self._changed(record)

    async def list_teams(self) -> tuple[str, ...]:
        """See :meth:`Store.list_teams`."""
        return tuple(sorted(self._teams))

    async def append_rotation_change(self, team: str, change: RotationChange) -> RotationChange:
        """See :meth:`Store.append_rotation_change`."""
        record, index = self._schedule_index(team, change.schedule)
        check_rotation_change(len(record.schedules[index].members), change)
        record.changes.append(change)
        self._changed(record)
        return change

    async def add_override(self, team: str, override: Override) -> Override:
        """See :meth:`Store.add_override`."""
        check_new_override(override)
        record = self._teams.get(team)
        if record is None:
            raise team_not_found(team)
        if override.schedule is not None:
            self._schedule_index(team, override.schedule)
        self._last_override_id += 1
        stored = attrs.evolve(override, id=self._last_override_id)
        record.overrides.append(stored)
        self._changed(record)
        return stored

    async def list_overrides(self, team: str) -> tuple[Override, ...]:
        """See :meth:`Store.list_overrides`."""
        record = self._teams.get(team)
        return tuple(record.overrides) if record is not None else ()

    async def delete_override(self, team: str, override_id: int) -> None:
        """See :meth:`Store.delete_override`."""
        record = self._teams.get(team)
        kept = [o for o in record.overrides if o.id != override_id] if record else []
        if record is None or len(kept) == len(record.overrides):
            raise override_not_found(team, override_id)
        record.overrides = kept
        self._changed(record)

    async def load_team(self, team: str) -> TeamState | None:
        """See :meth:`Store.load_team`."""
        record = self._teams.get(team)
        if record is None:
            return None
        if record.state is None:
            record.state = TeamState(
                team=team,
                schedules=record.schedules,
                changes=record.changes,
                overrides=record.overrides,
            )
        return record.state

    async def ping(self) -> None:
        """Always ready: the data is in this process."""

    async def close(self) -> None:
        """Nothing to release."""
