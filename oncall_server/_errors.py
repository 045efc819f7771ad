"""Errors to HTTP responses, in one table.

Handlers raise oncall_core's domain errors and never catch them; Starlette
looks each exception up along its class hierarchy in :data:`ERROR_STATUSES`.
Every error body is ``{"error": "..."}``, as in the seed service.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route

from oncall_core import (
    Conflict,
    NotFound,
    PreconditionFailed,
    StorageUnavailable,
    Unprocessable,
    ValidationError,
)

log = logging.getLogger("oncall_server")


class PayloadTooLarge(Exception):
    """The request body is over the server's limit."""


class RequestTimeout(Exception):
    """The request body did not arrive in time (see ``oncall_server._limits``)."""


class Unauthorized(Exception):
    """The request needs an API key and has none, or not a valid one (401)."""


class Forbidden(Exception):
    """The request's API key does not allow it: too small a scope, another team (403)."""


# Looked up in order by isinstance: a subclass comes before its base.
ERROR_STATUSES: dict[type[Exception], int] = {
    # A ValidationError, but well-formed: it would rewrite the past (PastIsReadOnly), or
    # the team's schedules cannot honour it (a swap of an instant that starts no shift).
    Unprocessable: 422,
    ValidationError: 400,
    NotFound: 404,
    Conflict: 409,
    PreconditionFailed: 412,
    RequestTimeout: 408,
    PayloadTooLarge: 413,
    Unauthorized: 401,
    Forbidden: 403,
    StorageUnavailable: 503,
}


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The seed's error shape."""
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def domain_error(_request: Request, error: Exception) -> Response:
    """Map a domain error to its status; storage details go to the log, not the client."""
    status = next(code for cls, code in ERROR_STATUSES.items() if isinstance(error, cls))
    if isinstance(error, StorageUnavailable):
        log.warning("storage unavailable", extra={"fields": {"error": str(error)}})
        return error_response(status, "storage unavailable")
    if isinstance(error, Unauthorized):
        return error_response(status, str(error), {"WWW-Authenticate": 'Bearer realm="oncall"'})
    if isinstance(error, RequestTimeout):
        # The rest of the body may still come: the connection cannot be reused.
        return error_response(status, str(error), {"Connection": "close"})
    return error_response(status, str(error))


def internal_error() -> JSONResponse:
    """The response to an unexpected error (a bug): the seed's shape, no details."""
    return error_response(500, "internal server error")


async def http_error(request: Request, error: Exception) -> Response:
    """Starlette's own errors (unknown path, wrong method) in the same JSON shape.

    A 405 carries ``Allow`` (RFC 9110 requires it) with every method that some
    route serves at the path, not only those of the first route that matched it.
    """
    assert isinstance(error, HTTPException)
    headers = dict(error.headers or {})
    if error.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    return error_response(error.status_code, error.detail, headers)


def allowed_methods(request: Request) -> list[str]:
    """The methods the app's routes serve at the request's path, sorted."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods:
            match, _ = route.matches(request.scope)
            if match is not Match.NONE:
                methods |= route.methods
    return sorted(methods)


def exception_handlers() -> dict[type[Exception], object]:
    """The table handed to Starlette."""
    handlers: dict[type[Exception], object] = dict.fromkeys(ERROR_STATUSES, domain_error)
    handlers[HTTPException] = http_error
    return handlers
