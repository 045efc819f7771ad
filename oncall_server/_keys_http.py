"""API keys over HTTP, for admins: ``POST /keys`` and ``DELETE /keys/{name}``.

The same operations as ``oncall-server keys create|revoke`` (``_keys_cli``), for
an admin key's holder: a new key's secret is in the answer to its ``POST`` and
nowhere else (``Cache-Control: no-store``; the access log records the path, never
a body).  Both need a database: in memory mode keys are ``server.api_keys``
entries, so both answer 409 and say so.  The replica that made the change reads
its keys again before answering, so the change counts there at once, and on the
other replicas within a second (their rings' next refresh); the audit trail
records it, by the admin key's name.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from oncall_core import Conflict, NotFound, ValidationError, clean_text
from oncall_pg import PostgresKeys

from ._body import json_body, only_fields
from ._config import SCOPES
from ._keys import KeyRing, hash_secret, new_secret, shown
from ._requests import author, now, store_of
from ._storage import stored_keys

KEY_FIELDS = frozenset({"name", "scope", "teams"})
_NO_STORE = {"Cache-Control": "no-store"}


def _database_keys(request: Request) -> PostgresKeys:
    keys = stored_keys(store_of(request))
    if keys is None:
        raise Conflict(
            "in memory mode keys are server.api_keys entries: "
            "oncall-server keys create prints one to add"
        )
    return keys


async def create_key(request: Request) -> Response:
    """``POST /keys`` (admin): a new key, with its secret (shown this once)."""
    body = only_fields(await json_body(request), KEY_FIELDS)
    name = clean_text(body.get("name"), "name")
    scope = body.get("scope", "read")
    if scope not in SCOPES:
        raise ValidationError(f"scope must be one of {', '.join(SCOPES)}", field="scope")
    teams = body.get("teams", [])
    if not isinstance(teams, list):
        raise ValidationError("teams must be a list of team names", field="teams")
    teams = [clean_text(team, "teams") for team in teams]
    keys = _database_keys(request)
    ring: KeyRing = request.state.keys
    if any(key.name == name for key in await ring.records()):
        # Revoked keys' names stay taken, and configured ones are taken too: an audit
        # entry's actor names one key.
        raise Conflict(f"an API key named {name!r} exists already")
    secret = new_secret()
    moment = now(request)
    record = await keys.create(
        name=name,
        hash=hash_secret(secret),
        scope=scope,
        teams=teams,
        now=moment,
        by=author(request, moment),
    )
    await ring.refresh()
    return JSONResponse({**shown(record), "secret": secret}, status_code=201, headers=_NO_STORE)


async def revoke_key(request: Request) -> Response:
    """``DELETE /keys/{name}`` (admin): revoke the key at once; the revoked key."""
    name = clean_text(request.path_params["name"], "name")
    keys = _database_keys(request)
    moment = now(request)
    revoked = await keys.revoke(name, now=moment, by=author(request, moment))
    if revoked is None:
        raise NotFound(f"no active API key named {name!r}")
    ring: KeyRing = request.state.keys
    await ring.refresh()
    return JSONResponse(shown(revoked))
