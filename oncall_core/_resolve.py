"""Who is on call at an instant, and until when.

Theory of operation
-------------------
A team state is compiled once (cached per state) into *plans*, one per
schedule version (``_plan``), and *lineups*: the plans in force between two
consecutive version instants, in precedence order (``_versions``).  Resolving
an instant t bisects for its lineup, takes the wall clock of t in each zone
once, finds the first plan whose window covers it, applies the overrides that
reach that plan, and picks the member by turn and history offset: no loop runs
over days, shifts or versions.

``until`` is found by jumping: from the current answer we compute the few
instants at which it *could* change (the covering plan's end of coverage,
next handoff, next history change, next override bound, the next window
start of every plan that would take precedence, and the end of the lineup)
and resolve the earliest.  If
the answer there is the same (a handoff to the same member, a window that
starts as another ends), we jump again from there.  The timeline is this same
walk from A to B, so it agrees with ``oncall_at`` by construction.
"""

from __future__ import annotations

from datetime import datetime

from ._model import OnCall, TeamState
from ._plan import Answer, next_candidate, resolve_in, same_answer
from ._time import LATEST, supported_instant, to_datetime
from ._versions import CompiledTeam, compile_team

__all__ = ["Answer", "compile_team", "everyone_on_call", "next_change", "oncall_at", "resolve"]


def resolve(compiled: CompiledTeam, instant: int) -> Answer | None:
    """The answer of a compiled team at an instant."""
    lineup, _ = compiled.lineup_at(instant)
    return resolve_in(lineup, instant)


def _next_candidate(compiled: CompiledTeam, instant: int, answer: Answer | None) -> int | None:
    """The earliest instant after ``instant`` at which ``answer`` could change."""
    lineup, ends = compiled.lineup_at(instant)
    candidate = next_candidate(lineup, instant, answer)
    if ends is not None and (candidate is None or ends < candidate):
        return ends  # a version boundary: the answer may change there
    return candidate


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
    # change, an override bound, a lineup's end, answers "the first ... strictly
    # after"), so the integers `at` increase strictly, and the loop ends by LATEST
    # at the latest.
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
    lineup, _ = compiled_team.lineup_at(instant)
    for plan in lineup.plans:
        alone = compiled_team.alone(plan.schedule.name)
        answer = resolve(alone, instant)
        if answer is not None:
            answers.append(_on_call(alone, instant, answer))
    if not answers:
        answer = resolve(compiled_team, instant)
        if answer is not None:
            answers.append(_on_call(compiled_team, instant, answer))
    return tuple(answers)
