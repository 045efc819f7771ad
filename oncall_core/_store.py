"""The storage protocol: what the server needs from a store, as types only.

Two implementations honour it: :class:`MemoryStore` here (pure, for tests,
library users and ``ONCALL_USE_DATABASE=false``) and ``oncall_pg.PostgresStore``.
One contract test suite runs against both, so they cannot drift.

Rules every store keeps (and the contract suite checks):

- Schedules of a team keep their creation order; replacing one keeps its place.
- Rotation history is append-only: nothing rewrites or drops a change, except
  deleting its schedule.
- Overrides are kept in creation order and get an ``id`` from the store.
- A call that raises changes nothing.
"""

from __future__ import annotations

from typing import Protocol

from ._errors import NotFound, ValidationError
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

        Raises :class:`NotFound` when there is no such schedule.
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


def check_rotation_change(members: int, change: RotationChange) -> None:
    """Raise :class:`ValidationError` unless ``change`` fits a schedule of ``members`` members."""
    if change.position is not None and change.position >= members:
        raise ValidationError(
            f"position must be below the number of members ({members})", field="position"
        )


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
