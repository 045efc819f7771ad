"""A schedule's recurring windows, as arithmetic on wall-clock microseconds.

A window pattern is "on each active weekday D, [D + start, D + start + length)"
in wall time.  Day numbers count from 1970-01-01; every question (which window
covers this wall time, when does the next one start, how many windows lie
between two days) is answered in constant time, whatever the distance.
"""

from __future__ import annotations

import functools
from datetime import time

import attrs

from ._model import Schedule
from ._time import DAY, EPOCH_WEEKDAY, wall_of_time, weekday_of_day


@attrs.frozen
class WindowPattern:
    """The windows of one schedule in wall time."""

    mask: int  # bit w set when weekday w (Monday = 0) is active
    start: int  # wall microseconds after local midnight
    length: int  # 0 < length <= DAY
    count: int  # active weekdays
    # Days from weekday w to the next active weekday at or after it (0..6).
    _skip: tuple[int, ...]
    # Active weekdays strictly before weekday w in a Monday-first week.
    _before: tuple[int, ...]
    # Consecutive active days starting at weekday w (7 when every day is active).
    _run: tuple[int, ...]

    @classmethod
    def of(cls, schedule: Schedule) -> WindowPattern:
        """The window pattern of a schedule."""
        return _pattern(schedule.days, schedule.start, schedule.end, schedule.overnight)

    @classmethod
    def of_times(
        cls, days: frozenset[int], start: time, end: time, overnight: bool
    ) -> WindowPattern:
        """The window pattern of a schedule's days, start, end and overnight."""
        return _pattern(days, start, end, overnight)

    @classmethod
    def _build(
        cls, days: frozenset[int], start_time: time, end_time: time, overnight: bool
    ) -> WindowPattern:
        start = wall_of_time(start_time)
        end = wall_of_time(end_time)
        length = end - start if not overnight else (end - start) % DAY or DAY
        mask = sum(1 << day for day in days)
        active = [bool(mask >> weekday & 1) for weekday in range(7)]
        skip = tuple(
            next(step for step in range(7) if active[(weekday + step) % 7]) for weekday in range(7)
        )
        before = tuple(sum(active[:weekday]) for weekday in range(7))
        run = tuple(
            next((step for step in range(7) if not active[(weekday + step) % 7]), 7)
            for weekday in range(7)
        )
        return cls(mask, start, length, sum(active), skip, before, run)

    def covering(self, wall: int) -> int | None:
        """Day number of the window containing this wall time, or None."""
        # Windows are at most a day long, so only the latest window to start at or
        # before `wall` can contain it.
        day, into = divmod(wall - self.start, DAY)
        if into < self.length and self.mask >> (day + EPOCH_WEEKDAY) % 7 & 1:
            return day
        return None

    def first_day_at_or_after(self, day: int) -> int:
        """The first active day number >= day."""
        return day + self._skip[(day + EPOCH_WEEKDAY) % 7]

    def next_start(self, wall: int) -> int:
        """Wall time of the first window start strictly after ``wall``."""
        day = (wall - self.start) // DAY + 1
        return (day + self._skip[(day + EPOCH_WEEKDAY) % 7]) * DAY + self.start

    def first_start_at_or_after(self, wall: int) -> int:
        """Day number of the first window starting at or after ``wall``."""
        day = wall // DAY
        if day * DAY + self.start < wall:
            day += 1
        return self.first_day_at_or_after(day)

    def count_before(self, day: int) -> int:
        """How many active days lie before ``day``, counting from an arbitrary fixed origin."""
        # Shift so that the week boundaries fall on Mondays: day 4 (1970-01-05) is a Monday.
        weeks, weekday = divmod(day - 4, 7)
        return weeks * self.count + self._before[weekday]

    def end_of(self, day: int) -> int:
        """Wall time at which the window starting on ``day`` ends."""
        return day * DAY + self.start + self.length

    def run_end(self, day: int) -> int | None:
        """Wall time at which the coverage that includes window ``day`` ends.

        Windows of 24 hours on consecutive active days touch and form one run;
        None when the schedule covers every moment of every day.
        """
        if self.length < DAY:
            return self.end_of(day)
        run = self._run[weekday_of_day(day)]
        if run == 7:
            return None
        return (day + run) * DAY + self.start


@functools.lru_cache(maxsize=1024)
def _pattern(days: frozenset[int], start: time, end: time, overnight: bool) -> WindowPattern:
    # Shared by every version (and team) with the same windows: a schedule's
    # versions mostly change members, not windows.
    return WindowPattern._build(days, start, end, overnight)
