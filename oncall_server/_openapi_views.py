"""The OpenAPI description of overrides, swaps, views, calendar feeds (issue 11) and
the audit trail (issue 12).

Kept apart from ``_openapi`` (the schedules' endpoints), whose helpers it
shares; ``_openapi.openapi_document`` merges :func:`view_paths` and
:func:`view_schemas` into the one document.  As there, limits and enumerations
come from the code that enforces them (``MAX_REASON``, ``Source``,
``MAX_ID``, the page limits).
"""

from __future__ import annotations

from typing import Any

from oncall_core import MAX_REASON, AuditAction, Source

from ._calendar import MEDIA_TYPE
from ._openapi import (
    _ANSWER_INSTANT,
    _CURSOR,
    _ERRORS,
    _PAGE,
    _STRING,
    _WRITE_ERRORS,
    _body,
    _error,
    _json,
    _page,
    _ref,
    _text,
)
from ._overrides import MAX_ID
from ._patterns import INSTANT_PATTERN

_NOW_OR_INSTANT = {"type": "string", "pattern": f"^now$|{INSTANT_PATTERN}"}
_NULL = {"type": "null"}
_SOURCE = {"enum": [source.value for source in Source]}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, _NULL]}


def _reason() -> dict[str, Any]:
    return {**_text(), "maxLength": MAX_REASON}


def _override_request() -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["member", "start", "end"],
        "description": "end after start (after now, when start is now); start not in the past",
        "properties": {
            "member": _text("who is on call instead"),
            "start": {
                **_NOW_OR_INSTANT,
                "description": "RFC 3339 or 'now'; less than a minute ago is taken as now",
            },
            "end": {"type": "string", "pattern": INSTANT_PATTERN},
            "schedule": _nullable(_text("only inside this schedule's windows; null: team-wide")),
            "reason": _nullable(_reason()),
        },
    }


def _override() -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["member", "start", "end", "schedule", "reason", "id"],
        "properties": {
            "member": _STRING,
            "start": _ANSWER_INSTANT,
            "end": _ANSWER_INSTANT,
            "schedule": _nullable(_STRING),
            "reason": _nullable(_STRING),
            "id": {"type": "integer", "minimum": 1},
        },
    }


_SWAP_REQUEST = {
    "type": "object",
    "additionalProperties": False,
    "required": ["schedule", "shifts"],
    "properties": {
        "schedule": _text(),
        "shifts": {
            "type": "array",
            "minItems": 2,
            "maxItems": 2,
            "items": {"type": "string", "pattern": INSTANT_PATTERN},
            "description": "the instants two shifts of the schedule start at",
        },
    },
}
_SWAP = {
    "type": "object",
    "additionalProperties": False,
    "required": ["overrides"],
    "properties": {
        "overrides": {"type": "array", "minItems": 2, "maxItems": 2, "items": _ref("Override")}
    },
}
_AUDIT_ENTRY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "team", "at", "actor", "request_id", "action", "schedule", "detail"],
    "properties": {
        "id": {"type": "integer", "minimum": 1, "description": "in the order written"},
        "team": _nullable(_STRING),
        "at": _ANSWER_INSTANT,
        "actor": {**_STRING, "description": "the API key's name, anonymous, or cli:<user>"},
        "request_id": _nullable(_STRING),
        "action": {"enum": [action.value for action in AuditAction]},
        "schedule": _nullable(_STRING),
        "detail": {
            "type": "object",
            "description": "what the write stored: the version, deletion, rotation change "
            "or override (with its id); a key's name, scope and teams",
        },
    },
}
_ON_CALL_ENTRY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["member", "schedule", "source", "override", "until", "next"],
    "properties": {
        "member": _STRING,
        "schedule": {**_nullable(_STRING), "description": "null: a team-wide override"},
        "source": _SOURCE,
        "override": {
            "anyOf": [{"type": "integer", "minimum": 1}, _NULL],
            "description": "the id of the override that applies",
        },
        "until": {**_nullable(_ANSWER_INSTANT), "description": "null: never changes"},
        "next": {
            "anyOf": [
                {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["member", "schedule"],
                    "properties": {"member": _STRING, "schedule": _nullable(_STRING)},
                },
                _NULL,
            ],
            "description": "who is on call from until; null: nobody (or no until)",
        },
    },
}
_ON_CALL_LIST = {"type": "array", "items": _ref("OnCallEntry")}
_TEAM_ON_CALL = {
    "type": "object",
    "additionalProperties": False,
    "required": ["team", "time", "oncall"],
    "properties": {"team": _STRING, "time": _ANSWER_INSTANT, "oncall": _ON_CALL_LIST},
}
_EVERY_TEAM = {
    "type": "object",
    "additionalProperties": False,
    "required": ["time", "teams", "next_cursor"],
    "properties": {
        "time": _ANSWER_INSTANT,
        "teams": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["team", "oncall"],
                "properties": {"team": _STRING, "oncall": _ON_CALL_LIST},
            },
        },
        "next_cursor": _CURSOR,
    },
}


def _ranged(key: str, value: str, items: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": [key, "from", "to", value],
        "properties": {
            key: _STRING,
            "from": _ANSWER_INSTANT,
            "to": _ANSWER_INSTANT,
            value: {"type": "array", "items": items},
        },
    }


_GAP = {
    "type": "object",
    "additionalProperties": False,
    "required": ["start", "end"],
    "properties": {"start": _ANSWER_INSTANT, "end": _ANSWER_INSTANT},
}
_HOURS = {"type": "number", "minimum": 0}
_MEMBER_HOURS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["member", "hours", "schedules"],
    "properties": {
        "member": _STRING,
        "hours": _HOURS,
        "schedules": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["schedule", "hours"],
                "properties": {
                    "schedule": {**_nullable(_STRING), "description": "null: team-wide overrides"},
                    "hours": _HOURS,
                },
            },
        },
    },
}
_MEMBER_SHIFT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["team", "start", "end", "member", "schedule", "source"],
    "properties": {
        "team": _STRING,
        "start": _ANSWER_INSTANT,
        "end": _ANSWER_INSTANT,
        "member": _STRING,
        "schedule": _nullable(_STRING),
        "source": _SOURCE,
    },
}

_TEAM = {"name": "team", "in": "path", "required": True, "schema": _text()}
_MEMBER = {"name": "member", "in": "path", "required": True, "schema": _text()}
_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
}
_TIME = {
    "name": "time",
    "in": "query",
    "description": "RFC 3339 or 'now' (the default)",
    "schema": _NOW_OR_INSTANT,
}


def _bound(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description, "schema": _NOW_OR_INSTANT}


_RANGE = [
    _bound("from", "RFC 3339 or 'now'; default: now, or 7 days before to"),
    _bound("to", "after from, at most 366 days later; default: 7 days after from"),
]
_FEED_RANGE = [
    _bound("from", "RFC 3339 or 'now'; default: 7 days ago, or 97 days before to"),
    _bound("to", "after from, at most 366 days later; default: 97 days after from"),
]
_OVERRIDE_RANGE = [
    _bound("from", "only overrides that end after it"),
    _bound("to", "only overrides that start before it (after from)"),
]
_FEED = {
    "200": {
        "description": "An RFC 5545 calendar, one event per shift",
        "content": {MEDIA_TYPE.split(";")[0]: {"schema": _STRING}},
    },
    **_ERRORS,
}


def _get(summary: str, parameters: list[Any], answer: dict[str, Any]) -> dict[str, Any]:
    return {"get": {"summary": summary, "parameters": parameters, "responses": answer}}


def view_paths() -> dict[str, Any]:
    """The paths of overrides, swaps, views and feeds."""
    return {
        "/teams/{team}/overrides": {
            "get": {
                "summary": "The team's overrides (overlapping from..to), by id",
                "parameters": [_TEAM, *_OVERRIDE_RANGE, *_PAGE],
                "responses": {"200": _json("A page of overrides", "OverridePage"), **_ERRORS},
            },
            "post": {
                "summary": "Put a member on call over start..end, instead of the schedules",
                "parameters": [_TEAM],
                "requestBody": _body("NewOverride"),
                "responses": {
                    "201": {
                        **_json("Created", "Override"),
                        "headers": {"Location": {"schema": _STRING}},
                    },
                    **_WRITE_ERRORS,
                },
            },
        },
        "/teams/{team}/overrides/{id}": {
            "get": {
                "summary": "One override",
                "parameters": [_TEAM, _ID],
                "responses": {"200": _json("The override", "Override"), **_ERRORS},
            },
            "delete": {
                "summary": "Remove an override that has not started; end one under way now",
                "parameters": [_TEAM, _ID],
                "responses": {
                    "200": _json("It was under way: it ends now", "Override"),
                    "204": {"description": "It had not started: it is gone"},
                    **_ERRORS,
                    "409": _error("It has ended: the past is read-only"),
                },
            },
        },
        "/teams/{team}/swaps": {
            "post": {
                "summary": "The members of two shifts of a schedule trade them",
                "parameters": [_TEAM],
                "requestBody": _body("Swap"),
                "responses": {
                    "201": _json("The two overrides of the trade", "Swapped"),
                    **_WRITE_ERRORS,
                    "422": _error(
                        "An instant starts no shift of the schedule, both shifts are one "
                        "member's, or a shift has started"
                    ),
                },
            }
        },
        "/oncall": _get(
            "Everyone on call at an instant, for every team (a page of teams, by name)",
            [_TIME, *_PAGE],
            {"200": _json("A page of teams", "EveryTeamOnCall"), **_ERRORS},
        ),
        "/teams/{team}/oncall": _get(
            "Everyone on call at an instant, in precedence order",
            [_TEAM, _TIME],
            {"200": _json("One answer per schedule covering it", "TeamOnCall"), **_ERRORS},
        ),
        "/teams/{team}/shifts": _get(
            "The team's shifts from..to (or one schedule's, alone)",
            [
                _TEAM,
                *_RANGE,
                {"name": "schedule", "in": "query", "schema": _text()},
            ],
            {"200": _json("The shifts", "Shifts"), **_ERRORS},
        ),
        "/teams/{team}/gaps": _get(
            "When nobody is on call for the team, from..to",
            [_TEAM, *_RANGE],
            {"200": _json("The gaps", "Gaps"), **_ERRORS},
        ),
        "/teams/{team}/report": _get(
            "Hours on call per member and per schedule, from..to",
            [_TEAM, *_RANGE],
            {"200": _json("The hours", "Report"), **_ERRORS},
        ),
        "/teams/{team}/calendar.ics": _get(
            "The team's shifts as a calendar feed to subscribe to",
            [_TEAM, *_FEED_RANGE],
            _FEED,
        ),
        "/members/{member}/shifts": _get(
            "One member's shifts across their teams, from..to",
            [_MEMBER, *_RANGE],
            {"200": _json("The shifts", "MemberShifts"), **_ERRORS},
        ),
        "/members/{member}/calendar.ics": _get(
            "One member's shifts across their teams as a calendar feed",
            [_MEMBER, *_FEED_RANGE],
            _FEED,
        ),
        "/teams/{team}/audit": _get(
            "Who changed what of the team, and when, newest first",
            [_TEAM, *_PAGE],
            {"200": _json("A page of audit entries", "AuditPage"), **_ERRORS},
        ),
        "/audit": _get(
            "Every audit entry, API key changes too, newest first",
            _PAGE,
            {"200": _json("A page of audit entries", "AuditPage"), **_ERRORS},
        ),
    }


def view_schemas() -> dict[str, Any]:
    """The component schemas those paths refer to."""
    return {
        "NewOverride": _override_request(),
        "Override": _override(),
        "OverridePage": _page("overrides", _ref("Override")),
        "Swap": _SWAP_REQUEST,
        "Swapped": _SWAP,
        "OnCallEntry": _ON_CALL_ENTRY,
        "TeamOnCall": _TEAM_ON_CALL,
        "EveryTeamOnCall": _EVERY_TEAM,
        "Shifts": _ranged("team", "shifts", _ref("Shift")),
        "Gaps": _ranged("team", "gaps", _GAP),
        "Report": _ranged("team", "members", _MEMBER_HOURS),
        "MemberShifts": _ranged("member", "shifts", _MEMBER_SHIFT),
        "AuditEntry": _AUDIT_ENTRY,
        "AuditPage": _page("entries", _ref("AuditEntry")),
    }
