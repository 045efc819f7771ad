"""The pool's connection check: skipped for a read on a connection that worked moments ago.

Theory of operation
-------------------
A pooled connection can be broken without the pool knowing (the server
restarted, a network path dropped).  psycopg_pool's ``check_connection`` finds
out with an empty query on every checkout: a round trip on every load, which is
most of what an uncached read costs besides its own statement.

:class:`RecentUseCheck` keeps the check where it matters and drops it where it does not:

- A checkout for a **write** is always checked.  A write is not retried (it may
  have committed), so it must not be handed a connection that died since its
  last use: after a restart, a write's checkout finds each broken connection in
  the check, and the pool replaces it before the write runs.
- A checkout for a **read** is not checked when the connection completed a call
  within the last ``window`` seconds and no read has met a broken connection
  since.  Otherwise it is.

What "recently used" guarantees is only that the connection worked ``window``
seconds ago; it says nothing about a restart since.  That is why only reads rely
on it: a read handed a connection that broke within the window fails, the store
retries it (``PostgresStore._read``), and the failure marks every connection used
before it as suspect (:meth:`RecentUseCheck.suspect`), so that the retry, and every
checkout after it, runs the check again until each connection has been checked
or has worked again.  The cost of the trade: after a restart, one read per
process may take a retry (a failed statement and a pause of at most 50 ms).

Relies on psycopg_pool running the check in the task that asked for the
connection (``AsyncConnectionPool.getconn``), so the context variable that says
"this checkout is for a write" is the caller's.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

WINDOW = 2.0
"""Seconds after its last completed call during which a connection is trusted for a read."""

# True while a write takes its connection from the pool (RecentUseCheck.writing).
_writing: contextvars.ContextVar[bool] = contextvars.ContextVar("writing", default=False)


class RecentUseCheck:
    """A pool ``check`` callback that checks every write's connection, and a read's
    only when the connection has not worked within ``window`` seconds.

    :meth:`PostgresStore.open <oncall_pg.PostgresStore.open>` installs one and
    tells it which connections worked; see ``oncall_pg/_checks.py`` for what it
    guarantees and what it trades.
    """

    def __init__(
        self, window: float = WINDOW, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """``window``: seconds (0: check every checkout); ``clock``: monotonic
        seconds (injected by tests)."""
        self._window = window
        self._clock = clock
        self._worked: weakref.WeakKeyDictionary[AsyncConnection[Any], float] = (
            weakref.WeakKeyDictionary()
        )
        self._suspect_since = -float("inf")

    async def __call__(self, connection: AsyncConnection[Any]) -> None:
        """Return if the connection may be used as it is; raise if it is broken."""
        if not _writing.get():
            worked = self._worked.get(connection)
            if (
                worked is not None
                and worked > self._suspect_since
                and self._clock() - worked < self._window
            ):
                return
        await AsyncConnectionPool.check_connection(connection)
        self.worked(connection)

    def worked(self, connection: AsyncConnection[Any]) -> None:
        """Note that a call on ``connection`` completed just now."""
        self._worked[connection] = self._clock()

    @staticmethod
    @contextlib.contextmanager
    def writing() -> Iterator[None]:
        """Within this block, checkouts are for a write: always checked."""
        token = _writing.set(True)
        try:
            yield
        finally:
            _writing.reset(token)

    def suspect(self) -> None:
        """Distrust every connection until it is checked or works again: one broke."""
        self._suspect_since = self._clock()
