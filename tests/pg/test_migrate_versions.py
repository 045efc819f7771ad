"""Migration 0003 (schedule versions): data written in the version-2 schema answers the
same afterwards, and the versions tables are append-only."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import attrs
import psycopg
import pytest

from oncall_core import (
    Override,
    Rotation,
    RotationChange,
    RotationKind,
    Schedule,
    TeamState,
    Weekday,
    oncall_at,
    timeline,
)
from oncall_core.store import TeamSummary
from oncall_pg import PostgresStore, migrate, migrations

MONTH_START = datetime(2025, 3, 1, tzinfo=UTC)  # spans the US switch to summer time
MONTH_END = datetime(2025, 4, 1, tzinfo=UTC)
NOON = datetime(2025, 3, 10, 17, tzinfo=UTC)
WEEKDAYS = [Weekday.MONDAY, Weekday.TUESDAY, Weekday.WEDNESDAY, Weekday.THURSDAY, Weekday.FRIDAY]


def ops_team() -> TeamState:
    """A team with a schedule of every rotation kind, an overnight one, history and overrides
    (override ids are the database's: filled in after the insert)."""
    anchor = datetime(2025, 1, 6, 15, tzinfo=UTC)
    schedules = [
        Schedule(
            team="ops",
            name="business",
            members=["Ann", "Bob", "Ann", "Cid"],
            days=WEEKDAYS,
            start=time(9),
            end=time(17, 30),
            timezone="America/Chicago",
            rotation=Rotation(kind=RotationKind.WEEKLY, every=2, start=anchor),
            priority=3,
        ),
        Schedule(
            team="ops",
            name="nights",
            members=["Dee", "Eve"],
            days=list(Weekday),
            start=time(20),
            end=time(8),
            overnight=True,
            timezone="Europe/Berlin",
            rotation=Rotation(kind=RotationKind.DAILY, start=anchor),
        ),
        Schedule(
            team="ops",
            name="follow-sun",
            members=["Fay", "Gus", "Hal"],
            days=list(Weekday),
            start=time(0),
            end=time(0),
            overnight=True,
            rotation=Rotation(kind=RotationKind.HOURLY, every=8, start=anchor),
            priority=-1,
        ),
        Schedule(
            team="ops",
            name="weekend",
            members=["Ivy", "Jon"],
            days=[Weekday.SATURDAY, Weekday.SUNDAY],
            start=time(10),
            end=time(18, 15),
            timezone="Asia/Kolkata",
            rotation=Rotation(kind=RotationKind.PER_SHIFT, start=anchor),
            priority=5,
        ),
        Schedule(
            team="ops",
            name="escalation",
            members=["Kim", "Lee", "Max"],
            days=WEEKDAYS,
            start=time(12),
            end=time(13),
            priority=3,
        ),
    ]
    changes = [
        RotationChange(schedule="escalation", effective=NOON),
        RotationChange(schedule="escalation", effective=NOON + timedelta(days=3), position=2),
        RotationChange(schedule="business", effective=NOON + timedelta(days=7)),
        RotationChange(schedule="weekend", effective=NOON - timedelta(days=2), position=1),
        RotationChange(schedule="nights", effective=NOON + timedelta(days=10), position=0),
    ]
    overrides = [
        Override(member="Sub", start=NOON, end=NOON + timedelta(hours=30), reason="offsite"),
        Override(
            member="Tia", start=NOON + timedelta(days=4), end=NOON + timedelta(days=4, hours=5),
            schedule="nights",
        ),
        Override(
            member="Ann", start=NOON + timedelta(hours=2), end=NOON + timedelta(hours=3),
            schedule="business", reason="swap",
        ),
    ]  # fmt: skip
    return TeamState(team="ops", schedules=schedules, changes=changes, overrides=overrides)


def web_team() -> TeamState:
    only = Schedule(
        team="web", name="business", members=["Zed"], days=WEEKDAYS, start=time(8), end=time(16)
    )
    return TeamState(team="web", schedules=[only])


async def insert_in_schema_2(
    connection: psycopg.AsyncConnection[Any], state: TeamState
) -> TeamState:
    """Write a team with plain SQL in the schema of migrations 0001-0002 (as code of
    that time stored it); the state with its overrides' ids."""

    async def one(statement: str, *params: object) -> Any:
        cursor = await connection.execute(statement, params)
        row = await cursor.fetchone()
        assert row is not None
        return row[0]

    async def user(name: str) -> int:
        return int(
            await one(
                "INSERT INTO users (username) VALUES (%s)"
                " ON CONFLICT (username) DO UPDATE SET username = EXCLUDED.username RETURNING id",
                name,
            )
        )

    team_id = await one("INSERT INTO teams (name) VALUES (%s) RETURNING id", state.team)
    ids: dict[str, int] = {}
    for schedule in state.schedules:
        ids[schedule.name] = await one(
            "INSERT INTO schedules (team_id, name, start_time, end_time, overnight, timezone,"
            " rotation_kind, rotation_every, rotation_start, priority)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            team_id, schedule.name, schedule.start, schedule.end, schedule.overnight,
            schedule.timezone, schedule.rotation.kind.value, schedule.rotation.every,
            schedule.rotation.start, schedule.priority,
        )  # fmt: skip
        for day in schedule.days:
            await connection.execute(
                "INSERT INTO schedule_days (schedule_id, weekday) VALUES (%s, %s)",
                (ids[schedule.name], int(day)),
            )
        for position, member in enumerate(schedule.members):
            await connection.execute(
                "INSERT INTO schedule_members (schedule_id, position, user_id) VALUES (%s, %s, %s)",
                (ids[schedule.name], position, await user(member)),
            )
    for sequence, change in enumerate(state.changes, start=1):
        await connection.execute(
            "INSERT INTO rotation_changes (schedule_id, sequence, effective_at, position)"
            " VALUES (%s, %s, %s, %s)",
            (ids[change.schedule], sequence, change.effective, change.position),
        )
    stored = []
    for override in state.overrides:
        override_id = await one(
            "INSERT INTO overrides (team_id, schedule_id, user_id, starts_at, ends_at, reason)"
            " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
            team_id, ids.get(override.schedule or ""), await user(override.member),
            override.start, override.end, override.reason,
        )  # fmt: skip
        stored.append(attrs.evolve(override, id=override_id))
    return attrs.evolve(state, overrides=stored)


async def test_data_written_in_schema_2_answers_the_same_after_0003(
    empty_database_url: str,
) -> None:
    async with await psycopg.AsyncConnection.connect(
        empty_database_url, autocommit=True
    ) as connection:
        assert await migrate(connection, up_to=2) == (1, 2)
        ops = await insert_in_schema_2(connection, ops_team())
        web = await insert_in_schema_2(connection, web_team())
        applied = await migrate(connection)
        assert applied == tuple(m.version for m in migrations() if m.version > 2)
        assert 3 in applied
    store = await PostgresStore.open(empty_database_url, min_size=1, max_size=1)
    try:
        for expected in (ops, web):
            loaded = await store.load_team(expected.team)
            assert loaded == expected  # every schedule is its first version, in order
            assert loaded is not None and loaded.deletions == ()
            assert all(s.effective is None for s in loaded.schedules)
            assert timeline(loaded, MONTH_START, MONTH_END) == timeline(
                expected, MONTH_START, MONTH_END
            )
        loaded_ops = await store.load_team("ops")
        assert loaded_ops is not None
        # Instants inside each kind of schedule, an override and a gap.
        for at in [
            NOON,  # team-wide override
            NOON + timedelta(days=1, hours=6, minutes=30),  # Tuesday 06:30 UTC: Berlin night
            NOON + timedelta(days=3, hours=-1),  # Thursday 11:00 Chicago: business
            NOON + timedelta(days=3),  # Thursday 12:00 Chicago: escalation vs business
            NOON + timedelta(days=5, hours=-10),  # Saturday in Kolkata: weekend
            NOON + timedelta(days=4, hours=3),  # Friday 21:00 UTC: nights, override Tia
        ]:
            assert oncall_at(loaded_ops, at) == oncall_at(ops, at)
        assert await store.list_teams(at=NOON) == (TeamSummary("ops", 5), TeamSummary("web", 1))
        # The migrated database takes new versions.
        edited = await store.edit_schedule(
            attrs.evolve(ops.schedules[0], members=["Zed"]), now=MONTH_END
        )
        reloaded = await store.load_team("ops")
        assert reloaded is not None
        assert reloaded.schedules == (*ops.schedules, edited)
    finally:
        await store.close()


async def test_the_versions_tables_refuse_updates_and_deletes(database_url: str) -> None:
    store = await PostgresStore.open(database_url, min_size=1, max_size=1)
    try:
        await store.create_schedule(web_team().schedules[0])
        await store.delete_schedule("web", "business", now=NOON)
        before = await store.load_team("web")
    finally:
        await store.close()
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as connection:
        for statement in [
            "UPDATE schedule_versions SET priority = 7 WHERE NOT deleted",
            "UPDATE schedule_versions SET effective_at = NULL WHERE deleted",
            "DELETE FROM schedule_versions WHERE deleted",
            "UPDATE schedule_version_members SET position = position + 1",
            "DELETE FROM schedule_version_days",
            "TRUNCATE schedule_version_members",
        ]:
            with pytest.raises(psycopg.errors.RestrictViolation, match="append-only"):
                await connection.execute(statement)
        # An identity row with history is not deleted either (no cascade into it).
        with pytest.raises(psycopg.errors.RestrictViolation, match="foreign key"):
            await connection.execute("DELETE FROM schedules")
    store = await PostgresStore.open(database_url, min_size=1, max_size=1)
    try:
        assert await store.load_team("web") == before
    finally:
        await store.close()


@pytest.mark.parametrize(
    "bad",
    [{"start_time": time(9)}, {"rotation_start": NOON}, {"effective_at": None}],
    ids=["with a window", "with a rotation start", "without an instant"],
)
async def test_a_deletion_row_with_a_definition_or_without_an_instant_is_refused(
    database_url: str, bad: dict[str, object]
) -> None:
    store = await PostgresStore.open(database_url, min_size=1, max_size=1)
    try:
        await store.create_schedule(web_team().schedules[0])
    finally:
        await store.close()
    row = {"effective_at": NOON, "start_time": None, "rotation_start": None, **bad}
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as connection:
        with pytest.raises(psycopg.errors.CheckViolation):
            await connection.execute(
                "INSERT INTO schedule_versions (schedule_id, effective_at, deleted, start_time,"
                " rotation_start) SELECT id, %(effective_at)s, true, %(start_time)s,"
                " %(rotation_start)s FROM schedules",
                row,
            )
