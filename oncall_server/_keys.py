"""API keys in memory: the table every request's key is looked up in.

Theory of operation.  A key is a random secret (:func:`new_secret`, 256 bits); only
its SHA-256 hash is ever stored (:func:`hash_secret`).  A fast unsalted hash is
enough here, unlike for passwords: a slow or salted hash protects low-entropy
secrets from guessing, and nobody can guess 256 random bits, so the hash of a key
is as hard to invert as the key is to guess.  A fast hash also keeps the check
cheap on every request.

:class:`KeyRing` holds the keys by hash.  A request's key is hashed and looked up
in a dict: no database round trip, and no comparison of the secret itself.  The
lookup is not constant time, but what it may leak is how much of the *hash* of
the caller's guess matches a stored hash, which tells nothing about any key (the
hash cannot be steered).  So this is what ``hmac.compare_digest`` would give.

Hashing is still most of a key check's cost under load (a SHA-256 through OpenSSL,
cold in the caches between requests), and a client sends the same header on every
request.  So the ring also remembers the ``Authorization`` values it accepted, as
sent, for the keys they presented (at most :data:`ACCEPTED_REMEMBERED`; only
accepted ones, so guesses cost memory nothing): a remembered value is a dict
lookup, no hash.  This keeps valid keys, as clients sent them, in the process's
memory, which holds every request's headers anyway; never on disk, in a log or
in the database.  Its timing reveals no more than the digests': a dict compares
bytes only once their (per-process keyed) hashes are equal.  The remembered
values are forgotten whenever the active keys change, so a revocation counts
exactly when it did before.

Where the keys come from: the configuration's ``server.api_keys`` always; and in
PostgreSQL modes the ``api_keys`` table too, read again every
:data:`REFRESH_INTERVAL` seconds by a task of the ring, so a key created or revoked
with ``oncall-server keys`` counts on every replica within about a second.  A
failed refresh keeps the keys already loaded (an outage never opens the server).
The ring is *open* (every request allowed, as in the seed) only while no key was
ever configured or created: a revoked key still counts, so revoking the last key
does not open the server again.  When a key is used the ring notes the time in
memory; the same task writes the notes every :data:`TOUCH_INTERVAL` seconds in one
statement (``last_used_at`` is then at most that late), and at shutdown.  The ring
lives on the server's event loop; its dict is replaced whole, never mutated, so a
lookup always sees one consistent table.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Scope

from oncall_core import OncallError
from oncall_pg import KeyRecord, PostgresKeys

from ._config import Config

log = logging.getLogger("oncall_server")

ACCEPTED_REMEMBERED = 256
"""The most ``Authorization`` values a ring remembers as accepted (then it starts over)."""
REFRESH_INTERVAL = 1.0  # seconds between two reads of the api_keys table
TOUCH_INTERVAL = 60.0  # seconds between two writes of the keys' last_used_at

SECRET_PREFIX = "oncall_"  # makes a leaked key easy to recognise (secret scanners)


def new_secret() -> str:
    """A new API key: :data:`SECRET_PREFIX` and 256 random bits, URL-safe."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """The hex SHA-256 of ``secret``: what is stored of a key (see the module docstring)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()


def bearer_secret(scope: Scope) -> str | None:
    """The key a request presents (``Authorization: Bearer <key>``), or None.

    Another scheme (say Basic, from a proxy) is not ours: as if no key were given.
    It reads the raw header list, not Starlette's ``Headers``: this runs on every
    request, and building those costs more than the whole key check.
    """
    presented = _presented(scope)
    return None if presented is None else presented.decode("utf-8", "surrogateescape")


# What str.strip() strips from ASCII text (bytes.strip() leaves \x1c to \x1f).
_SPACE = bytes(byte for byte in range(128) if chr(byte).isspace())


def _authorization(scope: Scope) -> bytes | None:
    # The first Authorization header's value, as sent.
    value: bytes
    for name, value in scope["headers"]:
        if name == b"authorization":
            return value
    return None


def _presented(scope: Scope) -> bytes | None:
    # The presented secret as hash_secret encodes it: the bytes that are hashed.
    value = _authorization(scope)
    return None if value is None else _bearer(value)


def _bearer(value: bytes) -> bytes | None:
    # The secret of an Authorization value, if it is a Bearer one, as hash_secret
    # encodes it.
    if value.isascii():
        # The usual case, without a detour through str: the same rule on bytes.
        scheme, _, raw = value.partition(b" ")
        raw = raw.strip(_SPACE)
        return raw if raw and scheme.lower() == b"bearer" else None
    text_scheme, _, secret = value.decode("latin-1").partition(" ")
    secret = secret.strip()
    if not secret or text_scheme.lower() != "bearer":
        return None
    return secret.encode("utf-8", "surrogateescape")


def configured_keys(config: Config) -> tuple[KeyRecord, ...]:
    """The keys of ``server.api_keys``."""
    return tuple(
        KeyRecord(name=key.name, hash=key.hash, scope=key.scope, teams=key.teams)
        for key in config.server.api_keys
    )


class KeyRing:
    """The API keys the server accepts, by hash (see the module docstring)."""

    def __init__(
        self,
        configured: Iterable[KeyRecord] = (),
        *,
        read_requires_key: bool = False,
        stored: PostgresKeys | None = None,
        clock: Callable[[], datetime],
    ) -> None:
        """``configured`` keys always count; ``stored`` ones too once :meth:`refresh`
        has read them."""
        self.read_requires_key = read_requires_key
        self._configured = tuple(configured)
        self._stored = stored
        self._clock = clock
        self._by_digest = _by_digest(self._configured)
        # Authorization values as sent -> the active key they presented (module docstring).
        self._accepted: dict[bytes, KeyRecord] = {}
        self.open = not self._configured
        """Whether no key was ever configured or created: then every request is allowed.
        (An attribute, not a property: every request reads it.)"""
        self._used: dict[str, datetime] = {}  # name -> last use not yet written

    def find(self, secret: str) -> KeyRecord | None:
        """The active key whose secret this is, or None; notes that it was used."""
        return self._lookup(secret.encode("utf-8", "surrogateescape"))  # as hash_secret

    def find_presented(self, scope: Scope) -> KeyRecord | None:
        """The active key a request presents (:func:`bearer_secret`), or None: none
        presented, or not an active key; notes that it was used.

        What the route guard calls on every request: a header value accepted before
        is a dict lookup; another is hashed from its bytes, without building a str.
        """
        value: bytes
        for name, value in scope["headers"]:
            if name != b"authorization":
                continue
            key = self._accepted.get(value)
            if key is None:
                key = self._accept(value)
                if key is None:
                    return None
            if self._stored is not None:
                self._used[key.name] = self._clock()
            return key
        return None

    def _accept(self, value: bytes) -> KeyRecord | None:
        # The active key an Authorization value not seen before presents, remembered.
        secret = _bearer(value)
        if secret is None:
            return None
        key = self._by_digest.get(hashlib.sha256(secret).digest())
        if key is not None:
            if len(self._accepted) >= ACCEPTED_REMEMBERED:
                self._accepted = {}  # a bound on what one key's many spellings can take
            self._accepted[value] = key
        return key

    def _lookup(self, secret: bytes) -> KeyRecord | None:
        # By the hash's bytes (digest, not hexdigest: no hex string to build and hash).
        key = self._by_digest.get(hashlib.sha256(secret).digest())
        if key is not None and self._stored is not None:
            self._used[key.name] = self._clock()  # for last_used_at: only stored keys
        return key

    async def records(self) -> tuple[KeyRecord, ...]:
        """Every key: the configured ones, then the stored ones (revoked too)."""
        stored = await self._stored.list() if self._stored is not None else ()
        return (*self._configured, *stored)

    async def refresh(self) -> None:
        """Read the stored keys again (raises the store's errors)."""
        if self._stored is None:
            return
        records = await self._stored.list()
        active = [key for key in records if key.revoked_at is None]
        # Replaced whole: lookups never see half a table.
        by_digest = _by_digest([*self._configured, *active])
        if by_digest != self._by_digest:
            self._by_digest, self._accepted = by_digest, {}  # a revoked key: forgotten here
        self.open = not (self._configured or records)

    async def flush(self) -> None:
        """Write the noted uses of keys (``last_used_at``), in one statement."""
        if self._stored is None or not self._used:
            return
        used, self._used = self._used, {}
        try:
            await self._stored.touch(used)
        except OncallError:
            # Kept for the next attempt, unless a newer use was noted meanwhile.
            self._used = {**used, **self._used}
            raise

    async def _run(self, refresh_every: float, touch_every: float) -> None:
        # Ends when cancelled (at shutdown); each round sleeps first.
        loop = asyncio.get_running_loop()
        touched = loop.time()
        while True:
            await asyncio.sleep(refresh_every)
            try:
                await self.refresh()
                if loop.time() - touched >= touch_every:
                    touched = loop.time()
                    await self.flush()
            except OncallError as error:
                log.warning("api keys not refreshed", extra={"fields": {"error": str(error)}})


def _by_digest(keys: Iterable[KeyRecord]) -> dict[bytes, KeyRecord]:
    # The keys by the bytes of their hashes: a request's secret is looked up by its
    # digest(), without spelling it in hex.  A hash that is not the lowercase hex of
    # 32 bytes is left out: hash_secret() never gives it, so no secret matches it.
    table = {}
    for key in keys:
        with contextlib.suppress(ValueError):
            digest = bytes.fromhex(key.hash)
            if len(digest) == 32 and digest.hex() == key.hash:
                table[digest] = key
    return table


@asynccontextmanager
async def running(
    ring: KeyRing,
    *,
    refresh_every: float = REFRESH_INTERVAL,
    touch_every: float = TOUCH_INTERVAL,
) -> AsyncIterator[KeyRing]:
    """``ring`` loaded and kept fresh for the duration of the block; the noted uses
    are written at the end.  Logs a warning if the server is open (no key)."""
    await ring.refresh()
    if ring.open:
        log.warning("no API key configured: writes are open", extra={"fields": {}})
    task = asyncio.create_task(ring._run(refresh_every, touch_every))
    try:
        yield ring
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        with contextlib.suppress(OncallError):
            await ring.flush()


def shown(key: KeyRecord) -> dict[str, object]:
    """A key as ``GET /keys`` and ``keys list`` show it: never its secret or hash."""
    return {
        "name": key.name,
        "scope": key.scope,
        "teams": list(key.teams),
        **{
            field: value.isoformat() if value is not None else None
            for field, value in [
                ("created_at", key.created_at),
                ("last_used_at", key.last_used_at),
                ("revoked_at", key.revoked_at),
            ]
        },
    }


async def list_keys(request: Request) -> Response:
    """``GET /keys`` (admin): every key, revoked ones too, without secrets or hashes."""
    ring: KeyRing = request.state.keys
    return JSONResponse({"keys": [shown(key) for key in await ring.records()]})
