"""Configuration: the seed's keys and defaults, from a YAML file and ``ONCALL_*`` variables.

Theory of operation.  :func:`load_config` builds one nested dict from two sources,
later winning over earlier, on top of the defaults written on the classes below:

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
"""

from __future__ import annotations

import enum
import math
import os
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar, get_args, get_type_hints

import attrs
import cattrs
import yaml
from cattrs.errors import ForbiddenExtraKeysError
from psycopg.conninfo import conninfo_to_dict, make_conninfo

__all__ = [
    "Config",
    "ConfigError",
    "DatabaseConfig",
    "LoggingConfig",
    "ServerConfig",
    "StorageMode",
    "conninfo",
    "describe",
    "load_config",
    "redact_conninfo",
    "storage_mode",
]

T = TypeVar("T")

_PREFIX = "ONCALL_"
_FILE_VARIABLE = "ONCALL_CONFIG"
_DEFAULT_FILE = "config.yaml"
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


class _WrongType(TypeError):
    """A value of the wrong type; rendered by the loader, which knows if it is secret."""

    def __init__(self, expected: str, value: object) -> None:
        super().__init__(f"expected {expected}, got {value!r}")
        self.expected = expected
        self.value = value


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
    if value is None:
        return
    try:
        conninfo_to_dict(value)
    except Exception:
        # psycopg's message quotes the string, which may hold the password.
        raise _Invalid("not a valid libpq connection URI", attribute.name) from None


def _at_least(minimum: int) -> Callable[[object, attrs.Attribute[int], int], None]:
    def check(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
        if value < minimum:
            raise _Invalid(f"must be at least {minimum}, got {value}", attribute.name)

    return check


def _seconds(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise _Invalid(f"must be a positive number of seconds, got {value}", attribute.name)


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
    return make_conninfo(
        host=database.host or "localhost",
        port=database.port,
        user=database.user,
        password=database.password,
        dbname=database.database,
        sslmode=database.ssl_mode,
    )


_URI = re.compile(r"(?P<scheme>postgres(?:ql)?://)(?P<rest>.*)", re.DOTALL)
_QUERY_PASSWORD = re.compile(r"(?P<key>[?&]password=)[^&]*")
_KEYWORD_PASSWORD = re.compile(
    r"(?P<key>(?:^|\s)password\s*=\s*)(?:'(?:[^'\\]|\\.)*'|(?:[^\s'\\]|\\.)+)"
)


def redact_conninfo(text: str) -> str:
    """``text``, a libpq URI or ``key=value`` string, with any password replaced by ``***``.

    ``postgresql://oncall:s3cret@db/oncall`` becomes ``postgresql://oncall:***@db/oncall``;
    a ``password`` query parameter or keyword is masked too.  A string libpq cannot
    parse is masked whole.
    """
    uri = _URI.fullmatch(text)
    if uri is None:
        try:
            params = conninfo_to_dict(text)
        except Exception:
            return _MASK
        if "password" not in params:
            return text
        masked = _KEYWORD_PASSWORD.sub(lambda match: match["key"] + _MASK, text)
        # Keep the operator's spelling when the substitution provably did the job;
        # otherwise rebuild the string (in libpq's order).
        if conninfo_to_dict(masked).get("password") == _MASK:
            return masked
        params["password"] = _MASK
        return make_conninfo("", **params)
    rest = uri["rest"]
    # Like libpq, user info is whatever precedes the first "@" before any "/".
    authority_end = rest.find("/")
    authority = rest if authority_end < 0 else rest[:authority_end]
    if "@" in authority:
        user_info, _, host_part = authority.partition("@")
        user, colon, _password = user_info.partition(":")
        if colon:
            rest = f"{user}:{_MASK}@{host_part}{rest[len(authority) :]}"
    rest = _QUERY_PASSWORD.sub(lambda match: match["key"] + _MASK, rest)
    return uri["scheme"] + rest


def describe(config: Config) -> dict[str, Any]:
    """The effective configuration as a JSON-ready dict, shaped like ``config.yaml``.

    The password is ``***`` when set and a password inside ``database.url`` is masked
    (:func:`redact_conninfo`), so the result is safe to print and to log.
    """
    data: dict[str, Any] = _converter.unstructure(config)
    database = data["database"]
    if database["password"]:
        database["password"] = _MASK
    if database["url"] is not None:
        database["url"] = redact_conninfo(database["url"])
    return data


# Loading.

# Keys whose values must not appear in messages.
_SECRETS = {("database", "password"), ("database", "url")}
_SECTIONS: dict[str, type[Any]] = {
    "server": ServerConfig,
    "database": DatabaseConfig,
    "logging": LoggingConfig,
}


def _types(cls: type[Any]) -> dict[str, Any]:
    hints = get_type_hints(cls)
    return {field.name: hints[field.name] for field in attrs.fields(cls)}


# Top-level scalars, then each section's keys: the type every known key has.
_TOP_LEVEL_TYPES = {name: kind for name, kind in _types(Config).items() if name not in _SECTIONS}
_SECTION_TYPES = {name: _types(cls) for name, cls in _SECTIONS.items()}

_Sources = dict[tuple[str, ...], str]


def load_config(path: Path | None, environ: Mapping[str, str]) -> Config:
    """Load the configuration: defaults, then the YAML file, then the environment.

    ``path`` is the ``--config`` argument; without it ``$ONCALL_CONFIG`` names the file,
    else ``config.yaml`` in the working directory is read if it exists.  ``environ``
    supplies the ``ONCALL_*`` variables (``ONCALL_<SECTION>__<KEY>``, any case after
    the prefix).  An empty variable unsets an optional key (``host``, ``url``...).
    ``ONCALL_*`` variables that do not start with a known key name (say
    ``ONCALL_TEST_DATABASE_URL``) belong to other tools and are ignored.

    Raises :class:`ConfigError`, one line naming the key and its source, for an
    explicit file that does not exist or cannot be read, invalid YAML, an unknown
    key, a value of the wrong type or out of range.
    """
    merged: dict[str, Any] = {}
    sources: _Sources = {}
    found = _config_file(path, environ)
    if found is not None:
        _merge_file(merged, sources, *found)
    for name, keys, value in _environment(environ):
        _set(merged, keys, value)
        sources[keys] = f"from {name}"
    try:
        return _converter.structure(merged, Config)
    except (cattrs.BaseValidationError, ConfigError) as error:
        raise _explain(error, sources) from None


def _config_file(path: Path | None, environ: Mapping[str, str]) -> tuple[Path, str] | None:
    """The file to read and what named it, or None."""
    if path is not None:
        named_by = "from --config"
    elif environ.get(_FILE_VARIABLE):
        path, named_by = Path(environ[_FILE_VARIABLE]), f"from {_FILE_VARIABLE}"
    else:
        default = Path(_DEFAULT_FILE)
        return (default, "found in the working directory") if default.is_file() else None
    if not path.exists():
        raise ConfigError(f"config file not found: {path}", source=named_by)
    return path, named_by


def _merge_file(merged: dict[str, Any], sources: _Sources, path: Path, named_by: str) -> None:
    where = f"in {path}"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise ConfigError(f"cannot read config file {path}: {reason}", source=named_by) from None
    except yaml.YAMLError as error:
        raise ConfigError(_yaml_problem(error), source=where) from None
    if data is None:  # an empty file, or only comments
        return
    if not isinstance(data, Mapping):
        raise ConfigError(f"expected a mapping at the top level, got {_kind(data)}", source=where)
    for raw_key, value in data.items():
        key = str(raw_key)
        sources[(key,)] = where
        if key not in _SECTIONS:
            merged[key] = value
        elif value is None:  # a section with every key commented out
            merged[key] = {}
        elif isinstance(value, Mapping):
            merged[key] = {str(name): item for name, item in value.items()}
            sources.update({(key, str(name)): where for name in value})
        else:
            raise ConfigError(f"expected a mapping, got {_kind(value)}", key=key, source=where)


def _yaml_problem(error: yaml.YAMLError) -> str:
    # Only the parser's own words and position: its full message quotes file lines.
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        problem = error.problem or "syntax error"
        return f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return "invalid YAML"


def _environment(environ: Mapping[str, str]) -> Iterator[tuple[str, tuple[str, ...], object]]:
    """(variable, key path, typed value) for each ``ONCALL_*`` configuration variable."""
    claimed: dict[tuple[str, ...], str] = {}
    for name in sorted(environ):
        if not name.startswith(_PREFIX) or name.upper() == _FILE_VARIABLE:
            continue
        keys = tuple(name[len(_PREFIX) :].lower().split("__"))
        if not _is_ours(keys[0]):
            continue
        where = f"from {name}"
        if keys in claimed:
            raise ConfigError(f"set by both {claimed[keys]} and {name}", key=".".join(keys))
        claimed[keys] = name
        yield name, keys, _typed(keys, environ[name], where)


def _is_ours(head: str) -> bool:
    # A known top-level key, or a section name with more after it: ONCALL_SERVER__PORT,
    # and the typo ONCALL_SERVER_PORT (reported, not ignored).
    return head in _TOP_LEVEL_TYPES or any(
        head == section or head.startswith(f"{section}_") for section in _SECTIONS
    )


def _typed(keys: tuple[str, ...], text: str, where: str) -> object:
    """``text`` converted to the type of the key at ``keys``."""
    key = ".".join(keys)
    if len(keys) == 1 and keys[0] in _TOP_LEVEL_TYPES:
        kind = _TOP_LEVEL_TYPES[keys[0]]
    elif len(keys) == 2 and keys[1] in _SECTION_TYPES.get(keys[0], {}):
        kind = _SECTION_TYPES[keys[0]][keys[1]]
    elif keys[0] in _SECTIONS and len(keys) == 1:
        raise ConfigError(
            f"is a section; set its keys as {_PREFIX}{keys[0].upper()}__<KEY>",
            key=key,
            source=where,
        )
    else:
        hint = "" if len(keys) > 1 else f"; separate levels with __, as in {_PREFIX}SERVER__PORT"
        raise ConfigError(f"unknown key{hint}", key=key, source=where)
    try:
        return _parse(text, kind)
    except _WrongType as error:
        raise ConfigError(_wrong_type(error, keys), key=key, source=where) from None


_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
_INTEGER = re.compile(r"[+-]?\d+")


def _parse(text: str, kind: Any) -> object:
    """An environment variable's text as a value of type ``kind`` (str stays str)."""
    alternatives = [option for option in get_args(kind) if option is not type(None)]
    if alternatives:  # ``X | None``
        if text == "":
            return None
        kind = alternatives[0]
    stripped = text.strip()
    if kind is bool:
        if stripped.lower() in _TRUE | _FALSE:
            return stripped.lower() in _TRUE
        raise _WrongType("true or false (also 1/0, yes/no)", text)
    if kind is int:
        if _INTEGER.fullmatch(stripped):
            return int(stripped)
        raise _WrongType("an integer", text)
    if kind is float:
        try:
            return float(stripped)
        except ValueError:
            raise _WrongType("a number", text) from None
    return text


def _set(merged: dict[str, Any], keys: tuple[str, ...], value: object) -> None:
    if len(keys) == 1:
        merged[keys[0]] = value
    else:
        section = merged.setdefault(keys[0], {})
        section[keys[1]] = value


def _explain(error: Exception, sources: _Sources) -> ConfigError:
    """The first problem in a cattrs error tree, as one line naming key and source."""
    at, problem = next(_problems(error, ()))
    keys: list[tuple[str, ...]]
    if isinstance(problem, ForbiddenExtraKeysError):
        keys = [(*at, sorted(problem.extra_fields)[0])]
        text = "unknown key"
    elif isinstance(problem, _WrongType):
        keys = [at]
        text = _wrong_type(problem, at)
    elif isinstance(problem, _Invalid):
        keys = [(*at, name) for name in problem.names]
        text = problem.problem
    else:
        keys = [at]
        text = f"invalid value ({type(problem).__name__})"
    found = [where for key in keys if (where := _source(key, sources)) is not None]
    return ConfigError(text, key=".".join(keys[0]), source="; ".join(dict.fromkeys(found)) or None)


def _problems(error: BaseException, at: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(error, cattrs.ClassValidationError):
        with_notes, others = error.group_exceptions()
        for inner, note in with_notes:
            yield from _problems(inner, (*at, note.name))
        for inner in others:
            yield from _problems(inner, at)
    else:
        yield at, error


def _source(keys: tuple[str, ...], sources: _Sources) -> str | None:
    for length in range(len(keys), 0, -1):
        if keys[:length] in sources:
            return sources[keys[:length]]
    return None


def _wrong_type(error: _WrongType, keys: tuple[str, ...]) -> str:
    got = _kind(error.value) if keys in _SECRETS else repr(error.value)
    return f"expected {error.expected}, got {got}"


def _kind(value: object) -> str:
    names = {dict: "a mapping", list: "a list", str: "a string", type(None): "nothing"}
    return names.get(type(value), f"a value of type {type(value).__name__}")


# The converter: strict scalars (YAML already typed them; environment text was parsed above).


def _strict(kind: type[T], expected: str) -> Callable[[object, type[Any]], T]:
    def structure(value: object, _type: type[Any]) -> T:
        if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
            return value
        raise _WrongType(expected, value)

    return structure


def _structure_float(value: object, _type: type[Any]) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise _WrongType("a number", value)


def _structure_path(value: object, _type: type[Any]) -> Path:
    if isinstance(value, str | os.PathLike) and os.fspath(value):
        return Path(value)
    raise _WrongType("a non-empty path", value)


_converter = cattrs.Converter(forbid_extra_keys=True)
_converter.register_structure_hook(str, _strict(str, "a string"))
_converter.register_structure_hook(int, _strict(int, "an integer"))
_converter.register_structure_hook(bool, _strict(bool, "true or false"))
_converter.register_structure_hook(float, _structure_float)
_converter.register_structure_hook(Path, _structure_path)
_converter.register_unstructure_hook(Path, str)
