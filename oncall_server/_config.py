"""Configuration: the seed's keys and defaults, from a YAML file and ``ONCALL_*`` variables.

Theory of operation.  ``load_config`` (in ``_config_loading``) builds one nested dict
from two sources, later winning over earlier, on top of the defaults written on the
classes below:

1. a YAML file: the explicit path (``--config PATH``), else ``$ONCALL_CONFIG``, else
   ``config.yaml`` in the working directory if there is one, else none;
2. environment variables ``ONCALL_<SECTION>__<KEY>`` (and ``ONCALL_USE_DATABASE``),
   case-insensitive after the prefix; their text is converted to the key's type here.

While merging it remembers where every key came from, then structures the dict into
the frozen classes with a strict cattrs converter (no extra keys, no silent
coercion in the file: ``port: "80"`` is an error, ``ONCALL_SERVER__PORT=80`` is not).
The classes' validators check ranges, choices and the pool bounds.  The first problem
becomes one :class:`ConfigError` line naming the key and its source, e.g.
``database.port: expected an integer, got 'abc' (from ONCALL_DATABASE__PORT)``; no
``Config`` is returned unless all of it is valid.  Values of secret keys (password,
url) are never echoed, neither in errors nor by :func:`describe`.

Only the *effective* configuration is checked: a bad value in the file that the
environment overrides is not reported.  Unknown keys always are.

This module holds the classes, their rules and what is derived from them (storage
mode, connection string, the masked description); ``_config_loading`` reads them.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from oncall_pg import build_conninfo, is_conninfo, redact_conninfo

__all__ = [
    "Config",
    "ConfigError",
    "DatabaseConfig",
    "LoggingConfig",
    "ServerConfig",
    "StorageMode",
    "conninfo",
    "describe",
    "storage_mode",
]

_LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
_SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
_MASK = "***"


class ConfigError(ValueError):
    """Configuration that cannot be used; the message is one line for the operator.

    ``key`` is the dotted key at fault (``"database.port"``), or None for a problem
    with the file as a whole; ``source`` says where the value came from
    (``"from ONCALL_DATABASE__PORT"``, ``"in config.yaml"``), or None for a default.
    """

    def __init__(self, problem: str, *, key: str | None = None, source: str | None = None) -> None:
        text = f"{key}: {problem}" if key else problem
        super().__init__(f"{text} ({source})" if source else text)
        self.problem = problem
        self.key = key
        self.source = source


class _Invalid(ConfigError):
    """Raised by validators: ``names`` are the attributes involved, the first at fault."""

    def __init__(self, problem: str, *names: str) -> None:
        super().__init__(problem, key=names[0])
        self.names = names


# Validators and converters.  Values have the right type here: cattrs checked it.


def _port(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not 1 <= value <= 65535:
        raise _Invalid(f"must be between 1 and 65535, got {value}", attribute.name)


def _one_of(choices: tuple[str, ...]) -> Callable[[object, attrs.Attribute[str], str], None]:
    def check(_instance: object, attribute: attrs.Attribute[str], value: str) -> None:
        if value not in choices:
            raise _Invalid(f"must be one of {', '.join(choices)}; got {value!r}", attribute.name)

    return check


def _lower(value: str) -> str:
    return value.lower()


def _blank_is_none(value: str | None) -> str | None:
    # An empty value (say ``ONCALL_DATABASE__HOST=``) unsets the key.
    return value or None


def _libpq_url(
    _instance: object, attribute: attrs.Attribute[str | None], value: str | None
) -> None:
    # Not libpq's own message: it quotes the string, which may hold the password.
    if value is not None and not is_conninfo(value):
        raise _Invalid("not a valid libpq connection URI", attribute.name)


def _at_least(minimum: int) -> Callable[[object, attrs.Attribute[int], int], None]:
    def check(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
        if value < minimum:
            raise _Invalid(f"must be at least {minimum}, got {value}", attribute.name)

    return check


def _seconds(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise _Invalid(f"must be a positive number of seconds, got {value}", attribute.name)


def _cache_ttl(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (math.isfinite(value) and 0 <= value <= 1):
        raise _Invalid(f"must be from 0 to 1 seconds, got {value}", attribute.name)


@attrs.frozen(kw_only=True)
class ServerConfig:
    """Where the HTTP server listens (``server:`` in the file, ``ONCALL_SERVER__*``)."""

    address: str = "0.0.0.0"
    port: int = attrs.field(default=1373, validator=_port)


@attrs.frozen(kw_only=True)
class DatabaseConfig:
    """PostgreSQL settings (``database:`` in the file, ``ONCALL_DATABASE__*``).

    ``url`` (a libpq URI or ``key=value`` string) or ``host`` selects an external
    server (see :func:`storage_mode`); ``url`` then wins over the separate keys.
    ``host`` defaults to None, not ``localhost``, so that a configured host can be told
    from the default.  ``data_dir`` is where the embedded PostgreSQL keeps its files
    (None: the platform default).  ``migrations_path`` is accepted because the seed's
    ``config.yaml`` has it, and ignored: the migrations ship inside ``oncall_pg``.
    ``pool_timeout`` is how many seconds a request waits for a connection.
    ``cache_ttl`` is how many seconds (0 to 1; 0: no cache) a replica may answer
    from a team state it loaded before (see ``oncall_server._cache``).
    """

    url: str | None = attrs.field(
        default=None, converter=_blank_is_none, validator=_libpq_url, repr=False
    )
    host: str | None = attrs.field(default=None, converter=_blank_is_none)
    port: int = attrs.field(default=5432, validator=_port)
    user: str = "oncall"
    password: str = attrs.field(default="oncall", repr=False)
    database: str = "oncall"
    ssl_mode: str = attrs.field(default="disable", converter=_lower, validator=_one_of(_SSL_MODES))
    max_connections: int = attrs.field(default=10, validator=_at_least(1))
    min_connections: int = attrs.field(default=2, validator=_at_least(0))
    migrations_path: str | None = None
    data_dir: Path | None = None
    pool_timeout: float = attrs.field(default=5.0, validator=_seconds)
    cache_ttl: float = attrs.field(default=0.5, validator=_cache_ttl)

    def __attrs_post_init__(self) -> None:
        if self.min_connections > self.max_connections:
            raise _Invalid(
                f"must not exceed max_connections ({self.max_connections}), "
                f"got {self.min_connections}",
                "min_connections",
                "max_connections",
            )


@attrs.frozen(kw_only=True)
class LoggingConfig:
    """Logging settings (``logging:`` in the file, ``ONCALL_LOGGING__LEVEL``)."""

    level: str = attrs.field(default="info", converter=_lower, validator=_one_of(_LOG_LEVELS))


@attrs.frozen(kw_only=True)
class Config:
    """The whole configuration; ``use_database=False`` selects the in-memory store."""

    server: ServerConfig = attrs.field(factory=ServerConfig)
    database: DatabaseConfig = attrs.field(factory=DatabaseConfig)
    logging: LoggingConfig = attrs.field(factory=LoggingConfig)
    use_database: bool = True


class StorageMode(enum.Enum):
    """Which store the server runs on."""

    MEMORY = "memory"
    EXTERNAL = "external"
    EMBEDDED = "embedded"


def storage_mode(config: Config) -> StorageMode:
    """The store ``config`` asks for.

    ``use_database`` false: :attr:`StorageMode.MEMORY`; else a database ``url`` or
    ``host`` configured: :attr:`StorageMode.EXTERNAL`; else :attr:`StorageMode.EMBEDDED`.
    """
    if not config.use_database:
        return StorageMode.MEMORY
    if config.database.url is not None or config.database.host is not None:
        return StorageMode.EXTERNAL
    return StorageMode.EMBEDDED


def conninfo(config: Config) -> str:
    """The libpq connection string of the external PostgreSQL ``config`` names.

    ``database.url`` verbatim when set (its own sslmode and so on apply); otherwise
    built from host (``localhost`` if unset), port, user, password, database and
    ssl_mode.  Raises :class:`ValueError` if the storage mode is not external.
    """
    mode = storage_mode(config)
    if mode is not StorageMode.EXTERNAL:
        raise ValueError(f"no external database is configured (storage mode: {mode.value})")
    database = config.database
    if database.url is not None:
        return database.url
    return build_conninfo(
        host=database.host or "localhost",
        port=database.port,
        user=database.user,
        password=database.password,
        dbname=database.database,
        sslmode=database.ssl_mode,
    )


def _plain(_instance: object, _field: object, value: object) -> object:
    return str(value) if isinstance(value, Path) else value


def describe(config: Config) -> dict[str, Any]:
    """The effective configuration as a JSON-ready dict, shaped like ``config.yaml``.

    The password is ``***`` when set and a password inside ``database.url`` is masked
    (:func:`redact_conninfo`), so the result is safe to print and to log.
    """
    data: dict[str, Any] = attrs.asdict(config, value_serializer=_plain)
    database = data["database"]
    if database["password"]:
        database["password"] = _MASK
    if database["url"] is not None:
        database["url"] = redact_conninfo(database["url"])
    return data
