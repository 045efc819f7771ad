"""What an uncached read costs: no check on a connection that worked a moment ago, a
prepared load_team, and a team state built without checking it again."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any, cast

import psycopg
import pytest
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from oncall_core import Override, RotationChange, Schedule, TeamState, Weekday, from_json, to_json
from oncall_pg import EmbeddedPostgres, PostgresStore, RecentUseCheck, migrate

NOON = datetime(2025, 5, 5, 12, tzinfo=UTC)


def schedule(name: str = "primary", **changes: Any) -> Schedule:
    fields: dict[str, Any] = {
        "team": "ops", "name": name, "members": ["Ann", "Bob"], "days": list(Weekday),
        "start": time(9), "end": time(17),
    }  # fmt: skip
    return Schedule(**(fields | changes))


class FakeConnection:
    """Enough of a connection for check_connection: counts its empty queries."""

    autocommit = True

    def __init__(self) -> None:
        self.checks = 0
        self.broken = False

    async def execute(self, query: str) -> None:
        assert query == ""
        self.checks += 1
        if self.broken:
            raise psycopg.OperationalError("the connection is closed")


class TestRecentUseCheck:
    def setup_method(self) -> None:
        self.now = 100.0
        self.check = RecentUseCheck(2.0, clock=lambda: self.now)
        self.connection = FakeConnection()

    async def run(self, *, write: bool = False) -> None:
        connection = cast(AsyncConnection[Any], self.connection)
        if write:
            with RecentUseCheck.writing():
                await self.check(connection)
        else:
            await self.check(connection)

    async def test_a_read_skips_the_check_only_within_the_window_after_the_connection_worked(
        self,
    ) -> None:
        await self.run()
        assert self.connection.checks == 1  # never seen: checked
        self.check.worked(cast(AsyncConnection[Any], self.connection))
        self.now += 1.9
        await self.run()
        assert self.connection.checks == 1
        self.now += 0.2  # 2.1 s after it last worked
        await self.run()
        assert self.connection.checks == 2
        await self.run()  # the check it passed counts as working
        assert self.connection.checks == 2

    async def test_a_write_is_always_checked(self) -> None:
        self.check.worked(cast(AsyncConnection[Any], self.connection))
        await self.run(write=True)
        await self.run(write=True)
        assert self.connection.checks == 2

    async def test_after_a_suspected_breakage_reads_are_checked_again(self) -> None:
        self.check.worked(cast(AsyncConnection[Any], self.connection))
        self.now += 0.5
        self.check.suspect()
        self.now += 0.1
        await self.run()
        assert self.connection.checks == 1

    async def test_a_broken_connection_fails_the_check(self) -> None:
        self.connection.broken = True
        with pytest.raises(psycopg.OperationalError):
            await self.run()
        with pytest.raises(psycopg.OperationalError):
            await self.run(write=True)


async def test_load_team_is_prepared_on_its_first_use(database_url: str) -> None:
    store = await PostgresStore.open(database_url, min_size=1, max_size=1)
    try:
        await store.create_schedule(schedule())  # a new name: the team is not read
        async with store.pool.connection() as connection:
            cursor = await connection.execute("SELECT statement FROM pg_prepared_statements")
            assert [row for row in await cursor.fetchall() if "json_build_object" in str(row)] == []
        assert await store.load_team("ops") is not None
        async with store.pool.connection() as connection:
            cursor = await connection.execute("SELECT statement FROM pg_prepared_statements")
            statements = [row["statement"] for row in await cursor.fetchall()]
        assert any("'schedules'" in statement for statement in statements)
    finally:
        await store.close()


async def test_a_pool_that_prepares_nothing_gets_no_prepared_statement(database_url: str) -> None:
    pool: AsyncConnectionPool[AsyncConnection[dict[str, Any]]] = AsyncConnectionPool(
        database_url,
        min_size=1,
        max_size=1,
        kwargs={"autocommit": True, "row_factory": dict_row, "prepare_threshold": None},
        open=False,
    )
    await pool.open(wait=True)
    try:
        store = PostgresStore(pool)
        await store.create_schedule(schedule())
        for _ in range(8):
            assert await store.load_team("ops") is not None
        async with pool.connection() as connection:
            cursor = await connection.execute("SELECT count(*) AS n FROM pg_prepared_statements")
            assert await cursor.fetchone() == {"n": 0}
    finally:
        await pool.close()


async def test_the_loaded_state_equals_the_state_the_checked_writes_built(
    database_url: str,
) -> None:
    store = await PostgresStore.open(database_url, min_size=1, max_size=1)
    try:
        first = await store.create_schedule(schedule(start=time(9, 0, 30, 125), end=time(17)))
        night = await store.create_schedule(
            schedule("night", start=time(22), end=time(6), overnight=True, priority=-4,
                     timezone="Europe/Berlin")
        )  # fmt: skip
        second = await store.edit_schedule(
            schedule(members=["Cy", "Ann"], effective=NOON), now=NOON.replace(month=4)
        )
        change = await store.append_rotation_change(
            "ops", RotationChange(schedule="primary", effective=NOON, position=1)
        )
        override = await store.add_override(
            "ops", Override(member="Dee", start=NOON, end=NOON.replace(hour=13), reason="x")
        )
        ended = await store.delete_schedule("ops", "night", now=NOON, effective=NOON)
        written = TeamState(
            team="ops",
            schedules=[first, night, second],
            changes=[change],
            overrides=[override],
            deletions=[ended],
        )
        loaded = await store.load_team("ops")
        assert loaded == written and repr(loaded) == repr(written)
        assert hash(loaded) == hash(written)
        assert from_json(to_json(loaded), TeamState) == loaded
        assert (await store.load_teams(["ops"]))["ops"] == written
    finally:
        await store.close()


async def test_a_write_right_after_a_restart_gets_a_working_connection(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "data")
    url = server.start()
    try:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
            await migrate(connection)
        # Every connection "worked a moment ago", whatever the restart takes.
        store = await PostgresStore.open(
            url, min_size=2, max_size=2, reconnect_timeout=3, check_after=3600
        )
        try:
            await store.create_schedule(schedule())
            await asyncio.gather(store.load_team("ops"), store.load_team("ops"))
            server.stop()
            server.start()
            # Not retried, so it must not meet a broken connection: its checkout is
            # checked, and the pool replaces what the restart broke.
            await store.append_rotation_change(
                "ops", RotationChange(schedule="primary", effective=NOON)
            )
            # A read may meet one (unchecked: it worked a moment ago) and is retried.
            state = await store.load_team("ops")
            assert state is not None and len(state.changes) == 1
        finally:
            await store.close()
    finally:
        server.stop()
