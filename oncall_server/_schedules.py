"""The endpoints of teams, schedule versions and rotations (``/teams/...``).

Each handler parses the request, calls :mod:`oncall_core` (its write rules are
in ``oncall_core.store``) or the store, and maps the result to JSON; the
domain errors it lets through become statuses in ``_errors``.

Writes of an existing schedule (``PUT``, ``DELETE``) are always conditional
on the revision last read, whether or not the client sent ``If-Match``: the
version a new one follows (whose rotation cadence it may keep) and the
``ETag`` answered are then exactly those of the state written over.  Without
``If-Match``, a write that another one overtook is tried again on the new
state, a bounded number of times (:data:`ATTEMPTS`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import quote

import attrs
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from oncall_core import (
    Conflict,
    Deletion,
    NotFound,
    PreconditionFailed,
    RotationChange,
    Schedule,
    TeamState,
    ValidationError,
    clean_text,
    format_instant,
    parse_instant,
    parse_schedule_request,
    timeline,
    to_json,
    turn_in_progress,
)
from oncall_core.store import (
    edit,
    effective_from,
    rotation_change,
    schedule_not_found,
)

from ._body import json_body, only_fields
from ._pages import page, page_request
from ._requests import (
    author,
    etag,
    flag_query,
    if_match,
    instant_query,
    now,
    store_of,
    team_and_name,
    team_segment,
    team_state,
)

T = TypeVar("T")

ATTEMPTS = 3
"""How many times a write without ``If-Match`` is tried when others overtake it."""
DRY_RUN_DAYS = 28
"""How many days of shifts a dry run compares."""

SCHEDULE_FIELDS = frozenset(
    {
        "name",
        "team",
        "members",
        "days",
        "start",
        "end",
        "overnight",
        "timezone",
        "priority",
        "rotation",
        "effective",
    }
)
"""The fields a schedule body of ``/teams/...`` may have (the seed's ``POST /schedule``
ignores others; these endpoints refuse them)."""
ROTATE_FIELDS = frozenset({"to", "at"})
"""The fields of a ``.../rotate`` body."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def location(team: str, name: str) -> str:
    """The path of a schedule, each part percent-encoded."""
    return f"/teams/{quote(team, safe='')}/schedules/{quote(name, safe='')}"


def deletion_json(team: str, ended: Deletion) -> dict[str, Any]:
    """A deletion as answered by ``DELETE`` and listed among versions."""
    return {
        "team": team,
        "name": ended.schedule,
        "deleted": True,
        "effective": format_instant(ended.effective),
    }


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _from_path(data: Mapping[str, Any], **path: str) -> dict[str, Any]:
    """The body with the path's team (and name), which the body may repeat but not contradict."""
    body = dict(data)
    for field, value in path.items():
        given = body.get(field)
        if given is not None:
            if not isinstance(given, str):
                raise ValidationError(f"{field} must be a string", field=field)
            if clean_text(given, field) != value:
                raise ValidationError(
                    f"{field} {given!r} in the body is not the {field} in the path ({value!r})",
                    field=field,
                )
        body[field] = value
    return body


async def _state(request: Request, team: str) -> TeamState | None:
    return await store_of(request).load_team(team)


async def _named(request: Request, team: str, name: str) -> TeamState:
    """The team's state, which has (or had) a schedule of that name; 404 if not."""
    state = await _state(request, team)
    if state is None or not state.history(name):
        raise schedule_not_found(team, name)
    return state


async def _conditional(
    request: Request,
    team: str,
    name: str,
    write: Callable[[TeamState | None, int], Awaitable[T]],
) -> tuple[T, int]:
    """Run ``write(state, expected)`` on the state last read, requiring its revision
    (or the client's ``If-Match``); the result and the revision after it."""
    asked = if_match(request)
    for attempt in range(ATTEMPTS):  # ends: bounded; each try reads afresh
        state = await _state(request, team)
        current = state.revision(name) if state is not None else 0
        expected = asked.expected(current) if asked is not None else current
        try:
            result = await write(state, expected)
        except PreconditionFailed:
            if asked is not None:
                raise
            if attempt == ATTEMPTS - 1:
                raise Conflict(
                    f"schedule {name!r} of team {team!r} kept changing: try again"
                ) from None
            continue
        return result, expected + 1
    raise AssertionError("unreachable: the last attempt returns or raises")


async def list_teams(request: Request) -> Response:
    """``GET /teams``: teams by name, each with the number of schedules in force now."""
    asked = page_request(request, lambda key: isinstance(key, str))
    found = await store_of(request).list_teams(
        at=now(request), after=asked.after, limit=asked.limit + 1
    )
    # The store applied the cursor already: the page is the start of what it found.
    teams, next_cursor = page(found, lambda summary: summary.team, attrs.evolve(asked, after=None))
    return JSONResponse(
        {
            "teams": [{"team": s.team, "schedules": s.schedules} for s in teams],
            "next_cursor": next_cursor,
        }
    )


async def list_schedules(request: Request) -> Response:
    """``GET /teams/{team}/schedules``: the schedules in force now (or ``?at=``), in
    creation order."""
    team = team_segment(request)
    at = instant_query(request, "at") or now(request)
    asked = page_request(request, lambda key: isinstance(key, int) and not isinstance(key, bool))
    state = await team_state(request, team)
    places = {name: index for index, name in enumerate(state.names)}
    schedules, next_cursor = page(state.in_force(at), lambda s: places[s.name], asked)
    return JSONResponse({"schedules": [to_json(s) for s in schedules], "next_cursor": next_cursor})


async def create_version(request: Request) -> Response:
    """``POST /teams/{team}/schedules``: create a schedule (or re-create a deleted one)."""
    team = team_segment(request)
    body = _from_path(only_fields(await json_body(request), SCHEDULE_FIELDS), team=team)
    moment = now(request)
    schedule = parse_schedule_request(body, created_at=moment)
    before = await _state(request, team)
    version = await store_of(request).create_schedule(
        schedule, now=moment, by=author(request, moment)
    )
    # A new name's first write is revision 1; a re-creation follows the deletion
    # read just before (a race with another write of the name would be refused as
    # ScheduleExists, but for a re-creation and a deletion both slipping in between).
    revision = (before.revision(version.name) if before is not None else 0) + 1
    return JSONResponse(
        to_json(version),
        status_code=201,
        headers={"Location": location(team, version.name), **etag(revision)},
    )


async def get_version(request: Request) -> Response:
    """``GET /teams/{team}/schedules/{name}``: the version in force now (or ``?at=``);
    without ``at``, the next one scheduled when none is in force yet."""
    team, name = team_and_name(request)
    at = instant_query(request, "at")
    state = await _named(request, team, name)
    version = state.schedule_at(name, at if at is not None else now(request))
    if version is None and at is None:
        current = now(request)
        later = [v for v in state.history(name) if v.effective and v.effective > current]
        version = later[0] if later and isinstance(later[0], Schedule) else None
    if version is None:
        when = f"at {format_instant(at)}" if at is not None else "now, nor one scheduled"
        raise NotFound(
            f"team {team!r} has no schedule named {name!r} in force {when}", team=team, name=name
        )
    return JSONResponse(to_json(version), headers=etag(state.revision(name)))


async def list_versions(request: Request) -> Response:
    """``GET /teams/{team}/schedules/{name}/versions``: versions and deletions by effective."""
    team, name = team_and_name(request)
    asked = page_request(request, _version_key_ok)
    state = await _named(request, team, name)
    entries, next_cursor = page(state.history(name), _version_key, asked)
    return JSONResponse(
        {
            "versions": [
                to_json(v) if isinstance(v, Schedule) else deletion_json(team, v) for v in entries
            ],
            "next_cursor": next_cursor,
        }
    )


def _version_key(version: Schedule | Deletion) -> list[int]:
    # The beginning of time first; then by instant (unique within one name).
    return [0] if version.effective is None else [1, _micros(version.effective)]


def _version_key_ok(key: Any) -> bool:
    return key == [0] or (
        isinstance(key, list) and len(key) == 2 and key[0] == 1 and _is_int(key[1])
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


async def put_version(request: Request) -> Response:
    """``PUT /teams/{team}/schedules/{name}``: a new version from ``effective`` (now when
    absent); with ``?dry_run=true``, the shifts before and after, storing nothing."""
    team, name = team_and_name(request)
    dry_run = flag_query(request, "dry_run")
    body = _from_path(only_fields(await json_body(request), SCHEDULE_FIELDS), team=team, name=name)
    moment = now(request)
    requested = body.get("effective")
    effective = effective_from(
        None if requested is None else parse_instant(requested, field="effective"), moment
    )
    body["effective"] = format_instant(effective)
    store = store_of(request)

    def parse(state: TeamState | None) -> Schedule:
        # The version in force then: an omitted rotation start keeps its cadence.
        previous = state.schedule_at(name, effective) if state is not None else None
        return parse_schedule_request(body, created_at=moment, previous=previous)

    if dry_run:
        state = await _state(request, team)
        asked = if_match(request)
        current = state.revision(name) if state is not None else 0
        expected = asked.expected(current) if asked is not None else None
        version = edit(state, parse(state), moment, expected)
        assert state is not None  # edit found the schedule
        after = attrs.evolve(state, schedules=(*state.schedules, version))
        end = moment + timedelta(days=DRY_RUN_DAYS)
        return JSONResponse(
            {
                "before": [to_json(s) for s in timeline(state, moment, end)],
                "after": [to_json(s) for s in timeline(after, moment, end)],
                "version": to_json(version),
            },
            headers=etag(current),
        )

    async def write(state: TeamState | None, expected: int) -> Schedule:
        return await store.edit_schedule(
            parse(state), now=moment, expected=expected, by=author(request, moment)
        )

    version, revision = await _conditional(request, team, name, write)
    return JSONResponse(to_json(version), headers=etag(revision))


async def delete_version(request: Request) -> Response:
    """``DELETE /teams/{team}/schedules/{name}``: end the schedule now (or ``?effective=``)."""
    team, name = team_and_name(request)
    effective = instant_query(request, "effective")
    moment = now(request)
    store = store_of(request)

    async def write(_state: TeamState | None, expected: int) -> Deletion:
        return await store.delete_schedule(
            team,
            name,
            now=moment,
            effective=effective,
            expected=expected,
            by=author(request, moment),
        )

    ended, revision = await _conditional(request, team, name, write)
    return JSONResponse(deletion_json(team, ended), headers=etag(revision))


async def rotate(request: Request) -> Response:
    """``POST /teams/{team}/schedules/{name}/rotate``: advance the rotation, or hand the
    turn to member ``to``, at ``at`` (now when absent); 201 with the change and the turn
    in progress then."""
    team, name = team_and_name(request)
    body = only_fields(await json_body(request, empty={}), ROTATE_FIELDS)
    to = body.get("to")
    if to is not None and not isinstance(to, str):
        raise ValidationError("to must be a string", field="to")
    at = body.get("at")
    when = None if at is None else parse_instant(at, field="at")
    state = await _named(request, team, name)
    moment = now(request)
    change = rotation_change(
        state,
        team,
        name,
        now=moment,
        at=when,
        to=None if to is None else clean_text(to, "to"),
    )
    store = store_of(request)
    stored = await store.append_rotation_change(team, change, by=author(request, moment))
    after = await store.load_team(team)
    turn = turn_in_progress(after or state, name, stored.effective)
    return JSONResponse(
        {
            "change": to_json(stored),
            "turn": {
                "member": turn.member,
                "start": None if turn.start is None else format_instant(turn.start),
                "end": None if turn.end is None else format_instant(turn.end),
            },
        },
        status_code=201,
    )


async def rotation_history(request: Request) -> Response:
    """``GET /teams/{team}/schedules/{name}/history``: rotation changes, newest first."""
    team, name = team_and_name(request)
    asked = page_request(
        request, lambda key: isinstance(key, list) and len(key) == 2 and all(map(_is_int, key))
    )
    state = await _named(request, team, name)
    mine = [(i, c) for i, c in enumerate(state.changes) if c.schedule == name]
    newest_first = sorted(mine, key=_change_key, reverse=True)
    changes, next_cursor = page(newest_first, _change_key, asked, before=True)
    return JSONResponse({"changes": [to_json(c) for _, c in changes], "next_cursor": next_cursor})


def _change_key(entry: tuple[int, RotationChange]) -> list[int]:
    index, change = entry
    return [_micros(change.effective), index]
