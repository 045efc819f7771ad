"""Team states from documents our own stores wrote: built without checking them again.

Theory of operation
-------------------
Every stored team state got there through a checked write: each version,
override and rotation change was a model object (so its converters and
validators ran) and the store built the :class:`TeamState` the write would
produce before committing it (so the history checks ran).  The database keeps
what was written, with its own constraints on top.  Reading such a document
back with :func:`from_json` parses each version with the seed's request parser
and runs every converter and validator once more, which costs a store more than
its query (about 25 µs per schedule version, measured with 1000 versions).

:func:`trusted_team_state` builds the same objects directly: text is taken as
it is (it was cleaned when written), days and kinds are looked up, instants and
times of day are read with the standard library's ISO parsers (times of day,
of which a team has few, through a cache), and each object is assembled
without its ``__init__``.  The one rule it must keep is **equality**: for
every valid state ``s``, ``trusted_team_state(to_json(s)) == from_json(to_json(s),
TeamState) == s``, with equal hashes (``tests/core/test_stored.py`` proves it
over :func:`oncall_core.strategies.team_states`), so the compiled-team cache and
every answer are the same whichever path built the state.

Nothing here checks anything: a document that did not come from our stores may
produce an object that violates the model's rules, and every later answer is
then undefined.  Hence the name, and why it lives in :mod:`oncall_core.store`
(for store implementers) rather than beside :func:`from_json`: input from a
request, a file or another service goes through :func:`from_json`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, time
from typing import Any

from ._model import (
    MANUAL,
    Deletion,
    Override,
    Rotation,
    RotationChange,
    RotationKind,
    Schedule,
    TeamState,
    Weekday,
    assembler,
)
from ._wire import parse_time_of_day

# Positional, in each class's field order (the property test would catch a slip).
_team_state = assembler(TeamState)
_schedule_of = assembler(Schedule)
_rotation_of = assembler(Rotation)
_change_of = assembler(RotationChange)
_override_of = assembler(Override)
_deletion_of = assembler(Deletion)
_DAYS = {day.title: day for day in Weekday}
_KINDS = {kind.value: kind for kind in RotationKind}


def trusted_team_state(document: Mapping[str, Any]) -> TeamState:
    """The :class:`TeamState` of a document that one of our stores wrote, unchecked.

    ``document`` has the shape of ``to_json(state)`` (or of ``oncall_pg``'s
    ``load_team`` query, which writes times of day as ``HH:MM:SS``).  The result
    equals ``from_json(document, TeamState)`` for every document either produced
    from a valid state, at a fraction of the cost, because nothing is validated.

    Only for a store's own reads of what its checked writes stored; never for
    input from a request, a file or anyone else (use :func:`from_json`, which
    raises :class:`ValidationError`).  Raises ``KeyError``, ``TypeError`` or
    ``ValueError`` on a document of another shape, without saying much.
    """
    return _team_state(
        document["team"],
        tuple(map(_schedule, document.get("schedules", ()))),
        tuple(map(_change, document.get("changes", ()))),
        tuple(map(_override, document.get("overrides", ()))),
        tuple(map(_deletion, document.get("deletions", ()))),
    )


def _schedule(data: Mapping[str, Any]) -> Schedule:
    effective = data.get("effective")
    return _schedule_of(
        data["team"],
        data["name"],
        tuple(data["members"]),
        _days(tuple(data["days"])),
        _time_of_day(data["start"]),
        _time_of_day(data["end"]),
        data.get("overnight", False),
        data.get("timezone", "UTC"),
        _rotation(data.get("rotation")),
        data.get("priority", 0),
        None if effective is None else _instant(effective),
    )


def _rotation(data: Mapping[str, Any] | None) -> Rotation:
    if data is None:
        return MANUAL
    # ``every`` is left out of the JSON of a rotation that is not periodic (and
    # the query writes 1 there).
    return _rotation_from(data.get("kind", "manual"), data.get("every") or 1, data.get("start"))


@functools.lru_cache(maxsize=4096)
def _rotation_from(kind_name: str, every: int, start: str | None) -> Rotation:
    # Most versions of a schedule keep its rotation: one object for all of them.
    kind = _KINDS[kind_name]
    if kind is RotationKind.MANUAL and start is None:
        return MANUAL  # equal to Rotation(): the one every manual schedule has
    return _rotation_of(kind, every, None if start is None else _instant(start))


def _change(data: Mapping[str, Any]) -> RotationChange:
    return _change_of(data["schedule"], _instant(data["effective"]), data.get("position"))


def _override(data: Mapping[str, Any]) -> Override:
    return _override_of(
        data["member"],
        _instant(data["start"]),
        _instant(data["end"]),
        data.get("schedule"),
        data.get("reason"),
        data.get("id"),
    )


def _deletion(data: Mapping[str, Any]) -> Deletion:
    return _deletion_of(data["schedule"], _instant(data["effective"]))


def _instant(text: str) -> datetime:
    # Both writers write UTC with a Z (Python reads it since 3.11); the model
    # keeps every instant in UTC (see _model._in_utc), so an offset is moved there.
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)


@functools.lru_cache(maxsize=1024)
def _time_of_day(text: str) -> time:
    # The query writes PostgreSQL's "HH:MM:SS[.ffffff]", to_json the seed's "3:04PM".
    try:
        return time.fromisoformat(text)
    except ValueError:
        return parse_time_of_day(text, "start")


@functools.lru_cache(maxsize=1024)
def _days(names: Sequence[str]) -> frozenset[Weekday]:
    # A team's versions share a few day sets; so do teams.
    return frozenset(_DAYS[name] for name in names)
