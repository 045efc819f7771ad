"""oncall_server: the thin Starlette HTTP server, configuration and CLI.

Every scheduling rule lives in ``oncall_core``; handlers parse the request,
call the core or the store, and map the result to HTTP.
"""

from ._app import create_app
from ._cli import main
from ._config import (
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
