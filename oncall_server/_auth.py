"""Who may call what: every route's requirement, in one table, checked in one place.

Theory of operation.  :data:`REQUIREMENTS` maps each endpoint to the scope it needs
(``read`` for lookups and views, ``write`` also for what changes schedules,
overrides and rotations, ``admin`` also for keys; ``None``: open to all) and to where
its team is named: the ``{team}`` path segment, the ``team`` query parameter, or the
``team`` of the JSON body (``POST /schedule``); or nowhere, for the routes that span
every team.  :func:`protect` wraps every route's endpoint with :func:`_guard`, and
refuses to build an app with a route the table does not list: a new route cannot
be forgotten and served open.

The guard decides, in this order:

1. an open route (``/healthz``, ``/readyz``, ``/openapi.json``), or a server with no
   key at all (:attr:`KeyRing.open <oncall_server._keys.KeyRing.open>`, the seed's
   behaviour): allowed;
2. no ``Authorization: Bearer`` key: allowed for a read unless
   ``server.read_requires_key``, else 401 (:class:`Unauthorized`, with
   ``WWW-Authenticate: Bearer``); a key that is not an active key: 401 always;
3. a key whose scope is below the route's: 403 (:class:`Forbidden`);
4. a key limited to teams: 403 unless the route's team is one of them, cleaned as
   the handlers clean it (a route spanning every team is refused to such a key).

A key is checked even where none is needed, so a team-limited key never reads
another team.  The guard raises; ``_errors`` maps the errors.  Neither the key nor
its hash ever appears in a message, and the key's name is kept in the request's
state for whoever wants to log it.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Iterable
from typing import Any

import attrs
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Message
from starlette.types import Scope as ASGIScope

from oncall_core import ValidationError, clean_text
from oncall_pg import KeyRecord

from . import _audit, _calendar, _metrics, _overrides, _routes, _schedules, _views
from ._body import read_body
from ._errors import Forbidden, Unauthorized
from ._keys import KeyRing, bearer_secret
from ._requests import query

Endpoint = Callable[[Request], Any]


class Scope(enum.IntEnum):
    """What a key may do; each scope allows what the one before it does, and more."""

    READ = 1
    WRITE = 2
    ADMIN = 3


class TeamFrom(enum.Enum):
    """Where a route names its team."""

    PATH = "path"  # the {team} segment
    QUERY = "query"  # ?team=
    BODY = "body"  # the JSON body's "team"
    EVERY = "every"  # no one team: the route spans them all


@attrs.frozen
class Requirement:
    """A route's scope (None: open to all) and where its team is named."""

    scope: Scope | None
    team: TeamFrom = TeamFrom.EVERY


OPEN = Requirement(None)
_READ, _WRITE = Requirement(Scope.READ, TeamFrom.PATH), Requirement(Scope.WRITE, TeamFrom.PATH)

REQUIREMENTS: dict[Endpoint, Requirement] = {
    _routes.who_is_on_call: Requirement(Scope.READ, TeamFrom.QUERY),
    _routes.create_schedule: Requirement(Scope.WRITE, TeamFrom.BODY),
    _schedules.list_teams: Requirement(Scope.READ),
    _schedules.list_schedules: _READ,
    _schedules.create_version: _WRITE,
    _schedules.get_version: _READ,
    _schedules.put_version: _WRITE,
    _schedules.delete_version: _WRITE,
    _schedules.list_versions: _READ,
    _schedules.rotate: _WRITE,
    _schedules.rotation_history: _READ,
    _overrides.list_overrides: _READ,
    _overrides.create_override: _WRITE,
    _overrides.get_override: _READ,
    _overrides.delete_override: _WRITE,
    _overrides.swap: _WRITE,
    # Who changed what is for those who may change it: the team's writers, and admins.
    _audit.team_audit: _WRITE,
    _audit.every_audit: Requirement(Scope.ADMIN),
    _views.every_team_on_call: Requirement(Scope.READ),
    _views.team_on_call: _READ,
    _views.team_shifts: _READ,
    _views.team_gaps: _READ,
    _views.team_report: _READ,
    _calendar.team_calendar: _READ,
    _views.member_shifts: Requirement(Scope.READ),
    _calendar.member_calendar: Requirement(Scope.READ),
    _routes.healthz: OPEN,
    _routes.readyz: OPEN,
    _routes.openapi: OPEN,
    # /metrics checks the key itself, as server.metrics_requires_key asks.
    _metrics.metrics_endpoint: OPEN,
}


def protect(routes: Iterable[BaseRoute], extra: dict[Endpoint, Requirement]) -> list[BaseRoute]:
    """``routes`` with each endpoint guarded by its requirement (:data:`REQUIREMENTS`,
    then ``extra``).  Raises :class:`LookupError` for a route that neither lists."""
    table = {**REQUIREMENTS, **extra}
    guarded: list[BaseRoute] = []
    for route in routes:
        if not isinstance(route, Route):
            raise LookupError(f"cannot guard {route!r}: not a Route")
        if route.endpoint not in table:
            raise LookupError(
                f"no authorization requirement for {route.path} (oncall_server._auth)"
            )
        methods = sorted((route.methods or set()) - {"HEAD"})
        endpoint = _guard(route.endpoint, table[route.endpoint])
        guarded.append(type(route)(route.path, endpoint, methods=methods))
    return guarded


# A key's scope as a Scope, without an upper() and an enum lookup per request.
_SCOPES = {scope.name.lower(): scope for scope in Scope}


def _guard(endpoint: Endpoint, requirement: Requirement) -> Endpoint:
    # Runs on every request, so it reads the scope's state dict (what request.state
    # wraps) and decides from the requirement's fields read once, here.
    needed, where = requirement.scope, requirement.team

    async def guarded(request: Request) -> Response:
        state: dict[str, Any] = request.scope.get("state") or {}  # a ring comes with one
        ring: KeyRing | None = state.get("keys")
        if ring is None or ring.open:
            return await endpoint(request)  # type: ignore[no-any-return]
        if needed is None:
            key = ring.find_presented(request.scope)
            state["api_key"] = key  # for an open route that looks at it (/metrics)
            response: Response = await endpoint(request)
            return response if key is not None else _without_details(response)
        key = checked_key(ring, request.scope, needed)
        if key is None:
            return await endpoint(request)  # type: ignore[no-any-return]
        state["key_name"] = key.name
        if key.teams:
            team, request = await _team(request, where)
            check_team(key, team)
        return await endpoint(request)  # type: ignore[no-any-return]

    guarded.__name__ = guarded.__qualname__ = getattr(endpoint, "__name__", "endpoint")
    guarded.__doc__ = endpoint.__doc__
    return guarded


def checked_key(ring: KeyRing, scope: ASGIScope, needed: Scope) -> KeyRecord | None:
    """The active key a request presents, if its scope allows ``needed``; None when
    it presents none and may go without (a read, unless reads need a key).  Raises
    :class:`Unauthorized` (no key where one is needed, or one that is not active)
    and :class:`Forbidden` (too small a scope): rules 2 and 3 of the module
    docstring, for the guard and for the fast path of ``GET /schedule``."""
    key = ring.find_presented(scope)
    if key is None:
        if bearer_secret(scope) is not None:
            raise Unauthorized("invalid API key")
        if needed is Scope.READ and not ring.read_requires_key:
            return None
        raise Unauthorized("an API key is required (Authorization: Bearer <key>)")
    if (_SCOPES.get(key.scope) or Scope[key.scope.upper()]) < needed:
        raise Forbidden(f"this key's scope ({key.scope}) does not allow this")
    return key


def check_team(key: KeyRecord, team: str | None) -> None:
    """Raise :class:`Forbidden` unless ``key`` may use ``team`` (None: a route that
    spans every team): rule 4 of the module docstring."""
    if not key.teams:
        return
    if team is None:
        raise Forbidden("this key is limited to some teams; this route spans all")
    if team not in key.teams:
        raise Forbidden(f"this key may not use team {team!r}")


async def _team(request: Request, where: TeamFrom) -> tuple[str | None, Request]:
    """The team the request is about (cleaned as its handler cleans it), and the
    request to hand on (a body read here is replayed to the handler)."""
    if where is TeamFrom.PATH:
        return clean_text(request.path_params["team"], "team"), request
    if where is TeamFrom.QUERY:
        return (
            clean_text(
                query(request, "team") or None, "team", missing="team query parameter is required"
            ),
            request,
        )
    if where is TeamFrom.EVERY:
        return None, request
    body = await read_body(request)

    async def replay() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        team = json.loads(body).get("team")
        named = clean_text(team, "team") if isinstance(team, str) else None
    except (ValueError, RecursionError, AttributeError, ValidationError):
        named = None  # no team this key may use
    return named, Request(request.scope, replay)


def _without_details(response: Response) -> Response:
    # /readyz's reason for a 503 may quote the database: only for callers with a key.
    if response.status_code == 503 and isinstance(response, JSONResponse):
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return response


def secured(document: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI ``document`` with the bearer scheme and each operation's
    requirement, derived from :data:`REQUIREMENTS`: none for an open route, else a
    key or none (while no key exists the server is open), with the scope the key
    needs as ``x-oncall-scope``, and the 401 and 403 answers."""
    document["components"]["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key (docs/security.md); none needed while no key exists",
        }
    }
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for route in _routes.ROUTES:
        assert isinstance(route, Route)
        requirement = REQUIREMENTS[route.endpoint]
        for method in (route.methods or set()) - {"HEAD"}:
            operation = document["paths"].get(route.path, {}).get(method.lower())
            if operation is None:
                continue
            if requirement.scope is None:
                operation["security"] = []
                continue
            operation["security"] = [{"bearer": []}, {}]
            operation["x-oncall-scope"] = requirement.scope.name.lower()
            operation["responses"].setdefault(
                "401", {"description": "No API key, or not a valid one", **error}
            )
            operation["responses"].setdefault(
                "403", {"description": "The key's scope or teams do not allow it", **error}
            )
    return document
