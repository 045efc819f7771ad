"""Wall-clock time: the one DST rule that every other module relies on.

Theory of operation
-------------------
Schedules speak in local wall times ("Monday 09:00 in America/Chicago"); the
questions we answer speak in instants.  Around daylight-saving transitions a
wall time may occur twice (the clock falls back) or not at all (the clock
springs forward), so the mapping needs a rule.  There is exactly one, here:

    A local date-and-time W denotes the FIRST INSTANT WHOSE LOCAL
    DATE-AND-TIME IN THE ZONE IS AT OR AFTER W.

- An ordinary wall time denotes the instant the clock shows it.
- A repeated wall time (fall back) denotes its first occurrence.
- A skipped wall time (spring forward) denotes the instant the clock jumps
  over it: 02:30 on a US spring-forward day is 03:00 CDT, the moment the
  clock goes from 02:00 CST to 03:00 CDT.  (zoneinfo's fold=0 reading would
  give 03:30; we do not use it.)

The rule is monotone: a later wall time never denotes an earlier instant.  So
windows built from wall times never overlap, consecutive shifts touch, and a
handoff is never skipped; two handoffs inside one skipped stretch of wall
time simply happen at the same instant (a turn of zero length).

The rule has a dual that turns every question into integer arithmetic.  Let
the *latest wall* M(t) be the latest local date-and-time shown at or before
instant t (it equals the local time, except during the second pass through a
repeated hour, where the clock already showed later times: the reading the
clock shows, ``shown_wall``, goes back there, and ``latest_wall`` does not).
Then

    t >= instant_of(W)   if and only if   M(t) >= W.

So "is t inside the window [S, E)?" is "S <= M(t) < E", and "how many
handoffs A, A+step, A+2*step, ... happened by t?" is a floor division; no
other module converts between wall times and instants, and none steps
through days.

Representation: an instant is an ``int`` of microseconds since
1970-01-01T00:00Z; a wall time is an ``int`` of microseconds since
1970-01-01T00:00 on the zone's wall clock.  Integers compare and divide
exactly and fast; aware ``datetime`` objects appear only at the API's edge.
"""

from __future__ import annotations

import functools
from bisect import bisect_right
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from ._errors import ValidationError

MICROSECOND = timedelta(microseconds=1)
SECOND = 1_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
WEEK = 7 * DAY

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)
# 1970-01-01 was a Thursday: weekday(day) = (day + 3) % 7 with Monday = 0.
EPOCH_WEEKDAY = 3


def instant_us(moment: datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime (any UTC offset)."""
    return (moment - _EPOCH) // MICROSECOND


def to_datetime(instant: int) -> datetime:
    """The aware UTC datetime of an instant in microseconds."""
    return _EPOCH + timedelta(0, 0, instant)


@functools.cache
def zone_named(name: str) -> ZoneInfo:
    """The ZoneInfo of an IANA region name (``Europe/Berlin``) or ``UTC``.

    Raises :class:`ValidationError` (field ``timezone``) for any other name,
    including the tz database's names that are not regions: ``localtime`` (which
    would follow the server's own ``/etc/localtime``), ``Factory``,
    ``posixrules``, ``posix/...`` and ``right/...`` variants, and legacy
    abbreviations such as ``EST`` or ``CET``.
    """
    if name != "UTC" and name not in _regions():
        # Decided on the name alone, so that the answer does not depend on which
        # files this machine's tz database happens to have.
        if "/" in name and not name.startswith(("posix/", "right/")):
            raise ValidationError(f"unknown time zone: {name}", field="timezone")
        raise ValidationError(
            f"time zone {name} is not a region: use an IANA region name such as"
            " Europe/Berlin, or UTC",
            field="timezone",
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # listed, yet unreadable
        raise ValidationError(f"unknown time zone: {name}", field="timezone") from None


@functools.cache
def _regions() -> frozenset[str]:
    # Area/Location names; available_timezones() already leaves out posix/ and right/.
    return frozenset(
        name
        for name in available_timezones()
        if "/" in name and not name.startswith(("posix/", "right/"))
    )


# Instants outside this range are rejected: no schedule runs there, and the
# arithmetic around them would leave datetime's range (years 1 to 9999).
EARLIEST = instant_us(datetime(1900, 1, 1, tzinfo=UTC))
LATEST = instant_us(datetime(2400, 1, 1, tzinfo=UTC))


def supported_instant(moment: object, field: str) -> int:
    """Microseconds of an aware datetime between 1900 and 2400.

    Raises :class:`ValidationError` naming ``field`` otherwise: a naive datetime
    is rejected, never guessed.
    """
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise ValidationError(f"{field} must be a datetime with a UTC offset", field=field)
    instant = instant_us(moment)
    if not EARLIEST <= instant < LATEST:
        raise ValidationError(f"{field} must be between the years 1900 and 2400", field=field)
    return instant


def weekday_of_day(day: int) -> int:
    """Weekday (Monday = 0) of a day number counted from 1970-01-01."""
    return (day + EPOCH_WEEKDAY) % 7


def wall_of_time(moment: time) -> int:
    """Microseconds since midnight of a time of day."""
    return (moment.hour * 60 + moment.minute) * MINUTE + moment.second * SECOND + moment.microsecond


def _local(instant: int, zone: ZoneInfo) -> datetime:
    return (_EPOCH + timedelta(0, 0, instant)).astimezone(zone)


def _offset(moment: datetime) -> int:
    offset = moment.utcoffset()
    assert offset is not None  # every moment built here carries a ZoneInfo
    return offset // MICROSECOND


def shown_wall(instant: int, zone: ZoneInfo) -> int:
    """The local date-and-time the zone's clock shows at ``instant``, as wall microseconds.

    It differs from :func:`latest_wall` exactly during the second pass through a
    repeated stretch: there the clock shows an earlier time than it already showed.
    """
    return instant + _offset(_local(instant, zone))


def _exact_latest_wall(instant: int, zone: ZoneInfo) -> int:
    local = _local(instant, zone)
    if not local.fold:
        return instant + _offset(local)
    # Second pass through a repeated stretch: the first pass ended at transition T,
    # just before which the clock showed T + offset_before - 1 microsecond.
    before = _offset(local.replace(fold=0))
    after = _offset(local)
    transition = _first_true(
        instant - (before - after), instant, lambda y: _offset(_local(y, zone)) == after
    )
    return transition + before - 1


def _exact_instant_of(wall: int, zone: ZoneInfo) -> int:
    naive = _NAIVE_EPOCH + timedelta(microseconds=wall)
    # fold=0 reads a repeated wall time as its first occurrence, which is our rule.
    first_guess = wall - _offset(naive.replace(tzinfo=zone))
    if shown_wall(first_guess, zone) == wall:
        return first_guess
    # The clock jumps over `wall`: the answer is the jump.  fold=0 used the offset
    # before the jump (so first_guess is after it), fold=1 the offset after (before it).
    before_jump = wall - _offset(naive.replace(tzinfo=zone, fold=1))
    return _first_true(before_jump, first_guess, lambda y: shown_wall(y, zone) >= wall)


# The fast path.  Away from offset changes, the wall clock is simply instant +
# offset and a wall time's instant is wall - offset.  Each zone's offsets are
# tabled one stretch of time at a time by sampling the zone every hour, and a
# sample is trusted only more than _CLEAR from every offset change the samples
# saw: farther than any change moves the clock (offsets stay within +-15 hours)
# plus the hour between samples.  (tzdata has no offset that lasts under an
# hour, so hourly samples see every change.)  Near a change, the exact functions
# above run.  The span used last is remembered, so most lookups are two
# comparisons.
_CHUNK = 1 << 41  # microseconds of instants per table (about 25 days)
_CLEAR = 31 * HOUR
_TABLE_LIMIT = 2_000  # tables kept per zone


class ZoneClock:
    """Conversions between instants and wall times in one zone (see the module docstring)."""

    __slots__ = ("_recent", "_tables", "zone")

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self._tables: dict[int, tuple[list[int], list[int], list[int]]] = {}
        self._recent = (1, 0, 0)  # (low, high, offset): offset is clear on [low, high]

    def latest_wall(self, instant: int) -> int:
        """M(instant): the latest local date-and-time shown at or before ``instant``.

        Equal to the local time, except during the second pass through a repeated
        stretch, where the clock has already shown the end of that stretch.
        """
        low, high, offset = self._recent
        if not low <= instant <= high:
            clear = self._clear_offset(instant)
            if clear is None:
                return _exact_latest_wall(instant, self.zone)
            offset = clear
        return instant + offset

    def instant_of(self, wall: int) -> int:
        """The first instant whose local date-and-time is at or after ``wall``."""
        # Far from any offset change, `wall` read as an instant is within 15 hours of
        # the answer, so the same offset applies there and the wall time occurs once.
        low, high, offset = self._recent
        if not low <= wall <= high:
            clear = self._clear_offset(wall)
            if clear is None:
                return _exact_instant_of(wall, self.zone)
            offset = clear
        return wall - offset

    def _clear_offset(self, instant: int) -> int | None:
        chunk = instant // _CHUNK
        table = self._tables.get(chunk)
        starts, ends, offsets = table if table is not None else self._table(chunk)
        index = bisect_right(starts, instant) - 1
        low, high = starts[index] + _CLEAR, ends[index] - _CLEAR
        if low <= instant <= high:
            self._recent = (low, high, offsets[index])
            return offsets[index]
        return None

    def _table(self, chunk: int) -> tuple[list[int], list[int], list[int]]:
        """(first sample, last sample, offset) of each run of equal offsets around a chunk."""
        starts: list[int] = []
        ends: list[int] = []
        offsets: list[int] = []
        low = chunk * _CHUNK - _CLEAR - HOUR
        high = (chunk + 1) * _CHUNK + _CLEAR + HOUR
        for sample in range(low - low % HOUR, high + HOUR, HOUR):
            offset = _offset(_local(sample, self.zone))
            if offsets and offsets[-1] == offset:
                ends[-1] = sample
            else:
                starts.append(sample)
                ends.append(sample)
                offsets.append(offset)
        if len(self._tables) >= _TABLE_LIMIT:
            self._tables.clear()
        self._tables[chunk] = starts, ends, offsets
        return starts, ends, offsets


@functools.cache
def clock_of(zone: ZoneInfo) -> ZoneClock:
    """The one :class:`ZoneClock` of a zone."""
    return ZoneClock(zone)


def latest_wall(instant: int, zone: ZoneInfo) -> int:
    """M(instant) in ``zone``: see :meth:`ZoneClock.latest_wall`."""
    return clock_of(zone).latest_wall(instant)


def instant_of(wall: int, zone: ZoneInfo) -> int:
    """The instant a wall time denotes in ``zone``: see :meth:`ZoneClock.instant_of`."""
    return clock_of(zone).instant_of(wall)


def _first_true(low: int, high: int, predicate: Callable[[int], bool]) -> int:
    """Smallest y in (low, high] with predicate(y), for a predicate false at low, true at high,
    and monotone between them (a single transition lies in the range)."""
    while high - low > 1:
        middle = (low + high) // 2
        if predicate(middle):
            high = middle
        else:
            low = middle
    return high
