"""Timelines over [A, B): the walk of ``oncall_at`` from change to change.

Each step resolves the answer at the current instant and jumps to the instant
it next changes (see ``_resolve``), so the timeline equals ``oncall_at``
pointwise by construction and its intervals are ordered, touching where
coverage is continuous, and already merged (a step ends only where the member,
schedule or override changes).  The cost grows with the number of shifts in
[A, B), not with the distance from the rotations' anchors.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from datetime import datetime, timedelta

import attrs

from ._errors import NotFound, Unprocessable, ValidationError, schedule_not_found
from ._model import Gap, Override, RotationKind, Shift, Source, TeamState, Turn
from ._plan import Plan, same_answer
from ._resolve import Answer, compile_team, next_change, resolve
from ._time import (
    DAY,
    EARLIEST,
    LATEST,
    instant_of,
    latest_wall,
    supported_instant,
    to_datetime,
)
from ._versions import CompiledTeam, Span
from ._wire import format_instant


def _segments(
    team: TeamState, start: datetime, end: datetime, schedule: str | None = None
) -> Iterator[tuple[int, int, Answer | None]]:
    """(start, end, answer) for consecutive segments covering [start, end), of the
    whole team or of one schedule alone."""
    low = supported_instant(start, "start")
    high = supported_instant(end, "end")
    if high < low:
        raise ValidationError("end must not be before start", field="end")
    compiled = _compiled(team, schedule)
    at, answer = low, resolve(compiled, low)
    while at < high:
        until, following = next_change(compiled, at, answer, limit=high)
        stop = high if until is None or until > high else until
        yield at, stop, answer
        at, answer = stop, following


def _compiled(team: TeamState, schedule: str | None) -> CompiledTeam:
    """The team compiled, or one of its schedules alone (:class:`NotFound` if it has
    never had that schedule)."""
    compiled = compile_team(team)
    if schedule is None:
        return compiled
    if not team.history(schedule):
        raise schedule_not_found(team.team, schedule)
    return compiled.alone(schedule)


def timeline(
    team: TeamState, start: datetime, end: datetime, *, schedule: str | None = None
) -> tuple[Shift, ...]:
    """All shifts of the team over [start, end), ordered and non-overlapping.

    Adjacent intervals with the same member, schedule and source are one shift;
    shifts are clipped to [start, end).  With ``schedule``, the shifts of that
    schedule alone, as if the team had no other (the overrides that reach it
    included; :class:`NotFound` if the team never had it).  Raises
    :class:`ValidationError` for a naive datetime or ``end`` before ``start``.
    """
    return tuple(
        Shift(
            start=to_datetime(low),
            end=to_datetime(high),
            member=answer.member,
            schedule=answer.plan.schedule.name if answer.plan else None,
            source=Source.of(answer.override),
        )
        for low, high, answer in _segments(team, start, end, schedule)
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
    return {
        member: sum(per_schedule.values(), timedelta())
        for member, per_schedule in hours_per_schedule(team, start, end).items()
    }


def hours_per_schedule(
    team: TeamState, start: datetime, end: datetime
) -> dict[str, dict[str | None, timedelta]]:
    """Time on call per member and, within it, per schedule (None: team-wide overrides
    outside every schedule) over [start, end), overrides included."""
    totals: dict[str, dict[str | None, timedelta]] = {}
    for shift in timeline(team, start, end):
        mine = totals.setdefault(shift.member, {})
        mine[shift.schedule] = mine.get(shift.schedule, timedelta()) + (shift.end - shift.start)
    return totals


def shift_starting(team: TeamState, schedule: str, start: datetime) -> Shift:
    """The shift of ``schedule`` (alone, as :func:`timeline` with ``schedule`` gives it)
    that starts at ``start``.

    Raises :class:`Unprocessable` (field ``shifts``) when none starts then or it
    never ends, and :class:`NotFound` for a schedule the team never had.
    """
    instant = supported_instant(start, "shifts")
    compiled = _compiled(team, schedule)
    answer = resolve(compiled, instant)
    if answer is None or same_answer(resolve(compiled, instant - 1), answer):
        raise Unprocessable(
            f"no shift of {schedule!r} starts at {format_instant(to_datetime(instant))}",
            field="shifts",
        )
    until, _ = next_change(compiled, instant, answer)
    if until is None:
        raise Unprocessable(
            f"the shift of {schedule!r} from {format_instant(to_datetime(instant))} never ends",
            field="shifts",
        )
    return Shift(
        start=to_datetime(instant),
        end=to_datetime(until),
        member=answer.member,
        schedule=schedule,
        source=Source.of(answer.override),
    )


def swap_overrides(
    team: TeamState, schedule: str, first: datetime, second: datetime
) -> tuple[Override, Override]:
    """The two overrides by which the members of two shifts of ``schedule`` (those
    starting at ``first`` and ``second``) trade them, each limited to the schedule.

    Raises :class:`Unprocessable` (field ``shifts``) when an instant starts no
    shift of the schedule or both shifts are one member's.  A store adds the
    pair all or nothing, each starting now or later.
    """
    one, other = shift_starting(team, schedule, first), shift_starting(team, schedule, second)
    if one.member == other.member:
        raise Unprocessable(f"both shifts are {one.member}'s: nothing to swap", field="shifts")
    return _taking(other, one, schedule), _taking(one, other, schedule)


def _taking(taker: Shift, given: Shift, schedule: str) -> Override:
    """The override by which ``taker``'s member takes ``given``'s shift."""
    return Override(
        member=taker.member,
        start=given.start,
        end=given.end,
        schedule=schedule,
        reason=f"swap: {taker.member} takes {given.member}'s shift",
    )


def rotation_turns(team: TeamState, schedule: str, start: datetime, count: int) -> tuple[Turn, ...]:
    """The next ``count`` turns of a schedule's rotation, from the turn in progress at ``start``.

    For hourly, daily and weekly rotations a turn runs from one handoff to the
    next, whether or not the schedule's window covers it; for ``per_shift`` a
    turn is one window.  A turn squeezed to zero length (two handoffs inside a
    stretch of wall time the clock skips) is listed with ``start == end``: it
    still counts, so the rotation stays fair.  Members reflect the rotation
    history in force at each turn's start (the turn in progress: at ``start``, from
    the change that handed it over, if that came in mid-turn).  Across a later version of the
    schedule the turns follow that version, a turn cut at the version's instant
    (and joined to the next when the same member keeps it); they stop where the
    schedule is deleted or becomes manual.  Raises :class:`NotFound` when the
    schedule is not in force at ``start`` and :class:`ValidationError` for a
    manual rotation.
    """
    instant = supported_instant(start, "start")
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= 10_000:
        raise ValidationError("count must be an integer from 0 to 10000", field="count")
    compiled = compile_team(team)
    span = _span_in_force(team, compiled, schedule, instant)
    if span.plan is not None and span.plan.turns.kind is RotationKind.MANUAL:
        raise ValidationError("a manual rotation has no turns", field="rotation")
    turns: list[Turn] = []
    at, first = instant, span
    while True:
        plan = span.plan
        if plan is None or plan.turns.kind is RotationKind.MANUAL:
            break  # deleted, or manual from here on: no more turns
        for low, high, member in _turns_of(plan, at, count - len(turns) + 1):
            if low >= span.end:
                break
            low, high = max(low, span.start), min(high, span.end)
            previous = turns[-1] if turns else None
            if at == span.start == low and previous and previous.member == member:
                # The member in turn at a version's instant keeps it: one turn.
                turns[-1] = attrs.evolve(previous, end=to_datetime(high))
            else:
                turns.append(Turn(start=to_datetime(low), end=to_datetime(high), member=member))
        following = compiled.span_at(schedule, span.end) if span.end < LATEST else None
        if len(turns) >= count or following is None:
            break
        at, span = span.end, following
    if turns and turns[0].start == to_datetime(first.start) and first.start > EARLIEST:
        # Cut at the version's instant: a member who kept the turn has held it longer.
        earlier = compiled.span_at(schedule, first.start - 1)
        plan = earlier.plan if earlier is not None else None
        if plan is not None and plan.turns.kind is not RotationKind.MANUAL:
            held = rotation_turns(team, schedule, to_datetime(first.start - 1), 1)[0]
            if held.member == turns[0].member:
                turns[0] = attrs.evolve(turns[0], start=held.start)
    return tuple(turns[:count])


def _span_in_force(team: TeamState, compiled: CompiledTeam, schedule: str, instant: int) -> Span:
    span = compiled.span_at(schedule, instant)
    if span is None or span.plan is None:
        raise NotFound(
            f"no schedule named {schedule!r} in force at {format_instant(to_datetime(instant))}",
            team=team.team,
            name=schedule,
        )
    return span


def _turns_of(plan: Plan, instant: int, count: int) -> list[tuple[int, int, str]]:
    """(start, end, member) of ``count`` turns of a plan from the one in progress at
    ``instant`` (the plan rotates by time or per shift).

    The turn in progress has the member the plan gives at ``instant``, from the
    later of its start and the rotation change (or version) that gave it to them.
    """
    turns, windows, zone = plan.turns, plan.windows, plan.clock.zone
    wall = latest_wall(instant, zone)
    bounds: list[tuple[int, int]] = []  # wall (start, end) of each turn
    if turns.step:
        first = turns.in_window(wall, 0, windows)
        for index in range(first, first + count):
            low = turns.anchor + index * turns.step
            bounds.append((low, low + turns.step))
    else:
        day = windows.covering(wall)
        day = day if day is not None else windows.next_start(wall) // DAY
        for _ in range(count):
            bounds.append((day * DAY + windows.start, windows.end_of(day)))
            day = windows.first_day_at_or_after(day + 1)
    history = plan.history
    changed = bisect_right(history.effective, instant)
    last_change = history.effective[changed - 1] if changed else None
    result = []
    for low, high in bounds:
        begins = instant_of(low, zone)
        day = windows.covering(low) if turns.kind is RotationKind.PER_SHIFT else 0
        turn = turns.in_window(low, day or 0, windows) + history.offset_at(max(begins, instant))
        if last_change is not None and begins < last_change <= instant:
            begins = last_change  # handed over in mid-turn
        result.append((begins, instant_of(high, zone), plan.members[turn % len(plan.members)]))
    return result


def turn_in_progress(team: TeamState, schedule: str, at: datetime) -> Turn:
    """The turn of a schedule's rotation in progress at ``at``, window or not.

    For a time-based rotation, the first of :func:`rotation_turns`; for a
    manual one, the member at the current position, from the rotation change
    or version that put them there until the next one (``start`` None: from
    the beginning of time; ``end`` None: no change is scheduled).  Raises
    :class:`NotFound` when the schedule is not in force at ``at``.
    """
    instant = supported_instant(at, "at")
    compiled = compile_team(team)
    span = _span_in_force(team, compiled, schedule, instant)
    plan = span.plan
    assert plan is not None
    if plan.turns.kind is not RotationKind.MANUAL:
        return rotation_turns(team, schedule, at, 1)[0]
    history = plan.history
    index = bisect_right(history.effective, instant)
    low = history.effective[index - 1] if index else span.start
    high = history.next_after(instant) or span.end
    return Turn(
        start=to_datetime(low) if low > EARLIEST else None,
        end=to_datetime(high) if high < LATEST else None,
        member=plan.members[plan.place_at(instant)],
    )
