"""Who is on call at an instant, and until when.

Theory of operation
-------------------
A team state is compiled once (cached per state) into *plans*, one per
schedule in precedence order (priority, then creation), each holding integer
arithmetic for its windows, turns, history and overrides.  Resolving an
instant t takes the wall clock of t in each zone once, finds the first plan
whose window covers it, applies the overrides that reach that plan, and
picks the member by turn and history offset: no loop runs over days or shifts.

``until`` is found by jumping: from the current answer we compute the few
instants at which it *could* change (the covering plan's end of coverage,
next handoff, next history change, next override bound, and the next window
start of every plan that would take precedence) and resolve the earliest.  If
the answer there is the same (a handoff to the same member, a window that
starts as another ends), we jump again from there.  The timeline is this same
walk from A to B, so it agrees with ``oncall_at`` by construction.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import NamedTuple

import attrs

from ._model import OnCall, Override, RotationKind, Schedule, TeamState
from ._overrides import OverrideMap
from ._rotation import History, Turns
from ._time import LATEST, ZoneClock, clock_of, supported_instant, to_datetime, zone_named
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
    def of(cls, schedule: Schedule, state: TeamState) -> Plan:
        """Compile one schedule of a team state."""
        zone = zone_named(schedule.timezone)
        windows = WindowPattern.of(schedule)
        turns = Turns.of(schedule, windows, zone)
        changes = [change for change in state.changes if change.schedule == schedule.name]
        overrides = [o for o in state.overrides if o.schedule in (None, schedule.name)]
        return cls(
            schedule,
            clock_of(zone),
            windows,
            turns,
            History.of(changes, turns, windows, zone),
            OverrideMap.of(overrides),
            schedule.members,
            len(set(schedule.members)) > 1,
        )


@attrs.frozen(eq=False)
class CompiledTeam:
    """Plans in precedence order, and the overrides that fill time none of them covers."""

    plans: tuple[Plan, ...]
    fallback: OverrideMap | None


@functools.lru_cache(maxsize=256)
def compile_team(state: TeamState) -> CompiledTeam:
    """A team state compiled for resolution (cached: states are immutable)."""
    order = sorted(
        range(len(state.schedules)), key=lambda index: (-state.schedules[index].priority, index)
    )
    plans = tuple(Plan.of(state.schedules[index], state) for index in order)
    return CompiledTeam(plans, OverrideMap.of([o for o in state.overrides if o.schedule is None]))


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
    return (
        one.member == other.member
        and one.plan is other.plan
        and (one.override is None) == (other.override is None)
    )


def _walls_of(compiled: CompiledTeam, instant: int) -> dict[ZoneClock, int]:
    """Latest walls of ``instant`` in the zones of the compiled team's plans."""
    walls: dict[ZoneClock, int] = {}
    for plan in compiled.plans:
        if plan.clock not in walls:
            walls[plan.clock] = plan.clock.latest_wall(instant)
    return walls


def resolve(compiled: CompiledTeam, instant: int) -> Answer | None:
    """The answer of a compiled team at an instant."""
    walls: dict[ZoneClock, int] = {}
    for plan in compiled.plans:
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
    if compiled.fallback is not None:
        override = compiled.fallback.at(instant)
        if override is not None:
            return Answer(override.member, None, override, 0, walls)
    return None


def _earliest(best: int | None, candidate: int | None) -> int | None:
    if candidate is None:
        return best
    return candidate if best is None or candidate < best else best


def _next_candidate(compiled: CompiledTeam, instant: int, answer: Answer | None) -> int | None:
    """The earliest instant after ``instant`` at which ``answer`` could change.

    Candidates that are wall times are gathered per zone and only the earliest
    of each zone is turned into an instant: the DST rule is monotone.
    """
    current = answer.plan if answer is not None else None
    walls = answer.walls if answer is not None else _walls_of(compiled, instant)
    earliest_wall: dict[ZoneClock, int] = {}
    for plan in compiled.plans:
        if plan is current:
            break
        # A plan of higher precedence takes over when its next window starts.
        starts = plan.windows.next_start(walls[plan.clock])
        known = earliest_wall.get(plan.clock)
        if known is None or starts < known:
            earliest_wall[plan.clock] = starts
    best: int | None = None
    if current is None or answer is None:
        if compiled.fallback is not None:
            best = compiled.fallback.next_bound(instant)
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


def next_change(
    compiled: CompiledTeam, instant: int, answer: Answer | None, limit: int | None = None
) -> tuple[int | None, Answer | None]:
    """The first instant after ``instant`` at which the answer differs from ``answer``
    (None: never), and the answer from then on.

    With ``limit``, the search stops there: an instant at or after ``limit`` is
    returned (without the answer) when the answer does not change before it.
    """
    at, current = instant, answer
    # Terminates: every candidate is strictly after the instant it was found from
    # (each source of candidates, a window start or end, a handoff, a history
    # change, an override bound, answers "the first ... strictly after"), so the
    # integers `at` increase strictly, and the loop ends by LATEST at the latest.
    while True:
        candidate = _next_candidate(compiled, at, current)
        if candidate is None or candidate >= LATEST:
            return None, None
        assert candidate > at, "a candidate must be strictly after the instant"
        if limit is not None and candidate >= limit:
            return candidate, None
        following = resolve(compiled, candidate)
        if not same_answer(following, answer):
            return candidate, following
        at, current = candidate, following


def _on_call(compiled: CompiledTeam, instant: int, answer: Answer) -> OnCall:
    until, following = next_change(compiled, instant, answer)
    return OnCall(
        member=answer.member,
        schedule=answer.plan.schedule.name if answer.plan else None,
        override=answer.override,
        until=to_datetime(until) if until is not None else None,
        next_member=following.member if following else None,
        next_schedule=following.plan.schedule.name if following and following.plan else None,
    )


def oncall_at(team: TeamState, at: datetime) -> OnCall | None:
    """Who is on call for the team at ``at`` (an aware datetime), or None.

    Raises :class:`ValidationError` when ``at`` has no UTC offset.
    """
    instant = supported_instant(at, "at")
    compiled = compile_team(team)
    answer = resolve(compiled, instant)
    return _on_call(compiled, instant, answer) if answer is not None else None


def everyone_on_call(team: TeamState, at: datetime) -> tuple[OnCall, ...]:
    """Everyone on call at ``at``: one answer per schedule covering it, in precedence order.

    Each answer's ``until`` and ``next_*`` describe that schedule alone.  When no
    schedule covers ``at`` but a team-wide override does, that one answer.
    """
    instant = supported_instant(at, "at")
    compiled_team = compile_team(team)
    answers: list[OnCall] = []
    for plan in compiled_team.plans:
        alone = _single(plan)
        answer = resolve(alone, instant)
        if answer is not None:
            answers.append(_on_call(alone, instant, answer))
    if not answers:
        answer = resolve(compiled_team, instant)
        if answer is not None:
            answers.append(_on_call(compiled_team, instant, answer))
    return tuple(answers)


@functools.lru_cache(maxsize=1024)
def _single(plan: Plan) -> CompiledTeam:
    return CompiledTeam((plan,), None)
