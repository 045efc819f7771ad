"""/openapi.json describes the real responses: each one is validated against it."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from starlette.testclient import TestClient

from oncall_core import (
    MAX_TEXT,
    MemoryStore,
    Override,
    Rotation,
    RotationKind,
    Schedule,
    ValidationError,
    Weekday,
    clean_text,
)
from oncall_server import create_app
from tests.seed import WEEKDAY_SHIFT

SECOND = {**WEEKDAY_SHIFT, "name": "Second", "rotation": {"kind": "weekly"}}
SECOND_PATH = "/teams/ops-team/schedules/Second"
OVERRIDE = {"member": "Ann", "start": "2025-04-29T09:00:00Z", "end": "2025-04-29T12:00:00Z"}
LATER = {**SECOND, "members": ["B"], "effective": "2025-05-01T00:00:00Z"}
# (method, documented path, request path, keyword arguments for the client)
EXCHANGES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("post", "/schedule", "/schedule", {"json": WEEKDAY_SHIFT}),
    ("post", "/schedule", "/schedule", {"json": WEEKDAY_SHIFT}),  # 409
    ("post", "/schedule", "/schedule", {"json": {**WEEKDAY_SHIFT, "days": []}}),  # 400
    ("post", "/schedule", "/schedule", {"content": b"x" * 70_000}),  # 413
    ("get", "/schedule", "/schedule?team=ops-team&time=2025-04-28T14:30:00Z", {}),
    ("get", "/schedule", "/schedule?team=ops-team&time=2025-04-28T20:30:00Z", {}),  # 404
    ("get", "/schedule", "/schedule?team=ops-team", {}),  # 400
    ("get", "/teams/{team}/schedules/{name}", "/teams/ops-team/schedules/Weekday%20Shift", {}),
    ("get", "/teams/{team}/schedules/{name}", "/teams/ops-team/schedules/none", {}),  # 404
    ("get", "/teams", "/teams", {}),
    ("get", "/teams", "/teams?limit=0", {}),  # 400
    ("get", "/teams/{team}/schedules", "/teams/ops-team/schedules", {}),
    ("get", "/teams/{team}/schedules", "/teams/none/schedules", {}),  # 404
    ("get", "/teams/{team}/schedules", "/teams/ops-team/schedules?cursor=x", {}),  # 400
    ("post", "/teams/{team}/schedules", "/teams/ops-team/schedules", {"json": SECOND}),
    ("post", "/teams/{team}/schedules", "/teams/ops-team/schedules", {"json": SECOND}),  # 409
    ("post", "/teams/{team}/schedules", "/teams/ops-team/schedules", {"json": {"x": 1}}),  # 400
    ("post", "/teams/{team}/schedules", "/teams/ops-team/schedules", {"content": b"x" * 70_000}),
    ("put", "/teams/{team}/schedules/{name}", f"{SECOND_PATH}?dry_run=true", {"json": SECOND}),
    ("put", "/teams/{team}/schedules/{name}", SECOND_PATH, {"json": LATER}),
    ("put", "/teams/{team}/schedules/{name}", SECOND_PATH, {"json": {**SECOND, "x": 1}}),  # 400
    (
        "put",
        "/teams/{team}/schedules/{name}",
        f"{SECOND_PATH}x",
        {"json": {"members": ["a"], "days": ["Mon"], "start": "9:00AM", "end": "5:00PM"}},
    ),  # 404
    (
        "put",
        "/teams/{team}/schedules/{name}",
        SECOND_PATH,
        {"json": SECOND, "headers": {"If-Match": '"1"'}},
    ),  # 412
    (
        "put",
        "/teams/{team}/schedules/{name}",
        SECOND_PATH,
        {"json": {**SECOND, "effective": "2025-01-01T00:00:00Z"}},
    ),  # 422
    ("put", "/teams/{team}/schedules/{name}", SECOND_PATH, {"content": b"x" * 70_000}),  # 413
    ("post", "/teams/{team}/schedules/{name}/rotate", f"{SECOND_PATH}/rotate", {"json": {}}),
    (
        "post",
        "/teams/{team}/schedules/{name}/rotate",
        f"{SECOND_PATH}/rotate",
        {"json": {"to": "x"}},
    ),  # 400
    ("post", "/teams/{team}/schedules/{name}/rotate", f"{SECOND_PATH}x/rotate", {}),  # 404
    (
        "post",
        "/teams/{team}/schedules/{name}/rotate",
        f"{SECOND_PATH}/rotate",
        {"json": {"at": "2025-01-01T00:00:00Z"}},
    ),  # 422
    (
        "post",
        "/teams/{team}/schedules/{name}/rotate",
        f"{SECOND_PATH}/rotate",
        {"content": b"x" * 70_000},
    ),  # 413
    ("get", "/teams/{team}/schedules/{name}/history", f"{SECOND_PATH}/history", {}),
    ("get", "/teams/{team}/schedules/{name}/history", f"{SECOND_PATH}x/history", {}),  # 404
    ("get", "/teams/{team}/schedules/{name}/history", f"{SECOND_PATH}/history?limit=x", {}),
    ("get", "/teams/{team}/schedules/{name}", f"{SECOND_PATH}?at=x", {}),  # 400
    (
        "delete",
        "/teams/{team}/schedules/{name}",
        f"{SECOND_PATH}?effective=2025-01-01T00:00:00Z",
        {},
    ),  # 422
    ("delete", "/teams/{team}/schedules/{name}", SECOND_PATH, {"headers": {"If-Match": '"1"'}}),
    ("delete", "/teams/{team}/schedules/{name}", f"{SECOND_PATH}?effective=x", {}),  # 400
    ("delete", "/teams/{team}/schedules/{name}", SECOND_PATH, {}),  # 409: LATER is scheduled
    (
        "delete",
        "/teams/{team}/schedules/{name}",
        f"{SECOND_PATH}?effective=2025-05-02T00:00:00Z",
        {},
    ),
    ("delete", "/teams/{team}/schedules/{name}", f"{SECOND_PATH}x", {}),  # 404
    ("get", "/teams/{team}/schedules/{name}/versions", f"{SECOND_PATH}/versions", {}),
    ("get", "/teams/{team}/schedules/{name}/versions", f"{SECOND_PATH}x/versions", {}),  # 404
    ("get", "/teams/{team}/schedules/{name}/versions", f"{SECOND_PATH}/versions?limit=x", {}),
    *[
        ("post", "/teams/{team}/overrides", "/teams/ops-team/overrides", {"json": body})
        for body in [
            {"member": "Ann", "start": "2025-04-29T09:00:00Z", "end": "2025-04-29T12:00:00Z"},
            {"member": "Ann", "start": "2025-01-01T00:00:00Z", "end": "2025-04-29T12:00:00Z"},
            {"member": "Ann", "end": "2025-04-29T12:00:00Z"},  # 400
        ]
    ],
    ("post", "/teams/{team}/overrides", "/teams/none/overrides", {"json": OVERRIDE}),  # 404
    ("post", "/teams/{team}/overrides", "/teams/none/overrides", {"content": b"x" * 70_000}),
    ("get", "/teams/{team}/overrides", "/teams/ops-team/overrides?from=now", {}),
    ("get", "/teams/{team}/overrides", "/teams/ops-team/overrides?from=x", {}),  # 400
    ("get", "/teams/{team}/overrides", "/teams/none/overrides", {}),  # 404
    ("get", "/teams/{team}/overrides/{id}", "/teams/night-team/overrides/1", {}),
    ("get", "/teams/{team}/overrides/{id}", "/teams/night-team/overrides/x", {}),  # 400
    ("get", "/teams/{team}/overrides/{id}", "/teams/night-team/overrides/99", {}),  # 404
    ("delete", "/teams/{team}/overrides/{id}", "/teams/night-team/overrides/1", {}),  # 200
    ("delete", "/teams/{team}/overrides/{id}", "/teams/night-team/overrides/2", {}),  # 409
    ("delete", "/teams/{team}/overrides/{id}", "/teams/ops-team/overrides/3", {}),  # 204
    ("delete", "/teams/{team}/overrides/{id}", "/teams/ops-team/overrides/3", {}),  # 404
    ("delete", "/teams/{team}/overrides/{id}", "/teams/ops-team/overrides/x", {}),  # 400
    *[
        ("post", "/teams/{team}/swaps", path, {"json": {"schedule": "Nights", "shifts": shifts}})
        for path, shifts in [
            ("/teams/night-team/swaps", ["2025-04-29T09:00:00Z", "2025-04-30T09:00:00Z"]),
            ("/teams/night-team/swaps", ["2025-04-30T09:00:00Z", "2025-05-01T09:00:00Z"]),  # 422
            ("/teams/night-team/swaps", ["x"]),  # 400
            ("/teams/none/swaps", ["2025-04-29T09:00:00Z", "2025-04-30T09:00:00Z"]),  # 404
        ]
    ],
    ("post", "/teams/{team}/swaps", "/teams/none/swaps", {"content": b"x" * 70_000}),  # 413
    ("get", "/oncall", "/oncall?time=now", {}),
    ("get", "/oncall", "/oncall?time=x", {}),  # 400
    ("get", "/teams/{team}/oncall", "/teams/night-team/oncall", {}),
    ("get", "/teams/{team}/oncall", "/teams/none/oncall", {}),  # 404
    ("get", "/teams/{team}/oncall", "/teams/ops-team/oncall?time=x", {}),  # 400
    *[
        (
            "get",
            f"/teams/{{team}}/{view}",
            f"/teams/{team}/{view}{query}",
            {},
        )
        for view in ["shifts", "gaps", "report", "calendar.ics"]
        for team, query in [
            ("night-team", ""),
            ("none", ""),  # 404
            ("night-team", "?from=2025-01-01T00:00:00Z&to=2026-06-01T00:00:00Z"),  # 400
        ]
    ],
    ("get", "/members/{member}/shifts", "/members/Ann/shifts", {}),
    ("get", "/members/{member}/shifts", "/members/Ann/shifts?to=x", {}),  # 400
    ("get", "/members/{member}/calendar.ics", "/members/Ann/calendar.ics", {}),
    ("get", "/members/{member}/calendar.ics", "/members/Ann/calendar.ics?from=x", {}),  # 400
    ("get", "/teams/{team}/audit", "/teams/ops-team/audit?limit=2", {}),
    ("get", "/teams/{team}/audit", "/teams/none/audit", {}),  # 404
    ("get", "/teams/{team}/audit", "/teams/ops-team/audit?cursor=x", {}),  # 400
    ("get", "/audit", "/audit", {}),
    ("get", "/audit", "/audit?limit=0", {}),  # 400
    ("get", "/healthz", "/healthz", {}),
    ("get", "/readyz", "/readyz", {}),
    ("get", "/openapi.json", "/openapi.json", {}),
]


NIGHTS = Schedule(
    team="night-team",
    name="Nights",
    members=["Ann", "Bob"],
    days=list(Weekday),
    start=time(9),
    end=time(17),
    rotation=Rotation(kind=RotationKind.DAILY, start=datetime(2025, 4, 28, 9, tzinfo=UTC)),
)


async def night_team(store: MemoryStore) -> None:
    """A team with an override under way (1) and one that has ended (2) at the clock's now."""
    await store.create_schedule(NIGHTS)
    day = datetime(2025, 4, 28, tzinfo=UTC)
    await store.add_overrides(
        "night-team",
        [
            Override(member="Cy", start=day.replace(hour=14), end=day.replace(hour=16)),
            Override(member="Cy", start=day.replace(hour=10), end=day.replace(hour=11)),
        ],
    )


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    store = MemoryStore()
    asyncio.run(night_team(store))
    app = create_app(store=store, clock=lambda: datetime(2025, 4, 28, 14, 30, tzinfo=UTC))
    with TestClient(app) as test_client:
        yield test_client


def test_the_document_is_openapi_3_1(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def test_every_real_response_matches_the_document(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    seen: set[tuple[str, str, int, bool]] = set()
    for method, documented, path, arguments in EXCHANGES:
        response = client.request(method.upper(), path, **arguments)
        described = document["paths"][documented][method]["responses"]
        assert str(response.status_code) in described, (method, path, response.status_code)
        entry = described[str(response.status_code)]
        schema = entry.get("content", {}).get("application/json", {}).get("schema")
        if schema is not None:
            validator = Draft202012Validator({**schema, "components": document["components"]})
            validator.validate(response.json())
        for header in entry.get("headers", {}):
            assert header.lower() in response.headers
        # A dry run answers another shape than the PUT it previews.
        seen.add((method, documented, response.status_code, "dry_run" in path))
    assert {path for _, path, _, _ in seen} == set(document["paths"])
    assert len(seen) == len(EXCHANGES)  # each exchange shows a different response


def test_the_text_pattern_is_the_models_text_rule(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    team = document["components"]["schemas"]["ScheduleRequest"]["properties"]["team"]
    assert (team["minLength"], team["maxLength"]) == (1, MAX_TEXT)
    pattern = re.compile(team["pattern"])

    def accepted(text: str) -> bool:
        try:
            Schedule(**{**SCHEDULE, "team": text})
        except ValidationError:
            return False
        return True

    def cleaned(text: str) -> bool:
        try:
            clean_text(text, "team")
        except ValidationError:
            return False
        return True

    disagree = [
        hex(code)
        for code in range(sys.maxunicode + 1)
        if not 0xD800 <= code <= 0xDFFF  # lone surrogates: see oncall_server._patterns
        and bool(pattern.search(f"a{chr(code)}b")) != cleaned(f"a{chr(code)}b")
    ]
    assert disagree == []
    for text in [".", "..", " . ", "...", " ", "\u00a0", "a", " a ", "\u2003.\u2003", ".a"]:
        assert bool(pattern.search(text)) == accepted(text), repr(text)


SCHEDULE: dict[str, Any] = {
    "team": "t",
    "name": "n",
    "members": ["m"],
    "days": [Weekday.MONDAY],
    "start": time(9),
    "end": time(17),
}
