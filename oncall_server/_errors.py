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

from oncall_core import Conflict, NotFound, StorageUnavailable, ValidationError

log = logging.getLogger("oncall_server")


class PayloadTooLarge(Exception):
    """The request body is over the server's limit."""


ERROR_STATUSES: dict[type[Exception], int] = {
    ValidationError: 400,
    NotFound: 404,
    Conflict: 409,
    PayloadTooLarge: 413,
    StorageUnavailable: 503,
}


def error_response(status: int, message: str) -> JSONResponse:
    """The seed's error shape."""
    return JSONResponse({"error": message}, status_code=status)


async def domain_error(_request: Request, error: Exception) -> Response:
    """Map a domain error to its status; storage details go to the log, not the client."""
    status = next(code for cls, code in ERROR_STATUSES.items() if isinstance(error, cls))
    if isinstance(error, StorageUnavailable):
        log.warning("storage unavailable", extra={"fields": {"error": str(error)}})
        return error_response(status, "storage unavailable")
    return error_response(status, str(error))


def internal_error() -> JSONResponse:
    """The response to an unexpected error (a bug): the seed's shape, no details."""
    return error_response(500, "internal server error")


async def http_error(_request: Request, error: Exception) -> Response:
    """Starlette's own errors (unknown path, wrong method) in the same JSON shape."""
    assert isinstance(error, HTTPException)
    return error_response(error.status_code, error.detail)


def exception_handlers() -> dict[type[Exception], object]:
    """The table handed to Starlette."""
    handlers: dict[type[Exception], object] = dict.fromkeys(ERROR_STATUSES, domain_error)
    handlers[HTTPException] = http_error
    return handlers
