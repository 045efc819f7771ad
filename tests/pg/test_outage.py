"""A PostgreSQL outage: calls fail fast with StorageUnavailable, then recover by themselves."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time
from pathlib import Path
from typing import TypeVar

import psycopg

from oncall_core import Override, RotationChange, Schedule, StorageUnavailable, Weekday
from oncall_pg import EmbeddedPostgres, PostgresStore, migrate

T = TypeVar("T")
NOON = datetime(2025, 5, 5, 12, tzinfo=UTC)
# Not a speed goal: a guard so that a hang fails the test instead of stalling the suite.
HANG_GUARD = 30


async def until_it_works(call: Callable[[], Awaitable[T]]) -> T:
    """Retry a call that fails with StorageUnavailable, for at most HANG_GUARD seconds."""
    deadline = asyncio.get_running_loop().time() + HANG_GUARD
    while True:
        try:
            return await asyncio.wait_for(call(), HANG_GUARD)
        except StorageUnavailable:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)


def schedule(name: str = "primary") -> Schedule:
    return Schedule(
        team="ops", name=name, members=["Ann", "Bob"], days=list(Weekday),
        start=time(9), end=time(17),
    )  # fmt: skip


async def test_calls_fail_with_storage_unavailable_and_recover_after_a_restart(
    tmp_path: Path,
) -> None:
    server = EmbeddedPostgres(tmp_path / "data")
    url = server.start()
    try:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
            await migrate(connection)
        store = await PostgresStore.open(
            url, min_size=2, max_size=4, timeout=1, reconnect_timeout=3
        )
        await store.create_schedule(schedule())
        overridden = await store.add_override(
            "ops", Override(member="Sub", start=NOON, end=NOON.replace(hour=13))
        )
        assert overridden.id is not None

        server.stop()
        calls: list[Callable[[], Awaitable[object]]] = [
            lambda: store.ping(),
            lambda: store.load_team("ops"),
            lambda: store.list_teams(at=NOON),
            lambda: store.list_overrides("ops"),
            lambda: store.create_schedule(schedule("other")),
            lambda: store.edit_schedule(schedule(), now=NOON),
            lambda: store.delete_schedule("ops", "primary", now=NOON),
            lambda: store.append_rotation_change(
                "ops", RotationChange(schedule="primary", effective=NOON)
            ),
            lambda: store.add_override(
                "ops", Override(member="X", start=NOON, end=NOON.replace(hour=14))
            ),
            lambda: store.delete_override("ops", overridden.id or 0),
        ]
        for call in calls:
            try:
                await asyncio.wait_for(call(), HANG_GUARD)
            except StorageUnavailable:
                continue
            raise AssertionError("a call succeeded with the server down")

        server.start()
        state = await until_it_works(lambda: store.load_team("ops"))
        assert state is not None and state.schedules == (schedule(),)
        await store.append_rotation_change(
            "ops", RotationChange(schedule="primary", effective=NOON)
        )
        await store.close()
    finally:
        server.stop()
