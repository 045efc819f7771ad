"""The server suite runs on a real PostgreSQL (the fixtures of tests/postgres.py), and
most of its HTTP tests run once per store (the ``client`` fixture)."""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from oncall_server import create_app, load_config
from tests.postgres import (  # noqa: F401 (fixtures are found by name)
    database_url,
    empty_database_url,
    no_cluster_left_behind,
    postgres_url,
    template_database,
)

NOW = datetime(2025, 4, 28, 14, 30, tzinfo=UTC)
"""The server's clock in the ``client`` fixture: a Monday, inside the seed's shift."""


class Clock:
    """A server clock that a test moves by hand (``clock.now = ...``)."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    """The clock of the ``client`` fixture's app, stopped at :data:`NOW` until moved."""
    return Clock()


@pytest.fixture(params=["memory", "postgres"])
def client(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clock: Clock,
) -> Iterator[TestClient]:
    """A TestClient of the app on each store in turn, its clock stopped at :data:`NOW`
    (the ``clock`` fixture moves it)."""
    monkeypatch.chdir(tmp_path)  # no stray config.yaml
    if request.param == "memory":
        environ = {"ONCALL_USE_DATABASE": "false"}
    else:
        environ = {"ONCALL_DATABASE__URL": request.getfixturevalue("database_url")}
    with TestClient(create_app(load_config(None, environ), clock=clock)) as test_client:
        yield test_client
