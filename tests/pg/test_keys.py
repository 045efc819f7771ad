"""PostgresKeys: the api_keys table (migration 0005) through its four calls; a refused
call changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from oncall_core import Conflict, ValidationError
from oncall_pg import KeyRecord, PostgresKeys

T0 = datetime(2025, 4, 28, 12, 0, tzinfo=UTC)
HASH_A, HASH_B = "a" * 64, "b" * 64


@pytest.fixture
async def keys(database_url: str) -> AsyncIterator[PostgresKeys]:
    async with AsyncConnectionPool(
        database_url, kwargs={"autocommit": True, "row_factory": dict_row}, open=False
    ) as pool:
        yield PostgresKeys(pool)


async def test_create_list_revoke(keys: PostgresKeys) -> None:
    created = await keys.create(name="ci", hash=HASH_A, scope="write", teams=["ops"], now=T0)
    assert created == KeyRecord(
        name="ci", hash=HASH_A, scope="write", teams=("ops",), created_at=T0
    )
    assert await keys.list() == (created,)
    later = T0 + timedelta(hours=1)
    revoked = await keys.revoke("ci", now=later)
    assert revoked is not None and revoked.revoked_at == later
    assert await keys.revoke("ci", now=later) is None  # already revoked
    assert await keys.revoke("nobody", now=later) is None
    assert await keys.list() == (revoked,)


async def test_a_taken_name_or_hash_or_a_bad_scope_is_refused_and_changes_nothing(
    keys: PostgresKeys,
) -> None:
    created = await keys.create(name="ci", hash=HASH_A, scope="read", teams=[], now=T0)
    await keys.revoke("ci", now=T0)  # a revoked key's name stays taken
    with pytest.raises(Conflict, match="'ci' exists already"):
        await keys.create(name="ci", hash=HASH_B, scope="read", teams=[], now=T0)
    with pytest.raises(Conflict):
        await keys.create(name="other", hash=HASH_A, scope="read", teams=[], now=T0)
    with pytest.raises(ValidationError):
        await keys.create(name="other", hash=HASH_B, scope="root", teams=[], now=T0)
    with pytest.raises(ValidationError):
        await keys.create(name="other", hash="not a hash", scope="read", teams=[], now=T0)
    assert [key.name for key in await keys.list()] == [created.name]


async def test_touch_records_many_last_uses_in_one_call_and_never_goes_back(
    keys: PostgresKeys,
) -> None:
    await keys.create(name="a", hash=HASH_A, scope="read", teams=[], now=T0)
    await keys.create(name="b", hash=HASH_B, scope="read", teams=[], now=T0)
    later = T0 + timedelta(minutes=5)
    await keys.touch({"a": later, "b": T0, "gone": T0})
    await keys.touch({"a": T0})  # an older use, written late
    await keys.touch({})
    assert {key.name: key.last_used_at for key in await keys.list()} == {"a": later, "b": T0}
