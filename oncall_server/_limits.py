"""What one client can hold: time to send a body, and a share of the connections.

The server answers every request it reads, but a client decides how fast it
sends.  Two bounds keep slow or stalled clients from holding the server:

- A request's body must arrive within ``server.body_timeout`` seconds of the
  request reaching the app (:class:`BodyTimeout`): a client that promises 100
  bytes and sends one gets a 408 when the time is up, and its connection closed.
- At most ``server.max_connections`` connections are served at once (uvicorn's
  ``limit_concurrency``, :func:`server_limits`): a request beyond that gets a
  503, so a crowd of stalled connections cannot take the whole process.

A connection that never finishes its headers is not a request yet, so neither
bound answers it; it only takes one of the ``max_connections``.  Timing out
headers is a reverse proxy's job (see docs/server.md).
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._config import Config
from ._errors import RequestTimeout


class BodyTimeout:
    """ASGI middleware: the whole body must arrive within ``seconds`` of the request.

    Reading the body past the deadline raises :class:`RequestTimeout` (a 408) in
    whatever reads it, so every endpoint that reads a body is bounded.  Once the
    body is complete, ``receive`` passes through untouched (a wait for the client's
    disconnect is not a body read).
    """

    def __init__(self, app: ASGIApp, *, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = asyncio.get_running_loop().time() + self.seconds
        complete = False

        async def receive_in_time() -> Message:
            nonlocal complete
            if complete:
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise RequestTimeout(
                    f"request body not received within {self.seconds:g} seconds"
                ) from None
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        await self.app(scope, receive_in_time, send)


def server_limits(config: Config) -> dict[str, Any]:
    """The uvicorn settings that bound what clients can hold, from ``config``."""
    return {"limit_concurrency": config.server.max_connections}
