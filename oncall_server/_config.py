"""The configuration: every key declared once, as a field of the classes below.

A key's declaration is its field, and it says everything about the key:

- its type (the annotation) and its default;
- its rules: converters normalise (``ssl_mode`` in lower case, an empty ``host`` is
  unset), validators reject by raising :class:`ConfigError`;
- whether it is secret (declared with ``_secret``): a secret's value is never in
  ``repr``, never echoed in an error, and :func:`describe` shows it through its mask;
- its environment variable, which follows from where the key is:
  ``ONCALL_<SECTION>__<KEY>``, or ``ONCALL_<KEY>`` for a key of :class:`Config` itself.

:data:`KEYS` lists the keys, read off the classes.  The loader (``_config_loading``)
takes from it which variables exist, the type to parse each one as, and which values
not to echo; :func:`describe` masks from the same declarations.  What else follows
from a configuration is here too: the store it selects (:func:`storage_mode`) and the
connection string of an external PostgreSQL (:func:`conninfo`).
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar, get_type_hints

import attrs

from oncall_pg import build_conninfo, is_conninfo, redact_conninfo

from ._cache import DEFAULT_MAX_BYTES, DEFAULT_MAX_ENTRIES, MAX_TTL

T = TypeVar("T")

ENV_PREFIX = "ONCALL_"  # of every configuration variable
_MASK = "mask"  # the metadata entry that makes a field secret: how describe() shows it


class ConfigError(ValueError):
    """Configuration that cannot be used; the message is one line for the operator.

    ``problem`` is the message without key and source.  ``key`` is the dotted key at
    fault (``"database.port"``), or None for a problem with the file as a whole;
    ``source`` says where the value came from (``"from ONCALL_DATABASE__PORT"``,
    ``"in config.yaml"``), or None for a default.  ``other_keys`` are the further keys
    a rule across keys involves (``min_connections`` must not exceed
    ``max_connections``), so that the loader can name where their values came from too.
    """

    def __init__(
        self,
        problem: str,
        *,
        key: str | None = None,
        source: str | None = None,
        other_keys: Sequence[str] = (),
    ) -> None:
        text = f"{key}: {problem}" if key else problem
        super().__init__(f"{text} ({source})" if source else text)
        self.problem = problem
        self.key = key
        self.source = source
        self.other_keys = tuple(other_keys)


def _secret(default: T, *, mask: Callable[[str], str], **options: Any) -> T:
    # A secret key's field (``options`` as for attrs.field): describe() shows a set
    # value as mask(value), and Key.secret tells the loader not to echo it.
    field: T = attrs.field(default=default, repr=False, metadata={_MASK: mask}, **options)
    return field


def _rule(holds: Callable[[Any], bool], problem: str) -> Callable[[Any, Any, Any], None]:
    # A validator; ``problem`` is formatted with the rejected ``value``.  Loaded values
    # have their declared type by now: the loader's converter checked it first.
    def check(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not holds(value):
            raise ConfigError(problem.format(value=value), key=attribute.name)

    return check


def _one_of(*choices: str) -> Callable[[Any, Any, Any], None]:
    return _rule(choices.__contains__, f"must be one of {', '.join(choices)}; got {{value!r}}")


def _lower(value: str) -> str:
    return value.lower()


def _blank_is_none(value: str | None) -> str | None:
    # An empty value (say ``ONCALL_DATABASE__HOST=``) unsets the key.
    return value or None


def _split_origins(text: str) -> tuple[str, ...]:
    return tuple(origin.strip() for origin in text.split(",") if origin.strip())


# scheme://host[:port], nothing after: what a browser sends in an Origin header.
_ORIGIN = re.compile(r"https?://[^/\s?#]+")


def _is_origin(origin: str) -> bool:
    return origin == "*" or _ORIGIN.fullmatch(origin) is not None


DEFAULT_BODY_TIMEOUT = 10.0  # seconds; also create_app's when given no configuration

_PORT = _rule(lambda port: 1 <= port <= 65535, "must be between 1 and 65535, got {value}")


SCOPES = ("read", "write", "admin")  # an API key's scopes, each allowing more


@attrs.frozen(kw_only=True)
class ApiKeyConfig:
    """One API key of ``server.api_keys``: its ``name``, the hex SHA-256 ``hash`` of its
    secret (``oncall-server keys create`` prints both), its ``scope`` (``read``,
    ``write`` or ``admin``) and the ``teams`` it is limited to (empty: every team).
    See ``docs/security.md``."""

    name: str = attrs.field(validator=_rule(bool, "must not be empty"))
    hash: str = attrs.field(
        converter=_lower,
        validator=_rule(
            lambda text: len(text) == 64 and all(c in "0123456789abcdef" for c in text),
            "must be 64 hexadecimal digits (a SHA-256 hash)",  # never echo the value
        ),
    )
    scope: str = attrs.field(default="read", converter=_lower, validator=_one_of(*SCOPES))
    teams: tuple[str, ...] = attrs.field(default=(), converter=tuple)


@attrs.frozen(kw_only=True)
class ServerConfig:
    """Where the HTTP server listens (``server:`` in the file, ``ONCALL_SERVER__*``).

    ``body_timeout`` is how many seconds a request's body may take to arrive (408
    after), and ``max_connections`` how many connections are served at once (503
    beyond); see ``oncall_server._limits``.

    ``metrics`` serves ``GET /metrics`` (and ``metrics_requires_key`` asks an API key
    with the ``metrics`` scope for it); ``rate_limit`` is the requests per second one
    client (API key, else address) may make, ``rate_limit_burst`` how many at once, and
    ``rate_limit_clients`` how many clients' buckets are kept (0 rate: no limit);
    ``cors_origins`` the origins, separated by commas, whose pages may read the API
    (empty: none).  See docs/server.md, "Metrics, rate limits and CORS".

    ``api_keys`` are API keys by their hashes, and ``read_requires_key`` whether
    reads need one too (``docs/security.md``).

    ``workers`` is how many server processes share the listening socket (1: the
    command serves in its own process, as it always has; see ``oncall_server._workers``).
    """

    address: str = "0.0.0.0"
    port: int = attrs.field(default=1373, validator=_PORT)
    workers: int = attrs.field(
        default=1,
        validator=_rule(lambda count: count >= 1, "must be at least 1, got {value}"),
    )
    body_timeout: float = attrs.field(
        default=DEFAULT_BODY_TIMEOUT,
        validator=_rule(
            lambda seconds: math.isfinite(seconds) and seconds > 0,
            "must be a positive number of seconds, got {value}",
        ),
    )
    max_connections: int = attrs.field(
        default=1000,
        validator=_rule(lambda count: count >= 1, "must be at least 1, got {value}"),
    )
    # API keys (see docs/security.md): those of the in-memory store, as hashes.
    api_keys: tuple[ApiKeyConfig, ...] = attrs.field(default=(), converter=tuple)
    read_requires_key: bool = False

    # --- Metrics, rate limits and CORS (oncall_server._metrics, _ratelimit, _cors) ---
    metrics: bool = True
    metrics_requires_key: bool = False
    rate_limit: float = attrs.field(
        default=0.0,
        validator=_rule(
            lambda rate: math.isfinite(rate) and rate >= 0,
            "must be a number of requests per second, 0 (off) or more, got {value}",
        ),
    )
    rate_limit_burst: int = attrs.field(
        default=20,
        validator=_rule(lambda count: count >= 1, "must be at least 1, got {value}"),
    )
    rate_limit_clients: int = attrs.field(
        default=10_000,
        validator=_rule(lambda count: count >= 1, "must be at least 1, got {value}"),
    )
    cors_origins: str = attrs.field(
        default="",
        validator=_rule(
            lambda text: all(map(_is_origin, _split_origins(text))),
            "must be origins such as https://app.example.com, separated by commas, "
            "or *; got {value!r}",
        ),
    )

    @property
    def allowed_origins(self) -> tuple[str, ...]:
        """The origins of ``cors_origins``, in order; empty: CORS is off."""
        return _split_origins(self.cors_origins)

    # --- end of metrics, rate limits and CORS ---


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
    from a team state it loaded before (see ``oncall_server._cache``), and
    ``cache_max_entries`` and ``cache_max_bytes`` bound how many team states, and
    about how many bytes of them, that cache holds.
    """

    url: str | None = _secret(
        None,
        mask=redact_conninfo,
        converter=_blank_is_none,
        # Not libpq's own message: it quotes the string, which may hold a password.
        validator=_rule(
            lambda url: url is None or is_conninfo(url), "not a valid libpq connection URI"
        ),
    )
    host: str | None = attrs.field(default=None, converter=_blank_is_none)
    port: int = attrs.field(default=5432, validator=_PORT)
    user: str = "oncall"
    password: str = _secret("oncall", mask=lambda _password: "***")
    database: str = "oncall"
    ssl_mode: str = attrs.field(
        default="disable",
        converter=_lower,
        validator=_one_of("disable", "allow", "prefer", "require", "verify-ca", "verify-full"),
    )
    max_connections: int = attrs.field(
        default=10, validator=_rule(lambda count: count >= 1, "must be at least 1, got {value}")
    )
    min_connections: int = attrs.field(
        default=2, validator=_rule(lambda count: count >= 0, "must be at least 0, got {value}")
    )
    migrations_path: str | None = None
    data_dir: Path | None = None
    pool_timeout: float = attrs.field(
        default=5.0,
        validator=_rule(
            lambda seconds: math.isfinite(seconds) and seconds > 0,
            "must be a positive number of seconds, got {value}",
        ),
    )
    cache_ttl: float = attrs.field(
        default=0.5,
        validator=_rule(
            lambda seconds: 0 <= seconds <= MAX_TTL,  # false for nan; inf is above MAX_TTL
            f"must be from 0 to {MAX_TTL:g} seconds, got {{value}}",
        ),
    )

    cache_max_entries: int = attrs.field(
        default=DEFAULT_MAX_ENTRIES,
        validator=_rule(lambda count: count >= 1, "must be at least 1, got {value}"),
    )
    cache_max_bytes: int = attrs.field(
        default=DEFAULT_MAX_BYTES,
        validator=_rule(lambda size: size >= 1, "must be at least 1, got {value}"),
    )

    def __attrs_post_init__(self) -> None:
        # A rule across two keys, checked once each key has passed its own rules.
        if self.min_connections > self.max_connections:
            raise ConfigError(
                f"must not exceed max_connections ({self.max_connections}), "
                f"got {self.min_connections}",
                key="min_connections",
                other_keys=["max_connections"],
            )


@attrs.frozen(kw_only=True)
class LoggingConfig:
    """Logging settings (``logging:`` in the file, ``ONCALL_LOGGING__*``).

    ``format`` is ``json`` (one JSON object a line), ``text`` (for people), or ``auto``:
    text when stderr is a terminal, JSON when it is not.
    """

    level: str = attrs.field(
        default="info",
        converter=_lower,
        validator=_one_of("debug", "info", "warning", "error", "critical"),
    )
    format: str = attrs.field(
        default="auto", converter=_lower, validator=_one_of("auto", "text", "json")
    )


@attrs.frozen(kw_only=True)
class Config:
    """The whole configuration; ``use_database=False`` selects the in-memory store."""

    server: ServerConfig = attrs.field(factory=ServerConfig)
    database: DatabaseConfig = attrs.field(factory=DatabaseConfig)
    logging: LoggingConfig = attrs.field(factory=LoggingConfig)
    use_database: bool = True

    def __attrs_post_init__(self) -> None:
        # A rule across sections: each worker is a process with its own memory, so
        # in-memory stores in several workers would each hold different data.
        if not self.use_database and self.server.workers > 1:
            raise ConfigError(
                "must be 1 with the in-memory store (use_database false): each worker "
                "process would keep its own data, and the workers would disagree; "
                f"use PostgreSQL to run several workers, got {self.server.workers}",
                key="server.workers",
                other_keys=["use_database"],
            )


@attrs.frozen
class Key:
    """One configuration key, as its field declares it.

    ``path`` is where it is (``("database", "port")``, or ``("use_database",)`` at the
    top), ``name`` its dotted form for messages, ``type`` its annotation (``int``,
    ``str | None``...), ``variable`` the environment variable that sets it
    (``ONCALL_DATABASE__PORT``), and ``secret`` whether its value must not be echoed.
    """

    path: tuple[str, ...]
    name: str
    type: Any
    variable: str
    secret: bool


def _keys(cls: type[Any], path: tuple[str, ...] = ()) -> Iterator[Key]:
    types = get_type_hints(cls)
    for field in attrs.fields(cls):
        at = (*path, field.name)
        if attrs.has(types[field.name]):  # a section: its fields are the keys
            yield from _keys(types[field.name], at)
        else:
            variable = ENV_PREFIX + "__".join(at).upper()
            yield Key(at, ".".join(at), types[field.name], variable, _MASK in field.metadata)


#: Every configuration key by its path, in the order of the classes' fields.
KEYS: dict[tuple[str, ...], Key] = {key.path: key for key in _keys(Config)}


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


def describe(config: Config) -> dict[str, Any]:
    """The effective configuration as a JSON-ready dict, shaped like ``config.yaml``.

    A secret key that is set is shown through its mask: the password as ``***``, a
    password inside ``database.url`` masked (:func:`oncall_pg.redact_conninfo`); so
    the result is safe to print and to log.
    """
    return attrs.asdict(config, value_serializer=_shown)


def _shown(_instance: object, field: attrs.Attribute[Any] | None, value: object) -> object:
    mask = field.metadata.get(_MASK) if field is not None else None
    if mask is not None and value:
        return mask(value)
    if isinstance(value, tuple):  # server.api_keys, a key's teams: JSON lists
        return list(value)
    return str(value) if isinstance(value, Path) else value
