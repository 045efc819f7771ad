"""The Starlette application: routes, middleware and error handlers from lists.

The store is opened in the lifespan and handed to handlers as request state,
with the clock (the only place the server reads the time) and the calendar
feeds' cache of serialized events.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware

from oncall_core import Store

from ._calendar import EventCache
from ._config import DEFAULT_BODY_TIMEOUT, Config
from ._errors import exception_handlers
from ._limits import BodyTimeout
from ._logging import RequestLog
from ._routes import ROUTES
from ._storage import Liveness, open_store


def utc_now() -> datetime:
    """The current instant (the server's clock)."""
    return datetime.now(UTC)


def create_app(
    config: Config | None = None,
    *,
    store: Store | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> Starlette:
    """The ASGI application.

    With ``store``, that store is used as is (and not closed); otherwise the store
    the configuration asks for is opened at start-up and closed at shutdown, and kept
    running meanwhile: if it is lost for good (the embedded PostgreSQL died and did not
    start again), ``/healthz`` answers 503.
    """
    if store is None and config is None:
        raise ValueError("create_app needs a config or a store")

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[dict[str, Any]]:
        if store is not None:
            yield {"store": store, "clock": clock, "events": EventCache()}
            return
        assert config is not None
        # If the store is lost for good, /healthz says so: only a restart can help.
        liveness = Liveness()
        async with open_store(config, on_lost=liveness.lose) as opened:
            yield {
                "store": opened,
                "clock": clock,
                "liveness": liveness,
                "events": EventCache(),
            }

    return Starlette(
        routes=ROUTES,
        middleware=[
            Middleware(RequestLog),
            Middleware(
                BodyTimeout,
                seconds=config.server.body_timeout if config else DEFAULT_BODY_TIMEOUT,
            ),
        ],
        exception_handlers=exception_handlers(),  # type: ignore[arg-type]
        lifespan=lifespan,
    )
