"""Hypothesis strategies for schedules, rotations, overrides, team states and instants.

For your own property-based tests (``pip install oncall-schedule[strategies]``)::

    from hypothesis import given
    from oncall_core import oncall_at
    from oncall_core.strategies import instants, team_states

    @given(team_states(), instants())
    def test_my_router_agrees(team, at):
        assert my_router(team, at) == oncall_at(team, at)

The strategies lean towards the hard cases: zones with daylight-saving
transitions (including Australia/Lord_Howe's 30-minute shift and
Pacific/Apia's skipped day), wall times near 01:00-03:00, instants within
hours of a transition, instants written in zone-local time with ``fold=1``,
members repeated within a rotation, and overlapping schedules and overrides.
This module needs hypothesis; nothing else in ``oncall_core`` imports it.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import attrs
from hypothesis import strategies as st

from ._model import (
    Deletion,
    Override,
    Rotation,
    RotationChange,
    RotationKind,
    Schedule,
    TeamState,
    Weekday,
)

__all__ = [
    "MEMBERS",
    "ZONES",
    "instants",
    "later_version",
    "overrides",
    "rotation_changes",
    "rotations",
    "schedules",
    "team_states",
    "times_of_day",
    "transitions",
    "writings",
    "zones",
]

ZONES = (
    "UTC",
    "America/New_York",
    "America/Chicago",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "Pacific/Apia",
    "America/St_Johns",
    "Asia/Kolkata",
)
"""Zones the strategies draw from: no DST, US and EU DST, a 30-minute shift, a skipped day."""

MEMBERS = ("Alice", "Bob", "Carol", "Dave")

_FIRST = datetime(2009, 1, 1, tzinfo=UTC)
_LAST = datetime(2031, 1, 1, tzinfo=UTC)


def zones() -> st.SearchStrategy[str]:
    """IANA zone names from :data:`ZONES`."""
    return st.sampled_from(ZONES)


@functools.cache
def transitions(zone: str) -> tuple[datetime, ...]:
    """The UTC instants between 2009 and 2031 at which ``zone`` changes its UTC offset.

    Found by sampling the offset every six hours and bisecting each change to the second.
    """
    tz = ZoneInfo(zone)

    def offset(moment: datetime) -> timedelta | None:
        return moment.astimezone(tz).utcoffset()

    found = []
    step = timedelta(hours=6)
    moment = _FIRST
    while moment < _LAST:
        later = moment + step
        if offset(later) != offset(moment):
            low, high = moment, later
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                middle = middle.replace(microsecond=0)
                if offset(middle) == offset(low):
                    low = middle
                else:
                    high = middle
            found.append(high)
        moment = later
    return tuple(found)


def instants(
    zone: str | None = None, *, near_transitions: bool = True, any_offset: bool = False
) -> st.SearchStrategy[datetime]:
    """Aware instants between 2009 and 2031, often within hours of a DST transition.

    Without ``any_offset`` the instants are written in UTC.  With it, the same
    instants are written in any of the ways a caller may write them: UTC, a
    random fixed UTC offset, or the local time of a zone in :data:`ZONES` as
    ``astimezone`` gives it (``fold=1`` during the second pass through a
    repeated hour).  Python compares such datetimes by their wall fields when
    they share a zone, so these draws test that the code compares instants.
    """
    uniform = st.datetimes(
        min_value=_FIRST.replace(tzinfo=None),
        max_value=_LAST.replace(tzinfo=None),
        timezones=st.just(UTC),
    )
    choices = [uniform]
    names = [name for name in ([zone] if zone else ZONES) if transitions(name)]
    if near_transitions and names:
        near = st.sampled_from(names).flatmap(
            lambda name: st.tuples(
                st.sampled_from(transitions(name)),
                st.integers(min_value=-36 * 3600, max_value=36 * 3600),
            ).map(lambda pair: pair[0] + timedelta(seconds=pair[1]))
        )
        choices.append(near)
    result = st.one_of(choices)
    if any_offset:
        result = st.tuples(result, writings(zone)).map(lambda pair: pair[0].astimezone(pair[1]))
    return result


def writings(zone: str | None = None) -> st.SearchStrategy[tzinfo]:
    """Time zones to write an instant in: UTC, fixed offsets, and ``ZoneInfo`` zones.

    ``ZoneInfo`` zones are drawn often (``zone`` itself when given, else any of
    :data:`ZONES`), since an instant written in a zone with daylight saving
    may carry ``fold=1``.
    """
    offsets = st.integers(min_value=-14 * 4, max_value=14 * 4).map(
        lambda quarters: timezone(timedelta(minutes=15 * quarters))
    )
    local = st.sampled_from([zone] if zone else ZONES).map(ZoneInfo)
    return st.one_of(st.just(UTC), offsets, local, local)


def times_of_day() -> st.SearchStrategy[time]:
    """Whole-minute times of day, often in the small hours where clocks change."""
    small_hours = st.builds(
        time, st.integers(min_value=0, max_value=3), st.sampled_from([0, 15, 30, 45])
    )
    anywhere = st.builds(
        time, st.integers(min_value=0, max_value=23), st.integers(min_value=0, max_value=59)
    )
    return st.one_of(small_hours, anywhere)


def rotations(zone: str | None = None) -> st.SearchStrategy[Rotation]:
    """Rotations of every kind, anchored near the instants :func:`instants` draws
    (written in UTC, fixed offsets and zone-local time)."""
    anchors = instants(zone, any_offset=True)
    periodic = st.builds(
        Rotation,
        kind=st.sampled_from([RotationKind.HOURLY, RotationKind.DAILY, RotationKind.WEEKLY]),
        every=st.integers(min_value=1, max_value=3),
        start=anchors,
    )
    per_shift = st.builds(Rotation, kind=st.just(RotationKind.PER_SHIFT), start=anchors)
    return st.one_of(st.just(Rotation()), periodic, per_shift)


@st.composite
def schedules(draw: st.DrawFn, *, team: str = "team", name: str | None = None) -> Schedule:
    """Valid schedules: any days, windows (overnight ones too), zone, rotation, priority."""
    zone = draw(zones())
    start = draw(times_of_day())
    end = draw(times_of_day())
    return Schedule(
        team=team,
        name=name if name is not None else draw(st.sampled_from(["day", "night", "weekend"])),
        members=draw(st.lists(st.sampled_from(MEMBERS), min_size=1, max_size=4)),
        days=draw(st.frozensets(st.sampled_from(list(Weekday)), min_size=1)),
        start=start,
        end=end,
        overnight=end <= start,
        timezone=zone,
        rotation=draw(rotations(zone)),
        priority=draw(st.integers(min_value=0, max_value=2)),
    )


def overrides(schedule_names: list[str] | None = None) -> st.SearchStrategy[Override]:
    """Overrides of a few hours to a few days, team-wide or limited to one of the schedules.

    Both bounds are written in one drawn zone (UTC, a fixed offset or a zone's
    local time); the end is ``hours`` of real time after the start.
    """
    return st.builds(
        lambda member, start, hours, written, schedule, reason: Override(
            member=member,
            start=start.astimezone(written),
            end=(start + timedelta(hours=hours)).astimezone(written),
            schedule=schedule,
            reason=reason,
        ),
        st.sampled_from([*MEMBERS, "Sub"]),
        instants(),
        st.integers(min_value=1, max_value=96),
        writings(),
        st.sampled_from([None, *(schedule_names or [])]),
        st.sampled_from([None, "vacation"]),
    )


def rotation_changes(schedules: Sequence[Schedule]) -> st.SearchStrategy[RotationChange]:
    """Rotation history entries (advance, or set a position the schedule has) for the schedules."""
    return st.sampled_from(list(schedules)).flatmap(
        lambda schedule: st.builds(
            RotationChange,
            schedule=st.just(schedule.name),
            effective=instants(any_offset=True),
            position=st.one_of(
                st.none(), st.integers(min_value=0, max_value=len(schedule.members) - 1)
            ),
        )
    )


@st.composite
def later_version(draw: st.DrawFn, previous: Schedule, effective: datetime) -> Schedule:
    """A version of ``previous``'s schedule taking effect at ``effective``: often an
    edit of its members or rotation alone (so the handover keeps a member, or the
    old cadence continues), sometimes an entirely different definition."""
    kind = draw(st.sampled_from(["members", "rotation", "priority", "anything"]))
    if kind == "members":
        edited = attrs.evolve(
            previous, members=draw(st.lists(st.sampled_from(MEMBERS), min_size=1, max_size=4))
        )
    elif kind == "rotation":
        edited = attrs.evolve(previous, rotation=draw(rotations(previous.timezone)))
    elif kind == "priority":
        edited = attrs.evolve(previous, priority=draw(st.integers(min_value=0, max_value=2)))
    else:
        edited = draw(schedules(team=previous.team, name=previous.name))
    return attrs.evolve(edited, effective=effective)


@st.composite
def team_states(
    draw: st.DrawFn,
    *,
    max_schedules: int = 3,
    max_changes: int = 3,
    max_overrides: int = 3,
    max_versions: int = 2,
) -> TeamState:
    """Team states with overlapping schedules, later versions and deletions of them
    (up to ``max_versions`` per schedule), rotation history and overrides.

    Rotation changes that would fall where their schedule is not in force are
    dropped, and positions are reduced to the members of the version in force.
    """
    count = draw(st.integers(min_value=1, max_value=max_schedules))
    names = [f"s{index}" for index in range(count)]
    first = [draw(schedules(name=name)) for name in names]
    later: list[Schedule] = []
    deletions: list[Deletion] = []
    for schedule in first:
        moments = sorted(draw(st.sets(instants(), max_size=max_versions)))
        previous: Schedule | None = schedule
        for moment in moments:
            if previous is not None and draw(st.booleans()) and draw(st.booleans()):
                deletions.append(Deletion(schedule=schedule.name, effective=moment))
                previous = None
                continue
            version = draw(later_version(previous or schedule, moment))
            later.append(version)
            previous = version
    draft = TeamState(team="team", schedules=[*first, *later], deletions=deletions)
    changes = []
    for change in draw(st.lists(rotation_changes(first), max_size=max_changes)):
        in_force = draft.schedule_at(change.schedule, change.effective)
        if in_force is None:
            continue
        if change.position is not None:
            change = attrs.evolve(change, position=change.position % len(in_force.members))
        changes.append(change)
    return attrs.evolve(
        draft,
        changes=changes,
        overrides=draw(st.lists(overrides(names), max_size=max_overrides)),
    )
