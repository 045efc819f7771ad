"""``oncall-server keys create|list|revoke``: API keys from the command line.

The commands work whether or not a server runs.  On an external PostgreSQL they
connect to it (after applying pending migrations, as the server would).  With the
embedded PostgreSQL they use the running server's cluster through its socket when a
server runs in the data directory (read from its ``postmaster.pid``), or else start
it for the command and stop it after.  In memory mode there is no database: keys
are ``server.api_keys`` entries, so ``create`` prints the entry to add, ``list``
shows the configured keys, and ``revoke`` says to remove the entry.  A secret is
printed once, on stdout alone, so that ``KEY=$(oncall-server keys create ...)``
works; nothing else is ever printed or logged of it.  A creation or revocation is
recorded in the audit trail as made by ``cli:<user>`` (the operating-system user).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import psutil  # type: ignore[import-untyped]  # ships no types
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from oncall_core import Author, Conflict, OncallError, clean_text
from oncall_pg import PostgresKeys, build_conninfo

from ._config import SCOPES, Config, StorageMode, storage_mode
from ._keys import configured_keys, hash_secret, new_secret, shown
from ._storage import data_dir, database_url, migrate_database

T = TypeVar("T")


def add_commands(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``keys`` and its commands to the main parser's ``commands``."""
    keys = commands.add_parser(
        "keys",
        help="create, list or revoke API keys",
        description="Create, list or revoke API keys (see docs/security.md).",
        parents=parents,
    )
    actions = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="create a key and print it, once", parents=parents)
    create.add_argument("--name", required=True, help="the key's unique name")
    create.add_argument("--scope", choices=SCOPES, default="read", help="default: read")
    create.add_argument(
        "--team",
        action="append",
        default=[],
        dest="teams",
        metavar="TEAM",
        help="limit the key to this team (repeat for more; default: every team)",
    )
    actions.add_parser("list", help="show every key (never a secret) as JSON", parents=parents)
    revoke = actions.add_parser("revoke", help="revoke a key at once", parents=parents)
    revoke.add_argument("name", help="the key's name")


def run(arguments: argparse.Namespace, config: Config) -> int:
    """Run the ``keys`` command ``arguments`` name; the exit status."""
    command = arguments.keys_command
    try:
        if command == "create":
            name = clean_text(arguments.name, "name")
            teams = [clean_text(team, "team") for team in arguments.teams]
            return _create(config, name, arguments.scope, teams)
        if command == "list":
            return _list(config)
        return _revoke(config, arguments.name)
    except OncallError as error:
        print(f"oncall-server: {error}", file=sys.stderr)
        return 1


def _create(config: Config, name: str, scope: str, teams: list[str]) -> int:
    if any(key.name == name for key in configured_keys(config)):
        # As POST /keys: an audit entry's actor names one key.
        raise Conflict(f"an API key named {name!r} exists already (in server.api_keys)")
    secret = new_secret()
    digest = hash_secret(secret)
    entry = {"name": name, "hash": digest, "scope": scope, "teams": teams}
    if storage_mode(config) is StorageMode.MEMORY:
        print(secret)
        print(
            "The in-memory store keeps no keys: add this entry to server.api_keys "
            f"(the key above is shown once):\n  - {json.dumps(entry)}",
            file=sys.stderr,
        )
        return 0

    async def work(keys: PostgresKeys) -> None:
        now = datetime.now(UTC)
        await keys.create(
            name=name, hash=digest, scope=scope, teams=teams, now=now, by=_operator(now)
        )

    _on_database(config, work)
    print(secret)
    print(f"created key {name!r} ({scope}); it is shown once: store it now", file=sys.stderr)
    return 0


def _list(config: Config) -> int:
    records = configured_keys(config)
    if storage_mode(config) is not StorageMode.MEMORY:
        records += _on_database(config, lambda keys: keys.list())
    print(json.dumps({"keys": [shown(key) for key in records]}, indent=2))
    return 0


def _revoke(config: Config, name: str) -> int:
    if storage_mode(config) is StorageMode.MEMORY:
        print(
            f"oncall-server: in memory mode keys are configured: remove {name!r} "
            "from server.api_keys and restart the server",
            file=sys.stderr,
        )
        return 1
    now = datetime.now(UTC)
    revoked = _on_database(config, lambda keys: keys.revoke(name, now=now, by=_operator(now)))
    if revoked is None:
        print(f"oncall-server: no active key named {name!r}", file=sys.stderr)
        return 1
    print(f"revoked key {name!r}; every server refuses it within a second", file=sys.stderr)
    return 0


def _operator(at: datetime) -> Author:
    """Who the audit trail says changed a key from the command line: ``cli:`` and the
    operating-system user running it."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        user = str(os.getuid())
    return Author(actor=f"cli:{user}", at=at)


def _on_database(config: Config, work: Callable[[PostgresKeys], Awaitable[T]]) -> T:
    async def main() -> T:
        async with _url(config) as url:
            await migrate_database(url)
            pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
                url,
                min_size=1,
                max_size=1,
                kwargs={"autocommit": True, "row_factory": dict_row},
                open=False,
            )
            async with pool:
                return await work(PostgresKeys(pool))

    return asyncio.run(main())


@asynccontextmanager
async def _url(config: Config) -> AsyncIterator[str]:
    # The running embedded server's socket if there is one, else database_url (which
    # starts the embedded PostgreSQL for the command, or names the external one).
    running = _running_embedded(data_dir(config))
    if storage_mode(config) is StorageMode.EMBEDDED and running is not None:
        yield running
        return
    async with database_url(config) as url:
        yield url


def _running_embedded(directory: Path) -> str | None:
    """The conninfo of a PostgreSQL running in ``directory``, from its pid file, or None.

    ``postmaster.pid`` holds the pid (line 1), the port (line 4) and the socket
    directory (line 5).
    """
    try:
        lines = (directory / "postmaster.pid").read_text().splitlines()
        pid, port, socket_dir = int(lines[0]), int(lines[3]), lines[4].strip()
        if psutil.Process(pid).name() != "postgres" or not socket_dir:
            return None
    except (OSError, ValueError, IndexError, psutil.Error):
        return None
    return build_conninfo(host=socket_dir, port=port, user="postgres", dbname="postgres")
