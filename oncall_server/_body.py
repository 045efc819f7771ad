"""Request bodies: read within a size limit, parsed as JSON."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from oncall_core import ValidationError

from ._errors import PayloadTooLarge

MAX_BODY = 64 * 1024
"""The largest request body accepted, in bytes (413 beyond)."""


async def json_body(request: Request) -> Any:
    """The request's JSON body, read up to :data:`MAX_BODY` bytes.

    Raises :class:`PayloadTooLarge` beyond the limit (whether the client declared
    the length or not) and :class:`ValidationError` for a body that is not JSON.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise PayloadTooLarge(f"request body is larger than {MAX_BODY} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise PayloadTooLarge(f"request body is larger than {MAX_BODY} bytes")
    try:
        return json.loads(body)
    except ValueError:
        raise ValidationError("invalid request body") from None
