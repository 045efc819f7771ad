"""The OpenAPI 3.1 description of the server, kept beside the routes it describes.

Schemas are JSON Schema 2020-12 (OpenAPI 3.1's dialect); the test suite
validates real responses against them.  Enumerations and limits come from the
code that enforces them (``Weekday``, ``RotationKind``, ``Source``,
``MAX_BODY``), so the document cannot drift from the behaviour.
"""

from __future__ import annotations

import functools
from typing import Any

import attrs

from oncall_core import RotationKind, Schedule, Source, Weekday

from ._body import MAX_BODY

_STRING = {"type": "string"}
_INSTANT = {"type": "string", "format": "date-time"}
_TIME_OF_DAY = {"type": "string", "description": "'9:00AM', '9:00 pm' or '21:30'"}


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


_ROTATION = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "kind": {"enum": [kind.value for kind in RotationKind]},
        "every": {"type": "integer", "minimum": 1},
        "start": _INSTANT,
    },
}

_SCHEDULE_REQUEST = {
    "type": "object",
    "required": ["name", "team", "members", "days", "start", "end"],
    "properties": {
        "name": _STRING,
        "team": _STRING,
        "members": {"type": "array", "items": _STRING, "minItems": 1},
        "days": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "description": "'Monday' or 'Mon', any case"},
        },
        "start": _TIME_OF_DAY,
        "end": _TIME_OF_DAY,
        "overnight": {"type": "boolean", "default": False},
        "timezone": {"type": "string", "default": "UTC", "description": "an IANA zone name"},
        "rotation": {"$ref": "#/components/schemas/Rotation"},
        "priority": {"type": "integer", "default": 0},
    },
}

_SCHEDULE = {
    "type": "object",
    "additionalProperties": False,
    "required": [field.name for field in attrs.fields(Schedule)],
    "properties": {
        "team": _STRING,
        "name": _STRING,
        "members": {"type": "array", "items": _STRING, "minItems": 1},
        "days": {
            "type": "array",
            "minItems": 1,
            "items": {"enum": [day.title for day in Weekday]},
        },
        "start": _TIME_OF_DAY,
        "end": _TIME_OF_DAY,
        "overnight": {"type": "boolean"},
        "timezone": _STRING,
        "rotation": {"$ref": "#/components/schemas/Rotation"},
        "priority": {"type": "integer"},
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
                        "409": _error("The team already has a schedule with that name"),
                        "413": _error(f"The body is over {MAX_BODY} bytes"),
                        "503": _error("Storage unavailable"),
                    },
                },
                "get": {
                    "summary": "Who is on call for a team at a time",
                    "parameters": [
                        {"name": "team", "in": "query", "required": True, "schema": _STRING},
                        {
                            "name": "time",
                            "in": "query",
                            "required": True,
                            "description": "RFC 3339 with a UTC offset, or 'now'",
                            "schema": _STRING,
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
                        {"name": "team", "in": "path", "required": True, "schema": _STRING},
                        {"name": "name", "in": "path", "required": True, "schema": _STRING},
                    ],
                    "responses": {
                        "200": _json("The schedule", "Schedule"),
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
                "ScheduleRequest": _SCHEDULE_REQUEST,
                "Schedule": _SCHEDULE,
                "Rotation": _ROTATION,
                "OnCall": _ON_CALL,
                "Error": _ERROR,
                "Status": _STATUS,
            }
        },
    }
