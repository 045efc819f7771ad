"""The audit trail over HTTP: ``GET /teams/{team}/audit`` and ``GET /audit``.

Stores write the entries with the changes they record (see
:mod:`oncall_core._audit`); the handlers here only page through them, newest
first.  The cursor is the id of the last entry of the page: entries only ever
arrive with higher ids, so a page never shifts under a reader.  Who may read
them is :mod:`oncall_server._auth`'s table: a team's trail takes a key with the
write scope for the team (or admin); the whole trail, key changes included,
takes admin.
"""

from __future__ import annotations

import attrs
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from oncall_core import AuditEntry, to_json
from oncall_core.store import team_not_found

from ._pages import page, page_request
from ._requests import store_of, team_segment


async def team_audit(request: Request) -> Response:
    """``GET /teams/{team}/audit``: the team's audit entries, newest first."""
    team = team_segment(request)
    return await _audit_page(request, team)


async def every_audit(request: Request) -> Response:
    """``GET /audit``: every audit entry (API key changes too), newest first."""
    return await _audit_page(request, None)


async def _audit_page(request: Request, team: str | None) -> Response:
    asked = page_request(request, lambda key: isinstance(key, int) and not isinstance(key, bool))
    store = store_of(request)
    found = await store.list_audit(team, before=asked.after, limit=asked.limit + 1)
    if team is not None and not found and await store.load_team(team) is None:
        raise team_not_found(team)
    # The store applied the cursor already: the page is the start of what it found.
    entries, next_cursor = page(found, _entry_id, attrs.evolve(asked, after=None))
    return JSONResponse({"entries": [to_json(e) for e in entries], "next_cursor": next_cursor})


def _entry_id(entry: AuditEntry) -> int:
    assert entry.id is not None  # entries a store lists have their ids
    return entry.id
