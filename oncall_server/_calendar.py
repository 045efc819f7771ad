"""Calendar feeds (RFC 5545): a team's shifts, or one member's across their teams.

Theory of operation.  A feed is one ``VEVENT`` per shift of the timeline
(:func:`oncall_core.timeline`) that overlaps the window asked for (by default
from :data:`BACK` before now to :data:`AHEAD` after it).  Calendar clients
subscribe to a feed and poll it; they match the events of each poll to those
they hold by ``UID``.  So one rule:

    **An event's UID is a digest of what makes the shift that shift** (team,
    schedule, member, start, end, source), so it stays the same across polls
    while the shift does, and changes when any of these does.

Its consequence: an event shows the *whole* shift, even one that began before
the window or ends after it; otherwise the window, which slides with every
poll, would cut the shift at another instant each time and give it a new UID.
The whole shift is found by looking further out from the window's edges
(:func:`whole`), up to :data:`REACH`; a shift longer than that (a manual
rotation around the clock) is cut there.

Serializing an event with ``icalendar`` costs about a hundred times what
finding its shift does, and a feed's events are, by the rule above, mostly
those of the previous poll: each event's bytes are kept (:class:`EventCache`,
bounded, one per application) under what the event shows, its UID and the
override's reason, and built again only when that changes.  Its ``DTSTAMP`` is
then the instant this server first published it.

Instants are written in UTC (``DTSTART:20250428T090000Z``), so no ``VTIMEZONE``
is needed; an override's event says so in its summary and categories and
carries its reason.  The feed asks clients to poll hourly
(``REFRESH-INTERVAL``, ``X-PUBLISHED-TTL``).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import attrs
from icalendar import Calendar, Event, vDuration, vText
from starlette.requests import Request
from starlette.responses import Response

from oncall_core import Shift, Source, TeamState, format_instant, oncall_at, timeline

from ._requests import now, team_segment, team_state, time_range
from ._views import member_segment, member_timeline

BACK = timedelta(days=7)
"""How far before now a feed starts, without ``from``."""
AHEAD = timedelta(days=90)
"""How far after now a feed ends, without ``from`` or ``to`` (97 days after ``from``
with ``from`` alone)."""
REACH = timedelta(days=366)
"""How far beyond the window a shift cut by it is followed to its start or end."""
MEDIA_TYPE = "text/calendar; charset=utf-8"
PRODID = "-//oncall-schedule//oncall-schedule 0.1.0//EN"
REFRESH = timedelta(hours=1)
MAX_EVENTS = 50_000
"""How many serialized events an :class:`EventCache` keeps (about 500 bytes each)."""


def event_uid(team: str, shift: Shift) -> str:
    """The UID of a shift's event: the same for the same shift (see the module docstring)."""
    parts = (
        team,
        shift.schedule or "",
        shift.member,
        format_instant(shift.start),
        format_instant(shift.end),
        shift.source.value,
    )
    digest = hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]
    return f"{digest}@oncall-schedule"


_FLOOR = datetime(1900, 1, 1, tzinfo=UTC)
_CEILING = datetime(2399, 12, 31, tzinfo=UTC)
_WEEK = timedelta(days=7)


def _same(one: Shift, other: Shift) -> bool:
    # What the timeline merges: touching intervals of one member, schedule and source.
    return (one.member, one.schedule, one.source) == (other.member, other.schedule, other.source)


def _start_of(state: TeamState, shift: Shift) -> datetime:
    """Where a shift that the window cut at its start really starts (at most REACH back)."""
    at, reach = shift.start, _WEEK
    while True:  # ends: reach doubles until it passes REACH (or the floor is reached)
        low = max(at - reach, _FLOOR)
        before = timeline(state, low, at)
        if not before or before[-1].end != at or not _same(before[-1], shift):
            return at
        if before[-1].start > low or reach >= REACH or low == _FLOOR:
            return before[-1].start
        reach *= 2


def _end_of(state: TeamState, shift: Shift) -> datetime:
    """Where a shift that the window cut at its end really ends (at most REACH on)."""
    at, reach = shift.end, _WEEK
    while True:  # ends: reach doubles until it passes REACH (or the ceiling is reached)
        high = min(at + reach, _CEILING)
        if high <= at:
            return at
        after = timeline(state, at, high)
        if not after or after[0].start != at or not _same(after[0], shift):
            return at
        if after[0].end < high or reach >= REACH or high == _CEILING:
            return after[0].end
        reach *= 2


def whole(state: TeamState, shift: Shift, start: datetime, end: datetime) -> Shift:
    """A shift of the timeline over [start, end), followed beyond the window's edges to
    where it really starts and ends."""
    if shift.start == start:
        shift = attrs.evolve(shift, start=_start_of(state, shift))
    if shift.end == end:
        shift = attrs.evolve(shift, end=_end_of(state, shift))
    return shift


def _event(team: str, shift: Shift, reason: str | None, stamp: datetime) -> Event:
    override = shift.source is Source.OVERRIDE
    where = team if shift.schedule is None else f"{team} / {shift.schedule}"
    summary = f"{shift.member} on call: {where}" + (" (override)" if override else "")
    lines = [f"Member: {shift.member}", f"Team: {team}"]
    if shift.schedule is not None:
        lines.append(f"Schedule: {shift.schedule}")
    if override:
        lines.append(f"Override: {reason}" if reason else "Override")
    event = Event()
    event.add("uid", event_uid(team, shift))
    event.add("dtstamp", stamp)
    event.add("dtstart", shift.start)
    event.add("dtend", shift.end)
    event.add("summary", summary)
    event.add("description", "\n".join(lines))
    event.add("categories", ["on-call", shift.source.value])
    event.add("transp", "TRANSPARENT")  # on call is not busy
    return event


class EventCache:
    """The bytes of recent events, by (UID, reason): at most ``max_events``, the least
    recently used dropped first.  Used on one event loop, with no await inside."""

    def __init__(self, max_events: int = MAX_EVENTS) -> None:
        self._events: OrderedDict[tuple[str, str | None], bytes] = OrderedDict()
        self._max = max_events

    def __len__(self) -> int:
        return len(self._events)

    def event(self, team: str, state: TeamState, shift: Shift, stamp: datetime) -> bytes:
        """The serialized ``VEVENT`` of a team's shift (``stamp``: its DTSTAMP if new)."""
        reason = _reason(state, shift)
        key = (event_uid(team, shift), reason)
        found = self._events.get(key)
        if found is not None:
            self._events.move_to_end(key)
            return found
        made: bytes = _event(team, shift, reason, stamp).to_ical()
        self._events[key] = made
        if len(self._events) > self._max:
            self._events.popitem(last=False)
        return made


def _reason(state: TeamState, shift: Shift) -> str | None:
    """The reason of the override that decides an override's shift (None for a rotation's)."""
    if shift.source is not Source.OVERRIDE:
        return None
    answer = oncall_at(state, shift.start)
    return answer.override.reason if answer and answer.override else None


def feed(request: Request, name: str, events: Iterable[tuple[str, TeamState, Shift]]) -> Response:
    """The calendar response: ``name`` (``X-WR-CALNAME``) and one event per (team, state, shift)."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", vText(name))  # TEXT, as RFC 5545 types X- properties
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(REFRESH))
    stamp = now(request).astimezone(UTC).replace(microsecond=0)
    cache: EventCache = request.state.events
    head, end = calendar.to_ical().split(b"END:VCALENDAR")
    body = [head, *(cache.event(team, state, shift, stamp) for team, state, shift in events)]
    return Response(b"".join([*body, b"END:VCALENDAR", end]), media_type=MEDIA_TYPE)


async def team_calendar(request: Request) -> Response:
    """``GET /teams/{team}/calendar.ics``: the team's shifts as a calendar feed."""
    team = team_segment(request)
    start, end = time_range(request, back=BACK, ahead=AHEAD + BACK)
    state = await team_state(request, team)
    return feed(
        request,
        f"On call: {team}",
        ((team, state, whole(state, s, start, end)) for s in timeline(state, start, end)),
    )


async def member_calendar(request: Request) -> Response:
    """``GET /members/{member}/calendar.ics``: one member's shifts across their teams."""
    member = member_segment(request)
    start, end = time_range(request, back=BACK, ahead=AHEAD + BACK)
    states, found = await member_timeline(request, member, start, end)
    return feed(
        request,
        f"On call: {member}",
        ((team, states[team], whole(states[team], s, start, end)) for team, s in found),
    )
