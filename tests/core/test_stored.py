"""trusted_team_state: a stored document built without checks equals the checked build."""

from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

import oncall_core
from oncall_core import (
    Deletion,
    Override,
    Rotation,
    RotationChange,
    RotationKind,
    Schedule,
    TeamState,
    Weekday,
    from_json,
    oncall_at,
    to_json,
)
from oncall_core.store import trusted_team_state
from oncall_core.strategies import instants, team_states


def database_shaped(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` as oncall_pg's load_team query writes it: times of day as
    ``HH:MM:SS[.ffffff]``, every rotation with its ``every`` and a ``start`` (null
    for a manual one)."""

    def version(data: dict[str, Any]) -> dict[str, Any]:
        rotation = {"every": 1, "start": None} | data["rotation"]
        return data | {
            "start": _iso(data["start"]),
            "end": _iso(data["end"]),
            "rotation": rotation,
            "effective": data.get("effective"),
        }

    return document | {"schedules": [version(data) for data in document["schedules"]]}


def _iso(seed_text: str) -> str:
    return oncall_core.parse_time_of_day(seed_text, "start").isoformat()


def assert_same(built: TeamState, expected: TeamState) -> None:
    # repr as well as ==: a set equals a frozenset, and a list a tuple's items.
    assert built == expected
    assert hash(built) == hash(expected)
    assert repr(built) == repr(expected)
    for mine, theirs in zip(
        (*built.schedules, *built.changes, *built.overrides, *built.deletions),
        (*expected.schedules, *expected.changes, *expected.overrides, *expected.deletions),
        strict=True,
    ):
        assert type(mine) is type(theirs)
        for field in type(mine).__attrs_attrs__:  # type: ignore[attr-defined]
            assert type(getattr(mine, field.name)) is type(getattr(theirs, field.name))


@given(team_states(max_versions=3, max_changes=4, max_overrides=4), st.booleans())
def test_the_trusted_build_equals_the_checked_one(state: TeamState, from_database: bool) -> None:
    document = to_json(state)
    if from_database:
        document = database_shaped(document)
    checked = from_json(document, TeamState)
    assert checked == state
    assert_same(trusted_team_state(document), checked)


@given(team_states(max_versions=2), instants())
def test_a_trusted_state_answers_as_the_checked_one(state: TeamState, at: datetime) -> None:
    trusted = trusted_team_state(to_json(state))
    assert trusted.history(trusted.names[0]) == state.history(state.names[0])
    assert oncall_at(trusted, at) == oncall_at(state, at)


def test_every_field_of_every_class_comes_through() -> None:
    noon = datetime(2025, 5, 5, 12, tzinfo=UTC)
    state = TeamState(
        team="ops",
        schedules=[
            Schedule(
                team="ops", name="day", members=["Ann", "Bob", "Ann"],
                days=[Weekday.MONDAY, Weekday.SUNDAY], start=time(9, 0, 30, 250),
                end=time(17), timezone="Europe/Berlin", priority=-3,
                rotation=Rotation(kind=RotationKind.WEEKLY, every=2, start=noon),
            ),
            Schedule(
                team="ops", name="night", members=["Cy"], days=list(Weekday),
                start=time(22), end=time(6), overnight=True, effective=noon,
            ),
        ],
        changes=[RotationChange(schedule="day", effective=noon, position=1)],
        overrides=[
            Override(member="Dee", start=noon, end=noon.replace(hour=13), schedule="day",
                     reason="dentist", id=7),
            Override(member="Eve", start=noon, end=noon.replace(hour=14), id=8),
        ],
        deletions=[Deletion(schedule="night", effective=noon.replace(day=6))],
    )  # fmt: skip
    for document in (to_json(state), database_shaped(to_json(state))):
        assert_same(trusted_team_state(document), state)


def test_it_is_kept_away_from_untrusted_input() -> None:
    # Not in the package's namespace, where request parsing finds its names, and
    # not used by the server, whose input is never trusted.
    assert "trusted_team_state" not in oncall_core.__all__
    assert not hasattr(oncall_core, "trusted_team_state")
    server = Path(__file__).resolve().parents[2] / "oncall_server"
    for module in server.glob("*.py"):
        assert "trusted_team_state" not in module.read_text(encoding="utf-8"), module
