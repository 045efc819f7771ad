"""This suite runs on every store: in memory, and on a real PostgreSQL (the fixtures
of tests/postgres.py); the ``store`` fixture gives each in turn."""

from collections.abc import AsyncIterator

import pytest

from oncall_core import MemoryStore, Store
from oncall_pg import PostgresStore
from tests.postgres import (  # noqa: F401 (fixtures are found by name)
    database_url,
    empty_database_url,
    no_cluster_left_behind,
    postgres_url,
    template_database,
)

STORES = ["memory", "postgres"]


async def open_store(kind: str, request: pytest.FixtureRequest) -> Store:
    """A new, empty store of the kind (``memory`` or ``postgres``: its own database)."""
    if kind == "memory":
        return MemoryStore()
    return await PostgresStore.open(request.getfixturevalue("database_url"), min_size=1, max_size=4)


@pytest.fixture(params=STORES)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """Each store in turn, new and empty."""
    opened = await open_store(request.param, request)
    yield opened
    await opened.close()
