"""Loading the configuration: defaults < YAML file < ``ONCALL_*`` variables.

See :mod:`oncall_server._config` for the classes and the rules; this module
finds the file, merges the sources while remembering where each key came from,
structures the result with a strict cattrs converter, and turns the first
problem into one :class:`ConfigError` line naming the key and its source.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar, get_args, get_type_hints

import attrs
import cattrs
import yaml
from cattrs.errors import ForbiddenExtraKeysError

from ._config import (
    Config,
    ConfigError,
    DatabaseConfig,
    LoggingConfig,
    ServerConfig,
    _Invalid,
)

T = TypeVar("T")

_PREFIX = "ONCALL_"
_FILE_VARIABLE = "ONCALL_CONFIG"
_DEFAULT_FILE = "config.yaml"


class _WrongType(TypeError):
    """A value of the wrong type; rendered by the loader, which knows if it is secret."""

    def __init__(self, expected: str, value: object) -> None:
        super().__init__(f"expected {expected}, got {value!r}")
        self.expected = expected
        self.value = value


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
