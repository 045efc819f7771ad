"""PostgreSQL-only behaviour of overrides and the views: a swap is atomic even when
its connection dies between its two inserts, override writes of a team are
serialised, and the member and range lookups read indexes, not whole tables."""

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

from oncall_core import Conflict, Override, Schedule, StorageUnavailable, Weekday
from oncall_pg import PostgresStore

NOW = datetime(2025, 6, 2, 17, tzinfo=UTC)


def schedule(
    team: str = "ops", name: str = "primary", members: list[str] | None = None
) -> Schedule:
    return Schedule(
        team=team,
        name=name,
        members=members or ["Ann", "Bob", "Cid"],
        days=list(Weekday),
        start=time(9),
        end=time(17),
    )


def swap(hours: int) -> list[Override]:
    """Ann and Bob trade two shifts a day apart: two overrides that only make sense together."""
    first = NOW + timedelta(hours=hours)
    second = first + timedelta(days=1)
    return [
        Override(member="Bob", start=first, end=first + timedelta(hours=8), schedule="primary"),
        Override(member="Ann", start=second, end=second + timedelta(hours=8), schedule="primary"),
    ]


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[PostgresStore]:
    opened = await PostgresStore.open(database_url, min_size=2, max_size=10)
    yield opened
    await opened.close()


class KillingCursor(psycopg.AsyncCursor[Any]):
    """A cursor that, when armed, has its own connection terminated by the server right
    after the first ``INSERT INTO overrides`` it sends has returned: from a second
    connection, with ``pg_terminate_backend``, waiting until the backend is gone."""

    admin_url = ""
    armed = False
    inserted: list[int] = []  # noqa: RUF012 - shared on purpose: the test reads it

    async def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        result = await super().execute(query, *args, **kwargs)
        if KillingCursor.armed and str(query).startswith("INSERT INTO overrides"):
            KillingCursor.armed = False
            row = await self.fetchone()  # the first insert ran: it returned its id
            assert row is not None
            KillingCursor.inserted.append(row["id"])
            await self.scroll(0, mode="absolute")  # the store reads that row again
            backend = self.connection.info.backend_pid
            async with await psycopg.AsyncConnection.connect(
                KillingCursor.admin_url, autocommit=True
            ) as admin:
                await admin.execute("SELECT pg_terminate_backend(%s, 5000)", (backend,))
        return result


async def test_a_swap_whose_connection_dies_between_its_inserts_stores_neither(
    database_url: str,
) -> None:
    setup = await PostgresStore.open(database_url, min_size=1, max_size=1)
    await setup.create_schedule(schedule())
    await setup.close()
    KillingCursor.admin_url = database_url
    KillingCursor.inserted.clear()
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        database_url,
        min_size=1,
        max_size=1,
        kwargs={"autocommit": True, "row_factory": dict_row, "cursor_factory": KillingCursor},
        open=False,
    )
    async with pool:
        store = PostgresStore(pool)
        KillingCursor.armed = True
        with pytest.raises(StorageUnavailable):
            await store.add_overrides("ops", swap(24), now=NOW)
        assert len(KillingCursor.inserted) == 1  # the first insert had run
        assert await store.list_overrides("ops") == ()
        async with await psycopg.AsyncConnection.connect(database_url) as other:
            cursor = await other.execute("SELECT count(*) FROM overrides")
            assert await cursor.fetchone() == (0,)
        # The pool replaced the dead connection: the store carries on.
        stored = await store.add_overrides("ops", swap(24), now=NOW)
        assert [attrs.evolve(o, id=None) for o in stored] == swap(24)
        assert await store.list_overrides("ops") == stored
        assert all((o.id or 0) > KillingCursor.inserted[0] for o in stored)


async def test_concurrent_swaps_creates_and_edits_of_one_team_all_land_whole(
    store: PostgresStore,
) -> None:
    # Swaps lock the team's row; creates upsert it; edits lock only their
    # schedule's row, which a swap's inserts merely reference.  No deadlock (it
    # would surface as a Conflict), nothing lost, and each swap's two overrides
    # are adjacent: the team's lock lets one swap write at a time.
    await store.create_schedule(schedule())
    results = await asyncio.gather(
        *(store.add_overrides("ops", swap(hours), now=NOW) for hours in range(20)),
        *(store.create_schedule(schedule(name=f"s{index}")) for index in range(10)),
        *(
            store.edit_schedule(
                schedule(members=[f"M{index}", "Ann"]), now=NOW + timedelta(minutes=index)
            )
            for index in range(10)
        ),
        return_exceptions=True,
    )
    assert [r for r in results if isinstance(r, Exception)] == []
    swaps = [r for r in results[:20] if isinstance(r, tuple)]
    stored = await store.list_overrides("ops")
    assert len(stored) == 40 and len({o.id for o in stored}) == 40
    for pair in swaps:
        at = stored.index(pair[0])
        assert stored[at + 1] == pair[1]


async def test_two_concurrent_deletes_of_an_ongoing_override_end_it_once(
    store: PostgresStore,
) -> None:
    await store.create_schedule(schedule())
    ongoing = Override(member="Sub", start=NOW, end=NOW + timedelta(hours=2))
    stored = await store.add_override("ops", ongoing, now=NOW)
    assert stored.id is not None
    later = NOW + timedelta(hours=1)
    results = await asyncio.gather(
        store.delete_override("ops", stored.id, now=later),
        store.delete_override("ops", stored.id, now=later),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "Override"]
    assert any(isinstance(r, Conflict) for r in results)
    assert await store.list_overrides("ops") == (attrs.evolve(stored, end=later),)


# The lookups by member and by range must read indexes.  The database gets enough
# rows that a sequential scan of a big table would cost the planner far more than
# the index (ANALYZE gives it the real counts); no planner setting is changed.
TEAMS = 4000
USERS = 2000
BIG_TABLES = {
    "teams",
    "users",
    "schedules",
    "schedule_versions",
    "schedule_version_members",
    "overrides",
}


async def seed_many_teams(connection: psycopg.AsyncConnection[Any]) -> None:
    """TEAMS teams of one schedule (two versions, three members each) and three
    overrides, members drawn from USERS users; written in bulk by SQL."""
    await connection.execute(
        "INSERT INTO users (username) SELECT 'user' || i FROM generate_series(1, %(users)s) i",
        {"users": USERS},
    )
    await connection.execute(
        "INSERT INTO teams (name) SELECT 'team' || i FROM generate_series(1, %(teams)s) i",
        {"teams": TEAMS},
    )
    await connection.execute("INSERT INTO schedules (team_id, name) SELECT id, 'main' FROM teams")
    await connection.execute(
        """
        INSERT INTO schedule_versions (schedule_id, effective_at, start_time, end_time,
            overnight, timezone, rotation_kind, rotation_every, priority)
        SELECT s.id, e.at, '09:00', '17:00', false, 'UTC', 'manual', 1, 0
        FROM schedules s, (VALUES (NULL::timestamptz), (timestamptz '2025-01-01')) e (at)
        """
    )
    await connection.execute(
        """
        INSERT INTO schedule_version_members (version_id, position, user_id)
        SELECT v.id, p, u.id
        FROM schedule_versions v, generate_series(0, 2) p, users u
        WHERE u.username = 'user' || (1 + (v.id * 7 + p * 13) %% %(users)s)
        """,
        {"users": USERS},
    )
    await connection.execute(
        """
        INSERT INTO overrides (team_id, user_id, starts_at, ends_at)
        SELECT t.id, u.id, timestamptz '2025-01-01' + k * interval '1 week',
            timestamptz '2025-01-01' + k * interval '1 week' + interval '8 hours'
        FROM teams t, generate_series(0, 2) k, users u
        WHERE u.username = 'user' || (1 + (t.id * 11 + k) %% %(users)s)
        """,
        {"users": USERS},
    )


class CapturingCursor(psycopg.AsyncCursor[Any]):
    """A cursor that keeps the statements sent through it, with their parameters."""

    sent: list[tuple[str, Any]] = []  # noqa: RUF012 - shared on purpose: the test reads it

    async def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        CapturingCursor.sent.append((str(query), params))
        return await super().execute(query, params, **kwargs)


def scans(plan: dict[str, Any]) -> list[tuple[str, str]]:
    """Every (node type, relation) of a JSON plan that reads a relation."""
    found = [(plan["Node Type"], plan["Relation Name"])] if "Relation Name" in plan else []
    for child in plan.get("Plans", []):
        found += scans(child)
    return found


async def plan_of(
    connection: psycopg.AsyncConnection[Any], query: str, params: Any
) -> list[tuple[str, str]]:
    cursor = await connection.execute("EXPLAIN (FORMAT JSON) " + query, params)
    row = await cursor.fetchone()
    assert row is not None
    return scans(row["QUERY PLAN"][0]["Plan"])


async def test_teams_of_member_and_overrides_by_range_read_indexes(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(
        database_url, autocommit=True, row_factory=dict_row
    ) as connection:
        await seed_many_teams(connection)
        setup = await PostgresStore.open(database_url, min_size=1, max_size=1)
        await setup.create_schedule(schedule(team="web", members=["Ann", "Bob"]))
        await setup.create_schedule(schedule(team="db", members=["Zed"]))
        for hours in range(0, 24 * 200, 24):  # a long history of overrides
            await setup.add_override(
                "db",
                Override(
                    member="Ann",
                    start=NOW + timedelta(hours=hours),
                    end=NOW + timedelta(hours=hours + 8),
                ),
            )
        await setup.close()
        await connection.execute("ANALYZE")

        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            database_url,
            min_size=1,
            max_size=1,
            kwargs={"autocommit": True, "row_factory": dict_row, "cursor_factory": CapturingCursor},
            open=False,
        )
        async with pool:
            store = PostgresStore(pool)
            CapturingCursor.sent.clear()
            assert await store.teams_of_member("Ann") == ("db", "web")
            assert await store.teams_of_member("user17") != ()
            member_query = CapturingCursor.sent[0]
            CapturingCursor.sent.clear()
            window = await store.list_overrides(
                "db", start=NOW + timedelta(days=100), end=NOW + timedelta(days=103)
            )
            assert len(window) == 3
            range_query = CapturingCursor.sent[0]
        assert len(CapturingCursor.sent) == 1  # one statement each

        member_scans = await plan_of(connection, *member_query)
        assert [s for s in member_scans if s[0] == "Seq Scan" and s[1] in BIG_TABLES] == []
        assert ("Index Scan", "users") in member_scans or (
            "Index Only Scan",
            "users",
        ) in member_scans
        range_scans = await plan_of(connection, *range_query)
        assert [s for s in range_scans if s[0] == "Seq Scan" and s[1] in BIG_TABLES] == []
