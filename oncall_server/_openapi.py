"""The OpenAPI 3.1 description of the server, kept beside the routes it describes.

Schemas are JSON Schema 2020-12 (OpenAPI 3.1's dialect); the test suite
validates real responses against them, and fuzzes the server from them
(schemathesis) so that every request the document calls valid is accepted
and every other one refused.  Enumerations and limits come from the code that
enforces them (``Weekday``, ``RotationKind``, ``Source``, ``MAX_TEXT``,
``MIN_PRIORITY``, ``MAX_PRIORITY``, ``MAX_EVERY``, ``MAX_BODY``, the zones the
model accepts), so the document cannot drift from the behaviour.

The patterns for text, days, times of day and instants are in ``_patterns``;
the paths of overrides, swaps, views and calendar feeds in ``_openapi_views``.
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
from ._pages import DEFAULT_LIMIT, MAX_LIMIT
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
_ANSWER_INSTANT = {**_INSTANT, "pattern": ANSWER_INSTANT_PATTERN}
_CURSOR = {"anyOf": [_STRING, {"type": "null"}], "description": "the next page; null: the last"}
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
        # ``effective`` is absent for a version in force from the beginning of time.
        "required": [f.name for f in attrs.fields(Schedule) if f.name != "effective"],
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
            "effective": {**_ANSWER_INSTANT, "description": "when this version takes effect"},
        },
    }


def _version_request(*, required: list[str], name: str) -> dict[str, Any]:
    """A schedule body of the ``/teams/...`` endpoints: the seed's, with ``effective``, and
    no other field."""
    seed = _schedule_request()
    return {
        **seed,
        "additionalProperties": False,
        "required": required,
        "properties": {
            **seed["properties"],
            "team": _text("optional: the team in the path"),
            "name": _text(name),
            "effective": {
                **_INSTANT,
                "pattern": INSTANT_PATTERN,
                "description": "when the version takes effect (not in the past)",
            },
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


def _page(key: str, items: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": [key, "next_cursor"],
        "properties": {key: {"type": "array", "items": items}, "next_cursor": _CURSOR},
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_DELETION = {
    "type": "object",
    "additionalProperties": False,
    "required": ["team", "name", "deleted", "effective"],
    "properties": {
        "team": _text(),
        "name": _text(),
        "deleted": {"const": True},
        "effective": {**_ANSWER_INSTANT, "description": "from when the schedule is not in force"},
    },
}
_CHANGE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["schedule", "effective", "position"],
    "properties": {
        "schedule": _text(),
        "effective": _ANSWER_INSTANT,
        "position": {
            "anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}],
            "description": "the member list's index that takes the turn; null: advance by one",
        },
    },
}
_SHIFT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["start", "end", "member", "schedule", "source"],
    "properties": {
        "start": _ANSWER_INSTANT,
        "end": _ANSWER_INSTANT,
        "member": _STRING,
        "schedule": {"anyOf": [_STRING, {"type": "null"}]},
        "source": {"enum": [source.value for source in Source]},
    },
}
_ROTATE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "to": _text("the member to hand the turn to (default: the next one)"),
        "at": {**_INSTANT, "pattern": INSTANT_PATTERN, "description": "default: now"},
    },
}
_ROTATED = {
    "type": "object",
    "additionalProperties": False,
    "required": ["change", "turn"],
    "properties": {
        "change": _ref("RotationChange"),
        "turn": {
            "type": "object",
            "additionalProperties": False,
            "required": ["member", "start", "end"],
            "description": "the turn in progress when the change takes effect",
            "properties": {
                "member": _STRING,
                "start": _ANSWER_INSTANT,
                "end": {
                    "anyOf": [_ANSWER_INSTANT, {"type": "null"}],
                    "description": "null: unknown",
                },
            },
        },
    },
}
_DRY_RUN = {
    "type": "object",
    "additionalProperties": False,
    "required": ["before", "after", "version"],
    "description": "the team's shifts over the next 28 days as they are and as they would be",
    "properties": {
        "before": {"type": "array", "items": _ref("Shift")},
        "after": {"type": "array", "items": _ref("Shift")},
        "version": _ref("Schedule"),
    },
}
_TEAM_SUMMARY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["team", "schedules"],
    "properties": {
        "team": _text(),
        "schedules": {"type": "integer", "minimum": 0, "description": "in force now"},
    },
}

_PATH = [
    {"name": "team", "in": "path", "required": True, "schema": _text()},
    {"name": "name", "in": "path", "required": True, "schema": _text()},
]
_PAGE = [
    {
        "name": "limit",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
    },
    {
        "name": "cursor",
        "in": "query",
        "description": "the next_cursor of the previous page (opaque: only those are valid)",
        "schema": _STRING,
    },
]
# A list of entity tags, or "*"; tags hold no comma (ours are digits).
_ENTITY_TAG = r'(?:W/)?"[!#-+\--~]*"'
_IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "description": 'the ETag last read ("3"); "*": any; 412 if the schedule changed since',
    "schema": {
        "type": "string",
        "pattern": rf"^[ \t]*(?:\*|{_ENTITY_TAG}(?:[ \t]*,[ \t]*{_ENTITY_TAG})*)[ \t]*$",
    },
}


def _instant_query(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "description": description,
        "schema": {"type": "string", "pattern": INSTANT_PATTERN},
    }


_ETAG = {"ETag": {"schema": _STRING, "description": "the schedule's revision"}}
_ERRORS = {
    "400": _error("Invalid input, naming the field"),
    "404": _error("No such team or schedule (in force then)"),
    "503": _error("Storage unavailable"),
}
_WRITE_ERRORS = {
    **_ERRORS,
    "408": _error("The body did not arrive in time"),
    "409": _error("The write contradicts the schedule's history"),
    "413": _error(f"The body is over {MAX_BODY} bytes"),
    "422": _error("The write would take effect in the past: the past is read-only"),
}


def _body(schema: str, *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": _ref(schema)}}}


def _version_paths() -> dict[str, Any]:
    return {
        "/teams": {
            "get": {
                "summary": "Teams, by name",
                "parameters": _PAGE,
                "responses": {"200": _json("A page of teams", "TeamPage"), **_ERRORS},
            }
        },
        "/teams/{team}/schedules": {
            "get": {
                "summary": "The team's schedules in force, in creation order",
                "parameters": [
                    _PATH[0],
                    _instant_query("at", "default: now"),
                    *_PAGE,
                ],
                "responses": {"200": _json("A page of schedules", "SchedulePage"), **_ERRORS},
            },
            "post": {
                "summary": "Create a schedule, or re-create a deleted one",
                "parameters": [_PATH[0]],
                "requestBody": _body("NewSchedule"),
                "responses": {
                    "201": {
                        **_json("Created", "Schedule"),
                        "headers": {"Location": {"schema": _STRING}, **_ETAG},
                    },
                    **_WRITE_ERRORS,
                },
            },
        },
        "/teams/{team}/schedules/{name}": {
            "get": {
                "summary": "The version in force (now: or the next one scheduled)",
                "parameters": [*_PATH, _instant_query("at", "default: now")],
                "responses": {
                    "200": {**_json("The version", "Schedule"), "headers": _ETAG},
                    **_ERRORS,
                },
            },
            "put": {
                "summary": "A new version, from effective (default: now) on",
                "parameters": [
                    *_PATH,
                    _IF_MATCH,
                    {
                        "name": "dry_run",
                        "in": "query",
                        "description": "true: store nothing, answer the shifts before and after",
                        "schema": {"enum": ["true", "false"]},
                    },
                ],
                "requestBody": _body("ScheduleVersion"),
                "responses": {
                    "200": {
                        "description": "The version stored (or, in a dry run, the comparison)",
                        "content": {
                            "application/json": {
                                "schema": {"anyOf": [_ref("Schedule"), _ref("DryRun")]}
                            }
                        },
                        "headers": _ETAG,
                    },
                    **_WRITE_ERRORS,
                    "412": _error("The schedule changed since the If-Match revision"),
                },
            },
            "delete": {
                "summary": "End the schedule, now or at effective",
                "parameters": [
                    *_PATH,
                    _IF_MATCH,
                    _instant_query("effective", "default: now"),
                ],
                "responses": {
                    "200": {**_json("The deletion", "Deletion"), "headers": _ETAG},
                    **_ERRORS,
                    "409": _error("A later version is already scheduled"),
                    "412": _error("The schedule changed since the If-Match revision"),
                    "422": _error("The deletion would take effect in the past"),
                },
            },
        },
        "/teams/{team}/schedules/{name}/versions": {
            "get": {
                "summary": "The schedule's versions and deletions, by effective",
                "parameters": [*_PATH, *_PAGE],
                "responses": {"200": _json("A page of versions", "VersionPage"), **_ERRORS},
            }
        },
        "/teams/{team}/schedules/{name}/rotate": {
            "post": {
                "summary": "Advance the rotation, or hand the turn to a member",
                "parameters": _PATH,
                "requestBody": _body("Rotate", required=False),
                "responses": {
                    "201": _json("The change and the turn in progress then", "Rotated"),
                    **_WRITE_ERRORS,
                },
            }
        },
        "/teams/{team}/schedules/{name}/history": {
            "get": {
                "summary": "The schedule's rotation changes, newest first",
                "parameters": [*_PATH, *_PAGE],
                "responses": {"200": _json("A page of changes", "ChangePage"), **_ERRORS},
            }
        },
    }


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document served at ``/openapi.json``."""
    # Imported here: _openapi_views builds on this module's helpers.
    from ._auth import secured
    from ._openapi_views import view_paths, view_schemas

    document: dict[str, Any] = {
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
            **_version_paths(),
            **view_paths(),
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
                "NewSchedule": _version_request(
                    required=["name", "members", "days", "start", "end"],
                    name="unique within the team",
                ),
                "ScheduleVersion": _version_request(
                    required=["members", "days", "start", "end"],
                    name="optional: the name in the path",
                ),
                "Deletion": _DELETION,
                "RotationChange": _CHANGE,
                "Shift": _SHIFT,
                "Rotate": _ROTATE,
                "Rotated": _ROTATED,
                "DryRun": _DRY_RUN,
                "TeamPage": _page("teams", _TEAM_SUMMARY),
                "SchedulePage": _page("schedules", _ref("Schedule")),
                "VersionPage": _page("versions", {"anyOf": [_ref("Schedule"), _ref("Deletion")]}),
                "ChangePage": _page("changes", _ref("RotationChange")),
                "OnCall": _ON_CALL,
                "Error": _ERROR,
                "Status": _STATUS,
                **view_schemas(),
            }
        },
    }
    return secured(document)
