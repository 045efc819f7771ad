"""Rotation arithmetic: whose turn it is, from the rotation kind and the history.

A schedule's member at a covered instant is ``members[(turn + offset) % n]``:

- ``turn`` comes from the rotation kind alone.  Periodic rotations count the
  handoffs A, A + step, A + 2*step, ... (wall times, A the anchor's local
  time) that happened by the instant: with the wall clock M(t) that is
  ``floor((M(t) - A) / step)``, negative before the anchor.  ``per_shift``
  counts the active days between the first window whose start instant is at
  or after the anchor instant and the covering window.  Manual rotations stay
  at turn 0.

Readings around daylight-saving transitions (each follows from the one DST
rule in ``_time``; ``docs/core.md`` shows them with examples):

- A periodic rotation anchored inside a repeated hour: the anchor's wall
  reading defines the handoff time, and handoff 0 is the instant that wall
  time denotes (its first occurrence), which can be up to the repeated
  stretch before the anchor instant.  Anchored at 01:30 CST (the second
  01:30 of a Chicago fall-back night, 07:30Z), a daily rotation's handoff 0
  is the first 01:30 (06:30Z).
- ``per_shift`` compares instants: the first member gets the first window
  whose start instant is at or after the anchor instant.  A window whose
  start wall time is skipped starts at the jump, so it can start exactly at
  an anchor on the jump; a window that starts at the first pass of a repeated
  hour starts before an anchor in the second pass.
- A ``per_shift`` window that falls entirely inside a skipped stretch (02:00-
  02:30 on a US spring-forward night) is a turn of zero length: it counts, and
  appears in no timeline, as a squeezed turn of a periodic rotation does.
- ``offset`` comes from the rotation history, folded in order of effective
  instant: "advance" adds one, "set to p at e" picks the offset that puts
  ``members[p]`` on the turn in progress at e.  A change effective at e only
  touches answers at or after e, which keeps history honest.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import attrs

from ._model import RotationKind, Schedule
from ._time import (
    DAY,
    HOUR,
    WEEK,
    instant_of,
    instant_us,
    latest_wall,
    shown_wall,
    supported_instant,
    to_datetime,
    zone_named,
)
from ._windows import WindowPattern

_STEP = {RotationKind.HOURLY: HOUR, RotationKind.DAILY: DAY, RotationKind.WEEKLY: WEEK}


@attrs.frozen
class Turns:
    """The turn number of a schedule's rotation at a wall time."""

    kind: RotationKind
    anchor: int  # periodic: wall time of handoff 0; per_shift: count_before(first day)
    step: int  # periodic: wall microseconds between handoffs

    @classmethod
    def of(
        cls,
        kind: RotationKind,
        every: int,
        start: datetime | None,
        windows: WindowPattern,
        zone: ZoneInfo,
    ) -> Turns:
        """The turn arithmetic of a schedule's rotation (its kind, every and start),
        over its windows in its zone."""
        if start is None:
            return cls(kind, 0, 0)
        anchor = instant_us(start)
        if kind is RotationKind.PER_SHIFT:
            first_day = _first_window_day(windows, anchor, zone)
            return cls(kind, windows.count_before(first_day), 0)
        # Periodic: the anchor's local reading is the handoff time (see the module
        # docstring for an anchor inside a repeated hour).
        anchor_wall = shown_wall(anchor, zone)
        return cls(kind, anchor_wall, _STEP[kind] * every)

    def in_window(self, wall: int, day: int, windows: WindowPattern) -> int:
        """The turn during the window that starts on ``day`` and contains ``wall``."""
        if self.step:
            return (wall - self.anchor) // self.step
        if self.kind is RotationKind.PER_SHIFT:
            return windows.count_before(day) - self.anchor
        return 0

    def pinned(self, wall: int, windows: WindowPattern) -> int:
        """The turn a "set position" change effective at ``wall`` applies to."""
        if self.kind is RotationKind.PER_SHIFT:
            # The shift in progress, or else the next one to start.
            day = windows.covering(wall)
            if day is None:
                day = windows.next_start(wall) // DAY
            return windows.count_before(day) - self.anchor
        return self.in_window(wall, 0, windows)

    def next_handoff(self, wall: int) -> int | None:
        """Wall time of the first handoff strictly after ``wall`` (None: not periodic)."""
        if not self.step:
            return None
        return self.anchor + ((wall - self.anchor) // self.step + 1) * self.step


@attrs.frozen
class History:
    """A schedule's rotation history folded into offsets by effective instant."""

    effective: tuple[int, ...]
    offsets: tuple[int, ...]

    @classmethod
    def of(
        cls,
        steps: Sequence[tuple[int, int | None]],
        turns: Turns,
        windows: WindowPattern,
        zone: ZoneInfo,
        pin: tuple[int, int] | None = None,
    ) -> History:
        """Fold one schedule version's changes, given as (effective instant, position)
        in effective order (ties in the order they were appended).

        ``pin`` (instant, position), when given, comes first: a "set position"
        at the instant the version takes effect (see ``_versions``).
        """
        if pin is not None:
            steps = [pin, *steps]
        if not steps:
            return _NO_HISTORY
        offsets = tuple(rotation_offsets(steps, turns, windows, zone))
        return cls(tuple(instant for instant, _ in steps), offsets)

    def offset_at(self, instant: int) -> int:
        """The offset in force at an instant (changes effective at or before it)."""
        index = bisect_right(self.effective, instant)
        return self.offsets[index - 1] if index else 0

    def next_after(self, instant: int) -> int | None:
        """The first effective instant strictly after ``instant``, if any."""
        index = bisect_right(self.effective, instant)
        return self.effective[index] if index < len(self.effective) else None


_NO_HISTORY = History((), ())


def rotation_offsets(
    steps: Iterable[tuple[int, int | None]], turns: Turns, windows: WindowPattern, zone: ZoneInfo
) -> Iterator[int]:
    """The rotation offset after each step (effective instant, position) in order: a
    position of None advances by one turn, a position sets who holds the turn in
    progress at the instant."""
    offset = 0
    for instant, position in steps:
        if position is None:
            offset += 1
        else:
            offset = position - turns.pinned(latest_wall(instant, zone), windows)
        yield offset


def _first_window_day(windows: WindowPattern, instant: int, zone: ZoneInfo) -> int:
    """Day number of the first window whose start INSTANT is at or after ``instant``.

    By the dual of the DST rule, instant_of(W) >= a exactly when W > M(a - 1us).
    (Comparing W with the local reading of ``instant`` goes wrong when it lies on
    a spring-forward jump or inside a repeated hour.)
    """
    return windows.first_start_at_or_after(latest_wall(instant - 1, zone) + 1)


def first_window_start(schedule: Schedule, at: datetime) -> datetime:
    """The start instant of ``schedule``'s first window that starts at or after ``at``.

    A rotation created without a ``start`` is anchored there, so that its
    handoffs fall on shift boundaries.  Raises :class:`ValidationError` for an
    unsupported ``at``.
    """
    instant = supported_instant(at, "created_at")
    zone = zone_named(schedule.timezone)
    windows = WindowPattern.of(schedule)
    day = _first_window_day(windows, instant, zone)
    return to_datetime(instant_of(day * DAY + windows.start, zone))
