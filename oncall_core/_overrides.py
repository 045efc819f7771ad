"""Layered overrides flattened into a sorted map of instants to the override that wins."""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Sequence

from ._model import Override
from ._time import instant_us


class OverrideMap:
    """For consecutive intervals [bounds[i], bounds[i+1]), the override that wins there.

    Built from overrides in creation order; where several overlap, the one created
    last wins, so an override of an override works.  ``winners[i]`` is None where
    none applies; the last bound closes the map.

    The map is flattened on its first question, not when it is made: compiling a
    team makes one per schedule, and the first answer usually asks one or two of
    them (the covering schedule's).
    """

    __slots__ = ("_bounds", "_schedule", "_source", "_winners")

    def __init__(self, overrides: Sequence[Override], schedule: str | None = None) -> None:
        """Overrides in creation order; with ``schedule``, only the team-wide ones
        and those limited to that schedule count (see :meth:`of`)."""
        self._source = overrides
        self._schedule = schedule
        self._bounds: tuple[int, ...] | None = None
        self._winners: tuple[Override | None, ...] = ()

    @classmethod
    def of(cls, overrides: Sequence[Override], schedule: str | None = None) -> OverrideMap:
        """The map of overrides given in creation order (flattened on first use):
        the team-wide ones, and with ``schedule`` those limited to it as well."""
        return cls(overrides, schedule)

    @property
    def bounds(self) -> tuple[int, ...]:
        """The instants at which the winner changes, in order."""
        return self._bounds if self._bounds is not None else self._flatten()

    @property
    def winners(self) -> tuple[Override | None, ...]:
        """The override that wins from each bound on (None: none)."""
        self.bounds  # noqa: B018  (flattens on first use)
        return self._winners

    def _flatten(self) -> tuple[int, ...]:
        """Flatten the overrides (a sweep: O(n log n)), once."""
        overrides = [o for o in self._source if o.schedule in (None, self._schedule)]
        starting: dict[int, list[int]] = defaultdict(list)
        ends: list[int] = []
        for index, override in enumerate(overrides):
            starting[instant_us(override.start)].append(index)
            ends.append(instant_us(override.end))
        points = sorted({*starting, *ends})
        active: list[tuple[int, int]] = []  # heap of (-creation index, end): latest on top
        bounds: list[int] = []
        winners: list[Override | None] = []
        for point in points:
            for index in starting.get(point, ()):
                heapq.heappush(active, (-index, ends[index]))
            while active and active[0][1] <= point:
                heapq.heappop(active)  # ended; ended ones deeper down surface later
            winner = overrides[-active[0][0]] if active else None
            if winners and winners[-1] is winner:
                continue  # same winner as the interval before: one interval
            bounds.append(point)
            winners.append(winner)
        self._winners = tuple(winners)
        self._bounds = tuple(bounds)
        return self._bounds

    def at(self, instant: int) -> Override | None:
        """The override in force at an instant, if any."""
        bounds = self._bounds if self._bounds is not None else self._flatten()
        index = bisect_right(bounds, instant) - 1
        return self._winners[index] if index >= 0 else None

    def next_bound(self, instant: int) -> int | None:
        """The first instant strictly after ``instant`` where the winner changes."""
        bounds = self._bounds if self._bounds is not None else self._flatten()
        index = bisect_right(bounds, instant)
        return bounds[index] if index < len(bounds) else None
