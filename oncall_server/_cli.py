"""The ``oncall-server`` command: serve (the default), migrate, check-config."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import psycopg
import uvicorn

from oncall_core import OncallError
from oncall_pg import EmbeddedPostgresError

from ._app import create_app
from ._config import Config, ConfigError, StorageMode, describe, storage_mode
from ._config_loading import load_config
from ._limits import server_limits
from ._logging import configure_logging
from ._storage import database_url, migrate_database

log = logging.getLogger("oncall_server")

# Seconds uvicorn waits for requests in flight once asked to stop (SIGTERM/SIGINT).
GRACEFUL_SHUTDOWN = 10


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="oncall-server",
        description="Who is on call: the oncall-schedule HTTP server.",
    )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        help="YAML configuration file (default: $ONCALL_CONFIG, else ./config.yaml if present)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("serve", help="run the HTTP server (the default)")
    commands.add_parser("migrate", help="apply database migrations and exit")
    commands.add_parser("check-config", help="print the effective configuration, secrets masked")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; the process exit status."""
    arguments = _parser().parse_args(argv)
    try:
        config = load_config(arguments.config, os.environ)
    except ConfigError as error:
        print(f"oncall-server: configuration error: {error}", file=sys.stderr)
        return 2
    if arguments.command == "check-config":
        print(json.dumps({"storage": storage_mode(config).value, **describe(config)}, indent=2))
        return 0
    configure_logging(config.logging.level)
    if arguments.command == "migrate":
        return _migrate(config)
    return _serve(config)


def _migrate(config: Config) -> int:
    if storage_mode(config) is StorageMode.MEMORY:
        log.info("nothing to migrate: the in-memory store has no schema")
        return 0

    async def run() -> None:
        async with database_url(config) as url:
            await migrate_database(url)

    try:
        asyncio.run(run())
    except (OncallError, EmbeddedPostgresError, psycopg.Error, OSError) as error:
        log.error("migration failed", extra={"fields": {"error": str(error)}})
        return 1
    return 0


def _serve(config: Config) -> int:
    log.info(
        "starting",
        extra={"fields": {"config": describe(config), "storage": storage_mode(config).value}},
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config),
            host=config.server.address,
            port=config.server.port,
            log_config=None,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
            **server_limits(config),
        )
    )
    # uvicorn stops gracefully on SIGTERM/SIGINT, then raises the signal again for
    # the handler that was there before it; with this one in place that ends the
    # shutdown here, so the process logs "stopped" and exits with status 0.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda *_: None)
    server.run()  # exits the process with status 3 itself when start-up fails
    log.info("stopped")
    return 0
