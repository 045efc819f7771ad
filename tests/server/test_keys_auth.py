"""White-box on purpose: ``oncall_server._auth.protect`` refuses a route that its
requirement table does not list, so that no new route can be served unguarded."""

from __future__ import annotations

import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from oncall_server._auth import REQUIREMENTS, Requirement, Scope, protect
from oncall_server._routes import ROUTES


async def unlisted(_request: Request) -> Response:
    return Response()


def test_a_route_missing_from_the_table_is_refused() -> None:
    with pytest.raises(LookupError, match="/unlisted"):
        protect([*ROUTES, Route("/unlisted", unlisted)], {})
    guarded = protect([Route("/unlisted", unlisted)], {unlisted: Requirement(Scope.ADMIN)})
    assert [route.path for route in guarded if isinstance(route, Route)] == ["/unlisted"]


def test_every_route_is_in_the_table() -> None:
    assert {route.endpoint for route in ROUTES if isinstance(route, Route)} <= set(REQUIREMENTS)
