"""Timelines over [A, B): the walk of ``oncall_at`` from change to change.

Each step resolves the answer at the current instant and jumps to the instant
it next changes (see ``_resolve``), so the timeline equals ``oncall_at``
pointwise by construction and its intervals are ordered, touching where
coverage is continuous, and already merged (a step ends only where the member,
schedule or override changes).  The cost grows with the number of shifts in
[A, B), not with the distance from the rotations' anchors.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from ._errors import NotFound, ValidationError
from ._model import Gap, RotationKind, Shift, Source, TeamState, Turn
from ._resolve import Answer, compile_team, next_change, resolve
from ._time import DAY, instant_of, latest_wall, supported_instant, to_datetime


def _segments(
    team: TeamState, start: datetime, end: datetime
) -> Iterator[tuple[int, int, Answer | None]]:
    """(start, end, answer) for consecutive segments covering [start, end)."""
    low = supported_instant(start, "start")
    high = supported_instant(end, "end")
    if high < low:
        raise ValidationError("end must not be before start", field="end")
    compiled = compile_team(team)
    at, answer = low, resolve(compiled, low)
    while at < high:
        until, following = next_change(compiled, at, answer, limit=high)
        stop = high if until is None or until > high else until
        yield at, stop, answer
        at, answer = stop, following


def timeline(team: TeamState, start: datetime, end: datetime) -> tuple[Shift, ...]:
    """All shifts of the team over [start, end), ordered and non-overlapping.

    Adjacent intervals with the same member, schedule and source are one shift;
    shifts are clipped to [start, end).  Raises :class:`ValidationError` for a
    naive datetime or ``end`` before ``start``.
    """
    return tuple(
        Shift(
            start=to_datetime(low),
            end=to_datetime(high),
            member=answer.member,
            schedule=answer.plan.schedule.name if answer.plan else None,
            source=Source.of(answer.override),
        )
        for low, high, answer in _segments(team, start, end)
        if answer is not None
    )


def gaps(team: TeamState, start: datetime, end: datetime) -> tuple[Gap, ...]:
    """The intervals of [start, end) during which nobody is on call for the team."""
    return tuple(
        Gap(start=to_datetime(low), end=to_datetime(high))
        for low, high, answer in _segments(team, start, end)
        if answer is None
    )


def hours_per_member(team: TeamState, start: datetime, end: datetime) -> dict[str, timedelta]:
    """Time on call per member over [start, end), overrides included (for fairness reports)."""
    totals: dict[str, timedelta] = {}
    for shift in timeline(team, start, end):
        totals[shift.member] = totals.get(shift.member, timedelta()) + (shift.end - shift.start)
    return totals


def rotation_turns(team: TeamState, schedule: str, start: datetime, count: int) -> tuple[Turn, ...]:
    """The next ``count`` turns of a schedule's rotation, from the turn in progress at ``start``.

    For hourly, daily and weekly rotations a turn runs from one handoff to the
    next, whether or not the schedule's window covers it; for ``per_shift`` a
    turn is one window.  A turn squeezed to zero length (two handoffs inside a
    stretch of wall time the clock skips) is listed with ``start == end``: it
    still counts, so the rotation stays fair.  Members reflect the rotation
    history in force at each turn's start.  Raises :class:`NotFound` for an
    unknown schedule and :class:`ValidationError` for a manual rotation.
    """
    instant = supported_instant(start, "start")
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= 10_000:
        raise ValidationError("count must be an integer from 0 to 10000", field="count")
    plan = next((p for p in compile_team(team).plans if p.schedule.name == schedule), None)
    if plan is None:
        raise NotFound(f"no schedule named {schedule!r}", team=team.team, name=schedule)
    turns, windows, zone = plan.turns, plan.windows, plan.clock.zone
    wall = latest_wall(instant, zone)
    bounds: list[tuple[int, int]] = []  # wall (start, end) of each turn
    if turns.step:
        first = turns.in_window(wall, 0, windows)
        for index in range(first, first + count):
            low = turns.anchor + index * turns.step
            bounds.append((low, low + turns.step))
    elif turns.kind is RotationKind.PER_SHIFT:
        day = windows.covering(wall)
        day = day if day is not None else windows.next_start(wall) // DAY
        for _ in range(count):
            bounds.append((day * DAY + windows.start, windows.end_of(day)))
            day = windows.first_day_at_or_after(day + 1)
    else:
        raise ValidationError("a manual rotation has no turns", field="rotation")
    result = []
    for low, high in bounds:
        begins = instant_of(low, zone)
        day = windows.covering(low) if turns.kind is RotationKind.PER_SHIFT else 0
        turn = turns.in_window(low, day or 0, windows) + plan.history.offset_at(begins)
        result.append(
            Turn(
                start=to_datetime(begins),
                end=to_datetime(instant_of(high, zone)),
                member=plan.members[turn % len(plan.members)],
            )
        )
    return tuple(result)
