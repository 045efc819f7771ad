"""Pagination of the list endpoints: ``limit`` and an opaque ``cursor``.

Theory of operation: every list is in a stable order given by a *key* that
never changes for an item and is unique within the list (a team's name; a
schedule's place in :attr:`oncall_core.TeamState.names`; a version's
``effective``; a rotation change's ``effective`` and place in the append-only
history).  A page is the first ``limit`` items whose key comes after the
cursor's, and the next cursor is the key of the page's last item.  This is
keyset pagination, not an offset: an item inserted between two requests
comes before or after the cursor's key, so no item is seen twice and every
item that was there at the start is seen, wherever others insert.

The cursor is the key as compact JSON in URL-safe base64, without padding.
Clients treat it as opaque; one that does not decode to a key of the list's
shape is refused (400 naming ``cursor``), never a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import attrs
from starlette.requests import Request

from oncall_core import ValidationError

T = TypeVar("T")

DEFAULT_LIMIT = 50
"""How many items a page holds when the request does not say."""
MAX_LIMIT = 500
"""The most items a page may hold."""

_LIMIT_MESSAGE = f"limit must be an integer from 1 to {MAX_LIMIT}"
_CURSOR_MESSAGE = "cursor is not one this list gave"


@attrs.frozen
class PageRequest:
    """What a request asks of a list: at most ``limit`` items after ``after`` (None: the start)."""

    limit: int
    after: Any


def page_request(request: Request, check: Callable[[Any], bool]) -> PageRequest:
    """The ``limit`` and ``cursor`` query parameters of a request, checked.

    ``check`` tells whether a decoded key has the list's shape.  Raises
    :class:`ValidationError` naming ``limit`` or ``cursor``.
    """
    limit_text = _first(request, "limit")
    limit = DEFAULT_LIMIT
    if limit_text is not None:
        if not limit_text.isascii() or not limit_text.isdigit() or len(limit_text) > 4:
            raise ValidationError(_LIMIT_MESSAGE, field="limit")
        limit = int(limit_text)
        if not 1 <= limit <= MAX_LIMIT:
            raise ValidationError(_LIMIT_MESSAGE, field="limit")
    cursor = _first(request, "cursor")
    after = None if cursor is None else decode_cursor(cursor, check)
    return PageRequest(limit=limit, after=after)


def encode_cursor(key: Any) -> str:
    """The opaque cursor for a key (JSON-ready data)."""
    text = json.dumps(key, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, check: Callable[[Any], bool]) -> Any:
    """The key a cursor holds; :class:`ValidationError` naming ``cursor`` if it is not
    a cursor of this list (``check`` says whether the key has the right shape)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw.decode())
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise ValidationError(_CURSOR_MESSAGE, field="cursor") from None
    if not check(key):
        raise ValidationError(_CURSOR_MESSAGE, field="cursor")
    return key


def page(
    items: Sequence[T], key: Callable[[T], Any], asked: PageRequest, *, before: bool = False
) -> tuple[list[T], str | None]:
    """One page of ``items`` (sorted by ``key``, ascending; descending with ``before``):
    those after the cursor's key, at most ``limit``, and the next cursor (None: the
    last page)."""
    if asked.after is None:
        rest = list(items)
    elif before:
        rest = [item for item in items if _comparable(key(item)) < _comparable(asked.after)]
    else:
        rest = [item for item in items if _comparable(key(item)) > _comparable(asked.after)]
    chosen = rest[: asked.limit]
    more = len(rest) > asked.limit
    return chosen, (encode_cursor(key(chosen[-1])) if more else None)


def _comparable(key: Any) -> Any:
    # JSON gives lists where the key was a tuple; compare them alike.
    return tuple(key) if isinstance(key, list) else key


def _first(request: Request, name: str) -> str | None:
    values = request.query_params.getlist(name)
    return values[0] if values else None
