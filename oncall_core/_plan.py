"""A schedule version compiled for resolution, and a lineup of them.

A :class:`Plan` holds integer arithmetic for one version's windows, turns,
history and overrides; a :class:`Lineup` is the plans in force over a stretch
of time in precedence order.  ``resolve_in`` answers an instant from a lineup,
``next_candidate`` names the earliest instant its answer could change (see
``_resolve`` for how the two make ``until`` and the timeline).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime, time
from typing import NamedTuple

import attrs

from ._model import Override, RotationKind, Schedule, Weekday
from ._overrides import OverrideMap
from ._rotation import History, Turns
from ._time import ZoneClock, clock_of, zone_named
from ._windows import WindowPattern


@attrs.frozen(eq=False)
class Plan:
    """One schedule compiled for resolution."""

    schedule: Schedule
    clock: ZoneClock
    windows: WindowPattern
    turns: Turns
    history: History
    overrides: OverrideMap  # team-wide ones and those limited to this schedule
    members: tuple[str, ...]
    rotates: bool  # two or more distinct members: a handoff can change the answer

    @classmethod
    def of(
        cls,
        schedule: Schedule,
        steps: Sequence[tuple[int, int | None]],
        overrides: OverrideMap,
        pin: tuple[int, int] | None = None,
    ) -> Plan:
        """Compile one version of a schedule, with the rotation changes that fall in
        its span, as (effective instant, position) in effective order, and the
        overrides that reach it.

        ``pin`` (instant, position) starts the rotation history with "members[position]
        holds the turn in progress at instant" (see ``_versions``).
        """
        clock, windows, turns = shape(schedule)
        return cls(
            schedule,
            clock,
            windows,
            turns,
            History.of(steps, turns, windows, clock.zone, pin),
            overrides,
            schedule.members,
            len(set(schedule.members)) > 1,
        )

    def place_at(self, instant: int, history_at: int | None = None) -> int:
        """The place in ``members`` of the turn in progress at ``instant``, window or
        not (for ``per_shift``: the shift in progress, or else the next one to
        start), with the rotation history as it stands at ``history_at`` (default:
        ``instant``)."""
        wall = self.clock.latest_wall(instant)
        offset = self.history.offset_at(instant if history_at is None else history_at)
        return (self.turns.pinned(wall, self.windows) + offset) % len(self.members)


def shape(schedule: Schedule) -> tuple[ZoneClock, WindowPattern, Turns]:
    """The clock, windows and turns of a schedule version (shared between versions)."""
    rotation = schedule.rotation
    # The key holds only values whose hash and equality are C code (a kind's
    # value, not the enum; the rotation's fields, not the attrs class): this runs
    # once per version when a team is compiled.
    return _shape(
        schedule.days,
        schedule.start,
        schedule.end,
        schedule.overnight,
        schedule.timezone,
        rotation.kind.value,
        rotation.every,
        rotation.start,
    )


@functools.lru_cache(maxsize=4096)
def _shape(
    days: frozenset[Weekday],
    start: time,
    end: time,
    overnight: bool,
    timezone: str,
    kind: str,
    every: int,
    anchor: datetime | None,
) -> tuple[ZoneClock, WindowPattern, Turns]:
    # Everything of a plan that follows from its definition alone, shared by every
    # version (and team) with the same windows, zone and rotation: most versions
    # of a schedule change only its members, and compiling a team of many
    # versions is mostly this, once per version, in order (see _versions).
    zone = zone_named(timezone)
    windows = WindowPattern.of_times(days, start, end, overnight)
    return clock_of(zone), windows, Turns.of(RotationKind(kind), every, anchor, windows, zone)


@attrs.frozen(eq=False)
class Lineup:
    """The plans in force over a stretch of time in precedence order, and the
    overrides that fill time none of them covers."""

    plans: tuple[Plan, ...]
    fallback: OverrideMap | None


class Answer(NamedTuple):
    """An answer at one instant, with the window day it was found at and the wall
    clock of the instant in each zone that resolving it looked at."""

    member: str
    plan: Plan | None
    override: Override | None
    day: int
    walls: dict[ZoneClock, int]


def same_answer(one: Answer | None, other: Answer | None) -> bool:
    """Whether two answers say the same thing: member, schedule, and rotation or override.

    Two overrides in a row for the same member are one answer: what changes for
    the people paged is who, for which schedule, and whether it was overridden.
    """
    if one is None or other is None:
        return one is other
    # Plans are compared by name: two versions of a schedule in a row that give
    # the same member are one answer.
    return (
        one.member == other.member
        and (one.plan.schedule.name if one.plan else None)
        == (other.plan.schedule.name if other.plan else None)
        and (one.override is None) == (other.override is None)
    )


def _walls_of(lineup: Lineup, instant: int) -> dict[ZoneClock, int]:
    """Latest walls of ``instant`` in the zones of the compiled team's plans."""
    walls: dict[ZoneClock, int] = {}
    for plan in lineup.plans:
        if plan.clock not in walls:
            walls[plan.clock] = plan.clock.latest_wall(instant)
    return walls


def resolve_in(lineup: Lineup, instant: int) -> Answer | None:
    """The answer of a lineup at an instant."""
    walls: dict[ZoneClock, int] = {}
    for plan in lineup.plans:
        clock = plan.clock
        wall = walls.get(clock)
        if wall is None:
            wall = walls[clock] = clock.latest_wall(instant)
        day = plan.windows.covering(wall)
        if day is None:
            continue
        override = plan.overrides.at(instant)
        if override is not None:
            return Answer(override.member, plan, override, day, walls)
        turn = plan.turns.in_window(wall, day, plan.windows) + plan.history.offset_at(instant)
        return Answer(plan.members[turn % len(plan.members)], plan, None, day, walls)
    if lineup.fallback is not None:
        override = lineup.fallback.at(instant)
        if override is not None:
            return Answer(override.member, None, override, 0, walls)
    return None


def _earliest(best: int | None, candidate: int | None) -> int | None:
    if candidate is None:
        return best
    return candidate if best is None or candidate < best else best


def next_candidate(lineup: Lineup, instant: int, answer: Answer | None) -> int | None:
    """The earliest instant after ``instant`` at which ``answer`` could change.

    Candidates that are wall times are gathered per zone and only the earliest
    of each zone is turned into an instant: the DST rule is monotone.
    """
    current = answer.plan if answer is not None else None
    walls = answer.walls if answer is not None else _walls_of(lineup, instant)
    earliest_wall: dict[ZoneClock, int] = {}
    for plan in lineup.plans:
        if plan is current:
            break
        # A plan of higher precedence takes over when its next window starts.
        starts = plan.windows.next_start(walls[plan.clock])
        known = earliest_wall.get(plan.clock)
        if known is None or starts < known:
            earliest_wall[plan.clock] = starts
    best: int | None = None
    if current is None or answer is None:
        if lineup.fallback is not None:
            best = lineup.fallback.next_bound(instant)
    else:
        plan, day = current, answer.day
        own = plan.windows.run_end(day)
        if answer.override is None and plan.rotates:
            if plan.turns.kind is RotationKind.PER_SHIFT:
                # Each window is a turn: the member changes when this one ends.
                own = _earliest(own, plan.windows.end_of(day))
            else:
                own = _earliest(own, plan.turns.next_handoff(walls[plan.clock]))
            best = plan.history.next_after(instant)
        best = _earliest(best, plan.overrides.next_bound(instant))
        known = earliest_wall.get(plan.clock)
        if own is not None and (known is None or own < known):
            earliest_wall[plan.clock] = own
    for clock, wall in earliest_wall.items():
        best = _earliest(best, clock.instant_of(wall))
    return best
