"""Configuration: defaults, YAML file < environment, errors that name key and source, masking."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import attrs
import pytest
import yaml
from hypothesis import assume, given
from hypothesis import strategies as st
from psycopg.conninfo import conninfo_to_dict

from oncall_pg import redact_conninfo
from oncall_server import (
    ApiKeyConfig,
    Config,
    ConfigError,
    DatabaseConfig,
    LoggingConfig,
    ServerConfig,
    StorageMode,
    conninfo,
    describe,
    load_config,
    storage_mode,
)

# The seed's config.yaml, exactly as its README gives it.
SEED_CONFIG_YAML = """\
server:
  address: "0.0.0.0"
  port: 1373

database:
  host: "localhost"
  port: 5432
  user: "oncall"
  password: "oncall"
  database: "oncall"
  ssl_mode: "disable"
  max_connections: 10
  min_connections: 2
  migrations_path: "migrations"
"""


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory for every test, so no stray config.yaml is read."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(directory: Path, text: str, name: str = "config.yaml") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def load_error(path: Path | None = None, environ: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ or {})
    message = str(caught.value)
    assert "\n" not in message
    return caught.value


# Defaults and the seed's file.


# Every key with its default, as describe() shows it (the password masked).
DEFAULTS: dict[str, Any] = {
    "server": {
        "address": "0.0.0.0",
        "port": 1373,
        "workers": 1,
        "body_timeout": 10.0,
        "max_connections": 1000,
        "api_keys": [],
        "read_requires_key": False,
        # Metrics, rate limits and CORS
        "metrics": True,
        "metrics_requires_key": False,
        "rate_limit": 0.0,
        "rate_limit_burst": 20,
        "rate_limit_clients": 10000,
        "cors_origins": "",
    },
    "database": {
        "url": None,
        "host": None,
        "port": 5432,
        "user": "oncall",
        "password": "***",
        "database": "oncall",
        "ssl_mode": "disable",
        "max_connections": 10,
        "min_connections": 2,
        "migrations_path": None,
        "data_dir": None,
        "pool_timeout": 5.0,
        "cache_ttl": 0.5,
        "cache_max_entries": 10000,
        "cache_max_bytes": 67108864,
    },
    "logging": {"level": "info", "format": "auto"},
    "use_database": True,
}


def test_defaults_are_the_seeds(workdir: Path) -> None:
    config = load_config(None, {})
    assert config == Config()
    assert json.dumps(describe(config)) == json.dumps(DEFAULTS)  # the same keys, in order
    assert config.database.password == "oncall"
    # host is unset rather than "localhost", so the default is the embedded server.
    assert storage_mode(config) is StorageMode.EMBEDDED


def test_the_seeds_config_yaml_loads_unchanged(workdir: Path) -> None:
    write(workdir, SEED_CONFIG_YAML)
    config = load_config(None, {})
    assert config.server == ServerConfig()
    assert config.database == DatabaseConfig(host="localhost", migrations_path="migrations")
    # The seed's file names a host, so it asks for that external PostgreSQL.
    assert storage_mode(config) is StorageMode.EXTERNAL
    assert conninfo_to_dict(conninfo(config)) == {
        "host": "localhost",
        "port": "5432",
        "user": "oncall",
        "password": "oncall",
        "dbname": "oncall",
        "sslmode": "disable",
    }


def test_an_empty_file_or_empty_sections_mean_defaults(workdir: Path) -> None:
    write(workdir, "# nothing yet\n")
    assert load_config(None, {}) == Config()
    write(workdir, "server:\ndatabase:\n  # host: db\n")
    assert load_config(None, {}) == Config()


# Precedence: defaults < file < environment, for every kind of key.

KINDS = [
    # (file text, variable, its text, attribute path, value from the file, from the variable)
    ("server: {address: 10.0.0.1}", "ONCALL_SERVER__ADDRESS", "localhost", "server.address",
     "10.0.0.1", "localhost"),
    ("server: {port: 8080}", "ONCALL_SERVER__PORT", "9090", "server.port", 8080, 9090),
    ("server: {workers: 2}", "ONCALL_SERVER__WORKERS", "3", "server.workers", 2, 3),
    ("server: {body_timeout: 2}", "ONCALL_SERVER__BODY_TIMEOUT", "0.5", "server.body_timeout",
     2.0, 0.5),
    ("server: {max_connections: 20}", "ONCALL_SERVER__MAX_CONNECTIONS", "30",
     "server.max_connections", 20, 30),
    # Metrics, rate limits and CORS
    ("server: {metrics: false}", "ONCALL_SERVER__METRICS", "yes", "server.metrics", False, True),
    ("server: {metrics_requires_key: true}", "ONCALL_SERVER__METRICS_REQUIRES_KEY", "0",
     "server.metrics_requires_key", True, False),
    ("server: {rate_limit: 5}", "ONCALL_SERVER__RATE_LIMIT", "0.5", "server.rate_limit", 5.0,
     0.5),
    ("server: {rate_limit_burst: 7}", "ONCALL_SERVER__RATE_LIMIT_BURST", "9",
     "server.rate_limit_burst", 7, 9),
    ("server: {rate_limit_clients: 7}", "ONCALL_SERVER__RATE_LIMIT_CLIENTS", "9",
     "server.rate_limit_clients", 7, 9),
    ("server: {cors_origins: 'https://a.example'}", "ONCALL_SERVER__CORS_ORIGINS",
     "https://b.example, http://c.example:8080", "server.cors_origins", "https://a.example",
     "https://b.example, http://c.example:8080"),
    ("database: {host: db1}", "ONCALL_DATABASE__HOST", "db2", "database.host", "db1", "db2"),
    ("database: {port: 6432}", "ONCALL_DATABASE__PORT", "7432", "database.port", 6432, 7432),
    ("database: {user: a}", "ONCALL_DATABASE__USER", "b", "database.user", "a", "b"),
    ("database: {password: a}", "ONCALL_DATABASE__PASSWORD", "b", "database.password", "a", "b"),
    ("database: {database: a}", "ONCALL_DATABASE__DATABASE", "b", "database.database", "a", "b"),
    ("database: {ssl_mode: require}", "ONCALL_DATABASE__SSL_MODE", "verify-full",
     "database.ssl_mode", "require", "verify-full"),
    ("database: {max_connections: 20}", "ONCALL_DATABASE__MAX_CONNECTIONS", "30",
     "database.max_connections", 20, 30),
    ("database: {min_connections: 3}", "ONCALL_DATABASE__MIN_CONNECTIONS", "0",
     "database.min_connections", 3, 0),
    ("database: {url: 'postgresql://a@h1/x'}", "ONCALL_DATABASE__URL", "postgresql://b@h2/y",
     "database.url", "postgresql://a@h1/x", "postgresql://b@h2/y"),
    ("database: {data_dir: /srv/a}", "ONCALL_DATABASE__DATA_DIR", "/srv/b", "database.data_dir",
     Path("/srv/a"), Path("/srv/b")),
    ("database: {migrations_path: m1}", "ONCALL_DATABASE__MIGRATIONS_PATH", "m2",
     "database.migrations_path", "m1", "m2"),
    ("database: {pool_timeout: 2}", "ONCALL_DATABASE__POOL_TIMEOUT", "0.5",
     "database.pool_timeout", 2.0, 0.5),
    ("database: {cache_ttl: 1}", "ONCALL_DATABASE__CACHE_TTL", "0", "database.cache_ttl", 1.0, 0.0),
    ("database: {cache_max_entries: 7}", "ONCALL_DATABASE__CACHE_MAX_ENTRIES", "9",
     "database.cache_max_entries", 7, 9),
    ("database: {cache_max_bytes: 7000}", "ONCALL_DATABASE__CACHE_MAX_BYTES", "9000",
     "database.cache_max_bytes", 7000, 9000),
    ("logging: {level: debug}", "ONCALL_LOGGING__LEVEL", "WARNING", "logging.level", "debug",
     "warning"),
    ("logging: {format: text}", "ONCALL_LOGGING__FORMAT", "JSON", "logging.format", "text",
     "json"),
    ("use_database: false", "ONCALL_USE_DATABASE", "true", "use_database", False, True),
    ("server: {api_keys: [{name: a, hash: " + "a" * 64 + "}]}", "ONCALL_SERVER__API_KEYS",
     '[{"name": "b", "hash": "' + "B" * 64 + '", "scope": "admin", "teams": ["ops"]}]',
     "server.api_keys", (ApiKeyConfig(name="a", hash="a" * 64),),
     (ApiKeyConfig(name="b", hash="b" * 64, scope="admin", teams=("ops",)),)),
    ("server: {read_requires_key: true}", "ONCALL_SERVER__READ_REQUIRES_KEY", "no",
     "server.read_requires_key", True, False),
]  # fmt: skip


def attribute(config: Config, dotted: str) -> Any:
    value: Any = config
    for name in dotted.split("."):
        value = getattr(value, name)
    return value


def test_the_precedence_table_covers_every_key() -> None:
    keys: set[str] = set()
    for name, value in describe(Config()).items():
        keys |= {f"{name}.{key}" for key in value} if isinstance(value, dict) else {name}
    assert keys == {row[3] for row in KINDS}


@pytest.mark.parametrize(("text", "variable", "env_text", "dotted", "from_file", "from_env"), KINDS)
def test_the_environment_wins_over_the_file(
    workdir: Path,
    text: str,
    variable: str,
    env_text: str,
    dotted: str,
    from_file: object,
    from_env: object,
) -> None:
    write(workdir, text)
    assert attribute(load_config(None, {}), dotted) == from_file
    assert attribute(load_config(None, {variable: env_text}), dotted) == from_env
    # Each value differs from the one before it, so every step shows.
    assert attribute(Config(), dotted) != from_file != from_env


def test_variable_names_are_case_insensitive_after_the_prefix(workdir: Path) -> None:
    config = load_config(None, {"ONCALL_server__Port": "8080", "ONCALL_use_database": "No"})
    assert config.server.port == 8080
    assert config.use_database is False


def test_the_same_key_twice_in_the_environment_is_an_error(workdir: Path) -> None:
    error = load_error(environ={"ONCALL_SERVER__PORT": "1", "ONCALL_server__port": "2"})
    assert error.key == "server.port"
    assert "ONCALL_SERVER__PORT" in str(error)
    assert "ONCALL_server__port" in str(error)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("1", True), ("yes", True), ("false", False), ("0", False), ("no", False)],
)
@given(flips=st.lists(st.booleans(), min_size=5, max_size=5))
def test_boolean_spellings_in_any_case(text: str, expected: bool, flips: list[bool]) -> None:
    spelled = "".join(c.upper() if flip else c for c, flip in zip(text, flips, strict=False))
    assert load_config(None, {"ONCALL_USE_DATABASE": f" {spelled} "}).use_database is expected


def test_an_empty_variable_unsets_an_optional_key(workdir: Path) -> None:
    write(workdir, "database: {host: db.internal, url: 'postgresql://db/x'}")
    config = load_config(None, {"ONCALL_DATABASE__HOST": "", "ONCALL_DATABASE__URL": ""})
    assert config.database.host is None
    assert config.database.url is None
    assert storage_mode(config) is StorageMode.EMBEDDED


def test_other_oncall_variables_are_not_configuration(workdir: Path) -> None:
    environ = {"ONCALL_TEST_DATABASE_URL": "postgresql://x", "ONCALL_HYPOTHESIS_PROFILE": "ci"}
    assert load_config(None, environ) == Config()


@given(port=st.integers(1, 65535), connections=st.integers(1, 10_000))
def test_any_valid_number_round_trips_through_the_environment(port: int, connections: int) -> None:
    environ = {
        "ONCALL_SERVER__PORT": str(port),
        "ONCALL_DATABASE__PORT": f"+{port}",
        "ONCALL_DATABASE__MAX_CONNECTIONS": str(connections),
        "ONCALL_DATABASE__MIN_CONNECTIONS": str(connections),
        "ONCALL_DATABASE__POOL_TIMEOUT": str(connections / 7),
    }
    config = load_config(None, environ)
    assert config.server.port == port
    assert config.database.port == port
    assert config.database.max_connections == config.database.min_connections == connections
    assert config.database.pool_timeout == connections / 7


@given(port=st.integers().filter(lambda port: not 1 <= port <= 65535))
def test_any_port_out_of_range_is_rejected(port: int) -> None:
    error = load_error(environ={"ONCALL_SERVER__PORT": str(port)})
    assert str(error) == (
        f"server.port: must be between 1 and 65535, got {port} (from ONCALL_SERVER__PORT)"
    )


@given(low=st.integers(-5, 50), high=st.integers(-5, 50))
def test_pool_bounds(low: int, high: int) -> None:
    environ = {
        "ONCALL_DATABASE__MIN_CONNECTIONS": str(low),
        "ONCALL_DATABASE__MAX_CONNECTIONS": str(high),
    }
    if 0 <= low <= high and high >= 1:
        database = load_config(None, environ).database
        assert (database.min_connections, database.max_connections) == (low, high)
    else:
        assert load_error(environ=environ).key in {
            "database.min_connections",
            "database.max_connections",
        }


def config_values() -> st.SearchStrategy[Config]:
    names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20)
    database = st.builds(
        DatabaseConfig,
        url=st.none() | st.just("postgresql://u@db:5432/oncall?sslmode=require"),
        host=st.none() | names.filter(bool),
        port=st.integers(1, 65535),
        user=names,
        password=names,
        database=names,
        ssl_mode=st.sampled_from(["disable", "allow", "prefer", "require", "verify-full"]),
        max_connections=st.integers(50, 100),
        min_connections=st.integers(0, 50),
        migrations_path=st.none() | names,
        data_dir=st.none() | st.builds(Path, names.filter(bool)),
        pool_timeout=st.floats(0.001, 1e6),
        cache_ttl=st.floats(0, 1),
    )
    return st.builds(
        Config,
        server=st.builds(ServerConfig, address=names, port=st.integers(1, 65535)),
        database=database,
        logging=st.builds(LoggingConfig, level=st.sampled_from(["debug", "error", "critical"])),
        use_database=st.booleans(),
    )


def plain(_instance: object, _attribute: object, value: object) -> object:
    return str(value) if isinstance(value, Path) else value


@given(config=config_values())
def test_any_valid_config_round_trips_through_a_yaml_file(workdir: Path, config: Config) -> None:
    # Each example overwrites the one file in the working directory.
    write(workdir, yaml.safe_dump(attrs.asdict(config, value_serializer=plain)))
    assert load_config(None, {}) == config


# Which file is read.


def test_config_yaml_in_the_working_directory_is_found(workdir: Path) -> None:
    write(workdir, "server: {port: 8080}")
    assert load_config(None, {}).server.port == 8080


def test_oncall_config_names_the_file(
    workdir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    write(workdir, "server: {port: 8080}")
    elsewhere = write(tmp_path_factory.mktemp("etc"), "server: {port: 9090}", "oncall.yaml")
    assert load_config(None, {"ONCALL_CONFIG": str(elsewhere)}).server.port == 9090


def test_an_explicit_path_wins_over_oncall_config(
    workdir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    write(workdir, "server: {port: 8080}")
    etc = tmp_path_factory.mktemp("etc")
    named = write(etc, "server: {port: 9090}", "named.yaml")
    explicit = write(etc, "server: {port: 7070}", "explicit.yaml")
    assert load_config(explicit, {"ONCALL_CONFIG": str(named)}).server.port == 7070


def test_oncall_config_is_not_a_key_and_empty_means_unset(workdir: Path) -> None:
    write(workdir, "server: {port: 8080}")
    assert load_config(None, {"ONCALL_CONFIG": ""}).server.port == 8080


def test_an_explicit_file_that_does_not_exist_is_an_error(workdir: Path) -> None:
    error = load_error(Path("missing.yaml"))
    assert str(error) == "config file not found: missing.yaml (from --config)"
    error = load_error(environ={"ONCALL_CONFIG": "/nowhere/oncall.yaml"})
    assert str(error) == "config file not found: /nowhere/oncall.yaml (from ONCALL_CONFIG)"


def test_without_a_file_the_environment_still_applies(workdir: Path) -> None:
    assert load_config(None, {"ONCALL_SERVER__PORT": "8080"}).server.port == 8080


# Errors: one line naming the key and where the value came from.  Each case: the input,
# the key the error names (its ``key`` attribute), and the whole message.

FILE_ERRORS = [
    ("server:\n  prot: 80\n", "server.prot", "server.prot: unknown key (in config.yaml)"),
    ("servers: {port: 80}\n", "servers", "servers: unknown key (in config.yaml)"),
    ("server: {port: abc}\n", "server.port",
     "server.port: expected an integer, got 'abc' (in config.yaml)"),
    ("server: {port: '80'}\n", "server.port",
     "server.port: expected an integer, got '80' (in config.yaml)"),
    ("server: {port: 8.5}\n", "server.port",
     "server.port: expected an integer, got 8.5 (in config.yaml)"),
    ("server: {port: true}\n", "server.port",
     "server.port: expected an integer, got True (in config.yaml)"),
    ("server: {port: 70000}\n", "server.port",
     "server.port: must be between 1 and 65535, got 70000 (in config.yaml)"),
    ("server: {workers: 0}\n", "server.workers",
     "server.workers: must be at least 1, got 0 (in config.yaml)"),
    ("server: {workers: 2}\nuse_database: false\n", "server.workers",
     "server.workers: must be 1 with the in-memory store (use_database false): each worker"
     " process would keep its own data, and the workers would disagree; use PostgreSQL to run"
     " several workers, got 2 (in config.yaml)"),
    ("server: {address: 10}\n", "server.address",
     "server.address: expected a string, got 10 (in config.yaml)"),
    ("server: 8080\n", "server",
     "server: expected a mapping, got a value of type int (in config.yaml)"),
    # Metrics, rate limits and CORS
    ("server: {rate_limit: -1}\n", "server.rate_limit",
     "server.rate_limit: must be a number of requests per second, 0 (off) or more, got -1.0"
     " (in config.yaml)"),
    ("server: {rate_limit_burst: 0}\n", "server.rate_limit_burst",
     "server.rate_limit_burst: must be at least 1, got 0 (in config.yaml)"),
    ("server: {cors_origins: 'https://a.example/path'}\n", "server.cors_origins",
     "server.cors_origins: must be origins such as https://app.example.com, separated by"
     " commas, or *; got 'https://a.example/path' (in config.yaml)"),
    ("database: {port: 0}\n", "database.port",
     "database.port: must be between 1 and 65535, got 0 (in config.yaml)"),
    ("database: {ssl_mode: sometimes}\n", "database.ssl_mode",
     "database.ssl_mode: must be one of disable, allow, prefer, require, verify-ca, verify-full;"
     " got 'sometimes' (in config.yaml)"),
    ("database: {max_connections: 0, min_connections: 0}\n", "database.max_connections",
     "database.max_connections: must be at least 1, got 0 (in config.yaml)"),
    ("database: {min_connections: -1}\n", "database.min_connections",
     "database.min_connections: must be at least 0, got -1 (in config.yaml)"),
    ("database: {min_connections: 11}\n", "database.min_connections",
     "database.min_connections: must not exceed max_connections (10), got 11 (in config.yaml)"),
    ("database: {pool_timeout: 0}\n", "database.pool_timeout",
     "database.pool_timeout: must be a positive number of seconds, got 0.0 (in config.yaml)"),
    ("database: {cache_ttl: 2}\n", "database.cache_ttl",
     "database.cache_ttl: must be from 0 to 1 seconds, got 2.0 (in config.yaml)"),
    ("database: {data_dir: ''}\n", "database.data_dir",
     "database.data_dir: expected a non-empty path, got '' (in config.yaml)"),
    ("logging: {level: loud}\n", "logging.level",
     "logging.level: must be one of debug, info, warning, error, critical; got 'loud'"
     " (in config.yaml)"),
    ("logging: {format: yaml}\n", "logging.format",
     "logging.format: must be one of auto, text, json; got 'yaml' (in config.yaml)"),
    ("use_database: maybe\n", "use_database",
     "use_database: expected true or false, got 'maybe' (in config.yaml)"),
    ("server: {port: 80\n", None,
     "invalid YAML at line 2, column 1: expected ',' or '}', but got '<stream end>'"
     " (in config.yaml)"),
    ("server: {port: 80}\ndatabase: {}\nserver: {address: x}\n", "server",
     "server: duplicate key, at lines 1 and 3 (in config.yaml)"),
    ("database:\n  port: 5432\n  host: db\n  port: 5433\n", "database.port",
     "database.port: duplicate key, at lines 2 and 4 (in config.yaml)"),
    ("use_database: true\nuse_database: false\n", "use_database",
     "use_database: duplicate key, at lines 1 and 2 (in config.yaml)"),
    ("- server\n", None, "expected a mapping at the top level, got a list (in config.yaml)"),
    ("just text\n", None, "expected a mapping at the top level, got a string (in config.yaml)"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "key", "message"), FILE_ERRORS)
def test_bad_files_are_named_precisely(
    workdir: Path, text: str, key: str | None, message: str
) -> None:
    write(workdir, text)
    error = load_error()
    assert str(error) == message
    assert error.source == "in config.yaml"
    assert error.key == key


ENV_ERRORS = [
    ({"ONCALL_DATABASE__PORT": "abc"}, "database.port",
     "database.port: expected an integer, got 'abc' (from ONCALL_DATABASE__PORT)"),
    ({"ONCALL_SERVER__PORT": "8_080"}, "server.port",
     "server.port: expected an integer, got '8_080' (from ONCALL_SERVER__PORT)"),
    ({"ONCALL_SERVER__PORT": "0"}, "server.port",
     "server.port: must be between 1 and 65535, got 0 (from ONCALL_SERVER__PORT)"),
    ({"ONCALL_SERVER__PROT": "80"}, "server.prot",
     "server.prot: unknown key (from ONCALL_SERVER__PROT)"),
    ({"ONCALL_SERVER__PORT__X": "80"}, "server.port.x",
     "server.port.x: unknown key (from ONCALL_SERVER__PORT__X)"),
    ({"ONCALL_SERVER_PORT": "80"}, "server_port",
     "server_port: unknown key; separate levels with __, as in ONCALL_SERVER__PORT"
     " (from ONCALL_SERVER_PORT)"),
    ({"ONCALL_DATABASE_URL": "postgresql://db"}, "database_url",
     "database_url: unknown key; separate levels with __, as in ONCALL_SERVER__PORT"
     " (from ONCALL_DATABASE_URL)"),
    ({"ONCALL_DATABASE": "x"}, "database",
     "database: is a section; set its keys as ONCALL_DATABASE__<KEY> (from ONCALL_DATABASE)"),
    ({"ONCALL_USE_DATABASE": "maybe"}, "use_database",
     "use_database: expected true or false (also 1/0, yes/no), got 'maybe'"
     " (from ONCALL_USE_DATABASE)"),
    ({"ONCALL_USE_DATABASE__X": "1"}, "use_database.x",
     "use_database.x: unknown key (from ONCALL_USE_DATABASE__X)"),
    ({"ONCALL_DATABASE__POOL_TIMEOUT": "soon"}, "database.pool_timeout",
     "database.pool_timeout: expected a number, got 'soon' (from ONCALL_DATABASE__POOL_TIMEOUT)"),
    ({"ONCALL_DATABASE__POOL_TIMEOUT": "inf"}, "database.pool_timeout",
     "database.pool_timeout: must be a positive number of seconds, got inf"
     " (from ONCALL_DATABASE__POOL_TIMEOUT)"),
    ({"ONCALL_DATABASE__CACHE_TTL": "-0.1"}, "database.cache_ttl",
     "database.cache_ttl: must be from 0 to 1 seconds, got -0.1 (from ONCALL_DATABASE__CACHE_TTL)"),
    ({"ONCALL_DATABASE__MIN_CONNECTIONS": "-1"}, "database.min_connections",
     "database.min_connections: must be at least 0, got -1"
     " (from ONCALL_DATABASE__MIN_CONNECTIONS)"),
    ({"ONCALL_DATABASE__MAX_CONNECTIONS": "1"}, "database.min_connections",
     "database.min_connections: must not exceed max_connections (1), got 2"
     " (from ONCALL_DATABASE__MAX_CONNECTIONS)"),
    ({"ONCALL_DATABASE__SSL_MODE": "on"}, "database.ssl_mode",
     "database.ssl_mode: must be one of disable, allow, prefer, require, verify-ca, verify-full;"
     " got 'on' (from ONCALL_DATABASE__SSL_MODE)"),
    ({"ONCALL_LOGGING__LEVEL": "trace"}, "logging.level",
     "logging.level: must be one of debug, info, warning, error, critical; got 'trace'"
     " (from ONCALL_LOGGING__LEVEL)"),
    ({"ONCALL_DATABASE__URL": "host=db password"}, "database.url",
     "database.url: not a valid libpq connection URI (from ONCALL_DATABASE__URL)"),
]  # fmt: skip


@pytest.mark.parametrize(("environ", "key", "message"), ENV_ERRORS)
def test_bad_variables_are_named_precisely(
    workdir: Path, environ: dict[str, str], key: str, message: str
) -> None:
    error = load_error(environ=environ)
    assert str(error) == message
    assert error.source == f"from {next(iter(environ))}"
    assert error.key == key


def test_a_rule_across_two_keys_names_both_sources(workdir: Path) -> None:
    write(workdir, "database: {min_connections: 5}\n")
    error = load_error(environ={"ONCALL_DATABASE__MAX_CONNECTIONS": "4"})
    assert str(error) == (
        "database.min_connections: must not exceed max_connections (4), got 5"
        " (in config.yaml; from ONCALL_DATABASE__MAX_CONNECTIONS)"
    )


def test_a_rule_across_two_sections_names_both_sources(workdir: Path) -> None:
    write(workdir, "use_database: false\n")
    error = load_error(environ={"ONCALL_SERVER__WORKERS": "4"})
    assert error.key == "server.workers"
    assert str(error).endswith("got 4 (from ONCALL_SERVER__WORKERS; in config.yaml)")


def test_the_file_is_named_as_given(tmp_path: Path) -> None:
    path = write(tmp_path, "server: {prot: 1}\n", "oncall.yaml")
    assert str(load_error(path)) == f"server.prot: unknown key (in {path})"


def test_secrets_are_not_echoed_in_errors(workdir: Path) -> None:
    write(workdir, "database: {password: 918273645}\n")
    assert str(load_error()) == (
        "database.password: expected a string, got a value of type int (in config.yaml)"
    )
    error = load_error(environ={"ONCALL_DATABASE__URL": "host=db password=918273645 x"})
    assert "918273645" not in str(error)


def test_the_classes_validate_themselves() -> None:
    with pytest.raises(ConfigError, match="port: must be between 1 and 65535, got 0"):
        ServerConfig(port=0)
    with pytest.raises(ConfigError, match="min_connections: must not exceed") as raised:
        DatabaseConfig(min_connections=3, max_connections=2)
    assert (raised.value.key, raised.value.other_keys) == ("min_connections", ("max_connections",))
    assert LoggingConfig(level="DEBUG").level == "debug"
    assert DatabaseConfig(ssl_mode="Require", host="").ssl_mode == "require"
    assert DatabaseConfig(host="").host is None


# Storage mode and connection strings.


@pytest.mark.parametrize(
    ("environ", "mode"),
    [
        ({}, StorageMode.EMBEDDED),
        ({"ONCALL_DATABASE__DATA_DIR": "/srv/pg"}, StorageMode.EMBEDDED),
        ({"ONCALL_DATABASE__HOST": "db"}, StorageMode.EXTERNAL),
        ({"ONCALL_DATABASE__URL": "postgresql://db/oncall"}, StorageMode.EXTERNAL),
        ({"ONCALL_USE_DATABASE": "false"}, StorageMode.MEMORY),
        ({"ONCALL_USE_DATABASE": "false", "ONCALL_DATABASE__HOST": "db"}, StorageMode.MEMORY),
        ({"ONCALL_USE_DATABASE": "true", "ONCALL_DATABASE__PORT": "6543"}, StorageMode.EMBEDDED),
    ],
)
def test_storage_mode(workdir: Path, environ: dict[str, str], mode: StorageMode) -> None:
    assert storage_mode(load_config(None, environ)) is mode


def test_conninfo_is_built_from_the_separate_keys() -> None:
    config = load_config(
        None,
        {
            "ONCALL_DATABASE__HOST": "db.internal",
            "ONCALL_DATABASE__PORT": "6432",
            "ONCALL_DATABASE__USER": "app",
            "ONCALL_DATABASE__PASSWORD": "it's a secret",
            "ONCALL_DATABASE__DATABASE": "schedules",
            "ONCALL_DATABASE__SSL_MODE": "verify-full",
        },
    )
    assert conninfo_to_dict(conninfo(config)) == {
        "host": "db.internal",
        "port": "6432",
        "user": "app",
        "password": "it's a secret",
        "dbname": "schedules",
        "sslmode": "verify-full",
    }


def test_conninfo_is_the_url_verbatim_when_set() -> None:
    url = "postgresql://app:pw@db1,db2/schedules?sslmode=require&target_session_attrs=read-write"
    config = load_config(
        None,
        {
            "ONCALL_DATABASE__URL": url,
            "ONCALL_DATABASE__HOST": "ignored",
            "ONCALL_DATABASE__SSL_MODE": "disable",
        },
    )
    assert conninfo(config) == url


@pytest.mark.parametrize("environ", [{}, {"ONCALL_USE_DATABASE": "no"}])
def test_conninfo_needs_an_external_database(environ: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="no external database"):
        conninfo(load_config(None, environ))


def test_an_embedded_server_that_cannot_start_names_the_settings_to_do_without(
    workdir: Path,
) -> None:
    (workdir / "data").write_text("not a cluster")
    env = {key: value for key, value in os.environ.items() if not key.startswith("ONCALL_")}
    result = subprocess.run(
        [sys.executable, "-m", "oncall_server", "migrate"],
        env={**env, "ONCALL_DATABASE__DATA_DIR": str(workdir / "data")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    failed = json.loads(result.stderr.splitlines()[-1])
    assert failed["event"] == "migration failed"
    assert failed["error"].endswith(
        " Set database.data_dir (ONCALL_DATABASE__DATA_DIR) to another directory, or do "
        "without it: set database.url (ONCALL_DATABASE__URL) or database.host "
        "(ONCALL_DATABASE__HOST) to use an external PostgreSQL, or ONCALL_USE_DATABASE=false "
        "for the in-memory store."
    )


# describe(): the effective configuration, safe to print.


def test_describe_is_json_shaped_like_the_file(workdir: Path) -> None:
    write(workdir, SEED_CONFIG_YAML)
    described = describe(load_config(None, {"ONCALL_DATABASE__DATA_DIR": "/srv/pg"}))
    assert json.loads(json.dumps(described)) == described
    assert described["database"] == {
        **DEFAULTS["database"],
        "host": "localhost",
        "data_dir": "/srv/pg",
        "migrations_path": "migrations",
    }
    assert yaml.safe_load(SEED_CONFIG_YAML)["server"].items() <= described["server"].items()


def test_describe_leaves_an_empty_password_empty() -> None:
    described = describe(load_config(None, {"ONCALL_DATABASE__PASSWORD": ""}))
    assert described["database"]["password"] == ""


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://oncall:hunter2@db/oncall", "postgresql://oncall:***@db/oncall"),
        ("postgres://oncall:hunter2@db:5433,db2/oncall?sslmode=require",
         "postgres://oncall:***@db:5433,db2/oncall?sslmode=require"),
        ("postgresql://oncall@db/oncall?password=hunter2&sslmode=require",
         "postgresql://oncall@db/oncall?password=***&sslmode=require"),
        ("postgresql://db/oncall", "postgresql://db/oncall"),
        ("host=db password=hunter2 dbname=oncall", "host=db password=*** dbname=oncall"),
    ],
)  # fmt: skip
def test_describe_masks_a_password_in_the_url(url: str, masked: str) -> None:
    described = describe(load_config(None, {"ONCALL_DATABASE__URL": url}))
    assert described["database"]["url"] == masked
    assert redact_conninfo(url) == masked


def test_redact_masks_what_it_cannot_parse() -> None:
    assert redact_conninfo("host=db password='unterminated") == "***"


SECRETS = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=6, max_size=30
)


@given(secret=SECRETS)
def test_describe_never_contains_the_password(secret: str) -> None:
    # What the output holds anyway (the masked URLs included): a secret that is part
    # of it, such as "postgr", proves nothing.
    baseline = (
        json.dumps(describe(Config()))
        + repr(Config())
        + (" postgresql://app:***@db/oncall postgresql://app@db/oncall?password=***")
    )
    assume(secret not in baseline and quote(secret, safe="") not in baseline)
    for url in (
        f"postgresql://app:{quote(secret, safe='')}@db/oncall",
        f"postgresql://app@db/oncall?password={quote(secret, safe='')}",
    ):
        environ = {"ONCALL_DATABASE__PASSWORD": secret, "ONCALL_DATABASE__URL": url}
        config = load_config(None, environ)
        assert conninfo_to_dict(conninfo(config))["password"] == secret
        dumped = json.dumps(describe(config), ensure_ascii=False)
        assert secret not in dumped
        assert quote(secret, safe="") not in dumped
        assert secret not in repr(config)
