"""Layered overrides flattened into a sorted map of instants to the override that wins."""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Sequence

import attrs

from ._model import Override
from ._time import instant_us


@attrs.frozen
class OverrideMap:
    """For consecutive intervals [bounds[i], bounds[i+1]), the override that wins there.

    Built from overrides in creation order; where several overlap, the one created
    last wins, so an override of an override works.  ``winners[i]`` is None where
    none applies; the last bound closes the map.
    """

    bounds: tuple[int, ...]
    winners: tuple[Override | None, ...]

    @classmethod
    def of(cls, overrides: Sequence[Override]) -> OverrideMap:
        """Flatten overrides given in creation order (a sweep: O(n log n))."""
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
        return cls(tuple(bounds), tuple(winners))

    def at(self, instant: int) -> Override | None:
        """The override in force at an instant, if any."""
        index = bisect_right(self.bounds, instant) - 1
        return self.winners[index] if index >= 0 else None

    def next_bound(self, instant: int) -> int | None:
        """The first instant strictly after ``instant`` where the winner changes."""
        index = bisect_right(self.bounds, instant)
        return self.bounds[index] if index < len(self.bounds) else None
