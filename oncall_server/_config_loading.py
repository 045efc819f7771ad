"""Loading the configuration: defaults < YAML file < ``ONCALL_*`` variables < options.

Theory of operation.  :func:`load_config` merges the file, the environment and then
the command-line options into one nested dict, remembering where each key came from
(``in config.yaml``, ``from ONCALL_SERVER__PORT``, ``from --port``).  One strict
cattrs converter then structures the dict into the classes of ``_config``, whose
validators check ranges, choices and the pool bounds.  The converter knows two
spellings of a value: a YAML value must already have the key's type (``port: "80"`` is
an error, never coerced), while the text of an environment variable or an option is
parsed, as it is read, into the key's type (``ONCALL_SERVER__PORT=80``).

The first problem becomes one :class:`ConfigError` line naming the key and where its
value came from, e.g. ``database.port: expected an integer, got 'abc' (from
ONCALL_DATABASE__PORT)``; no ``Config`` is returned unless all of it is valid.  A
secret key's value is described by its kind, never echoed.  Only the *effective*
configuration is checked: a bad value in the file that the environment overrides is
not reported.  Unknown keys always are.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, get_args

import cattrs
import yaml
from cattrs.errors import ForbiddenExtraKeysError

from oncall_core import leaf_errors

from ._config import ENV_PREFIX, KEYS, ApiKeyConfig, Config, ConfigError, Key

_FILE_VARIABLE = "ONCALL_CONFIG"
_DEFAULT_FILE = "config.yaml"
_SECTIONS = frozenset(path[0] for path in KEYS if len(path) > 1)

_Sources = dict[tuple[str, ...], str]  # key path -> "in config.yaml", "from ONCALL_..."


class _WrongType(TypeError):
    """A value of the wrong type; rendered by the loader, which knows if it is secret."""

    def __init__(self, expected: str, value: object) -> None:
        super().__init__(f"expected {expected}, got {value!r}")
        self.expected = expected
        self.value = value


def load_config(
    path: Path | None,
    environ: Mapping[str, str],
    options: Mapping[str, tuple[str, str]] | None = None,
) -> Config:
    """Load the configuration: defaults, then the YAML file, then the environment, then
    the command line.

    ``path`` is the ``--config`` argument; without it ``$ONCALL_CONFIG`` names the file,
    else ``config.yaml`` in the working directory is read if it exists.  ``environ``
    supplies the ``ONCALL_*`` variables (``ONCALL_<SECTION>__<KEY>``, any case after
    the prefix).  An empty variable unsets an optional key (``host``, ``url``...).
    ``ONCALL_*`` variables that do not start with a known key name (say
    ``ONCALL_TEST_DATABASE_URL``) belong to other tools and are ignored.  ``options`` are
    command-line options, by dotted key: ``{"server.port": ("--port", "8080")}`` (the
    option's name, for messages, and its text, parsed as an environment variable's).

    Raises :class:`ConfigError`, one line naming the key and its source, for an
    explicit file that does not exist or cannot be read, invalid YAML, a key given
    twice in the file, an unknown key, a value of the wrong type or out of range.
    """
    merged: dict[str, Any] = {}
    sources: _Sources = {}
    found = _config_file(path, environ)
    if found is not None:
        _merge_file(merged, sources, *found)
    for keys, value, where in _environment(environ):
        section = merged.setdefault(keys[0], {}) if len(keys) > 1 else merged
        section[keys[-1]] = value
        sources[keys] = where
    for name, (option, text) in (options or {}).items():
        keys, where = tuple(name.split(".")), f"from {option}"
        value = _typed(keys, text, where)
        section = merged.setdefault(keys[0], {}) if len(keys) > 1 else merged
        section[keys[-1]] = value
        sources[keys] = where
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
        data = _load_yaml(path.read_text(encoding="utf-8"), where)
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


def _load_yaml(text: str, where: str) -> object:
    """The YAML document in ``text``, as ``yaml.safe_load`` reads it, but refusing a key
    given twice in one mapping (``safe_load`` silently keeps the last one)."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _refuse_duplicate_keys(node, (), where)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _refuse_duplicate_keys(node: yaml.Node, at: tuple[str, ...], where: str) -> None:
    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _refuse_duplicate_keys(item, at, where)
    if not isinstance(node, yaml.MappingNode):
        return
    lines: dict[str, int] = {}
    for key_node, value_node in node.value:
        name = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else None
        line = key_node.start_mark.line + 1
        if name is not None and name in lines:
            raise ConfigError(
                f"duplicate key, at lines {lines[name]} and {line}",
                key=".".join((*at, name)),
                source=where,
            )
        if name is not None:
            lines[name] = line
        _refuse_duplicate_keys(value_node, (*at, name or "?"), where)


def _yaml_problem(error: yaml.YAMLError) -> str:
    # Only the parser's own words and position: its full message quotes file lines.
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        problem = error.problem or "syntax error"
        return f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return "invalid YAML"


def _environment(environ: Mapping[str, str]) -> Iterator[tuple[tuple[str, ...], object, str]]:
    """(key path, typed value, source) for each ``ONCALL_*`` configuration variable."""
    claimed: dict[tuple[str, ...], str] = {}
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name.upper() == _FILE_VARIABLE:
            continue
        keys = tuple(name[len(ENV_PREFIX) :].lower().split("__"))
        if not _is_ours(keys[0]):
            continue
        if keys in claimed:
            raise ConfigError(f"set by both {claimed[keys]} and {name}", key=".".join(keys))
        claimed[keys] = name
        where = f"from {name}"
        yield keys, _typed(keys, environ[name], where), where


def _is_ours(head: str) -> bool:
    # A known top-level key, or a section name with more after it: ONCALL_SERVER__PORT,
    # and the typo ONCALL_SERVER_PORT (reported, not ignored).
    return (head,) in KEYS or any(
        head == section or head.startswith(f"{section}_") for section in _SECTIONS
    )


def _typed(keys: tuple[str, ...], text: str, where: str) -> object:
    """``text`` as a value of the key at ``keys``, by the converter's rules for text."""
    key = KEYS.get(keys)
    if key is None and keys[0] in _SECTIONS and len(keys) == 1:
        problem = f"is a section; set its keys as {ENV_PREFIX}{keys[0].upper()}__<KEY>"
        raise ConfigError(problem, key=keys[0], source=where)
    if key is None:
        hint = "" if len(keys) > 1 else f"; separate levels with __, as in {ENV_PREFIX}SERVER__PORT"
        raise ConfigError(f"unknown key{hint}", key=".".join(keys), source=where)
    if text == "" and type(None) in get_args(key.type):
        return None  # an empty variable unsets an optional key
    try:
        return _converter.structure(_EnvironmentText(text), key.type)
    except _WrongType as error:
        raise ConfigError(_wrong_type(error, key), key=key.name, source=where) from None


def _explain(error: Exception, sources: _Sources) -> ConfigError:
    """The first problem in a cattrs error tree, as one line naming key and source."""
    steps, problem = next(leaf_errors(error))
    at = tuple(str(step) for step in steps)  # attribute names only: no lists here
    if isinstance(problem, ForbiddenExtraKeysError):
        involved = [(*at, min(problem.extra_fields))]
        text = "unknown key"
    elif isinstance(problem, _WrongType):
        involved = [at]
        text = _wrong_type(problem, KEYS.get(at))
    elif isinstance(problem, ConfigError) and problem.key is not None:  # a class's rule
        # A rule across sections names its keys in full (``server.workers``).
        names = (problem.key, *problem.other_keys)
        involved = [(*at, *name.split(".")) for name in names]
        text = problem.problem
    else:
        involved = [at]
        text = f"invalid value ({type(problem).__name__})"
    found = [where for keys in involved if (where := _source(keys, sources)) is not None]
    source = "; ".join(dict.fromkeys(found)) or None
    return ConfigError(text, key=".".join(involved[0]), source=source)


def _source(keys: tuple[str, ...], sources: _Sources) -> str | None:
    # A key inherits the source of its section (an unknown section named in the file).
    for length in range(len(keys), 0, -1):
        if keys[:length] in sources:
            return sources[keys[:length]]
    return None


def _wrong_type(error: _WrongType, key: Key | None) -> str:
    got = _kind(error.value) if key is not None and key.secret else repr(error.value)
    return f"expected {error.expected}, got {got}"


def _kind(value: object) -> str:
    names = {dict: "a mapping", list: "a list", str: "a string", type(None): "nothing"}
    return names.get(type(value), f"a value of type {type(value).__name__}")


# The converter.  A YAML value must already have the key's type (``port: "80"`` is an
# error); an environment variable's text, marked as _EnvironmentText, is parsed.


class _EnvironmentText(str):
    """The text of an environment variable, which the structure hooks parse."""


_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
_INTEGER = re.compile(r"[+-]?\d+")


def _structure_bool(value: object, _type: type[Any]) -> bool:
    if isinstance(value, _EnvironmentText):
        if value.strip().lower() in _BOOLEANS:
            return _BOOLEANS[value.strip().lower()]
        raise _WrongType("true or false (also 1/0, yes/no)", value)
    if isinstance(value, bool):
        return value
    raise _WrongType("true or false", value)


def _structure_int(value: object, _type: type[Any]) -> int:
    if isinstance(value, _EnvironmentText) and _INTEGER.fullmatch(value.strip()):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _WrongType("an integer", value)


def _structure_float(value: object, _type: type[Any]) -> float:
    if isinstance(value, _EnvironmentText):
        try:
            return float(value)
        except ValueError:
            pass
    elif isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise _WrongType("a number", value)


def _structure_str(value: object, _type: type[Any]) -> str:
    if isinstance(value, str):
        return str(value)  # a plain str, also from _EnvironmentText
    raise _WrongType("a string", value)


def _structure_path(value: object, _type: type[Any]) -> Path:
    if isinstance(value, str | os.PathLike) and os.fspath(value):
        return Path(value)
    raise _WrongType("a non-empty path", value)


_converter = cattrs.Converter(forbid_extra_keys=True)
_converter.register_structure_hook(bool, _structure_bool)
_converter.register_structure_hook(int, _structure_int)
_converter.register_structure_hook(float, _structure_float)
_converter.register_structure_hook(str, _structure_str)
_converter.register_structure_hook(Path, _structure_path)


def _structure_api_keys(value: object, _type: type[Any]) -> tuple[ApiKeyConfig, ...]:
    # server.api_keys: a YAML list of mappings, or in a variable the same as JSON text.
    if isinstance(value, _EnvironmentText):
        try:
            value = json.loads(value)
        except ValueError:
            raise _WrongType("a JSON list of keys", "text that is not JSON") from None
    if not isinstance(value, list | tuple):
        raise _WrongType("a list of keys", _kind(value))
    keys = []
    for index, item in enumerate(value):
        try:
            keys.append(
                item if isinstance(item, ApiKeyConfig) else _converter.structure(item, ApiKeyConfig)
            )
        except (cattrs.BaseValidationError, ConfigError) as error:
            steps, problem = next(leaf_errors(error))
            if isinstance(problem, ConfigError):
                where, text = problem.key or "", problem.problem
            else:
                where = ".".join(str(step) for step in steps)
                extra = isinstance(problem, ForbiddenExtraKeysError)
                text = "unknown key" if extra else f"missing or invalid ({problem})"
            raise _WrongType("valid keys", f"key {index}: {where}: {text}") from None
    return tuple(keys)


_converter.register_structure_hook_func(
    lambda type_: type_ == tuple[ApiKeyConfig, ...], _structure_api_keys
)
