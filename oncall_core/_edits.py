"""What a write of a schedule version means: the rules every store applies to one.

A store calls these with the team's current state (read under its lock) and
the caller's "now", appends what they return, and builds the next
:class:`TeamState` before committing (which checks the rest).  They hold the
rules of writing, so that both stores, and every client of them, keep the same
ones:

- **The past is read-only.**  An edit, deletion or rotation change takes effect
  now or later; one asked for earlier than a minute ago is refused
  (:class:`PastIsReadOnly`), and one less than a minute old is taken as now,
  since clients' clocks drift.
- A schedule's *first* version may take effect at any instant, or from the
  beginning of time (the seed service's behaviour); re-creating a deleted name
  takes effect from the re-creation on.
- A write with an expected revision (the HTTP API's ``If-Match``) fails with
  :class:`PreconditionFailed` when the schedule's revision is another.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs

from ._errors import (
    Conflict,
    NotFound,
    PastIsReadOnly,
    PreconditionFailed,
    ScheduleExists,
    ValidationError,
    override_not_found,
    schedule_not_found,
    team_not_found,
)
from ._model import Deletion, Override, RotationChange, Schedule, TeamState
from ._time import supported_instant, to_datetime
from ._wire import format_instant

CLOCK_DRIFT = timedelta(minutes=1)
"""How far in the past a change may ask to take effect and be taken as "now"."""


def effective_from(requested: datetime | None, now: datetime, field: str = "effective") -> datetime:
    """The instant a change asked for at ``requested`` (None: now) takes effect.

    Raises :class:`PastIsReadOnly` (naming ``field``) for an instant more than
    :data:`CLOCK_DRIFT` before ``now``.
    """
    current = to_datetime(supported_instant(now, "now"))
    if requested is None:
        return current
    moment = to_datetime(supported_instant(requested, field))
    if moment < current - CLOCK_DRIFT:
        raise PastIsReadOnly(
            f"{field} {format_instant(moment)} is in the past: the past is read-only",
            field=field,
        )
    return max(moment, current)


def creation(state: TeamState | None, schedule: Schedule, now: datetime | None) -> Schedule:
    """The version a create of ``schedule`` appends.

    A new name keeps the ``effective`` it was given (None: the beginning of
    time).  A deleted name is re-created from ``effective`` or ``now``, which
    must be after its deletion.  Raises :class:`ScheduleExists` when the name is
    not deleted.
    """
    history = state.history(schedule.name) if state is not None else ()
    if not history:
        return schedule
    last = history[-1]
    if isinstance(last, Schedule):
        raise ScheduleExists(schedule.team, schedule.name)
    if now is None:
        if schedule.effective is None:
            raise ValidationError(
                f"schedule {schedule.name!r} was deleted: re-creating it needs an effective",
                field="effective",
            )
        effective = schedule.effective
    else:
        effective = effective_from(schedule.effective, now)
    if effective <= last.effective:
        raise Conflict(
            f"schedule {schedule.name!r} ends at {format_instant(last.effective)}: "
            "re-create it from then on"
        )
    return attrs.evolve(schedule, effective=effective)


def edit(
    state: TeamState | None, schedule: Schedule, now: datetime, expected: int | None = None
) -> Schedule:
    """The version an edit appends: ``schedule`` from its ``effective`` (None: now) on.

    Raises :class:`PreconditionFailed` for a revision other than ``expected``,
    :class:`PastIsReadOnly`, and :class:`NotFound` when the schedule is not in
    force at that instant.
    """
    check_revision(state, schedule.team, schedule.name, expected)
    effective = effective_from(schedule.effective, now)
    _in_force(state, schedule.team, schedule.name, effective)
    _check_free(state, schedule.name, effective)
    return attrs.evolve(schedule, effective=effective)


def deletion(
    state: TeamState | None,
    team: str,
    name: str,
    *,
    now: datetime,
    effective: datetime | None = None,
    expected: int | None = None,
) -> Deletion:
    """The deletion that ends ``name`` at ``effective`` (None: now).

    Raises :class:`PreconditionFailed`, :class:`PastIsReadOnly`,
    :class:`NotFound` when the schedule is not in force then, and
    :class:`Conflict` when a later version is already scheduled (the deletion
    would end the schedule only until then) or a rotation change is scheduled
    at or after it (it would change a schedule that no longer exists).
    """
    check_revision(state, team, name, expected)
    moment = effective_from(effective, now)
    _in_force(state, team, name, moment)
    _check_free(state, name, moment)
    assert state is not None  # _in_force found the schedule
    later = [v.effective for v in state.history(name) if v.effective and v.effective > moment]
    if later:
        raise Conflict(
            f"schedule {name!r} has a version taking effect at {format_instant(later[0])}: "
            "delete it at or after then"
        )
    rotations = sorted(
        c.effective for c in state.changes if c.schedule == name and c.effective >= moment
    )
    if rotations:
        raise Conflict(
            f"schedule {name!r} has a rotation change at {format_instant(rotations[-1])}: "
            "delete it after then"
        )
    return Deletion(schedule=name, effective=moment)


def rotation_change(
    state: TeamState | None,
    team: str,
    name: str,
    *,
    now: datetime,
    at: datetime | None = None,
    to: str | None = None,
) -> RotationChange:
    """The rotation change that advances ``name`` at ``at`` (None: now), or hands the
    turn in progress then to member ``to`` (its first place in the member list of
    the version in force then).

    Raises :class:`PastIsReadOnly`, :class:`NotFound` when the schedule is not in
    force then, and :class:`ValidationError` (field ``to``) for a member the
    schedule does not have.
    """
    moment = effective_from(at, now, "at")
    schedule = _in_force(state, team, name, moment)
    position = None
    if to is not None:
        if to not in schedule.members:
            raise ValidationError(f"{to!r} is not a member of schedule {name!r}", field="to")
        position = schedule.members.index(to)
    return RotationChange(schedule=name, effective=moment, position=position)


def check_new_override(override: Override) -> None:
    """Raise :class:`ValidationError` when an override to add already has an id."""
    if override.id is not None:
        raise ValidationError("a new override must not have an id", field="id")


def override_creation(
    state: TeamState | None, team: str, override: Override, now: datetime | None
) -> Override:
    """The override an add of ``override`` stores.

    With ``now`` it starts now or later: a start less than :data:`CLOCK_DRIFT` ago
    is taken as now; an earlier one is refused (:class:`PastIsReadOnly`, field
    ``start``), as is an end that is not after the start it then has.  Without
    ``now`` it is stored as it is.  Either way, raises :class:`ValidationError`
    for an override that already has an id, and :class:`NotFound` for an
    unknown team or a schedule the team never had.
    """
    check_new_override(override)
    if state is None:
        raise team_not_found(team)
    if override.schedule is not None and not state.history(override.schedule):
        raise schedule_not_found(team, override.schedule)
    if now is None:
        return override
    start = effective_from(override.start, now, "start")
    if override.end <= start:
        raise ValidationError("override end must be after its start (now)", field="end")
    return attrs.evolve(override, start=start)


def override_removal(
    state: TeamState | None, team: str, override_id: int, now: datetime | None
) -> Override | None:
    """What a delete of an override leaves: None when it goes, the override ending
    ``now`` when it is under way.

    Without ``now`` every override goes.  With it the past is read-only: one that
    has not started goes, one under way ends now, and one that has ended is a
    :class:`Conflict`.  Raises :class:`NotFound` for an unknown id.
    """
    found = next((o for o in state.overrides if o.id == override_id), None) if state else None
    if found is None:
        raise override_not_found(team, override_id)
    if now is None:
        return None
    current = to_datetime(supported_instant(now, "now"))
    if found.end <= current:
        raise Conflict(
            f"override {override_id} ended at {format_instant(found.end)}: the past is read-only"
        )
    if found.start >= current:
        return None
    return attrs.evolve(found, end=current)


def check_revision(state: TeamState | None, team: str, name: str, expected: int | None) -> None:
    """Raise :class:`PreconditionFailed` when ``expected`` is given and is not the
    schedule's revision (:meth:`TeamState.revision`)."""
    if expected is None:
        return
    actual = state.revision(name) if state is not None else 0
    if actual != expected:
        raise PreconditionFailed(team, name, expected, actual)


def _check_free(state: TeamState | None, name: str, at: datetime) -> None:
    """Raise :class:`Conflict` when the schedule already has a version or deletion at ``at``
    (two writes within one microsecond, or one aimed at a scheduled change's instant)."""
    if state is not None and any(v.effective == at for v in state.history(name)):
        raise Conflict(
            f"schedule {name!r} already changes at {format_instant(at)}: "
            "choose another instant, or write after it"
        )


def _in_force(state: TeamState | None, team: str, name: str, at: datetime) -> Schedule:
    schedule = state.schedule_at(name, at) if state is not None else None
    if schedule is None:
        raise NotFound(
            f"team {team!r} has no schedule named {name!r} in force at {format_instant(at)}",
            team=team,
            name=name,
        )
    return schedule
