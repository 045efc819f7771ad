"""``GET /schedule`` answered without the framework, in the plain case.

Why: it is what alert routers and chat bots call on every page, and most of its
cost was the framework around a two-microsecond answer (a Request, the query's
MultiDict, the router, the route guard, a Response).  This layer sits among the
app's middleware, after the access log, CORS and the rate limit (so those apply
to it as to every request) and before the body timeout and the router, and
answers one case itself:

    GET /schedule?team=T&time=X, with a team and an instant the handler would
    accept, from a caller the route guard would let read that team.

A request with a missing or invalid parameter, or one the guard would refuse,
goes on to the app, whose guard and handler answer it as they
answer every request.  Once the store has been asked, this layer answers
itself, so that the store is asked once: the answer, the handler's 404 for an
unknown team or nobody on call, or a store's error mapped by the app's own
:func:`~oncall_server._errors.domain_error`.  What it answers, it answers with
the handler's status, headers and body (``tests/server/test_fastpath.py``
compares the two on drawn requests, and their metrics).

It reads the query as Starlette reads it (:func:`first_values`), cleans the team
and parses the instant with the handler's functions (remembering the last few
hundred of each, since callers repeat them), decides by the route guard's own
rules (:func:`~oncall_server._auth.checked_key`, :func:`~oncall_server._auth.check_team`),
and takes the body from the app's :class:`~oncall_server._answers.AnswerMemo`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import unquote

from starlette.requests import Request
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from oncall_core import OncallError, Store, clean_text, parse_instant

from ._answers import AnswerMemo
from ._auth import Scope as Permission
from ._auth import check_team, checked_key
from ._errors import Forbidden, Unauthorized, domain_error, error_response
from ._keys import KeyRing
from ._routes import NOT_ON_CALL

_REMEMBERED = 512  # query strings, team names and instants remembered, each
K = TypeVar("K")
V = TypeVar("V")


def first_values(query_string: bytes) -> dict[str, str]:
    """Each query parameter's first value, decoded as Starlette's ``QueryParams``
    decodes it (the bytes as Latin-1, then ``urllib.parse.parse_qsl`` with blank
    values kept: ``+`` is a space, percent-escapes are UTF-8)."""
    found: dict[str, str] = {}
    for pair in query_string.decode("latin-1").split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        if "+" in name or "%" in name:
            name = unquote(name.replace("+", " "))
        if name in found:
            continue
        if "+" in value or "%" in value:
            value = unquote(value.replace("+", " "))
        found[name] = value
    return found


class _Remembered(Generic[K, V]):
    """A function's results for the last few hundred arguments (successes only)."""

    def __init__(self, function: Callable[[K], V]) -> None:
        self._function = function
        self._results: dict[K, V] = {}

    def __call__(self, argument: K) -> V:
        result = self._results.get(argument)
        if result is None:
            result = self._function(argument)
            if len(self._results) >= _REMEMBERED:
                self._results.clear()  # callers repeat a few; a stranger's many are not kept
            self._results[argument] = result
        return result


_HEADERS = [(b"content-type", b"application/json")]
_READ = Permission.READ  # an enum member's lookup costs more than the rest of the check


class FastSchedule:
    """ASGI middleware: answers the plain case of ``GET /schedule`` (see the module
    docstring) and hands every other request to ``app``.

    ``route`` is the app's ``GET /schedule`` route: put in the scope as the router
    would, for the metrics' route label.
    """

    def __init__(self, app: ASGIApp, *, route: BaseRoute) -> None:
        self.app = app
        self._route = route
        self._query: _Remembered[bytes, dict[str, str]] = _Remembered(first_values)
        self._team: _Remembered[str, str] = _Remembered(lambda text: clean_text(text, "team"))
        self._instant: _Remembered[str, datetime] = _Remembered(parse_instant)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/schedule" and scope["method"] == "GET":
            asked = self._asked(scope)
            if asked is not None:
                scope["route"] = self._route
                await self._answer(scope, receive, send, *asked)
                return
        await self.app(scope, receive, send)

    def _asked(self, scope: Scope) -> tuple[str, datetime] | None:
        """The team and instant asked about, if the handler and the guard would take
        them; None for the app to answer."""
        query = self._query(scope["query_string"])
        team_text, time_text = query.get("team"), query.get("time")
        if not team_text or not time_text:
            return None
        state: dict[str, Any] = scope["state"]
        try:
            team = self._team(team_text)
            if not _may_read(state.get("keys"), scope, team):
                return None
            at = state["clock"]() if time_text == "now" else self._instant(time_text)
        except OncallError:
            return None  # a 400: the handler says which
        return team, at

    async def _answer(
        self, scope: Scope, receive: Receive, send: Send, team: str, at: datetime
    ) -> None:
        state: dict[str, Any] = scope["state"]
        store: Store = state["store"]
        try:
            found = await store.load_team(team)
        except OncallError as error:
            await (await domain_error(Request(scope), error))(scope, receive, send)
            return
        memo: AnswerMemo = state["answers"]
        body = memo.answer(found, at) if found is not None else None
        if body is None:
            await error_response(404, NOT_ON_CALL)(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", str(len(body)).encode()), *_HEADERS],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _may_read(ring: KeyRing | None, scope: Scope, team: str) -> bool:
    """Whether the route guard lets this request read ``team``, by the guard's own
    rules (False: it may not, and the guard is to say why)."""
    if ring is None or ring.open:
        return True
    try:
        key = checked_key(ring, scope, _READ)
        if key is not None and key.teams:  # check_team's first test: a call saved
            check_team(key, team)
    except (Unauthorized, Forbidden):
        return False
    return True
