"""PostgreSQL-only behaviour: migrations, concurrency, round trips, durability, outages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import attrs
import psycopg
import pytest
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from oncall_core import (
    Conflict,
    NotFound,
    OncallError,
    Override,
    PreconditionFailed,
    Rotation,
    RotationChange,
    RotationKind,
    Schedule,
    ScheduleExists,
    StorageUnavailable,
    TeamState,
    ValidationError,
    Weekday,
    oncall_at,
)
from oncall_pg import PostgresStore, SchemaTooNew, migrate, migrations
from oncall_pg._errors import domain_errors  # white-box: see its test below
from tests.pg.test_migrate_versions import insert_in_schema_2

NOON = datetime(2025, 5, 5, 12, tzinfo=UTC)


def schedule(team: str = "ops", name: str = "primary") -> Schedule:
    return Schedule(
        team=team,
        name=name,
        members=["Ann", "Bob", "Cid"],
        days=list(Weekday),
        start=time(0),
        end=time(0),
        overnight=True,
    )


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[PostgresStore]:
    opened = await PostgresStore.open(database_url, min_size=2, max_size=10)
    yield opened
    await opened.close()


class TestMigrations:
    async def test_from_empty_then_again(self, empty_database_url: str) -> None:
        versions = tuple(migration.version for migration in migrations())
        assert versions == tuple(sorted(versions)) and versions[0] == 1
        async with await psycopg.AsyncConnection.connect(
            empty_database_url, autocommit=True
        ) as connection:
            assert await migrate(connection) == versions
            assert await migrate(connection) == ()
            cursor = await connection.execute("SELECT version FROM schema_migrations")
            assert sorted(row[0] for row in await cursor.fetchall()) == list(versions)

    async def test_a_database_at_version_1_migrates_on_with_its_data(
        self, empty_database_url: str
    ) -> None:
        later = tuple(m.version for m in migrations() if m.version > 1)
        async with await psycopg.AsyncConnection.connect(
            empty_database_url, autocommit=True
        ) as connection:
            assert await migrate(connection, up_to=1) == (1,)
            # Schemas 1 and 2 store schedules alike; code from before 0002 also
            # wrote team members and contacts.
            state = await insert_in_schema_2(
                connection,
                TeamState(
                    team="ops",
                    schedules=[schedule()],
                    changes=[RotationChange(schedule="primary", effective=NOON, position=2)],
                    overrides=[Override(member="Dee", start=NOON, end=NOON + timedelta(hours=1))],
                ),
            )
            await connection.execute(
                "INSERT INTO team_members (team_id, user_id)"
                " SELECT t.id, u.id FROM teams t CROSS JOIN users u"
            )
            await connection.execute("UPDATE users SET email = username || '@example.com'")

            assert await migrate(connection) == later
            store = await PostgresStore.open(empty_database_url, min_size=1, max_size=1)
            try:
                assert await store.load_team("ops") == state
                await store.create_schedule(schedule(name="secondary"))
            finally:
                await store.close()
            cursor = await connection.execute("SELECT max(version) FROM schema_migrations")
            assert await cursor.fetchone() == (migrations()[-1].version,)
            cursor = await connection.execute(
                "SELECT table_name, column_name FROM information_schema.columns"
                " WHERE table_name IN ('team_members', 'users') ORDER BY ordinal_position"
            )
            assert await cursor.fetchall() == [
                ("users", "id"),
                ("users", "username"),
                ("users", "created_at"),
            ]

    async def test_two_migrators_racing_migrate_once(self, empty_database_url: str) -> None:
        async def run() -> tuple[int, ...]:
            async with await psycopg.AsyncConnection.connect(
                empty_database_url, autocommit=True
            ) as connection:
                return await migrate(connection)

        results = await asyncio.gather(run(), run(), run())
        assert sorted(results, key=len) == [(), (), tuple(m.version for m in migrations())]

    async def test_a_newer_schema_is_refused(self, database_url: str) -> None:
        async with await psycopg.AsyncConnection.connect(
            database_url, autocommit=True
        ) as connection:
            await connection.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (9999, 'from_the_future')"
            )
            with pytest.raises(SchemaTooNew):
                await migrate(connection)

    async def test_migrate_needs_autocommit(self, database_url: str) -> None:
        async with await psycopg.AsyncConnection.connect(database_url) as connection:
            with pytest.raises(ValueError):
                await migrate(connection)


class TestConcurrency:
    async def test_fifty_concurrent_creates_of_one_name_make_one_schedule(
        self, store: PostgresStore
    ) -> None:
        results = await asyncio.gather(
            *(store.create_schedule(schedule()) for _ in range(50)), return_exceptions=True
        )
        assert sum(1 for result in results if isinstance(result, Schedule)) == 1
        assert all(isinstance(r, ScheduleExists) for r in results if not isinstance(r, Schedule))
        assert await store.load_team("ops") == TeamState(team="ops", schedules=[schedule()])

    async def test_of_concurrent_edits_expecting_one_revision_exactly_one_wins(
        self, database_url: str
    ) -> None:
        # One store, so one pool, per writer: each edit runs on a connection of its own.
        stores = [await PostgresStore.open(database_url, min_size=1, max_size=1) for _ in range(8)]
        try:
            await stores[0].create_schedule(schedule())
            results = await asyncio.gather(
                *(
                    store.edit_schedule(
                        attrs.evolve(schedule(), members=[f"M{index}"]),
                        now=NOON + timedelta(seconds=index),
                        expected=1,
                    )
                    for index, store in enumerate(stores)
                ),
                return_exceptions=True,
            )
            won = [result for result in results if isinstance(result, Schedule)]
            lost = [result for result in results if not isinstance(result, Schedule)]
            assert len(won) == 1 and len(lost) == 7
            assert all(isinstance(r, PreconditionFailed) and r.actual == 2 for r in lost)
            state = await stores[0].load_team("ops")
            assert state is not None
            assert state.schedules == (schedule(), won[0]) and state.revision("primary") == 2
        finally:
            for store in stores:
                await store.close()

    async def test_concurrent_edits_and_a_delete_are_appended_one_at_a_time(
        self, store: PostgresStore
    ) -> None:
        await store.create_schedule(schedule())
        results = await asyncio.gather(
            *(
                store.edit_schedule(
                    attrs.evolve(
                        schedule(), members=[f"M{index}"], effective=NOON + timedelta(days=index)
                    ),
                    now=NOON,
                )
                for index in range(1, 10)
            ),
            store.delete_schedule("ops", "primary", now=NOON, effective=NOON + timedelta(days=20)),
        )
        state = await store.load_team("ops")
        assert state is not None
        assert len(state.schedules) == 10 and state.deletions == (results[-1],)
        assert state.revision("primary") == 11
        assert state.schedule_at("primary", NOON + timedelta(days=9, hours=1)) == results[8]

    async def test_fifty_concurrent_rotates_make_fifty_steps(self, store: PostgresStore) -> None:
        await store.create_schedule(schedule())
        change = RotationChange(schedule="primary", effective=NOON)
        await asyncio.gather(*(store.append_rotation_change("ops", change) for _ in range(50)))
        state = await store.load_team("ops")
        assert state is not None and len(state.changes) == 50
        answer = oncall_at(state, NOON)
        assert answer is not None and answer.member == ["Ann", "Bob", "Cid"][50 % 3]
        async with store.pool.connection() as connection:
            cursor = await connection.execute("SELECT sequence FROM rotation_changes")
            assert sorted(row["sequence"] for row in await cursor.fetchall()) == list(range(1, 51))


class CountingCursor(psycopg.AsyncCursor[Any]):
    """A cursor that counts the statements sent through it."""

    executed: list[str] = []  # noqa: RUF012 - shared on purpose: the test reads it

    async def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        CountingCursor.executed.append(str(query))
        return await super().execute(query, *args, **kwargs)


async def test_loading_a_team_is_one_statement(database_url: str) -> None:
    setup = await PostgresStore.open(database_url, min_size=1, max_size=1)
    for name in ["primary", "secondary"]:
        await setup.create_schedule(schedule(name=name))
        await setup.append_rotation_change("ops", RotationChange(schedule=name, effective=NOON))
    await setup.edit_schedule(schedule(name="primary"), now=NOON)
    await setup.delete_schedule("ops", "secondary", now=NOON + timedelta(hours=1))
    await setup.close()
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        database_url,
        min_size=1,
        max_size=1,
        kwargs={"autocommit": True, "row_factory": dict_row, "cursor_factory": CountingCursor},
        open=False,
    )
    await pool.open(wait=True)
    store = PostgresStore(pool)
    CountingCursor.executed.clear()
    state = await store.load_team("ops")
    assert state is not None and len(state.schedules) == 3 and len(state.changes) == 2
    assert len(state.deletions) == 1
    assert len(CountingCursor.executed) == 1
    await pool.close()


async def test_loading_a_team_settles_on_a_generic_plan(database_url: str) -> None:
    # psycopg prepares a statement on its sixth use; the server then plans it once
    # for all (a generic plan) if that plan is no costlier than the custom ones.
    # A load planned afresh each time costs about 0.4 ms more.
    setup = await PostgresStore.open(database_url, min_size=1, max_size=1)
    for index in range(50):
        await setup.create_schedule(schedule(team=f"team{index}"))
    async with setup.pool.connection() as connection:
        await connection.execute("ANALYZE")
    for index in range(20):
        await setup.load_team(f"team{index}")
    async with setup.pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE statement LIKE %s",
            ("%json_build_object%",),
        )
        plans = await cursor.fetchone()
    await setup.close()
    assert plans is not None and plans["generic_plans"] > 0, plans


async def test_loading_several_teams_is_one_statement(database_url: str) -> None:
    setup = await PostgresStore.open(database_url, min_size=1, max_size=1)
    for team in ["ops", "web", "db"]:
        await setup.create_schedule(schedule(team=team))
    expected = {team: await setup.load_team(team) for team in ["ops", "db"]}
    await setup.close()
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        database_url,
        min_size=1,
        max_size=1,
        kwargs={"autocommit": True, "row_factory": dict_row, "cursor_factory": CountingCursor},
        open=False,
    )
    async with pool:
        store = PostgresStore(pool)
        CountingCursor.executed.clear()
        assert await store.load_teams(["ops", "nobody", "db"]) == expected
        assert len(CountingCursor.executed) == 1


@pytest.mark.parametrize(
    "session_options",
    [
        "-c TimeZone=UTC",
        # PostgreSQL prints a timestamptz in the session's zone: +05:30 today and
        # +05:21:10 (Madras time) in 1900, which is not RFC 3339.
        "-c TimeZone=Asia/Kolkata -c DateStyle=SQL,DMY",
        "-c TimeZone=America/St_Johns -c DateStyle=German",
    ],
)
async def test_instants_read_back_exactly_whatever_the_session_settings(
    database_url: str, session_options: str
) -> None:
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        database_url,
        min_size=1,
        max_size=1,
        kwargs={"autocommit": True, "row_factory": dict_row, "options": session_options},
        open=False,
    )
    async with pool:
        store = PostgresStore(pool)
        long_ago = datetime(1900, 6, 1, 0, 0, 0, 1, tzinfo=UTC)
        weekly = attrs.evolve(
            schedule(),
            start=time(9, 30, 0, 250),
            end=time(9, 30, 0, 250),
            rotation=Rotation(kind=RotationKind.WEEKLY, every=2, start=long_ago),
        )
        change = RotationChange(schedule="primary", effective=long_ago + timedelta(microseconds=1))
        override = Override(
            member="Dee", start=long_ago, end=datetime(2399, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
        )
        await store.create_schedule(weekly)
        await store.append_rotation_change("ops", change)
        stored = await store.add_override("ops", override)
        assert await store.load_team("ops") == TeamState(
            team="ops", schedules=[weekly], changes=[change], overrides=[stored]
        )


async def test_data_survives_closing_and_reopening_the_pool(database_url: str) -> None:
    first = await PostgresStore.open(database_url, min_size=1, max_size=2)
    await first.create_schedule(schedule())
    await first.close()
    second = await PostgresStore.open(database_url, min_size=1, max_size=2)
    assert await second.load_team("ops") == TeamState(team="ops", schedules=[schedule()])
    await second.close()


async def test_a_pool_passed_in_is_not_closed_by_the_store(database_url: str) -> None:
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        database_url, kwargs={"autocommit": True, "row_factory": dict_row}, open=False
    )
    await pool.open(wait=True)
    await PostgresStore(pool).close()
    assert not pool.closed
    await pool.close()


async def test_a_read_whose_connection_broke_is_retried_on_another(database_url: str) -> None:
    # Without the pool's per-checkout check, the broken connection reaches the read.
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        database_url,
        min_size=1,
        max_size=1,
        kwargs={"autocommit": True, "row_factory": dict_row},
        open=False,
    )
    async with pool:
        store = PostgresStore(pool)
        await store.create_schedule(schedule())
        async with store.pool.connection() as connection:
            backend = connection.info.backend_pid
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as admin:
            await admin.execute("SELECT pg_terminate_backend(%s, 5000)", (backend,))
        assert await store.load_team("ops") == TeamState(team="ops", schedules=[schedule()])


async def test_an_unreachable_server_is_storage_unavailable() -> None:
    with pytest.raises(StorageUnavailable):
        await PostgresStore.open(
            "postgresql://nobody@/nothing?host=/nonexistent&connect_timeout=1", timeout=1
        )


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("INSERT INTO teams (name) VALUES ('ops'), ('ops')", Conflict),
        ("INSERT INTO schedule_version_days (version_id, weekday) VALUES (424242, 1)", NotFound),
        ("INSERT INTO teams (name) VALUES ('')", ValidationError),
    ],
)
async def test_database_errors_become_domain_errors(
    database_url: str, statement: str, expected: type[Exception]
) -> None:
    # White-box on purpose: drives the private error mapper directly with statements
    # the store never sends, to reach each branch; through the store, the contract
    # suite checks the errors callers see.
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as connection:
        with pytest.raises(expected) as caught:
            async with domain_errors():
                await connection.execute(statement)
    assert isinstance(caught.value, OncallError)
    assert isinstance(caught.value.__cause__, psycopg.Error)


async def test_edits_and_overrides_of_one_schedule_at_once_all_land(store: PostgresStore) -> None:
    # An edit locks the schedule, then upserts its members as users; an override
    # upserts its member, then inserts a row referencing the schedule.  The lock
    # an edit takes does not block that reference, so neither waits on the other
    # in a cycle (a deadlock would surface as a Conflict).
    await store.create_schedule(schedule())
    members = [f"M{index}" for index in range(10)]
    results = await asyncio.gather(
        *(
            store.edit_schedule(
                attrs.evolve(schedule(), members=members[index:] + members[:index]),
                now=NOON + timedelta(minutes=index),
            )
            for index in range(10)
        ),
        *(
            store.add_override(
                "ops",
                Override(
                    member=members[-1 - index],
                    start=NOON,
                    end=NOON + timedelta(hours=1),
                    schedule="primary",
                ),
            )
            for index in range(10)
        ),
        return_exceptions=True,
    )
    assert [r for r in results if isinstance(r, Exception)] == []
    state = await store.load_team("ops")
    assert state is not None
    assert len(state.schedules) == 11 and len(state.overrides) == 10
