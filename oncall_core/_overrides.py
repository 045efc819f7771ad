"""Layered overrides flattened into a sorted map of instants to the override that wins."""

from __future__ import annotations

from bisect import bisect_right
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
        """Flatten overrides given in creation order."""
        spans = [(instant_us(o.start), instant_us(o.end), o) for o in overrides]
        points = sorted({point for start, end, _ in spans for point in (start, end)})
        bounds: list[int] = []
        winners: list[Override | None] = []
        for point in points:
            winner = None
            for start, end, override in reversed(spans):
                if start <= point < end:
                    winner = override
                    break
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
