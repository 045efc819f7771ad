"""Start-up failures, through the real command: one line naming the cause and the
configuration key to change, a documented exit status, and never a traceback."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from psycopg.conninfo import conninfo_to_dict

from tests.server.test_process import free_port, run_cli

HOST_HINT = (
    "check database.host (ONCALL_DATABASE__HOST) or database.port (ONCALL_DATABASE__PORT); "
    "or unset database.host (ONCALL_DATABASE__HOST) to use the embedded PostgreSQL"
)
EMBEDDED_REMEDY = (
    "Set database.data_dir (ONCALL_DATABASE__DATA_DIR) to another directory, or do without "
    "it: set database.url (ONCALL_DATABASE__URL) or database.host (ONCALL_DATABASE__HOST) to "
    "use an external PostgreSQL, or ONCALL_USE_DATABASE=false for the in-memory store."
)


def json_lines(stderr: str) -> list[dict[str, Any]]:
    assert "Traceback" not in stderr
    return [json.loads(line) for line in stderr.splitlines()]  # each line is one JSON object


def refused(port: int, host: str = "127.0.0.1") -> str:
    return (
        f'connection failed: connection to server at "{host}", port {port} failed: '
        "Connection refused. Is the server running on that host and accepting TCP/IP "
        "connections?"
    )


def failure(tmp_path: Path, environ: dict[str, str], *arguments: str) -> tuple[int, str]:
    """Run the command; its exit status and the error of its one failure line."""
    result = run_cli(tmp_path, {"ONCALL_SERVER__ADDRESS": "127.0.0.1", **environ}, *arguments)
    lines = json_lines(result.stderr)
    errors = [line for line in lines if line["level"] == "error"]
    assert len(errors) == 1, result.stderr
    return result.returncode, errors[0]["error"]


def test_an_unreachable_database_host(tmp_path: Path) -> None:
    port = free_port()
    environ = {"ONCALL_DATABASE__HOST": "127.0.0.1", "ONCALL_DATABASE__PORT": str(port)}
    assert failure(tmp_path, environ, "serve") == (
        3,
        f"cannot use PostgreSQL at 127.0.0.1:{port}, database oncall: {refused(port)}; "
        + HOST_HINT,
    )


def test_the_seeds_config_yaml_with_no_postgresql_running(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "config.yaml").write_text(
        f'server:\n  port: {free_port()}\ndatabase:\n  host: "localhost"\n  port: {port}\n'
        '  user: "oncall"\n  password: "oncall"\n  database: "oncall"\n'
        '  migrations_path: "migrations"\n'
    )
    status, error = failure(tmp_path, {"ONCALL_SERVER__ADDRESS": "127.0.0.1"}, "serve")
    assert status == 3
    assert error.startswith(f"cannot use PostgreSQL at localhost:{port}, database oncall: ")
    assert error.endswith(HOST_HINT)


def test_an_unreachable_database_url_names_the_url(tmp_path: Path) -> None:
    port = free_port()
    url = f"postgresql://oncall:s3cret@127.0.0.1:{port}/schedules"
    status, error = failure(tmp_path, {"ONCALL_DATABASE__URL": url}, "serve")
    assert (status, error) == (
        3,
        f"cannot use PostgreSQL at 127.0.0.1:{port}, database schedules: {refused(port)}; "
        "check database.url (ONCALL_DATABASE__URL)",
    )
    # migrate fails the same way, with its own status.
    assert failure(tmp_path, {"ONCALL_DATABASE__URL": url}, "migrate") == (1, error)


def test_a_foreign_non_empty_data_directory(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "notes.txt").write_text("mine")
    environ = {"ONCALL_DATABASE__DATA_DIR": str(data_dir)}
    expected = (
        f"could not start the embedded PostgreSQL server in {data_dir}: {data_dir} is not "
        f"empty and holds no PostgreSQL cluster (no PG_VERSION). {EMBEDDED_REMEDY}"
    )
    assert failure(tmp_path, environ, "serve") == (3, expected)
    assert failure(tmp_path, environ, "migrate") == (1, expected)


def test_a_taken_port(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        environ = {"ONCALL_USE_DATABASE": "false", "ONCALL_SERVER__PORT": str(port)}
        assert failure(tmp_path, environ, "serve") == (
            3,
            f"cannot listen on 127.0.0.1:{port}: address already in use; "
            "change server.port (ONCALL_SERVER__PORT)",
        )


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("nowhere.invalid", "cannot listen on 'nowhere.invalid': name or service not known"),
        ("192.0.2.1", "cannot listen on '192.0.2.1': cannot assign requested address"),
    ],
)
@pytest.mark.parametrize("command", ["serve", "check-config"])
def test_an_address_that_cannot_be_bound_is_a_configuration_error(
    tmp_path: Path, address: str, problem: str, command: str
) -> None:
    environ = {"ONCALL_USE_DATABASE": "false", "ONCALL_SERVER__ADDRESS": address}
    result = run_cli(tmp_path, environ, command)
    assert (result.returncode, result.stdout, result.stderr) == (
        2,
        "",
        f"oncall-server: configuration error: server.address: {problem}\n",
    )


def test_check_config_shows_the_embedded_data_directory_that_will_be_used(
    tmp_path: Path,
) -> None:
    result = run_cli(tmp_path, {"XDG_DATA_HOME": str(tmp_path / "share")}, "check-config")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["storage"] == "embedded"
    assert shown["database"]["data_dir"] == str(tmp_path / "share/oncall-schedule/postgres")


def test_a_missing_database_names_the_database_key(tmp_path: Path, postgres_url: str) -> None:
    server = conninfo_to_dict(postgres_url)
    environ = {
        "ONCALL_DATABASE__HOST": str(server.get("host") or "localhost"),
        "ONCALL_DATABASE__PORT": str(server.get("port") or 5432),
        "ONCALL_DATABASE__USER": str(server.get("user") or "postgres"),
        "ONCALL_DATABASE__DATABASE": "no_such_database",
    }
    status, error = failure(tmp_path, environ, "serve")
    assert status == 3
    assert error.startswith("cannot use PostgreSQL at ")
    assert 'database "no_such_database" does not exist' in error
    assert error.endswith(
        "; check database.database (ONCALL_DATABASE__DATABASE); or unset database.host "
        "(ONCALL_DATABASE__HOST) to use the embedded PostgreSQL"
    )
