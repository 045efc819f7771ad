"""The HTTP endpoints.  Each one parses the request, calls the core or the store,
and maps the result to a response; no scheduling rule lives here.

Paths with names in them are matched on the raw, still percent-encoded path
(:class:`SegmentRoute`): a segment is one name, whatever it decodes to, so
``/teams/a%2Fschedules%2Fx/schedules/y`` is team ``a/schedules/x`` and
schedule ``y``, and the ``Location`` of every ``POST`` leads back to exactly
the schedule created.  Starlette matches the decoded path instead, where an
encoded ``/`` is indistinguishable from a separator.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route
from starlette.types import Scope

from oncall_core import (
    StorageUnavailable,
    ValidationError,
    clean_text,
    parse_instant,
    parse_schedule_request,
    to_json,
)

from . import _audit, _calendar, _overrides, _schedules, _views
from ._answers import AnswerMemo
from ._body import json_body
from ._errors import error_response
from ._metrics import metrics_endpoint
from ._openapi import openapi_document
from ._requests import author, now, query, store_of
from ._schedules import location

NOT_ON_CALL = "no oncall member found for the given time"


class SegmentRoute(Route):
    """A route whose ``{name}`` parameters are whole raw path segments, percent-decoded.

    A decoded segment that is not UTF-8 keeps its stray bytes as surrogates, which
    :func:`oncall_core.clean_text` then refuses (400), as it does a NUL or a newline.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], *, methods: list[str]) -> None:
        super().__init__(path, endpoint, methods=methods)
        self._pattern = path.encode().split(b"/")

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """Match ``scope``'s raw path segment by segment (see the class docstring)."""
        if scope["type"] != "http":
            return Match.NONE, {}
        raw = scope.get("raw_path") or scope["path"].encode()
        segments = raw.split(b"/")
        if len(segments) != len(self._pattern):
            return Match.NONE, {}
        params: dict[str, str] = {}
        for pattern, segment in zip(self._pattern, segments, strict=True):
            if pattern.startswith(b"{"):
                params[pattern[1:-1].decode()] = unquote_to_bytes(segment).decode(
                    "utf-8", "surrogateescape"
                )
            elif pattern != segment:
                return Match.NONE, {}
        child = {"endpoint": self.endpoint, "path_params": params}
        if self.methods and scope["method"] not in self.methods:
            return Match.PARTIAL, child
        return Match.FULL, child


async def create_schedule(request: Request) -> Response:
    """``POST /schedule``: the seed's body and our extensions; 201 with the schedule."""
    body = await json_body(request)
    moment = now(request)
    schedule = parse_schedule_request(body, created_at=moment)
    # With "now", a deleted name is re-created from now on (see creation()).
    version = await store_of(request).create_schedule(
        schedule, now=moment, by=author(request, moment)
    )
    return JSONResponse(
        to_json(version),
        status_code=201,
        headers={"Location": location(version.team, version.name)},
    )


async def who_is_on_call(request: Request) -> Response:
    """``GET /schedule?team=T&time=RFC3339``: the seed's answer, every value a string."""
    # The team is cleaned as the model cleaned it at creation (NFC, stripped...), so
    # the lookup finds it; text the model would refuse is a 400, never a 500.
    team = clean_text(
        query(request, "team") or None,
        "team",
        missing="team query parameter is required",
    )
    text = query(request, "time")
    if not text:
        raise ValidationError("time query parameter is required", field="time")
    at = now(request) if text == "now" else parse_instant(text)
    state = await store_of(request).load_team(team)
    # The answer already computed for this state, while it holds (see _answers).
    memo: AnswerMemo = request.state.answers
    body = memo.answer(state, at) if state is not None else None
    if body is None:
        return error_response(404, NOT_ON_CALL)
    return Response(body, media_type="application/json")


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
        await store_of(request).ping()
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
    Route("/teams", _schedules.list_teams, methods=["GET"]),
    # Names may contain "/": the Location header percent-encodes it as %2F.
    SegmentRoute("/teams/{team}/schedules", _schedules.list_schedules, methods=["GET"]),
    SegmentRoute("/teams/{team}/schedules", _schedules.create_version, methods=["POST"]),
    SegmentRoute("/teams/{team}/schedules/{name}", _schedules.get_version, methods=["GET"]),
    SegmentRoute("/teams/{team}/schedules/{name}", _schedules.put_version, methods=["PUT"]),
    SegmentRoute("/teams/{team}/schedules/{name}", _schedules.delete_version, methods=["DELETE"]),
    SegmentRoute(
        "/teams/{team}/schedules/{name}/versions", _schedules.list_versions, methods=["GET"]
    ),
    SegmentRoute("/teams/{team}/schedules/{name}/rotate", _schedules.rotate, methods=["POST"]),
    SegmentRoute(
        "/teams/{team}/schedules/{name}/history", _schedules.rotation_history, methods=["GET"]
    ),
    SegmentRoute("/teams/{team}/overrides", _overrides.list_overrides, methods=["GET"]),
    SegmentRoute("/teams/{team}/overrides", _overrides.create_override, methods=["POST"]),
    SegmentRoute("/teams/{team}/overrides/{id}", _overrides.get_override, methods=["GET"]),
    SegmentRoute("/teams/{team}/overrides/{id}", _overrides.delete_override, methods=["DELETE"]),
    SegmentRoute("/teams/{team}/swaps", _overrides.swap, methods=["POST"]),
    SegmentRoute("/teams/{team}/audit", _audit.team_audit, methods=["GET"]),
    Route("/audit", _audit.every_audit, methods=["GET"]),
    Route("/oncall", _views.every_team_on_call, methods=["GET"]),
    SegmentRoute("/teams/{team}/oncall", _views.team_on_call, methods=["GET"]),
    SegmentRoute("/teams/{team}/shifts", _views.team_shifts, methods=["GET"]),
    SegmentRoute("/teams/{team}/gaps", _views.team_gaps, methods=["GET"]),
    SegmentRoute("/teams/{team}/report", _views.team_report, methods=["GET"]),
    SegmentRoute("/teams/{team}/calendar.ics", _calendar.team_calendar, methods=["GET"]),
    SegmentRoute("/members/{member}/shifts", _views.member_shifts, methods=["GET"]),
    SegmentRoute("/members/{member}/calendar.ics", _calendar.member_calendar, methods=["GET"]),
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/openapi.json", openapi, methods=["GET"]),
    # Prometheus text, not JSON: outside the OpenAPI document (see docs/server.md).
    Route("/metrics", metrics_endpoint, methods=["GET"]),
]
