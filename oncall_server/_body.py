"""Request bodies: read within a size limit, parsed as JSON within a depth limit."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request

from oncall_core import ValidationError

from ._errors import PayloadTooLarge

MAX_BODY = 64 * 1024
"""The largest request body accepted, in bytes (413 beyond)."""

MAX_DEPTH = 32
"""The deepest nesting of arrays and objects accepted in a body (a schedule needs 3)."""


async def json_body(request: Request, *, empty: Any = None) -> Any:
    """The request's JSON body, read up to :data:`MAX_BODY` bytes.

    With ``empty`` (not None), an empty body is read as that value.

    Raises :class:`PayloadTooLarge` beyond the limit (whether the client declared
    the length or not), and :class:`ValidationError` ``invalid request body`` for
    a body that is not JSON or nests deeper than :data:`MAX_DEPTH`.
    """
    body = await read_body(request)
    if empty is not None and not body:
        return empty
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        # RecursionError: the decoder recurses once per level, and a 64 KiB body
        # can nest 32,000 levels deep.
        raise ValidationError("invalid request body") from None
    if _depth(value) > MAX_DEPTH:
        # Whatever handles the value next may recurse too (repr in a message,
        # a converter): it only ever sees shallow values.
        raise ValidationError("invalid request body")
    return value


def _depth(value: Any) -> int:
    # Iterative, so that it cannot itself run out of stack.
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            depth += 1
            deepest = max(deepest, depth)
            stack.extend((child, depth) for child in item)
    return deepest


async def read_body(request: Request) -> bytes:
    """The request's body, read to its end; :class:`PayloadTooLarge` beyond
    :data:`MAX_BODY` (whether the client declared the length or not)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise PayloadTooLarge(f"request body is larger than {MAX_BODY} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise PayloadTooLarge(f"request body is larger than {MAX_BODY} bytes")
    return bytes(body)


def only_fields(data: object, allowed: frozenset[str]) -> Mapping[str, Any]:
    """A body that is a JSON object with only ``allowed`` fields (400 naming another)."""
    if not isinstance(data, dict):
        raise ValidationError("invalid request body")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationError(f"unknown field: {unknown[0]}", field=unknown[0])
    return data
