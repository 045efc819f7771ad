"""Rate limits: a token bucket per client, off unless ``server.rate_limit`` is set.

Theory of operation.  A client is its API key when the request has an
``Authorization`` header (so the limit follows the key from address to address), else
its address.  The key is known here only by a hash of the header (:func:`client_of`):
the token itself is never stored, logged or compared.  Each client has a bucket of at
most ``burst`` tokens that fills at ``rate`` tokens a second; a request takes one token,
and a request that finds less than one is answered 429, with ``Retry-After``: the
whole seconds (at least 1) until a token is there again.  A refused request takes
nothing, so a client that waits ``Retry-After`` is served.

Memory is bounded: at most ``clients`` buckets are kept, the least recently used
dropped first.  A dropped client starts again with a full bucket, which only ever
lets it through sooner; so with more active clients than ``clients``, the limit
loosens rather than the memory growing.

The buckets live in the process: with several replicas, a client gets ``rate`` from
each replica it reaches.  Everything runs on one event loop and nothing awaits
between reading and updating a bucket, so no lock is needed.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

import attrs
from starlette.types import ASGIApp, Receive, Scope, Send

from ._errors import error_response
from ._keys import bearer_secret


@attrs.define
class _Bucket:
    tokens: float
    updated: float


def client_of(scope: Scope) -> str:
    """Who a request counts against: ``key:`` and the name of the valid API key it
    carries, else ``address:`` and the client's address.

    Only a key the server knows gets a bucket of its own: made-up tokens would
    otherwise each get a fresh one, and dodge the address's limit.
    """
    ring = scope.get("state", {}).get("keys")
    if ring is not None and not ring.open:
        secret = bearer_secret(scope)
        key = ring.find(secret) if secret is not None else None
        if key is not None:
            return f"key:{key.name}"
    client = scope.get("client")
    return f"address:{client[0] if client else 'unknown'}"


class RateLimit:
    """ASGI middleware: at most ``burst`` requests at once and ``rate`` a second per
    client (see the module docstring); ``clock`` is a monotonic clock, in seconds."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        rate: float,
        burst: int,
        clients: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not (rate > 0 and burst >= 1 and clients >= 1):
            raise ValueError("rate must be above 0, burst and clients at least 1")
        self.app = app
        self.rate = rate
        self.burst = burst
        self.clients = clients
        self.clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def wait(self, client: str) -> float:
        """Take a token from ``client``'s bucket: 0 if there was one, else the seconds
        until there is one (nothing taken)."""
        now = self.clock()
        bucket = self._buckets.get(client)
        if bucket is None:
            bucket = self._buckets[client] = _Bucket(float(self.burst), now)
            if len(self._buckets) > self.clients:
                self._buckets.popitem(last=False)  # the least recently used
        else:
            self._buckets.move_to_end(client)
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate)
            bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        seconds = self.wait(client_of(scope))
        if not seconds:
            await self.app(scope, receive, send)
            return
        retry = max(1, math.ceil(seconds))
        answer = error_response(
            429, f"too many requests; retry in {retry} s", {"Retry-After": str(retry)}
        )
        await answer(scope, receive, send)
