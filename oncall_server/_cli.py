"""The ``oncall-server`` command: serve (the default), migrate, check-config."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import textwrap
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import psycopg

from oncall_core import OncallError
from oncall_pg import EmbeddedPostgresError

from . import _keys_cli
from ._config import KEYS, Config, ConfigError, StorageMode, describe, storage_mode
from ._config_loading import load_config
from ._listen import PortUnavailable, check_address, listen
from ._logging import configure_logging
from ._serving import serve
from ._storage import StartupError, data_dir, database_url, explain, migrate_database
from ._workers import supervise

log = logging.getLogger("oncall_server")


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
    _keys_cli.add_commands(commands, [config_option])
    return parser


# The options of serve, each a configuration key: (option, key, metavar).
_SERVE_OPTIONS = [
    ("--host", "server.address", "ADDRESS"),
    ("--port", "server.port", "PORT"),
    ("--workers", "server.workers", "N"),
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
        if arguments.command == "check-config":
            return _check_config(config)
        # With workers, several processes write to stderr: each line says whose it is.
        configure_logging(
            config.logging.level, config.logging.format, pid=config.server.workers > 1
        )
        if arguments.command == "migrate":
            return _migrate(config)
        if arguments.command == "keys":
            return _keys_cli.run(arguments, config)
        return _serve(config)
    except ConfigError as error:
        # Found before anything started (loading, or checking the address): one line.
        print(f"oncall-server: configuration error: {error}", file=sys.stderr)
        return 2


def _check_config(config: Config) -> int:
    check_address(config)
    shown = describe(config)
    if storage_mode(config) is StorageMode.EMBEDDED:
        shown["database"]["data_dir"] = str(data_dir(config))  # the default, resolved
    print(json.dumps({"storage": storage_mode(config).value, **shown}, indent=2))
    return 0


def _migrate(config: Config) -> int:
    if storage_mode(config) is StorageMode.MEMORY:
        log.info("nothing to migrate: the in-memory store has no schema")
        return 0

    async def run() -> None:
        async with database_url(config) as url:
            applied = await migrate_database(url)
        log.info("migrations", extra={"fields": {"applied": list(applied)}})

    try:
        asyncio.run(run())
    except (StartupError, OncallError, EmbeddedPostgresError, psycopg.Error, OSError) as error:
        log.error("migration failed", extra={"fields": {"error": explain(error, config)}})
        return 1
    return 0


def _serve(config: Config) -> int:
    """Bind, open the store, serve until SIGTERM/SIGINT; the exit status (see docs)."""
    try:
        sockets = listen(config)  # a ConfigError for a bad address reaches main
    except PortUnavailable as error:
        log.error("start-up failed", extra={"fields": {"error": str(error)}})
        return 3
    log.debug(
        "starting",
        extra={"fields": {"config": describe(config), "storage": storage_mode(config).value}},
    )
    # One worker serves in this process, as before there were workers.
    status = supervise(config, sockets) if config.server.workers > 1 else serve(config, sockets)
    log.info("stopped", extra={"fields": {"exit_status": status}})
    return status
