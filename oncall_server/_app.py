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
from starlette.routing import Route

from oncall_core import Store

from ._auth import Endpoint, Requirement, Scope, protect
from ._calendar import EventCache
from ._config import DEFAULT_BODY_TIMEOUT, Config
from ._errors import exception_handlers
from ._keys import KeyRing, configured_keys, list_keys, running
from ._limits import BodyTimeout
from ._logging import RequestLog
from ._routes import ROUTES
from ._storage import Liveness, open_store, stored_keys

# Routes of the server's own administration, and what they need (see _auth).
_ADMIN_ROUTES = [Route("/keys", list_keys, methods=["GET"])]
_ADMIN_REQUIREMENTS: dict[Endpoint, Requirement] = {list_keys: Requirement(Scope.ADMIN)}


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

    def keys(opened: Store) -> KeyRing:
        # The API keys: the configuration's, and in PostgreSQL modes the database's.
        return KeyRing(
            configured_keys(config) if config else (),
            read_requires_key=config.server.read_requires_key if config else False,
            stored=stored_keys(opened),
            clock=clock,
        )

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[dict[str, Any]]:
        if store is not None:
            async with running(keys(store)) as ring:
                yield {"store": store, "clock": clock, "events": EventCache(), "keys": ring}
            return
        assert config is not None
        # If the store is lost for good, /healthz says so: only a restart can help.
        liveness = Liveness()
        async with (
            open_store(config, on_lost=liveness.lose) as opened,
            running(keys(opened)) as ring,
        ):
            yield {
                "store": opened,
                "clock": clock,
                "liveness": liveness,
                "events": EventCache(),
                "keys": ring,
            }

    return Starlette(
        routes=protect([*ROUTES, *_ADMIN_ROUTES], _ADMIN_REQUIREMENTS),
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
