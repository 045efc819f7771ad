"""The seed's answers already computed, reused while they hold.

Why: ``GET /schedule`` is asked again and again about the same team, most often
with ``time=now``.  The engine's answer at an instant t holds on [t, until): its
member, schedule, source and next member are the same for every instant of that
interval, and so is the body of ``GET /schedule`` (which does not echo the
instant).  So once a team's answer at t is known, any later request about an
instant in [t, until) costs a dictionary lookup and a bisection, not the engine.

Why it is never stale: a team state is immutable, and every write makes a new
one (the memory store builds it; the PostgreSQL cache loads it), so the answers
are kept per state *object* and compared by identity: a write, however it
arrives, means another state and a fresh start.  Within one state, an answer is
only ever reused for an instant inside the interval the engine itself gave it,
whose end is the next instant at which the answer changes (a handoff, an
override's bound, a window's end, a version taking effect).

Its memory is bounded: at most ``teams`` states, the least recently used dropped
first, and at most ``spans`` intervals per state, the earliest dropped first
(with ``time=now`` the earliest are the ones in the past).  Everything runs on
one event loop, without awaiting, so no lock is needed.
"""

from __future__ import annotations

import bisect
import json
from collections import OrderedDict
from datetime import UTC, datetime

import attrs

from oncall_core import TeamState, oncall_at, seed_answer

DEFAULT_TEAMS = 10_000
"""How many team states' answers are kept at most, by default."""
DEFAULT_SPANS = 64
"""How many intervals of one state's answers are kept at most, by default."""


@attrs.define
class _Spans:
    """The known answers of one team state: ``bodies[i]`` holds on [starts[i], ends[i])."""

    state: TeamState
    starts: list[datetime] = attrs.Factory(list)
    ends: list[datetime | None] = attrs.Factory(list)  # None: forever
    bodies: list[bytes] = attrs.Factory(list)


def encode(body: dict[str, str]) -> bytes:
    """A JSON body as Starlette's ``JSONResponse`` renders it."""
    return json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


class AnswerMemo:
    """The encoded ``GET /schedule`` answers of team states, by interval of validity."""

    def __init__(self, *, teams: int = DEFAULT_TEAMS, spans: int = DEFAULT_SPANS) -> None:
        """Keep the answers of at most ``teams`` states and ``spans`` intervals each."""
        if teams < 1 or spans < 1:
            raise ValueError("teams and spans must be at least 1")
        self._teams = teams
        self._spans = spans
        self._known: OrderedDict[str, _Spans] = OrderedDict()
        self.hits = 0
        """How many answers were reused."""
        self.misses = 0
        """How many answers the engine computed."""

    def answer(self, state: TeamState, at: datetime) -> bytes | None:
        """The JSON body of ``GET /schedule`` for the team ``state`` at ``at`` (an aware
        datetime), or None when nobody is on call then."""
        # In UTC: two datetimes that share a ZoneInfo compare by their wall fields.
        at = at.astimezone(UTC)
        known = self._known.get(state.team)
        if known is None or known.state is not state:
            known = _Spans(state)
            self._known[state.team] = known
            if len(self._known) > self._teams:
                self._known.popitem(last=False)
        else:
            self._known.move_to_end(state.team)
            index = bisect.bisect_right(known.starts, at) - 1
            if index >= 0:
                end = known.ends[index]
                if end is None or at < end:
                    self.hits += 1
                    return known.bodies[index]
        self.misses += 1
        answer = oncall_at(state, at)
        if answer is None:
            return None  # nobody on call: rare on the hot path, and its end is unknown
        body = encode(seed_answer(answer))
        if len(known.starts) >= self._spans:
            del known.starts[0], known.ends[0], known.bodies[0]
        index = bisect.bisect_right(known.starts, at)
        known.starts.insert(index, at)
        known.ends.insert(index, answer.until)
        known.bodies.insert(index, body)
        return body
