"""The store contract: every behaviour, checked on every store (memory and PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, time, timedelta

import attrs
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from oncall_core import (
    MemoryStore,
    NotFound,
    Override,
    Rotation,
    RotationChange,
    RotationKind,
    Schedule,
    ScheduleExists,
    Store,
    TeamState,
    ValidationError,
    Weekday,
    clean_text,
    oncall_at,
)
from oncall_core.strategies import overrides, rotation_changes, schedules
from oncall_pg import PostgresStore
from tests.postgres import run_in_thread

STORES = ["memory", "postgres"]
MONDAY_NOON = datetime(2025, 5, 5, 17, tzinfo=UTC)  # noon in Chicago, inside weekly()


async def open_store(kind: str, request: pytest.FixtureRequest) -> Store:
    if kind == "memory":
        return MemoryStore()
    return await PostgresStore.open(request.getfixturevalue("database_url"), min_size=1, max_size=4)


@pytest.fixture(params=STORES)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    opened = await open_store(request.param, request)
    yield opened
    await opened.close()


def weekly(team: str = "ops", name: str = "primary", **changes: object) -> Schedule:
    schedule = Schedule(
        team=team,
        name=name,
        members=["Ann", "Bob", "Ann", "Cid"],
        days=[Weekday.MONDAY, Weekday.FRIDAY, Weekday.SUNDAY],
        start=time(9),
        end=time(17, 30),
        timezone="America/Chicago",
        rotation=Rotation(
            kind=RotationKind.WEEKLY, every=2, start=datetime(2025, 1, 6, 15, tzinfo=UTC)
        ),
        priority=3,
    )
    return attrs.evolve(schedule, **changes)


def nights(team: str = "ops", name: str = "nights") -> Schedule:
    return Schedule(
        team=team,
        name=name,
        members=["Dee"],
        days=list(Weekday),
        start=time(20),
        end=time(8),
        overnight=True,
    )


async def unchanged(store: Store, team: str, call: Callable[[], Awaitable[object]]) -> None:
    """The call raises, and the team's state is what it was."""
    before = await store.load_team(team)
    with pytest.raises(Exception) as caught:
        await call()
    assert await store.load_team(team) == before
    raise caught.value


class TestSchedules:
    async def test_a_created_schedule_reads_back_equal(self, store: Store) -> None:
        created = await store.create_schedule(weekly())
        assert created == weekly()
        assert await store.get_schedule("ops", "primary") == weekly()
        assert await store.list_schedules("ops") == (weekly(),)
        assert await store.list_teams() == ("ops",)

    async def test_a_duplicate_name_is_rejected_and_changes_nothing(self, store: Store) -> None:
        await store.create_schedule(weekly())
        with pytest.raises(ScheduleExists) as caught:
            await unchanged(store, "ops", lambda: store.create_schedule(weekly(members=["Zed"])))
        assert (caught.value.team, caught.value.name) == ("ops", "primary")

    async def test_the_same_name_in_another_team_is_fine(self, store: Store) -> None:
        await store.create_schedule(weekly())
        await store.create_schedule(weekly(team="web"))
        assert await store.list_teams() == ("ops", "web")

    async def test_schedules_keep_creation_order_and_replace_keeps_the_place(
        self, store: Store
    ) -> None:
        names = ["c", "a", "b"]
        for name in names:
            await store.create_schedule(weekly(name=name))
        replaced = weekly(name="a", members=["Zed"], overnight=True, end=time(9))
        assert await store.replace_schedule(replaced) == replaced
        assert [s.name for s in await store.list_schedules("ops")] == names
        assert await store.get_schedule("ops", "a") == replaced

    async def test_unknown_schedules_and_teams(self, store: Store) -> None:
        assert await store.load_team("nobody") is None
        assert await store.list_schedules("nobody") == ()
        assert await store.list_overrides("nobody") == ()
        with pytest.raises(NotFound):
            await store.get_schedule("nobody", "primary")
        await store.create_schedule(weekly())
        with pytest.raises(NotFound):
            await store.get_schedule("ops", "other")
        with pytest.raises(NotFound):
            await unchanged(store, "ops", lambda: store.replace_schedule(weekly(name="other")))
        with pytest.raises(NotFound):
            await unchanged(store, "ops", lambda: store.delete_schedule("ops", "other"))

    async def test_delete_takes_history_and_limited_overrides_along(self, store: Store) -> None:
        await store.create_schedule(weekly())
        await store.create_schedule(nights())
        await store.append_rotation_change(
            "ops", RotationChange(schedule="primary", effective=MONDAY_NOON)
        )
        await store.append_rotation_change(
            "ops", RotationChange(schedule="nights", effective=MONDAY_NOON)
        )
        team_wide = await store.add_override("ops", cover("Sub"))
        await store.add_override("ops", cover("Sub", schedule="primary"))
        await store.delete_schedule("ops", "primary")
        state = await store.load_team("ops")
        assert state is not None
        assert [s.name for s in state.schedules] == ["nights"]
        assert [c.schedule for c in state.changes] == ["nights"]
        assert state.overrides == (team_wide,)
        assert await store.list_teams() == ("ops",)  # the team stays


def cover(member: str, schedule: str | None = None, hours: int = 2) -> Override:
    return Override(
        member=member,
        start=MONDAY_NOON,
        end=MONDAY_NOON + timedelta(hours=hours),
        schedule=schedule,
        reason="dentist",
    )


class TestRotationHistory:
    async def test_changes_are_appended_in_order_and_resolve(self, store: Store) -> None:
        await store.create_schedule(nights())
        await store.create_schedule(attrs.evolve(weekly(), rotation=Rotation()))
        changes = [
            RotationChange(schedule="primary", effective=MONDAY_NOON - timedelta(days=1)),
            RotationChange(schedule="primary", effective=MONDAY_NOON, position=3),
            RotationChange(schedule="primary", effective=MONDAY_NOON - timedelta(days=2)),
        ]
        for change in changes:
            assert await store.append_rotation_change("ops", change) == change
        state = await store.load_team("ops")
        assert state is not None
        assert state.changes == tuple(changes)
        answer = oncall_at(state, MONDAY_NOON + timedelta(hours=1))
        assert answer is not None and answer.member == "Cid"

    async def test_bad_changes_are_rejected_and_change_nothing(self, store: Store) -> None:
        await store.create_schedule(weekly())
        with pytest.raises(NotFound):
            await unchanged(
                store,
                "ops",
                lambda: store.append_rotation_change(
                    "ops", RotationChange(schedule="other", effective=MONDAY_NOON)
                ),
            )
        with pytest.raises(ValidationError) as caught:
            await unchanged(
                store,
                "ops",
                lambda: store.append_rotation_change(
                    "ops", RotationChange(schedule="primary", effective=MONDAY_NOON, position=4)
                ),
            )
        assert caught.value.field == "position"

    async def test_a_replace_below_a_stored_position_raises_and_changes_nothing(
        self, store: Store
    ) -> None:
        await store.create_schedule(weekly())  # four members
        await store.append_rotation_change(
            "ops", RotationChange(schedule="primary", effective=MONDAY_NOON, position=3)
        )
        with pytest.raises(ValidationError) as caught:
            await unchanged(
                store, "ops", lambda: store.replace_schedule(weekly(members=["Ann", "Bob"]))
            )
        assert caught.value.field == "position"
        # Still four members: the next change at position 3 is accepted.
        after = RotationChange(schedule="primary", effective=MONDAY_NOON, position=3)
        assert await store.append_rotation_change("ops", after) == after


class TestOverrides:
    async def test_overrides_get_ids_and_keep_creation_order(self, store: Store) -> None:
        await store.create_schedule(weekly())
        first = await store.add_override("ops", cover("Sub"))
        second = await store.add_override("ops", cover("Two", schedule="primary", hours=1))
        assert first.id is not None and second.id is not None and first.id != second.id
        assert attrs.evolve(first, id=None) == cover("Sub")
        assert await store.list_overrides("ops") == (first, second)
        state = await store.load_team("ops")
        assert state is not None
        answer = oncall_at(state, MONDAY_NOON + timedelta(minutes=30))
        assert answer is not None and answer.member == "Two"

    async def test_delete_override(self, store: Store) -> None:
        await store.create_schedule(weekly())
        first = await store.add_override("ops", cover("Sub"))
        second = await store.add_override("ops", cover("Two"))
        assert first.id is not None
        await store.delete_override("ops", first.id)
        assert await store.list_overrides("ops") == (second,)
        with pytest.raises(NotFound):
            await unchanged(store, "ops", lambda: store.delete_override("ops", first.id or 0))
        with pytest.raises(NotFound):
            await store.delete_override("web", second.id or 0)

    async def test_bad_overrides_are_rejected_and_change_nothing(self, store: Store) -> None:
        await store.create_schedule(weekly())
        with pytest.raises(NotFound):
            await store.add_override("nobody", cover("Sub"))
        with pytest.raises(NotFound):
            await unchanged(store, "ops", lambda: store.add_override("ops", cover("S", "other")))
        with pytest.raises(ValidationError):
            await unchanged(
                store, "ops", lambda: store.add_override("ops", attrs.evolve(cover("S"), id=7))
            )


class TestLoadTeam:
    async def test_load_team_is_the_whole_state(self, store: Store) -> None:
        await store.create_schedule(weekly())
        await store.create_schedule(nights())
        change = RotationChange(schedule="nights", effective=MONDAY_NOON)
        await store.append_rotation_change("ops", change)
        override = await store.add_override("ops", cover("Sub", schedule="nights"))
        assert await store.load_team("ops") == TeamState(
            team="ops",
            schedules=[weekly(), nights()],
            changes=[change],
            overrides=[override],
        )


@st.composite
def team_contents(draw: st.DrawFn) -> tuple[list[Schedule], list[RotationChange], list[Override]]:
    team = f"team-{uuid.uuid4().hex[:8]}"
    count = draw(st.integers(min_value=1, max_value=3))
    drawn = [draw(schedules(team=team, name=f"s{index}")) for index in range(count)]
    names = [schedule.name for schedule in drawn]
    changes = draw(st.lists(rotation_changes(drawn), max_size=3))
    return drawn, changes, draw(st.lists(overrides(names), max_size=3))


@pytest.mark.parametrize("kind", STORES)
def test_any_team_round_trips_through_the_store(kind: str, request: pytest.FixtureRequest) -> None:
    if kind == "postgres":
        request.getfixturevalue("database_url")

    @given(team_contents())
    def round_trip(contents: tuple[list[Schedule], list[RotationChange], list[Override]]) -> None:
        drawn, changes, added = contents
        team = drawn[0].team

        async def scenario() -> None:
            store = await open_store(kind, request)
            try:
                for schedule in drawn:
                    await store.create_schedule(schedule)
                for change in changes:
                    await store.append_rotation_change(team, change)
                stored = [await store.add_override(team, override) for override in added]
                expected = TeamState(team=team, schedules=drawn, changes=changes, overrides=stored)
                assert await store.load_team(team) == expected
            finally:
                await store.close()

        run_in_thread(scenario())

    round_trip()


async def test_a_working_store_answers_ping_and_ping_changes_nothing(store: Store) -> None:
    await store.create_schedule(weekly())
    before = await store.load_team("ops")
    assert await store.ping() is None  # no StorageUnavailable: the store is ready
    assert await store.load_team("ops") == before
    assert await store.list_teams() == ("ops",)


@st.composite
def accepted_texts(draw: st.DrawFn) -> tuple[str, str, str, str]:
    """Team, schedule, member and reason drawn from Unicode (combining marks, other
    scripts, emoji, odd spaces...), kept when the model accepts them.  Surrogates
    and controls, which it always refuses, are left out of the draw so that few
    examples are wasted; tests/core/test_model.py draws those."""
    alphabet = st.characters(exclude_categories=["Cs", "Cc"])
    texts = [draw(st.text(alphabet, min_size=1, max_size=12)) for _ in range(4)]
    try:
        for index, text in enumerate(texts):
            texts[index] = clean_text(text, "text")
    except ValidationError:
        assume(False)
    return texts[0], texts[1], texts[2], texts[3]


@pytest.mark.parametrize("kind", STORES)
def test_any_text_the_model_accepts_round_trips_through_the_store(
    kind: str, request: pytest.FixtureRequest
) -> None:
    if kind == "postgres":
        request.getfixturevalue("database_url")

    @given(accepted_texts())
    def round_trip(texts: tuple[str, str, str, str]) -> None:
        team, name, member, reason = texts
        team = f"{team}-{uuid.uuid4().hex[:8]}"  # each example a new team in a shared database
        schedule = weekly(team=team, name=name, members=[member, "Bob"])
        override = Override(member=member, start=MONDAY_NOON, end=MONDAY_NOON + timedelta(hours=1))

        async def scenario() -> None:
            store = await open_store(kind, request)
            try:
                await store.create_schedule(schedule)
                stored = await store.add_override(team, attrs.evolve(override, reason=reason))
                loaded = await store.load_team(team)
                assert loaded == TeamState(team=team, schedules=[schedule], overrides=[stored])
                assert await store.get_schedule(team, name) == schedule
            finally:
                await store.close()

        run_in_thread(scenario())

    round_trip()
