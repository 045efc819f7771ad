"""The OpenAPI 3.1 description of the server, kept beside the routes it describes.

Schemas are JSON Schema 2020-12 (OpenAPI 3.1's dialect); the test suite
validates real responses against them, and fuzzes the server from them
(schemathesis) so that every request the document calls valid is accepted
and every other one refused.  Enumerations and limits come from the code that
enforces them (``Weekday``, ``RotationKind``, ``Source``, ``MAX_TEXT``,
``MAX_BODY``), so the document cannot drift from the behaviour.

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
from typing import Any

import attrs

from oncall_core import MAX_TEXT, RotationKind, Schedule, Source, Weekday

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
# RFC 3339 with an offset, in the years the server answers for (1901 to 2399, so
# that no offset takes it out of 1900 to 2400), on days every month has.
_INSTANT_PATTERN = (
    r"^\s*(?:19[0-9][1-9]|19[1-9]0|2[0-3][0-9]{2})-(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
    r"[Tt ](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?"
    r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])\s*$"
)


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


# TODO(issue 9, integer ranges): the model is getting bounds for priority and
# rotation.every (likely a 32-bit signed priority, every from 1 to 1000); take
# them from oncall_core's constants here once they exist.
_EVERY = {"type": "integer", "minimum": 1}
_PRIORITY = {"type": "integer"}

_ROTATION_START = {**_INSTANT, "pattern": _INSTANT_PATTERN}
_PERIODIC = [kind.value for kind in RotationKind if kind.is_periodic]
_ROTATION = {
    "description": "manual (the default), per_shift, or every N hours, days or weeks",
    "anyOf": [
        {
            "type": "object",
            "additionalProperties": False,
            "properties": {"kind": {"const": RotationKind.MANUAL.value}, "every": {"const": 1}},
        },
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["kind"],
            "properties": {
                "kind": {"const": RotationKind.PER_SHIFT.value},
                "every": {"const": 1},
                "start": _ROTATION_START,
            },
        },
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["kind"],
            "properties": {
                "kind": {"enum": _PERIODIC},
                "every": _EVERY,
                "start": _ROTATION_START,
            },
        },
    ],
}


@functools.cache
def _zones() -> list[str]:
    return sorted(zoneinfo.available_timezones())


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
            "start": _TIME_OF_DAY,
            "end": {
                **_TIME_OF_DAY,
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
            "rotation": {"$ref": "#/components/schemas/Rotation"},
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
                "Rotation": _ROTATION,
                "OnCall": _ON_CALL,
                "Error": _ERROR,
                "Status": _STATUS,
            }
        },
    }
