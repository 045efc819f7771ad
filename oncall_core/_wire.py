"""The JSON edge: the seed's request and answer shapes, and the one cattrs converter.

``parse_schedule_request`` is the single way JSON becomes a :class:`Schedule`
(the converter's structure hook for Schedule calls it), and it reports bad
input with the seed service's exact messages, checked in the seed's order:
presence (team, name, members, days, start, end), then day names, then
times, then the time range.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.preconf.json import make_converter

from ._errors import ValidationError
from ._model import OnCall, Rotation, RotationKind, Schedule, Weekday
from ._rotation import first_window_start
from ._time import supported_instant

T = TypeVar("T")

_DAY_NAMES = {
    **{day.name.lower(): day for day in Weekday},
    **{day.name[:3].lower(): day for day in Weekday},
}
_TIME_OF_DAY = re.compile(
    r"(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,6}))?)?"
    r"\s*(?P<meridiem>[ap]m)?",
    re.IGNORECASE | re.ASCII,  # ASCII digits only: not Arabic-Indic or fullwidth ones
)
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?P<fraction>\.\d+)?(?P<offset>[Zz]|[+-]\d{2}:\d{2})",
    re.ASCII,
)


def parse_weekday(text: str) -> Weekday:
    """A weekday from its English name or 3-letter abbreviation, any case.

    Raises :class:`ValidationError` ``invalid day: X`` (field ``days``).
    """
    day = _DAY_NAMES.get(text.strip().lower()) if isinstance(text, str) else None
    if day is None:
        raise ValidationError(f"invalid day: {text}", field="days")
    return day


def parse_time_of_day(text: str, field: str) -> time:
    """A local time of day: ``"9:00AM"``, ``"9:00 pm"`` (12-hour) or ``"21:30"`` (24-hour).

    ``"12:00AM"`` is midnight and ``"12:00PM"`` noon.  Raises :class:`ValidationError`
    ``invalid <field> time format, use '3:04PM' format``.
    """
    error = ValidationError(f"invalid {field} time format, use '3:04PM' format", field=field)
    match = _TIME_OF_DAY.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise error
    hour, minute = int(match["hour"]), int(match["minute"])
    second = int(match["second"] or 0)
    microsecond = int((match["fraction"] or "0").ljust(6, "0"))
    meridiem = (match["meridiem"] or "").lower()
    if meridiem:
        if not 1 <= hour <= 12:
            raise error
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
    if hour > 23 or minute > 59 or second > 59:
        raise error
    return time(hour, minute, second, microsecond)


def format_time_of_day(moment: time) -> str:
    """A time of day in the seed's ``3:04PM`` form (seconds kept when present)."""
    hour = moment.hour % 12 or 12
    meridiem = "AM" if moment.hour < 12 else "PM"
    text = f"{hour}:{moment.minute:02d}"
    if moment.second or moment.microsecond:
        text += f":{moment.second:02d}"
        if moment.microsecond:
            text += f".{moment.microsecond:06d}"
    return text + meridiem


def parse_instant(text: object, *, field: str = "time") -> datetime:
    """An aware datetime from RFC 3339 text with a UTC offset (``2025-04-28T14:30:00Z``).

    A time without an offset is rejected, not guessed.  Raises
    :class:`ValidationError` ``invalid <field> format, use RFC3339 format``, or
    ``<field> must be between the years 1900 and 2400``.
    """
    moment = _rfc3339(text)
    if moment is None:
        raise ValidationError(f"invalid {field} format, use RFC3339 format", field=field)
    supported_instant(moment, field)
    return moment


def _rfc3339(text: object) -> datetime | None:
    """The datetime RFC 3339 text denotes, or None if it is not RFC 3339 with an offset."""
    match = _RFC3339.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        return None
    assert isinstance(text, str)
    text = text.strip()
    fraction = match["fraction"]
    if fraction:
        # Python keeps microseconds; RFC 3339 allows any precision (Go sends nanoseconds).
        text = text.replace(fraction, "." + fraction[1:7].ljust(6, "0"))
    if match["offset"] in "Zz":
        text = text[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(text)
    except ValueError:  # a well-formed but impossible date, such as month 13
        return None


def format_instant(moment: datetime) -> str:
    """RFC 3339 text of an aware datetime, ``Z`` for UTC."""
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _text(body: Mapping[str, Any], key: str, missing: str) -> str:
    value = body.get(key)
    if value is None or value == "":
        raise ValidationError(missing, field=key)
    if not isinstance(value, str):
        raise ValidationError(f"{key} must be a string", field=key)
    if not value.strip():
        raise ValidationError(missing, field=key)
    return value


def _strings(body: Mapping[str, Any], key: str, missing: str) -> list[str]:
    value = body.get(key)
    if value is None or value == []:
        raise ValidationError(missing, field=key)
    if not isinstance(value, list):
        raise ValidationError(f"{key} must be a list of strings", field=key)
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise ValidationError(f"{key}[{index}] must be a string", field=f"{key}[{index}]")
    return value


def parse_rotation(data: object, *, created_at: datetime | None = None) -> Rotation:
    """A :class:`Rotation` from ``{"kind": "weekly", "every": 2, "start": "..."}``.

    A periodic or per-shift rotation without ``start`` is anchored at
    ``created_at`` (the schedule's creation instant, passed in by the caller).
    """
    if not isinstance(data, Mapping):
        raise ValidationError("rotation must be an object", field="rotation")
    unknown = sorted(set(data) - {"kind", "every", "start"})
    if unknown:
        raise ValidationError(
            f"rotation: unknown field {unknown[0]}", field=f"rotation.{unknown[0]}"
        )
    kind = data.get("kind", "manual")
    every = data.get("every", 1)
    start_text = data.get("start")
    start = parse_instant(start_text, field="rotation.start") if start_text is not None else None
    if start is None and kind != RotationKind.MANUAL.value:
        start = created_at
    return Rotation(kind=kind, every=every, start=start)


def parse_schedule_request(
    data: object, *, created_at: datetime | None = None, previous: Schedule | None = None
) -> Schedule:
    """A :class:`Schedule` from the seed's ``POST /schedule`` body and our extensions.

    Seed fields: ``name``, ``team``, ``members``, ``days``, ``start``, ``end``;
    extensions: ``timezone``, ``overnight``, ``rotation``, ``priority``,
    ``effective``.  A periodic or per-shift rotation given without ``start``
    keeps the cadence of ``previous`` (the version it follows) when that one
    has a rotation start; otherwise it is anchored at the first window start at
    or after ``effective`` (or else ``created_at``, the instant of the write),
    so that its handoffs fall on shift boundaries.  Raises
    :class:`ValidationError` with the seed's messages where it had one.
    """
    if not isinstance(data, Mapping):
        raise ValidationError("invalid request body")
    team = _text(data, "team", "team is required")
    name = _text(data, "name", "name is required")
    members = _strings(data, "members", "at least one member is required")
    day_names = _strings(data, "days", "at least one day is required")
    start_text = _text(data, "start", "start time is required")
    end_text = _text(data, "end", "end time is required")
    days = [parse_weekday(day) for day in day_names]
    start = parse_time_of_day(start_text, "start")
    end = parse_time_of_day(end_text, "end")
    rotation_data = data.get("rotation", {})
    effective_text = data.get("effective")
    effective = (
        parse_instant(effective_text, field="effective") if effective_text is not None else None
    )
    anchored_at = effective or created_at
    inherited = previous.rotation.start if previous is not None else None
    # The remaining fields are the model's to check.
    schedule = Schedule(
        team=team,
        name=name,
        members=members,
        days=days,
        start=start,
        end=end,
        overnight=data.get("overnight", False),
        timezone=data.get("timezone", "UTC"),
        rotation=parse_rotation(rotation_data, created_at=anchored_at or inherited),
        priority=data.get("priority", 0),
        effective=effective,
    )
    rotation = schedule.rotation
    if rotation.start is not None and "start" not in rotation_data:
        if inherited is not None:
            anchor = inherited  # the old cadence continues
        elif anchored_at is not None:
            # Move the anchor to the first shift boundary from then on.
            anchor = first_window_start(schedule, anchored_at)
        else:
            return schedule
        schedule = attrs.evolve(schedule, rotation=attrs.evolve(rotation, start=anchor))
    return schedule


def seed_answer(answer: OnCall) -> dict[str, str]:
    """The seed's ``GET /schedule`` answer: ``{"oncall": member}`` and our extensions.

    Every value is a string, so a client that decodes the answer into a
    ``map[string]string`` (as Go clients of the seed do) keeps working.
    ``schedule``, ``until`` and ``next`` are left out when there is none.
    """
    body = {"oncall": answer.member}
    if answer.schedule is not None:
        body["schedule"] = answer.schedule
    if answer.until is not None:
        body["until"] = format_instant(answer.until.astimezone(UTC))
    body["source"] = answer.source.value
    if answer.next_member is not None:
        body["next"] = answer.next_member
    return body


def _unstructure_rotation(rotation: Rotation) -> dict[str, Any]:
    data: dict[str, Any] = {"kind": rotation.kind.value}
    if rotation.kind.is_periodic:
        data["every"] = rotation.every
    if rotation.start is not None:
        data["start"] = format_instant(rotation.start)
    return data


def _unstructure_schedule(schedule: Schedule) -> dict[str, Any]:
    return {
        "team": schedule.team,
        "name": schedule.name,
        "members": list(schedule.members),
        "days": [day.title for day in sorted(schedule.days)],
        "start": format_time_of_day(schedule.start),
        "end": format_time_of_day(schedule.end),
        "overnight": schedule.overnight,
        "timezone": schedule.timezone,
        "rotation": _unstructure_rotation(schedule.rotation),
        "priority": schedule.priority,
        **({"effective": format_instant(schedule.effective)} if schedule.effective else {}),
    }


def _structure_instant(value: object, _type: object) -> datetime:
    # The model's validators check the range and name the field.
    moment = _rfc3339(value)
    if moment is None:
        raise ValidationError("expected an RFC 3339 time with a UTC offset")
    return moment


def _unstructure_duration(duration: timedelta) -> float:
    return duration.total_seconds()


def _make_converter() -> cattrs.Converter:
    made = make_converter()
    made.register_unstructure_hook(datetime, format_instant)
    made.register_structure_hook(datetime, _structure_instant)
    made.register_unstructure_hook(timedelta, _unstructure_duration)
    made.register_unstructure_hook(Schedule, _unstructure_schedule)
    made.register_structure_hook(Schedule, lambda value, _type: parse_schedule_request(value))
    made.register_unstructure_hook(Rotation, _unstructure_rotation)
    made.register_structure_hook(Rotation, lambda value, _type: parse_rotation(value))
    return made


converter = _make_converter()


def to_json(value: object) -> Any:
    """JSON-ready data (dicts, lists, strings, numbers) of a model object."""
    return converter.unstructure(value)


def from_json(data: object, cls: type[T]) -> T:
    """A model object of type ``cls`` from JSON-ready data.

    Raises :class:`ValidationError` naming the first offending field by its path.
    """
    try:
        return converter.structure(data, cls)
    except ValidationError:
        raise
    except cattrs.BaseValidationError as error:
        steps, leaf = next(leaf_errors(error))
        path = "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in steps)
        path = path.lstrip(".")
        if isinstance(leaf, KeyError):
            raise ValidationError(f"{path} is required", field=path) from None
        if isinstance(leaf, ValidationError):
            field = ".".join(part for part in (path, leaf.field or "") if part) or None
            message = leaf.message
        else:
            field, message = path or None, f"invalid value ({leaf})"
        raise ValidationError(f"{field}: {message}" if field else message, field=field) from None


def leaf_errors(
    error: BaseException, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], BaseException]]:
    """Every leaf error of a cattrs error tree, in order, with its path.

    A path holds attribute names (``str``) and list indices (``int``), outermost
    first.  The one walker over cattrs' exception groups: the wire layer and the
    server's configuration loader both explain bad input with it.
    """
    if isinstance(error, cattrs.BaseValidationError):
        for inner in error.exceptions:
            yield from leaf_errors(inner, (*path, *_path_step(getattr(inner, "__notes__", []))))
    else:
        yield path, error


def _path_step(notes: list[object]) -> tuple[str | int, ...]:
    for note in notes:
        attribute = getattr(note, "name", None)
        if attribute is not None:
            return (attribute,)
        index = getattr(note, "index", None)
        if index is not None:
            return (index,)
    return ()
