"""Schedule versions: which definition is in force at each instant, and how one
hands over to the next.

A schedule is a sequence of versions, each in force from its ``effective``
instant until the next version or deletion of its name (the first may be in
force from the beginning of time).  Every instant is resolved against the
versions in force *at that instant*, so adding a version at E changes no
answer before E: "who was on call last Tuesday at 03:00?" keeps its answer
after any later edit, deletion or rotation change.

The handover rule
-----------------
When a version takes effect at E, after another version of the same schedule:

- The member whose turn is in progress at E under the old version (its turn
  at E, with the rotation changes before E; for ``per_shift`` the shift in
  progress at E, or else the next to start) keeps the turn, if the new version
  still has them: at the same place in the list if it holds them, else at
  their first place.  Otherwise the new version's first member takes it.
- From E on, the new windows, zone, rotation kind and anchor apply.  A
  rotation's ``start`` re-anchors the handoffs; a version written without one
  keeps the old anchor (``parse_schedule_request``'s ``previous``), so the old
  cadence continues.
- Rotation changes effective at or after E apply to the new version, positions
  counting in its member list; those before E stay with the old one.

The handover is a "set position" at E at the head of the new version's rotation
history, so it is the same arithmetic as a rotation change.  A version that
re-creates a deleted schedule starts afresh, as a first version does.

Precedence between schedules is decided per stretch: between two consecutive
version instants of the team, the versions in force are ordered by priority,
then by when their schedule was created (a re-created schedule counts from its
re-creation).
"""

from __future__ import annotations

import functools
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Sequence
from operator import itemgetter
from typing import NamedTuple

import attrs

from ._model import Deletion, Schedule, TeamState, Version, version_name
from ._overrides import OverrideMap
from ._plan import Lineup, Plan, shape
from ._rotation import Turns, rotation_offsets
from ._time import EARLIEST, LATEST, ZoneClock, instant_us
from ._windows import WindowPattern


@attrs.frozen(eq=False)
class Span:
    """One version of a schedule compiled, in force over [start, end)."""

    start: int
    end: int
    plan: Plan | None  # None: the schedule is deleted over the span
    rank: int  # when this life of the schedule was created (ties of priority)


class Chain:
    """One schedule's versions in effective order, each compiled into a span.

    A version's plan needs the one before it (the handover), so the chain is
    walked in order, once, when the team is compiled; but the walk keeps only
    what the next handover needs (the turn arithmetic, shared between versions,
    and the rotation offset the version ends with), and a span's :class:`Plan`
    is built when the span is first asked for.  A team whose schedules had many
    versions builds the plans of the few it answers from.
    """

    def __init__(
        self,
        entries: Sequence[tuple[int, Schedule | Deletion, int]],
        changes: Sequence[tuple[int, int | None]],
        overrides: OverrideMap,
    ) -> None:
        """``entries``: (start instant, version, append index) in effective order;
        ``changes``: the schedule's rotation changes as (effective instant,
        position), in effective order (ties in append order)."""
        self.starts = tuple(start for start, _, _ in entries)
        self._overrides = overrides
        moments = [instant for instant, _ in changes]
        # Per entry: what building its span takes (version None: a deletion).
        self._parts: list[_Part] = []
        self._spans: dict[int, Span] = {}  # built on first use
        previous: _Part | None = None  # the live version before, if any
        for index, (start, version, appended) in enumerate(entries):
            end = self.starts[index + 1] if index + 1 < len(entries) else LATEST
            if isinstance(version, Deletion):
                self._parts.append(_Part(start, end, None, (), None, appended))
                previous = None
                continue
            pin, rank = None, appended
            if previous is not None:
                # Folded only here: the last version's end is never read.
                ending = _Ending.of(previous)
                pin, rank = (start, ending.handover(version, start)), previous.rank
            own = changes[bisect_left(moments, start) : bisect_left(moments, end)]
            previous = _Part(start, end, version, own, pin, rank)
            self._parts.append(previous)

    def span_at(self, instant: int) -> Span | None:
        """The span in force at ``instant`` (None: before the first version)."""
        index = bisect_right(self.starts, instant) - 1
        if index < 0:
            return None
        span = self._spans.get(index)
        if span is None:
            part = self._parts[index]
            plan = None
            if part.version is not None:
                plan = Plan.of(part.version, part.changes, self._overrides, part.pin)
            # setdefault: threads that built the same span at once all keep the
            # first one, since answers compare plans by identity (next_candidate).
            span = self._spans.setdefault(index, Span(part.start, part.end, plan, part.rank))
        return span


class _Part(NamedTuple):
    """What one span of a chain is built from."""

    start: int
    end: int
    version: Schedule | None  # None: a deletion
    changes: Sequence[tuple[int, int | None]]
    pin: tuple[int, int] | None
    rank: int


class _Ending(NamedTuple):
    """A live version as its span ends: what the handover to the next one reads."""

    clock: ZoneClock
    windows: WindowPattern
    turns: Turns
    members: tuple[str, ...]
    offset: int  # the rotation offset after the version's pin and changes

    @classmethod
    def of(cls, part: _Part) -> _Ending:
        """The fold of :meth:`History.of`, keeping only its last offset."""
        assert part.version is not None  # a live version
        clock, windows, turns = shape(part.version)
        pin, changes = part.pin, part.changes
        steps = (pin, *changes) if pin is not None else changes
        last = deque(rotation_offsets(steps, turns, windows, clock.zone), maxlen=1)
        offset = last[0] if last else 0
        return cls(clock, windows, turns, part.version.members, offset)

    def handover(self, new: Schedule, instant: int) -> int:
        """The position in ``new``'s members of the turn in progress at ``instant``
        (the next version's start: every change of this one is before it)."""
        wall = self.clock.latest_wall(instant)
        place = (self.turns.pinned(wall, self.windows) + self.offset) % len(self.members)
        member = self.members[place]
        if place < len(new.members) and new.members[place] == member:
            return place
        return new.members.index(member) if member in new.members else 0


class CompiledTeam:
    """A team state compiled for resolution: each schedule's chain of versions, and
    the lineup in force between consecutive version instants (built on first use)."""

    def __init__(self, chains: dict[str, Chain], fallback: OverrideMap | None) -> None:
        """Chains by name in creation order; ``fallback``: the team-wide overrides."""
        self._chains = chains
        self._fallback = fallback
        # The instants at which some schedule's version changes: between two of
        # them, the lineup is fixed.
        self.bounds = tuple(
            sorted({s for chain in chains.values() for s in chain.starts if s > EARLIEST})
        )
        self._lineups: dict[int, Lineup] = {}
        self._alone: dict[str, CompiledTeam] = {}
        # Most teams have no version after their first: one lineup, no bisection.
        self._only = None if self.bounds else self._lineup(0)

    def lineup_at(self, instant: int) -> tuple[Lineup, int | None]:
        """The lineup in force at ``instant`` and the instant it ends (None: never)."""
        if self._only is not None:
            return self._only, None
        index = bisect_right(self.bounds, instant)
        lineup = self._lineups.get(index)
        if lineup is None:
            lineup = self._lineups.setdefault(index, self._lineup(index))  # as for spans
        return lineup, self.bounds[index] if index < len(self.bounds) else None

    def _lineup(self, index: int) -> Lineup:
        at = self.bounds[index - 1] if index else EARLIEST
        spans = [chain.span_at(at) for chain in self._chains.values()]
        live = [(span.plan, span.rank) for span in spans if span is not None and span.plan]
        live.sort(key=lambda entry: (-entry[0].schedule.priority, entry[1]))
        return Lineup(tuple(plan for plan, _ in live), self._fallback)

    def alone(self, name: str) -> CompiledTeam:
        """The same team restricted to one schedule, without team-wide overrides."""
        found = self._alone.get(name)
        if found is None:
            found = self._alone[name] = CompiledTeam({name: self._chains[name]}, None)
        return found

    def span_at(self, name: str, instant: int) -> Span | None:
        """The span of schedule ``name`` in force at ``instant`` (None: none, or no
        such schedule)."""
        chain = self._chains.get(name)
        return chain.span_at(instant) if chain is not None else None


# Above a page of GET /oncall (500 teams): with 256, each page evicted what the next
# would ask for, and a second pass over all teams compiled every team again
# (bench/bench_scale.py).  A compiled team is built lazily, so most are small.
@functools.lru_cache(maxsize=2048)
def compile_team(state: TeamState) -> CompiledTeam:
    """A team state compiled for resolution (cached: states are immutable)."""
    entries: dict[str, list[tuple[int, Schedule | Deletion, int]]] = {}
    versions: list[Version] = [*state.schedules, *state.deletions]
    for appended, version in enumerate(versions):
        start = EARLIEST if version.effective is None else instant_us(version.effective)
        entries.setdefault(version_name(version), []).append((start, version, appended))
    # Each change's instant once, sorted by instant then append order (stable).
    timed = sorted(
        ((instant_us(change.effective), appended, change))
        for appended, change in enumerate(state.changes)
    )
    changes: dict[str, list[tuple[int, int | None]]] = {}
    for instant, _, change in timed:
        changes.setdefault(change.schedule, []).append((instant, change.position))
    chains = {}
    for name, found in entries.items():
        found.sort(key=itemgetter(0))  # stable; the model refuses equal instants
        limited = OverrideMap.of(state.overrides, name)  # flattened when first asked
        chains[name] = Chain(found, changes.get(name, []), limited)
    team_wide = OverrideMap.of(state.overrides)
    return CompiledTeam(chains, team_wide)
