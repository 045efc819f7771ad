"""The ``oncall-server`` command: serve (the default), migrate, check-config."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import textwrap
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import psycopg
import uvicorn

from oncall_core import OncallError
from oncall_pg import EmbeddedPostgresError

from ._app import create_app
from ._config import KEYS, Config, ConfigError, StorageMode, describe, storage_mode
from ._config_loading import load_config
from ._logging import configure_logging
from ._storage import database_url, migrate_database

log = logging.getLogger("oncall_server")

# Seconds uvicorn waits for requests in flight once asked to stop (SIGTERM/SIGINT).
GRACEFUL_SHUTDOWN = 10


def _parser() -> argparse.ArgumentParser:
    # --config is accepted before and after the command: each parser has it, and a
    # subparser's default (SUPPRESS) leaves the main parser's value alone.
    config_option = argparse.ArgumentParser(add_help=False)
    config_option.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="YAML configuration file (default: $ONCALL_CONFIG, else ./config.yaml if present)",
    )
    parser = argparse.ArgumentParser(
        prog="oncall-server",
        description="Who is on call: the oncall-schedule HTTP server.",
        epilog=_ENVIRONMENT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[config_option],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="run the HTTP server (the default)",
        description="Run the HTTP server until SIGTERM or SIGINT.",
        epilog=_ENVIRONMENT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[config_option],
    )
    for option, key, metavar in _SERVE_OPTIONS:
        serve.add_argument(
            option,
            metavar=metavar,
            default=argparse.SUPPRESS,
            help=f"sets {key} (default: {_DEFAULTS[key]}); wins over the file and the environment",
        )
    for name, text in [
        ("migrate", "apply database migrations and exit"),
        ("check-config", "print the effective configuration, secrets masked"),
    ]:
        commands.add_parser(
            name,
            help=text,
            description=text[0].upper() + text[1:] + ".",
            epilog=_ENVIRONMENT_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            parents=[config_option],
        )
    return parser


# The options of serve, each a configuration key: (option, key, metavar).
_SERVE_OPTIONS = [
    ("--host", "server.address", "ADDRESS"),
    ("--port", "server.port", "PORT"),
]
_DEFAULTS = {
    f"{section}.{name}": value
    for section, keys in describe(Config()).items()
    if isinstance(keys, dict)
    for name, value in keys.items()
}

_ENVIRONMENT_HELP = "\n".join(
    [
        "The configuration: defaults < config file < ONCALL_ variables < options.",
        "Every key has its environment variable: ONCALL_ and the key, with __ between",
        "levels (ONCALL_SERVER__PORT=8080); ONCALL_CONFIG names the config file:",
        *textwrap.wrap(
            ", ".join(key.variable for key in KEYS.values()),
            78,
            initial_indent="  ",
            subsequent_indent="  ",
        ),
    ]
)


def _version() -> str:
    try:
        return metadata.version("oncall-schedule")
    except metadata.PackageNotFoundError:  # run from a source tree, not installed
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; the process exit status."""
    arguments = _parser().parse_args(argv)
    options = {
        key: (option, getattr(arguments, option[2:]))
        for option, key, _metavar in _SERVE_OPTIONS
        if hasattr(arguments, option[2:])
    }
    try:
        config = load_config(getattr(arguments, "config", None), os.environ, options)
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
