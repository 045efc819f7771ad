"""AnswerMemo reuses an answer only where the engine says it holds: a reused body is
always the body the engine would give, for any team state, any instants asked in
any order (``time=now`` moving forward, the ends of answers, revisits), and across
any write (an override, a rotation change, a new version, a deletion).

White-box on purpose: AnswerMemo is the server's own, and drawing states and
instants against it directly tests far more cases than HTTP could."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
from hypothesis import assume, given
from hypothesis import strategies as st

from oncall_core import (
    Deletion,
    Override,
    RotationChange,
    TeamState,
    ValidationError,
    oncall_at,
    seed_answer,
)
from oncall_core.strategies import instants, later_version, team_states
from oncall_server._answers import AnswerMemo, encode

MICROSECOND = timedelta(microseconds=1)
steps = st.lists(
    st.integers(min_value=-3 * 24 * 60, max_value=10 * 24 * 60).map(
        lambda minutes: timedelta(minutes=minutes)
    ),
    min_size=1,
    max_size=12,
)


def engine(state: TeamState, at: datetime) -> bytes | None:
    answer = oncall_at(state, at)
    return encode(seed_answer(answer)) if answer is not None else None


def asked(state: TeamState, start: datetime, moves: list[timedelta]) -> list[datetime]:
    """The instants a caller asks about: each move from the last, and around the end
    of each answer (just before it, and at it)."""
    found = []
    at = start
    for move in moves:
        at = at + move
        found.append(at)
        answer = oncall_at(state, at)
        if answer is not None and answer.until is not None:
            found += [answer.until - MICROSECOND, answer.until]
    return found


@given(team_states(), instants(any_offset=True), steps)
def test_a_reused_answer_is_the_engines_answer(
    state: TeamState, start: datetime, moves: list[timedelta]
) -> None:
    memo = AnswerMemo(spans=4)  # small: evictions happen too
    for at in asked(state, start, moves) * 2:
        assert memo.answer(state, at) == engine(state, at)


@st.composite
def written(draw: st.DrawFn, state: TeamState, at: datetime) -> TeamState:
    """The state after one write made at ``at``."""
    kind = draw(st.sampled_from(["override", "rotation", "version", "deletion"]))
    hours = timedelta(hours=draw(st.integers(min_value=0, max_value=72)))
    name = draw(st.sampled_from(state.names))
    try:
        if kind == "override":
            length = timedelta(minutes=draw(st.integers(min_value=1, max_value=48 * 60)))
            scope = draw(st.sampled_from([None, name]))
            cover = Override(
                member="Zed", start=at + hours, end=at + hours + length, schedule=scope
            )
            return attrs.evolve(state, overrides=(*state.overrides, cover))
        if kind == "rotation":
            position = draw(st.none() | st.integers(min_value=0, max_value=1))
            change = RotationChange(schedule=name, effective=at + hours, position=position)
            return attrs.evolve(state, changes=(*state.changes, change))
        in_force = state.schedule_at(name, at + hours)
        assume(in_force is not None)
        assert in_force is not None
        if kind == "version":
            version = draw(later_version(in_force, at + hours))
            return attrs.evolve(state, schedules=(*state.schedules, version))
        ended = Deletion(schedule=name, effective=at + hours)
        return attrs.evolve(state, deletions=(*state.deletions, ended))
    except ValidationError:
        assume(False)
        raise


@given(st.data(), team_states(), instants(), steps)
def test_no_answer_is_stale_across_a_write(
    data: st.DataObject, state: TeamState, start: datetime, moves: list[timedelta]
) -> None:
    after = data.draw(written(state, start))
    memo = AnswerMemo()
    times = asked(state, start, moves)
    for at in times:
        assert memo.answer(state, at) == engine(state, at)
    # The write is another state: every answer is the new state's, none the old's.
    for at in times + asked(after, start, moves):
        assert memo.answer(after, at) == engine(after, at)


def test_an_answer_is_reused_until_it_ends_then_computed_again() -> None:
    state = TeamState(
        team="ops",
        overrides=[
            Override(
                member="Ann",
                start=datetime(2025, 1, 1, tzinfo=UTC),
                end=datetime(2025, 1, 2, tzinfo=UTC),
            )
        ],
    )
    memo = AnswerMemo()
    first = memo.answer(state, datetime(2025, 1, 1, 8, tzinfo=UTC))
    assert first is not None and b'"oncall":"Ann"' in first
    assert memo.answer(state, datetime(2025, 1, 1, 23, 59, tzinfo=UTC)) is first
    assert (memo.hits, memo.misses) == (1, 1)
    assert memo.answer(state, datetime(2025, 1, 2, tzinfo=UTC)) is None  # the override ended
    assert memo.answer(state, datetime(2025, 1, 1, 7, tzinfo=UTC)) == first  # before: computed
    assert (memo.hits, memo.misses) == (1, 3)
