"""The endpoints of overrides and swaps (``/teams/{team}/overrides``, ``/teams/{team}/swaps``).

The rules of writing an override are the core's (``oncall_core.store``:
``override_creation``, ``override_removal``), applied by the store to the state
it locks: every write here passes the server's ``now``, so the past stays
read-only (a start more than a minute old is a 422, a delete of an override
that has ended a 409, and one under way ends now).  A swap is two overrides
computed by :func:`oncall_core.swap_overrides` on the state read, written all
or none by :meth:`oncall_core.Store.add_overrides`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from oncall_core import (
    Override,
    ValidationError,
    clean_text,
    parse_instant,
    swap_overrides,
    to_json,
)
from oncall_core.store import override_not_found, team_not_found

from ._body import json_body, only_fields
from ._pages import page, page_request
from ._requests import author, instant_or_now, now, store_of, team_segment, team_state

OVERRIDE_FIELDS = frozenset({"member", "start", "end", "schedule", "reason"})
"""The fields of a ``POST /teams/{team}/overrides`` body."""
SWAP_FIELDS = frozenset({"schedule", "shifts"})
"""The fields of a ``POST /teams/{team}/swaps`` body."""
MAX_ID = 2**63 - 1
"""The largest override id (PostgreSQL's bigint): a larger one names no override."""


def override_location(team: str, override_id: int | None) -> str:
    """The path of an override."""
    return f"/teams/{quote(team, safe='')}/overrides/{override_id}"


def _instant(body: Mapping[str, Any], field: str, moment: datetime) -> datetime:
    value = body.get(field)
    if value is None:
        raise ValidationError(f"{field} is required", field=field)
    if field == "start" and value == "now":
        return moment
    return parse_instant(value, field=field)


def _override_id(request: Request) -> int:
    text = request.path_params["id"]
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        raise ValidationError("id must be a positive integer", field="id")
    return int(text)


async def create_override(request: Request) -> Response:
    """``POST /teams/{team}/overrides``: 201 with the override, its id and Location."""
    team = team_segment(request)
    body = only_fields(await json_body(request), OVERRIDE_FIELDS)
    moment = now(request)
    override = Override(
        member=clean_text(body.get("member"), "member"),
        start=_instant(body, "start", moment),
        end=_instant(body, "end", moment),
        schedule=body.get("schedule"),
        reason=body.get("reason"),
    )
    stored = await store_of(request).add_override(
        team, override, now=moment, by=author(request, moment)
    )
    return JSONResponse(
        to_json(stored),
        status_code=201,
        headers={"Location": override_location(team, stored.id)},
    )


async def list_overrides(request: Request) -> Response:
    """``GET /teams/{team}/overrides``: the overrides that overlap [from, to), in
    creation order (by id)."""
    team = team_segment(request)
    start, end = instant_or_now(request, "from"), instant_or_now(request, "to")
    if start is not None and end is not None and end <= start:
        raise ValidationError("to must be after from", field="to")
    asked = page_request(request, lambda key: isinstance(key, int) and not isinstance(key, bool))
    store = store_of(request)
    found = await store.list_overrides(team, start=start, end=end)
    if not found and await store.load_team(team) is None:
        raise team_not_found(team)
    overrides, next_cursor = page(found, lambda o: o.id, asked)
    return JSONResponse({"overrides": [to_json(o) for o in overrides], "next_cursor": next_cursor})


async def get_override(request: Request) -> Response:
    """``GET /teams/{team}/overrides/{id}``: one override."""
    team, override_id = team_segment(request), _override_id(request)
    found = await store_of(request).list_overrides(team)
    override = next((o for o in found if o.id == override_id), None)
    if override is None:
        raise override_not_found(team, override_id)
    return JSONResponse(to_json(override))


async def delete_override(request: Request) -> Response:
    """``DELETE /teams/{team}/overrides/{id}``: one that has not started goes (204); one
    under way ends now (200 with it); one that has ended stays (409)."""
    team, override_id = team_segment(request), _override_id(request)
    if override_id > MAX_ID:
        raise override_not_found(team, override_id)
    moment = now(request)
    ended = await store_of(request).delete_override(
        team, override_id, now=moment, by=author(request, moment)
    )
    if ended is None:
        return Response(status_code=204)
    return JSONResponse(to_json(ended))


async def swap(request: Request) -> Response:
    """``POST /teams/{team}/swaps``: the members of the two shifts of ``schedule`` that
    start at ``shifts`` trade them; 201 with the two overrides that do it."""
    team = team_segment(request)
    body = only_fields(await json_body(request), SWAP_FIELDS)
    schedule = clean_text(body.get("schedule"), "schedule")
    shifts = body.get("shifts")
    if not isinstance(shifts, list) or len(shifts) != 2:
        raise ValidationError("shifts must be the start instants of two shifts", field="shifts")
    first, second = (parse_instant(text, field="shifts") for text in shifts)
    pair = swap_overrides(await team_state(request, team), schedule, first, second)
    moment = now(request)
    stored = await store_of(request).add_overrides(
        team, pair, now=moment, by=author(request, moment)
    )
    return JSONResponse({"overrides": [to_json(o) for o in stored]}, status_code=201)
