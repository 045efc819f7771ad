"""Reading a request: query parameters, path segments, the store and clock, and
the ``If-Match`` / ``ETag`` pair that guards writes of a schedule.

A schedule's entity tag is its revision (:meth:`oncall_core.TeamState.revision`,
the number of versions and deletions written), as a strong tag: ``"3"``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import attrs
from starlette.requests import Request

from oncall_core import Author, Store, TeamState, ValidationError, clean_text, parse_instant
from oncall_core.store import team_not_found


def query(request: Request, name: str) -> str | None:
    """The first value of query parameter ``name`` (as the seed's Echo reads it), or None.

    Every query parameter is read through here: Starlette's ``query_params[name]``
    would give the last of ``?team=a&team=b``.
    """
    values = request.query_params.getlist(name)
    return values[0] if values else None


def instant_query(request: Request, name: str) -> datetime | None:
    """Query parameter ``name`` as an RFC 3339 instant (None when absent); 400 naming it."""
    text = query(request, name)
    return None if text is None else parse_instant(text, field=name)


def instant_or_now(request: Request, name: str) -> datetime | None:
    """Query parameter ``name`` as an RFC 3339 instant or ``now`` (None when absent);
    400 naming it."""
    text = query(request, name)
    if text is None:
        return None
    return now(request) if text == "now" else parse_instant(text, field=name)


# The instants the model answers for (oncall_core.parse_instant checks those given).
_EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
_LATEST = datetime(2400, 1, 1, tzinfo=UTC)

MAX_RANGE = timedelta(days=366)
"""The longest span of time one request of shifts, gaps, a report or a feed covers."""


def time_range(
    request: Request,
    *,
    back: timedelta = timedelta(),
    ahead: timedelta,
    longest: timedelta | None = MAX_RANGE,
) -> tuple[datetime, datetime]:
    """The ``from`` and ``to`` query parameters (RFC 3339 or ``now``), checked.

    Without ``from``, ``back`` before now (before ``to`` when only ``to`` is given,
    ``ahead`` before it); without ``to``, ``ahead`` after ``from``.  A 400 names
    ``to`` when it is not after ``from`` or the span is longer than ``longest``.
    """
    start, end = instant_or_now(request, "from"), instant_or_now(request, "to")
    if start is None:
        start = now(request) - back if end is None else end - ahead
    if end is None:
        end = start + ahead
    for name, moment in (("from", start), ("to", end)):
        if not _EARLIEST <= moment < _LATEST:
            raise ValidationError(f"{name} must be between the years 1900 and 2400", field=name)
    if end <= start:
        raise ValidationError("to must be after from", field="to")
    if longest is not None and end - start > longest:
        raise ValidationError(f"from and to must be at most {longest.days} days apart", field="to")
    return start, end


def flag_query(request: Request, name: str) -> bool:
    """Query parameter ``name`` as ``true`` or ``false`` (absent: false); 400 naming it."""
    text = query(request, name)
    if text is None or text == "false":
        return False
    if text == "true":
        return True
    raise ValidationError(f"{name} must be true or false", field=name)


def store_of(request: Request) -> Store:
    """The store the lifespan opened."""
    store: Store = request.state.store
    return store


def now(request: Request) -> datetime:
    """The server's clock (the only place the server reads the time)."""
    clock: Callable[[], datetime] = request.state.clock
    return clock()


ANONYMOUS = "anonymous"
"""Who the audit trail says made a write that presented no API key."""


def author(request: Request, at: datetime) -> Author:
    """Who makes the request's write, for its audit entries: the name of the key it
    presented (:mod:`oncall_server._auth` keeps it) or :data:`ANONYMOUS`, at ``at``,
    with the request's id (:class:`oncall_server._logging.RequestLog` keeps it)."""
    state = request.state
    return Author(
        actor=getattr(state, "key_name", None) or ANONYMOUS,
        at=at,
        request_id=getattr(state, "request_id", None),
    )


async def team_state(request: Request, team: str) -> TeamState:
    """The team's state; 404 for an unknown team."""
    state = await store_of(request).load_team(team)
    if state is None:
        raise team_not_found(team)
    return state


def team_and_name(request: Request) -> tuple[str, str]:
    """The ``{team}`` and ``{name}`` path segments, cleaned as the model cleans them."""
    return team_segment(request), clean_text(request.path_params["name"], "name")


def team_segment(request: Request) -> str:
    """The ``{team}`` path segment, cleaned as the model cleans it."""
    return clean_text(request.path_params["team"], "team")


def etag(revision: int) -> dict[str, str]:
    """The ``ETag`` header of a schedule at ``revision``."""
    return {"ETag": f'"{revision}"'}


_IF_MATCH_MESSAGE = 'If-Match must be "*" or entity tags such as "3"'
# An entity tag as RFC 9110 has it, without a comma inside (ours are digits); the
# OpenAPI document states the same pattern.
_ENTITY_TAG = re.compile(r'[ \t]*(?:W/)?"([!#-+\--~]*)"[ \t]*')


@attrs.frozen
class IfMatch:
    """A parsed ``If-Match`` header: any current revision (``*``), or one of ``revisions``.

    A tag that is not one of ours (``"abc"``) matches no revision; weak tags
    (``W/"3"``) are compared like strong ones, since a revision names one exact
    state of the schedule.
    """

    any: bool
    revisions: frozenset[int]

    def expected(self, current: int) -> int:
        """The revision to require of the store, given the one last read.

        ``*`` and a list that holds ``current`` require ``current``; otherwise a
        revision the schedule does not have (the write then fails with 412).
        """
        if self.any or current in self.revisions:
            return current
        return min(self.revisions, default=-1)


def if_match(request: Request) -> IfMatch | None:
    """The request's ``If-Match`` header (None when absent); 400 naming it when malformed."""
    values = request.headers.getlist("if-match")
    if not values:
        return None
    text = ",".join(values)
    if text.strip(" \t") == "*":
        return IfMatch(any=True, revisions=frozenset())
    revisions: set[int] = set()
    for part in text.split(","):
        found = _ENTITY_TAG.fullmatch(part)
        if found is None:
            raise ValidationError(_IF_MATCH_MESSAGE, field="If-Match")
        tag = found.group(1)
        if tag.isascii() and tag.isdigit() and len(tag) < 10:
            revisions.add(int(tag))
    # Tags that are not ours match nothing: -1 is no schedule's revision.
    return IfMatch(any=False, revisions=frozenset(revisions or {-1}))
