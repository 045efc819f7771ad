"""The HTTP endpoints.  Each one parses the request, calls the core or the store,
and maps the result to a response; no scheduling rule lives here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from oncall_core import (
    StorageUnavailable,
    Store,
    ValidationError,
    oncall_at,
    parse_instant,
    parse_schedule_request,
    seed_answer,
    to_json,
)

from ._body import json_body
from ._errors import error_response
from ._openapi import openapi_document

NOT_ON_CALL = "no oncall member found for the given time"


def _store(request: Request) -> Store:
    store: Store = request.state.store
    return store


def _now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.state.clock
    return clock()


async def create_schedule(request: Request) -> Response:
    """``POST /schedule``: the seed's body and our extensions; 201 with the schedule."""
    schedule = parse_schedule_request(await json_body(request), created_at=_now(request))
    await _store(request).create_schedule(schedule)
    location = f"/teams/{quote(schedule.team, safe='')}/schedules/{quote(schedule.name, safe='')}"
    return JSONResponse(to_json(schedule), status_code=201, headers={"Location": location})


async def who_is_on_call(request: Request) -> Response:
    """``GET /schedule?team=T&time=RFC3339``: the seed's answer, every value a string."""
    team = request.query_params.get("team", "")
    if not team:
        raise ValidationError("team query parameter is required", field="team")
    text = request.query_params.get("time", "")
    if not text:
        raise ValidationError("time query parameter is required", field="time")
    at = _now(request) if text == "now" else parse_instant(text)
    state = await _store(request).load_team(team)
    answer = oncall_at(state, at) if state is not None else None
    if answer is None:
        return error_response(404, NOT_ON_CALL)
    return JSONResponse(seed_answer(answer))


async def get_schedule(request: Request) -> Response:
    """``GET /teams/{team}/schedules/{name}``: one stored schedule (the POST's Location)."""
    schedule = await _store(request).get_schedule(
        request.path_params["team"], request.path_params["name"]
    )
    return JSONResponse(to_json(schedule))


async def healthz(request: Request) -> Response:
    """``GET /healthz``: the process is alive and can serve (503 with the reason if its
    store is lost for good, and only a restart can help)."""
    liveness = getattr(request.state, "liveness", None)
    lost = liveness.lost if liveness is not None else None
    if lost is not None:
        return JSONResponse({"status": "failed", "error": lost}, status_code=503)
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """``GET /readyz``: the store can serve requests (503 with the reason if not)."""
    try:
        await _store(request).ping()
    except StorageUnavailable as error:
        # Reporting the failure is this endpoint's answer, not an error of the request.
        return JSONResponse({"status": "unavailable", "error": str(error)}, status_code=503)
    return JSONResponse({"status": "ready"})


async def openapi(_request: Request) -> Response:
    """``GET /openapi.json``: the OpenAPI 3.1 description of every endpoint."""
    return JSONResponse(openapi_document())


ROUTES = [
    # The hot path first: routes are tried in order.
    Route("/schedule", who_is_on_call, methods=["GET"]),
    Route("/schedule", create_schedule, methods=["POST"]),
    # ":path" lets names contain "/" (the Location header percent-encodes it as %2F).
    Route("/teams/{team:path}/schedules/{name:path}", get_schedule, methods=["GET"]),
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/openapi.json", openapi, methods=["GET"]),
]
