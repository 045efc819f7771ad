"""oncall_server: the thin Starlette HTTP server, configuration and CLI.

Every scheduling rule lives in ``oncall_core``; handlers parse the request,
call the core or the store, and map the result to HTTP.
"""

from ._app import create_app
from ._cli import main
from ._config import Config, ConfigError
from ._config_loading import load_config

__all__ = ["Config", "ConfigError", "create_app", "load_config", "main"]
