"""The model: frozen, validated data classes that know nothing of JSON, rows or clocks.

Each class validates itself when built, so a Schedule, Rotation, Override or
TeamState that exists is a valid one; the rules raise :class:`ValidationError`
naming the field (with the seed service's wording where it had one).
"""

from __future__ import annotations

import enum
import functools
import itertools
from collections.abc import Callable, Iterable
from datetime import datetime, time
from typing import TypeVar

import attrs

from ._errors import ValidationError
from ._text import MAX_REASON, clean_text
from ._time import supported_instant, to_datetime, zone_named

# The ranges of the integer fields: what every store holds (PostgreSQL's integer
# is 32-bit), and, for ``every``, what a schedule means (a rotation that hands
# off every 1001 weeks is a typo).
MIN_PRIORITY = -(2**31)
"""The lowest priority a schedule may have."""
MAX_PRIORITY = 2**31 - 1
"""The highest priority a schedule may have."""
MAX_EVERY = 1000
"""The most hours, days or weeks a periodic rotation may hand off every."""


class Weekday(enum.IntEnum):
    """A day of the week, numbered like :meth:`datetime.date.weekday` (Monday = 0)."""

    MONDAY = 0
    TUESDAY = 1
    WEDNESDAY = 2
    THURSDAY = 3
    FRIDAY = 4
    SATURDAY = 5
    SUNDAY = 6

    @property
    def title(self) -> str:
        """The English name as the seed service writes it: ``"Monday"``."""
        return self.name.capitalize()


class RotationKind(enum.Enum):
    """How a schedule hands off from one member to the next."""

    MANUAL = "manual"
    HOURLY = "hourly"
    DAILY = "daily"
    WEEKLY = "weekly"
    PER_SHIFT = "per_shift"

    @property
    def is_periodic(self) -> bool:
        """True for the kinds that hand off every N hours, days or weeks."""
        return self in (RotationKind.HOURLY, RotationKind.DAILY, RotationKind.WEEKLY)


class Source(enum.Enum):
    """Where an on-call answer comes from."""

    ROTATION = "rotation"
    OVERRIDE = "override"

    @staticmethod
    def of(override: Override | None) -> Source:
        """The source of an answer that the given override decided (None: the rotation)."""
        return Source.ROTATION if override is None else Source.OVERRIDE


def _in_utc(moment: object, field: str) -> datetime:
    """An aware datetime between 1900 and 2400, written in UTC.

    Python compares, orders and hashes two datetimes that share a tzinfo by
    their wall fields, ignoring ``fold``: the two 01:15s of a Chicago fall-back
    night would be "equal".  Every instant of the model is therefore normalized
    to UTC when the object is built (attrs converters call this), so that
    equality, hashing, ordering and every check compare instants, however the
    caller wrote them.
    """
    return to_datetime(supported_instant(moment, field))


# One named converter per field, so that the error names the field (and mypy's
# attrs plugin, which does not read lambdas' types, knows the argument types).
def _rotation_start(moment: datetime | None) -> datetime | None:
    return None if moment is None else _in_utc(moment, "rotation.start")


def _effective(moment: datetime) -> datetime:
    return _in_utc(moment, "effective")


def _optional_effective(moment: datetime | None) -> datetime | None:
    return None if moment is None else _effective(moment)


def _start(moment: datetime) -> datetime:
    return _in_utc(moment, "start")


def _end(moment: datetime) -> datetime:
    return _in_utc(moment, "end")


# One named converter per text field (see _text for the rule), so that errors name
# the field with the seed's message for a missing value.
def _team(value: str) -> str:
    return _path_segment(clean_text(value, "team", missing="team is required"), "team")


def _name(value: str) -> str:
    return _path_segment(clean_text(value, "name", missing="name is required"), "name")


def _path_segment(text: str, field: str) -> str:
    # A team and a schedule name are segments of the schedule's URL path; "." and
    # ".." are dot segments there, which clients remove before sending the request.
    if text in (".", ".."):
        raise ValidationError(f"{field} must not be '.' or '..'", field=field)
    return text


def _schedule_name(value: str) -> str:
    return clean_text(value, "schedule", missing="schedule is required")


def _optional_schedule_name(value: str | None) -> str | None:
    return None if value is None else _schedule_name(value)


def _member(value: str) -> str:
    return clean_text(value, "member", missing="member is required")


def _reason(value: str | None) -> str | None:
    return None if value is None else clean_text(value, "reason", limit=MAX_REASON)


def _timezone(value: str) -> str:
    return clean_text(value, "timezone")


def _to_members(members: Iterable[str]) -> tuple[str, ...]:
    if isinstance(members, str) or not isinstance(members, Iterable):
        raise ValidationError("members must be a list of strings", field="members")
    return tuple(
        clean_text(
            member, f"members[{index}]", missing=f"members[{index}] must be a non-empty string"
        )
        for index, member in enumerate(members)
    )


def _to_weekdays(days: Iterable[int]) -> frozenset[Weekday]:
    if isinstance(days, str) or not isinstance(days, Iterable):
        raise ValidationError("days must be a set of weekdays", field="days")
    weekdays = set()
    for day in days:
        try:
            weekdays.add(Weekday(day))
        except (ValueError, TypeError):
            raise ValidationError(f"invalid day: {day}", field="days") from None
    return frozenset(weekdays)


def _to_rotation_kind(kind: RotationKind | str) -> RotationKind:
    try:
        return RotationKind(kind)
    except (ValueError, TypeError):
        kinds = ", ".join(k.value for k in RotationKind)
        raise ValidationError(
            f"rotation.kind must be one of {kinds}", field="rotation.kind"
        ) from None


@attrs.frozen(kw_only=True)
class Rotation:
    """Which member of a schedule is on call during a covered instant.

    - ``MANUAL``: the member at the current position stays on call until a
      :class:`RotationChange` moves the position.
    - ``HOURLY`` / ``DAILY`` / ``WEEKLY``: the first member's turn begins at
      ``start``; every ``every`` hours, days or weeks of local wall time after
      it, the next member takes over (a Monday 09:00 handoff stays at 09:00
      across DST).  Before ``start`` the rotation runs backwards.
    - ``PER_SHIFT``: each occurrence of the schedule's window goes to the next
      member; the first occurrence starting at or after ``start`` (in local
      wall time) is the first member's.
    """

    kind: RotationKind = attrs.field(default=RotationKind.MANUAL, converter=_to_rotation_kind)
    every: int = attrs.field(default=1)
    start: datetime | None = attrs.field(default=None, converter=_rotation_start)

    @every.validator
    def _check_every(self, _attribute: object, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValidationError(
                "rotation.every must be a positive integer", field="rotation.every"
            )
        if value > MAX_EVERY:
            raise ValidationError(
                f"rotation.every must be at most {MAX_EVERY}", field="rotation.every"
            )
        if value != 1 and not self.kind.is_periodic:
            raise ValidationError(
                "rotation.every applies only to hourly, daily and weekly rotations",
                field="rotation.every",
            )

    def __attrs_post_init__(self) -> None:
        if self.kind is RotationKind.MANUAL and self.start is not None:
            raise ValidationError(
                "rotation.start does not apply to a manual rotation", field="rotation.start"
            )
        if self.kind is not RotationKind.MANUAL and self.start is None:
            raise ValidationError("rotation.start is required", field="rotation.start")


MANUAL = Rotation()


@attrs.frozen(kw_only=True)
class Schedule:
    """A named, recurring on-call window of a team and the members who rotate through it.

    On each day in ``days`` the schedule covers [start, end) of local wall time in
    ``timezone``; with ``overnight`` the window ends on the next day at ``end``
    (``end == start`` means 24 hours).  Several schedules of one team may overlap:
    the highest ``priority`` wins, ties going to the schedule created first.

    A Schedule is one *version* of the schedule named ``name``: it is in force
    from ``effective`` (None: from the beginning of time, which only a first
    version may be) until the team's next version or :class:`Deletion` of that
    name.  ``_versions`` explains how versions hand over to each other.
    """

    team: str = attrs.field(converter=_team)
    name: str = attrs.field(converter=_name)
    members: tuple[str, ...] = attrs.field(converter=_to_members)
    days: frozenset[Weekday] = attrs.field(converter=_to_weekdays)
    start: time
    end: time
    overnight: bool = False
    timezone: str = attrs.field(default="UTC", converter=_timezone)
    rotation: Rotation = MANUAL
    priority: int = 0
    effective: datetime | None = attrs.field(default=None, converter=_optional_effective)

    @members.validator
    def _check_members(self, _attribute: object, members: tuple[str, ...]) -> None:
        if not members:
            raise ValidationError("at least one member is required", field="members")

    @days.validator
    def _check_days(self, _attribute: object, days: frozenset[Weekday]) -> None:
        if not days:
            raise ValidationError("at least one day is required", field="days")

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.overnight, bool):
            raise ValidationError("overnight must be a boolean", field="overnight")
        for field in ("start", "end"):
            value = getattr(self, field)
            if not isinstance(value, time) or value.tzinfo is not None:
                raise ValidationError(f"{field} must be a local time of day", field=field)
        if not self.overnight and self.start >= self.end:
            raise ValidationError("start time must be before end time", field="end")
        if self.overnight and self.end > self.start:
            raise ValidationError(
                "end time must be at or before start time in an overnight schedule", field="end"
            )
        zone_named(self.timezone)
        if not isinstance(self.rotation, Rotation):
            raise ValidationError("rotation must be a Rotation", field="rotation")
        if isinstance(self.priority, bool) or not isinstance(self.priority, int):
            raise ValidationError("priority must be an integer", field="priority")
        if not MIN_PRIORITY <= self.priority <= MAX_PRIORITY:
            raise ValidationError(
                f"priority must be between {MIN_PRIORITY} and {MAX_PRIORITY}", field="priority"
            )


@attrs.frozen(kw_only=True)
class Deletion:
    """The end of a schedule: from ``effective`` on, the schedule named ``schedule`` is
    not in force (its answers before then stay as they were).

    A later version of the same name re-creates it, with a rotation of its own.
    """

    schedule: str = attrs.field(converter=_schedule_name)
    effective: datetime = attrs.field(converter=_effective)


Version = Schedule | Deletion
"""One entry of a schedule's history: a definition in force from its instant, or its end."""


def version_name(version: Version) -> str:
    """The name of the schedule a version belongs to."""
    return version.name if isinstance(version, Schedule) else version.schedule


@attrs.frozen(kw_only=True)
class RotationChange:
    """One entry of a schedule's append-only rotation history.

    From ``effective`` on, the schedule's position either advances by one member
    (``position=None``) or is set so that ``members[position]`` holds the turn in
    progress at ``effective`` (for ``per_shift``, the shift in progress or the
    next one).  Time-based rotations keep handing off from there.
    """

    schedule: str = attrs.field(converter=_schedule_name)
    effective: datetime = attrs.field(converter=_effective)
    position: int | None = attrs.field(default=None)

    @position.validator
    def _check_position(self, _attribute: object, value: int | None) -> None:
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            raise ValidationError("position must be a non-negative integer", field="position")


@attrs.frozen(kw_only=True)
class Override:
    """``member`` is on call over [start, end), replacing whoever the schedules give.

    A team-wide override (``schedule=None``) also fills time no schedule covers;
    one limited to a schedule applies only inside that schedule's windows.
    Between overlapping overrides, the one created later (later in
    :attr:`TeamState.overrides`) wins.  ``id`` is assigned by a store.
    """

    member: str = attrs.field(converter=_member)
    start: datetime = attrs.field(converter=_start)
    end: datetime = attrs.field(converter=_end)
    schedule: str | None = attrs.field(default=None, converter=_optional_schedule_name)
    reason: str | None = attrs.field(default=None, converter=_reason)
    id: int | None = None  # given by the store that keeps the override

    def __attrs_post_init__(self) -> None:
        if self.id is not None and (isinstance(self.id, bool) or not isinstance(self.id, int)):
            raise ValidationError("id must be an integer", field="id")
        if self.end <= self.start:
            raise ValidationError("override end must be after its start", field="end")


def _schedules(schedules: Iterable[Schedule]) -> tuple[Schedule, ...]:
    return tuple(schedules)


def _changes(changes: Iterable[RotationChange]) -> tuple[RotationChange, ...]:
    return tuple(changes)


def _overrides(overrides: Iterable[Override]) -> tuple[Override, ...]:
    return tuple(overrides)


def _deletions(deletions: Iterable[Deletion]) -> tuple[Deletion, ...]:
    return tuple(deletions)


def _by_effective(version: Version) -> tuple[bool, datetime | None]:
    # None (the beginning of time) sorts first; the sort is stable for ties.
    return (version.effective is not None, version.effective)


@attrs.frozen(kw_only=True, cache_hash=True)
class TeamState:
    """Everything needed to answer who is on call for one team.

    ``schedules`` holds every version of every schedule in the order they were
    written (the first version of a name, or its first after a deletion, sets its
    place in priority ties); ``deletions`` the ends of schedules; ``changes`` the
    rotation history in the order it was appended; ``overrides`` are in creation
    order (later ones win).

    The state checks each name's history: a first version that is a definition,
    at most one entry per instant, no deletion of a deleted schedule, and a
    beginning-of-time version only first.  A rotation change must fall where its
    schedule is in force, with a position below the members of the version in
    force then.
    """

    team: str = attrs.field(converter=_team)
    schedules: tuple[Schedule, ...] = attrs.field(default=(), converter=_schedules)
    changes: tuple[RotationChange, ...] = attrs.field(default=(), converter=_changes)
    overrides: tuple[Override, ...] = attrs.field(default=(), converter=_overrides)
    deletions: tuple[Deletion, ...] = attrs.field(default=(), converter=_deletions)

    def __attrs_post_init__(self) -> None:
        for schedule in self.schedules:
            if not isinstance(schedule, Schedule):
                raise ValidationError("schedules must be Schedules", field="schedules")
            if schedule.team != self.team:
                raise ValidationError(
                    f"schedule {schedule.name!r} belongs to team {schedule.team!r}", field="team"
                )
        for deletion in self.deletions:
            if not isinstance(deletion, Deletion):
                raise ValidationError("deletions must be Deletions", field="deletions")
        histories = self._histories
        for name, history in histories.items():
            _check_history(name, history)
        for change in self.changes:
            if change.schedule not in histories:
                raise ValidationError(f"unknown schedule: {change.schedule}", field="schedule")
            version = _in_force(histories[change.schedule], change.effective)
            if version is None:
                raise ValidationError(
                    f"schedule {change.schedule!r} is not in force at "
                    f"{change.effective.isoformat()}",
                    field="effective",
                )
            count = len(version.members)
            if change.position is not None and change.position >= count:
                raise ValidationError(
                    f"position must be below the number of members ({count})", field="position"
                )
        for override in self.overrides:
            if override.schedule is not None and override.schedule not in histories:
                raise ValidationError(f"unknown schedule: {override.schedule}", field="schedule")

    @functools.cached_property
    def _histories(self) -> dict[str, tuple[Version, ...]]:
        """Each name's versions and deletions in effective order (names in creation order).

        Computed once per state (states are immutable); do not mutate the result.
        """
        entries: dict[str, list[Version]] = {}
        versions: list[Version] = [*self.schedules, *self.deletions]
        for version in versions:
            entries.setdefault(version_name(version), []).append(version)
        return {name: tuple(sorted(found, key=_by_effective)) for name, found in entries.items()}

    @property
    def names(self) -> tuple[str, ...]:
        """The name of every schedule the team ever had, in order of first creation."""
        return tuple(dict.fromkeys(schedule.name for schedule in self.schedules))

    def history(self, name: str) -> tuple[Version, ...]:
        """The versions and deletions of one schedule, in order of effective instant."""
        return self._histories.get(name, ())

    def revision(self, name: str) -> int:
        """How many versions and deletions of ``name`` have been written (0: none).

        Every write of the schedule raises it by one, so it tells a reader whether
        the schedule changed since they looked (the HTTP API's ETag).
        """
        return sum(1 for s in self.schedules if s.name == name) + sum(
            1 for d in self.deletions if d.schedule == name
        )

    def schedule_at(self, name: str, at: datetime) -> Schedule | None:
        """The version of ``name`` in force at ``at`` (None: none is)."""
        return _in_force(self.history(name), _effective(at))

    def in_force(self, at: datetime) -> tuple[Schedule, ...]:
        """The schedules in force at ``at``, one version per name, in creation order."""
        instant = _effective(at)
        found = [_in_force(history, instant) for history in self._histories.values()]
        return tuple(schedule for schedule in found if schedule is not None)


def _in_force(history: tuple[Version, ...], instant: datetime) -> Schedule | None:
    """The version of a name's history in force at an instant (None: none is)."""
    current: Version | None = None
    for version in history:
        if version.effective is not None and version.effective > instant:
            break
        current = version
    return current if isinstance(current, Schedule) else None


def _check_history(name: str, history: tuple[Version, ...]) -> None:
    """Refuse a schedule history that cannot be read one way only."""
    if not isinstance(history[0], Schedule):
        raise ValidationError(f"schedule {name!r} is deleted before it exists", field="effective")
    for previous, version in itertools.pairwise(history):
        if version.effective is None:
            raise ValidationError(
                f"only the first version of {name!r} may be in force from the beginning of time",
                field="effective",
            )
        if previous.effective == version.effective:
            raise ValidationError(
                f"schedule {name!r} already changes at {version.effective.isoformat()}",
                field="effective",
            )
        if isinstance(previous, Deletion) and isinstance(version, Deletion):
            raise ValidationError(f"schedule {name!r} is already deleted", field="effective")


_Built = TypeVar("_Built", bound=attrs.AttrsInstance)


def assembler(cls: type[_Built]) -> Callable[..., _Built]:
    """A function that makes an instance of a model class from its field values,
    given positionally in the order of ``attrs.fields(cls)``, with no converter,
    validator or ``__attrs_post_init__`` run.

    Only for values that are exactly what the class's own ``__init__`` would have
    kept (see ``_stored``, its one user, and the property test that proves its
    results equal to checked ones).  It sets the slots through their descriptors,
    as attrs' generated ``__init__`` of a frozen class does.
    """
    setters = tuple(cls.__dict__[field.name].__set__ for field in attrs.fields(cls))
    # attrs' cache_hash slot, which the generated __init__ sets to None last.
    cached_hash = cls.__dict__.get("_attrs_cached_hash")
    new = object.__new__

    def assemble(*values: object) -> _Built:
        built = new(cls)
        for setter, value in zip(setters, values, strict=True):
            setter(built, value)
        if cached_hash is not None:
            cached_hash.__set__(built, None)
        return built

    return assemble


@attrs.frozen(kw_only=True)
class OnCall:
    """Who is on call at an instant, and until when.

    ``schedule`` is the schedule whose window covers the instant (None when only a
    team-wide override covers it); ``override`` is the override that applied, if
    any.  ``until`` is the instant this answer next changes (None: never), and
    ``next_member`` / ``next_schedule`` describe the answer from then on
    (``next_member`` None: nobody is on call then).
    """

    member: str
    schedule: str | None
    override: Override | None
    until: datetime | None
    next_member: str | None
    next_schedule: str | None

    @property
    def source(self) -> Source:
        """Whether the answer comes from a rotation or an override."""
        return Source.of(self.override)


@attrs.frozen(kw_only=True)
class Shift:
    """One interval [start, end) of a timeline during which the answer does not change."""

    start: datetime
    end: datetime
    member: str
    schedule: str | None
    source: Source


@attrs.frozen(kw_only=True)
class Gap:
    """An interval [start, end) during which nobody is on call."""

    start: datetime
    end: datetime


@attrs.frozen(kw_only=True)
class Turn:
    """One turn of a rotation: ``member``'s turn runs over [start, end).

    ``start`` is None for a turn that runs from the beginning of time and ``end``
    None for one that no scheduled change ends (only a manual rotation's turn,
    from :func:`turn_in_progress`, can be either).
    """

    start: datetime | None
    end: datetime | None
    member: str
