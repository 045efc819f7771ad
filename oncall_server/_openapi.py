"""The OpenAPI 3.1 description of the server, kept beside the routes it describes.

Schemas are JSON Schema 2020-12 (OpenAPI 3.1's dialect); the test suite
validates real responses against them, and fuzzes the server from them
(schemathesis) so that every request the document calls valid is accepted
and every other one refused.  Enumerations and limits come from the code that
enforces them (``Weekday``, ``RotationKind``, ``Source``, ``MAX_TEXT``,
``MIN_PRIORITY``, ``MAX_PRIORITY``, ``MAX_EVERY``, ``MAX_BODY``, the zones the
model accepts), so the document cannot drift from the behaviour.

The patterns for text, days, times of day and instants are in ``_patterns``.
"""

from __future__ import annotations

import functools
import zoneinfo
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
from ._patterns import (
    ANSWER_INSTANT_PATTERN,
    INSTANT_PATTERN,
    TIME_OF_DAY_PATTERN,
    day_pattern,
    text_pattern,
)


def _text(description: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_TEXT,
        "pattern": text_pattern(),
    }
    return {**schema, "description": description} if description else schema


_STRING = {"type": "string"}
_INSTANT = {"type": "string", "format": "date-time"}
_TIME_OF_DAY = {
    "type": "string",
    "pattern": TIME_OF_DAY_PATTERN,
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
                    "pattern": day_pattern(),
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
    "properties": {
        "status": {"enum": ["ok", "ready", "unavailable", "failed"]},
        "error": _STRING,
    },
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
                            "schema": {"type": "string", "pattern": f"^now$|{INSTANT_PATTERN}"},
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
                    "responses": {
                        "200": _json("Alive", "Status"),
                        "503": _json("Its store is lost for good; only a restart helps", "Status"),
                    },
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
                "Rotation": _rotation(INSTANT_PATTERN),
                "StoredRotation": _rotation(ANSWER_INSTANT_PATTERN),
                "OnCall": _ON_CALL,
                "Error": _ERROR,
                "Status": _STATUS,
            }
        },
    }
