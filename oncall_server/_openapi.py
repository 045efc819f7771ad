"""The OpenAPI 3.1 description of the server, kept beside the routes it describes.

Schemas are JSON Schema 2020-12 (OpenAPI 3.1's dialect); the test suite
validates real responses against them, and fuzzes the server from them
(schemathesis) so that every request the document calls valid is accepted
and every other one refused.  Enumerations and limits come from the code that
enforces them (``Weekday``, ``RotationKind``, ``Source``, ``MAX_TEXT``,
``MIN_PRIORITY``, ``MAX_PRIORITY``, ``MAX_EVERY``, ``MAX_BODY``, the zones the
model accepts), so the document cannot drift from the behaviour.

Text follows :func:`oncall_core.clean_text`: its pattern refuses the same
characters (Unicode categories Cc, Cf, Zl, Zp; a test compares the two on
every code point but the surrogates), needs a character that is not white space, and refuses
``.`` and ``..``.  ``maxLength`` counts characters before normalization, so a
name of 200 characters that NFC makes longer is refused though the pattern
allows it: no JSON Schema can say what NFC does.
"""

from __future__ import annotations

import functools
import sys
import unicodedata
import zoneinfo
from collections.abc import Callable, Iterator
from datetime import time
from typing import Any

import attrs

from oncall_core import (
    MAX_EVERY,
    MAX_PRIORITY,
    MAX_TEXT,
    MIN_PRIORITY,
    RotationKind,
    Schedule,
    Source,
    ValidationError,
    Weekday,
)

from ._body import MAX_BODY

# Unicode categories clean_text refuses: a test checks the pattern agrees with it.
# Not Cs: a lone surrogate is refused too, but JSON Schema tools cannot generate
# or match one, and a pattern that names them is not used at all by some.
_REFUSED_CATEGORIES = ("Cc", "Cf", "Zl", "Zp")


def _ranges(holds: Callable[[str], bool]) -> Iterator[tuple[int, int]]:
    start = None
    for code in range(sys.maxunicode + 2):
        inside = code <= sys.maxunicode and holds(chr(code))
        if inside and start is None:
            start = code
        elif not inside and start is not None:
            yield start, code - 1
            start = None


def _char(code: int) -> str:
    # An escape both ECMA-262 and Python read in the BMP; astral characters as
    # themselves (ECMA's \u{...} and Python's \U... differ).
    return f"\\u{code:04x}" if code <= 0xFFFF else chr(code)


def _class(holds: Callable[[str], bool]) -> str:
    return "".join(
        _char(low) if low == high else f"{_char(low)}-{_char(high)}" for low, high in _ranges(holds)
    )


@functools.cache
def _text_pattern() -> str:
    refused = _class(lambda char: unicodedata.category(char) in _REFUSED_CATEGORIES)
    space = _class(str.isspace)
    allowed = f"[^{refused}]"
    return (
        f"^(?![{space}]*\\.\\.?[{space}]*$)"  # not "." or ".." once stripped
        f"{allowed}*[^{refused}{space}]{allowed}*$"
    )


def _any_case(word: str) -> str:
    return "".join(f"[{char.upper()}{char.lower()}]" for char in word)


def _day_pattern() -> str:
    names = "|".join(f"{_any_case(day.name[:3])}(?:{_any_case(day.name[3:])})?" for day in Weekday)
    return f"^\\s*(?:{names})\\s*$"


_FRACTION = r"(?::[0-5][0-9](?:\.[0-9]{1,6})?)?"
_TIME_OF_DAY_PATTERN = (
    rf"^\s*(?:(?:[01]?[0-9]|2[0-3]):[0-5][0-9]{_FRACTION}"
    rf"|(?:0?[1-9]|1[0-2]):[0-5][0-9]{_FRACTION}\s*[AaPp][Mm])\s*$"
)
# RFC 3339 with an offset, on dates that exist, in the years the server answers
# for: a request's from 1901 to 2399, so that no offset takes it out of 1900 to
# 2400; an answer's (always in UTC) from 1900.
_LEAP_YEAR = r"(?:(?:19|2[0-3])(?:0[48]|[2468][048]|[13579][26])|2000)"


def _instant_pattern(year: str) -> str:
    date = (
        rf"(?:{year}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
        r"|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)"
        rf"|{_LEAP_YEAR}-02-29)"
    )
    return (
        rf"^\s*{date}[Tt ](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?"
        r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])\s*$"
    )


_INSTANT_PATTERN = _instant_pattern(r"(?:19[0-9][1-9]|19[1-9]0|2[0-3][0-9]{2})")
_ANSWER_INSTANT_PATTERN = _instant_pattern(r"(?:19[0-9]{2}|2[0-3][0-9]{2})")


def _text(description: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_TEXT,
        "pattern": _text_pattern(),
    }
    return {**schema, "description": description} if description else schema


_STRING = {"type": "string"}
_INSTANT = {"type": "string", "format": "date-time"}
_TIME_OF_DAY = {
    "type": "string",
    "pattern": _TIME_OF_DAY_PATTERN,
    "description": "'9:00AM', '9:00 pm' or '21:30'",
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _json(description: str, schema: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


# JSON Schema's integer includes 2.0; the server wants integers written as such.
_WRITTEN = "an integer written without a fraction or exponent"
_EVERY = {"type": "integer", "minimum": 1, "maximum": MAX_EVERY, "description": _WRITTEN}
_PRIORITY = {
    "type": "integer",
    "minimum": MIN_PRIORITY,
    "maximum": MAX_PRIORITY,
    "description": _WRITTEN,
}


def _rotation(instant_pattern: str) -> dict[str, Any]:
    start = {**_INSTANT, "pattern": instant_pattern}
    return {
        "description": "manual (the default), per_shift, or every N hours, days or weeks",
        "anyOf": [
            {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "kind": {"const": RotationKind.MANUAL.value},
                    "every": {"const": 1},
                },
            },
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["kind"],
                "properties": {
                    "kind": {"const": RotationKind.PER_SHIFT.value},
                    "every": {"const": 1},
                    "start": start,
                },
            },
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["kind"],
                "properties": {
                    "kind": {"enum": [kind.value for kind in RotationKind if kind.is_periodic]},
                    "every": _EVERY,
                    "start": start,
                },
            },
        ],
    }


@functools.cache
def _zones() -> list[str]:
    # The names the model accepts, asked of the model itself.
    return sorted(name for name in {"UTC", *zoneinfo.available_timezones()} if _zone_ok(name))


def _zone_ok(name: str) -> bool:
    try:
        Schedule(
            team="t",
            name="n",
            members=["m"],
            days=[Weekday.MONDAY],
            start=time(9),
            end=time(17),
            timezone=name,
        )
    except ValidationError:
        return False
    return True


def _schedule_request() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["name", "team", "members", "days", "start", "end"],
        "properties": {
            "name": _text("unique within the team"),
            "team": _text("created on first use"),
            "members": {"type": "array", "items": _text(), "minItems": 1},
            "days": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "string",
                    "pattern": _day_pattern(),
                    "description": "'Monday' or 'Mon', any case",
                },
            },
            "start": {**_TIME_OF_DAY, "examples": ["9:00AM"]},
            "end": {
                **_TIME_OF_DAY,
                "examples": ["5:00PM"],
                "description": "after start; at or before start when overnight",
            },
            "overnight": {"type": "boolean", "default": False},
            "timezone": {"enum": _zones(), "default": "UTC", "description": "an IANA zone name"},
            "rotation": {"$ref": "#/components/schemas/Rotation"},
            "priority": {**_PRIORITY, "default": 0},
        },
    }


def _schedule() -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": [field.name for field in attrs.fields(Schedule)],
        "properties": {
            "team": _text(),
            "name": _text(),
            "members": {"type": "array", "items": _text(), "minItems": 1},
            "days": {
                "type": "array",
                "minItems": 1,
                "items": {"enum": [day.title for day in Weekday]},
            },
            "start": _TIME_OF_DAY,
            "end": _TIME_OF_DAY,
            "overnight": {"type": "boolean"},
            "timezone": {"enum": _zones()},
            "rotation": {"$ref": "#/components/schemas/StoredRotation"},
            "priority": _PRIORITY,
        },
    }


_ON_CALL = {
    "type": "object",
    "additionalProperties": False,
    "required": ["oncall", "source"],
    "description": "Every value is a string, so a client decoding into map[string]string works.",
    "properties": {
        "oncall": {"type": "string", "description": "who is on call"},
        "schedule": {"type": "string", "description": "absent when only an override covers"},
        "until": {**_INSTANT, "description": "when the answer changes; absent: never"},
        "source": {"enum": [source.value for source in Source]},
        "next": {"type": "string", "description": "who takes over at 'until'"},
    },
}

_ERROR = {
    "type": "object",
    "additionalProperties": False,
    "required": ["error"],
    "properties": {"error": _STRING},
}

_STATUS = {
    "type": "object",
    "required": ["status"],
    "properties": {"status": {"enum": ["ok", "ready", "unavailable"]}, "error": _STRING},
}


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document served at ``/openapi.json``."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "oncall-schedule",
            "version": "0.1.0",
            "description": "Who is on call for a team, at any instant.",
        },
        "paths": {
            "/schedule": {
                "post": {
                    "summary": "Create a schedule",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/ScheduleRequest"}
                            }
                        },
                    },
                    "responses": {
                        "201": {
                            **_json("Created; Location names the new schedule", "Schedule"),
                            "headers": {"Location": {"schema": _STRING}},
                        },
                        "400": _error("Invalid input (the seed's messages)"),
                        "408": _error("The body did not arrive in time"),
                        "409": _error("The team already has a schedule with that name"),
                        "413": _error(f"The body is over {MAX_BODY} bytes"),
                        "503": _error("Storage unavailable"),
                    },
                },
                "get": {
                    "summary": "Who is on call for a team at a time",
                    "parameters": [
                        {"name": "team", "in": "query", "required": True, "schema": _text()},
                        {
                            "name": "time",
                            "in": "query",
                            "required": True,
                            "description": "RFC 3339 with a UTC offset, or 'now'",
                            "schema": {"type": "string", "pattern": f"^now$|{_INSTANT_PATTERN}"},
                        },
                    ],
                    "responses": {
                        "200": _json("Who is on call", "OnCall"),
                        "400": _error("A missing or invalid parameter"),
                        "404": _error("Nobody is on call then (or the team is unknown)"),
                        "503": _error("Storage unavailable"),
                    },
                },
            },
            "/teams/{team}/schedules/{name}": {
                "get": {
                    "summary": "One schedule",
                    "parameters": [
                        {"name": "team", "in": "path", "required": True, "schema": _text()},
                        {"name": "name", "in": "path", "required": True, "schema": _text()},
                    ],
                    "responses": {
                        "200": _json("The schedule", "Schedule"),
                        "400": _error("A team or name the model refuses"),
                        "404": _error("No such schedule"),
                        "503": _error("Storage unavailable"),
                    },
                }
            },
            "/healthz": {
                "get": {
                    "summary": "The process is alive",
                    "responses": {"200": _json("Alive", "Status")},
                }
            },
            "/readyz": {
                "get": {
                    "summary": "The store can serve requests",
                    "responses": {
                        "200": _json("Ready", "Status"),
                        "503": _json("Not ready, with the reason", "Status"),
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": {"200": {"description": "The OpenAPI document"}},
                }
            },
        },
        "components": {
            "schemas": {
                "ScheduleRequest": _schedule_request(),
                "Schedule": _schedule(),
                "Rotation": _rotation(_INSTANT_PATTERN),
                "StoredRotation": _rotation(_ANSWER_INSTANT_PATTERN),
                "OnCall": _ON_CALL,
                "Error": _ERROR,
                "Status": _STATUS,
            }
        },
    }
