"""Pagination (``limit``, ``cursor``) of every list endpoint, and concurrent writes
guarded by ``If-Match``."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

import pytest
from starlette.testclient import TestClient

from oncall_core import MemoryStore, Store, TeamState
from oncall_pg import PostgresStore
from oncall_server import create_app
from tests.seed import WEEKDAY_SHIFT
from tests.server.conftest import NOW

TEAM = "/teams/ops-team/schedules"
SHIFT = f"{TEAM}/Weekday%20Shift"


def walk(
    client: TestClient,
    path: str,
    items: str,
    identity: Callable[[Any], Any],
    insert: Callable[[int], None],
) -> list[Any]:
    """Every item of a list, two a page, calling ``insert(page)`` between pages."""
    seen: list[Any] = []
    cursor = None
    for page in range(100):  # ends: each page moves the cursor on; 100 pages is a bug
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        response = client.get(path, params=params)
        assert response.status_code == 200, response.json()
        body = response.json()
        assert len(body[items]) <= 2
        seen.extend(identity(item) for item in body[items])
        cursor = body["next_cursor"]
        if cursor is None:
            return seen
        insert(page)
    raise AssertionError("the pages never ended")


def post(client: TestClient, team: str, name: str, **changes: Any) -> None:
    body = {**WEEKDAY_SHIFT, "team": team, "name": name, **changes}
    assert client.post(f"/teams/{team}/schedules", json=body).status_code == 201


def test_teams_page_while_others_are_created(client: TestClient) -> None:
    for letter in "bdfhjl":
        post(client, f"team-{letter}", "s")
    at_start = [t["team"] for t in client.get("/teams").json()["teams"]]

    def insert(page: int) -> None:
        for team in (f"team-a{page}", f"team-{'cegik'[page % 5]}{page}", f"team-z{page}"):
            post(client, team, "s")

    seen = walk(client, "/teams", "teams", lambda t: t["team"], insert)
    assert len(seen) == len(set(seen))
    assert set(at_start) <= set(seen)
    assert seen == sorted(seen)


def test_schedules_page_while_others_are_created(client: TestClient) -> None:
    for index in range(7):
        post(client, "ops-team", f"s{index}")
    at_start = [s["name"] for s in client.get(TEAM).json()["schedules"]]

    def insert(page: int) -> None:
        if page < 3:  # schedules come in creation order: new ones at the end
            post(client, "ops-team", f"new{page}")
            post(client, "ops-team", f"a-new{page}")  # first by name, not by creation

    seen = walk(client, TEAM, "schedules", lambda s: s["name"], insert)
    assert len(seen) == len(set(seen))
    assert seen[:7] == at_start


def test_versions_page_while_others_are_written(client: TestClient) -> None:
    post(client, "ops-team", "Weekday Shift")
    for day in range(1, 6):
        body = {**WEEKDAY_SHIFT, "members": [f"m{day}"], "effective": f"2025-05-0{day}T00:00:00Z"}
        assert client.put(SHIFT, json=body).status_code == 200
    at_start = [v.get("effective") for v in client.get(f"{SHIFT}/versions").json()["versions"]]

    def insert(page: int) -> None:
        body = {**WEEKDAY_SHIFT, "effective": f"2025-06-{page + 10}T00:00:00Z"}
        assert client.put(SHIFT, json=body).status_code == 200

    seen = walk(client, f"{SHIFT}/versions", "versions", lambda v: v.get("effective"), insert)
    assert len(seen) == len(set(seen))
    assert seen[: len(at_start)] == at_start


def test_rotation_history_pages_newest_first_while_changes_are_appended(
    client: TestClient,
) -> None:
    post(client, "ops-team", "Weekday Shift")
    for day in range(1, 8):
        at = f"2025-05-0{day}T00:00:00Z"
        assert client.post(f"{SHIFT}/rotate", json={"at": at}).status_code == 201
    at_start = [c["effective"] for c in client.get(f"{SHIFT}/history").json()["changes"]]

    def insert(page: int) -> None:
        # Newer than all: before the cursor, so not in this walk; and an older one
        # between: after it.
        for at in (f"2025-06-{page + 10}T00:00:00Z", f"2025-05-0{page + 1}T12:00:00Z"):
            assert client.post(f"{SHIFT}/rotate", json={"at": at}).status_code == 201

    seen = walk(client, f"{SHIFT}/history", "changes", lambda c: c["effective"], insert)
    assert len(seen) == len(set(seen))
    assert set(at_start) <= set(seen)
    assert seen == sorted(seen, reverse=True)


def _cursor(key: Any) -> str:
    return _raw_cursor(json.dumps(key))


def _raw_cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize("path", ["/teams", TEAM, f"{SHIFT}/versions", f"{SHIFT}/history"])
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "٣"}, "limit"),  # a digit, but not an ASCII one
        ({"cursor": "!!!"}, "cursor"),
        ({"cursor": "e30"}, "cursor"),  # {}: JSON, but no key of any list
        ({"cursor": _cursor([1, 2, 3])}, "cursor"),
        ({"cursor": _cursor(True)}, "cursor"),
        ({"cursor": "%FF"}, "cursor"),
        ({"cursor": _raw_cursor("[" * 5000 + "]" * 5000)}, "cursor"),
    ],
)
def test_a_bad_limit_or_cursor_is_400_naming_it(
    client: TestClient, path: str, params: dict[str, str], field: str
) -> None:
    post(client, "ops-team", "Weekday Shift")
    response = client.get(path, params=params)
    assert response.status_code == 400
    assert response.json()["error"].startswith(field)


def test_the_limit_is_the_page_size(client: TestClient) -> None:
    for index in range(60):
        post(client, f"team{index:02}", "s")
    assert len(client.get("/teams").json()["teams"]) == 50
    assert len(client.get("/teams", params={"limit": "500"}).json()["teams"]) == 60
    one = client.get("/teams", params={"limit": "1"}).json()
    assert [t["team"] for t in one["teams"]] == ["team00"]
    after = client.get("/teams", params={"limit": "1", "cursor": one["next_cursor"]}).json()
    assert [t["team"] for t in after["teams"]] == ["team01"]


# Concurrent writes: two requests in flight at once on one event loop, through the
# app's ASGI interface.  The store yields to the loop when it loads a team, so both
# requests read the same revision before either writes.


class YieldingStore(MemoryStore):
    """A memory store whose reads let other requests run in between."""

    async def load_team(self, team: str) -> TeamState | None:
        await asyncio.sleep(0.01)
        return await super().load_team(team)


async def _request(
    app: Any, state: dict[str, Any], method: str, path: str, headers: dict[str, str], body: Any
) -> tuple[int, dict[str, str]]:
    sent: list[dict[str, Any]] = []
    payload = json.dumps(body).encode()
    chunks = [{"type": "http.request", "body": payload, "more_body": False}]

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(0)
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    raw_path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(raw_path),
        "raw_path": raw_path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
        "state": dict(state),
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}


@pytest.fixture(params=["memory", "postgres"])
def racing_store(request: pytest.FixtureRequest) -> Callable[[], Awaitable[Store]]:
    """Opens the store two writes race on: a memory store whose reads yield, or
    PostgreSQL (whose calls yield by nature), in the test's own event loop."""
    if request.param == "memory":

        async def memory() -> Store:
            return YieldingStore()

        return memory
    url = request.getfixturevalue("database_url")

    async def postgres() -> Store:
        return await PostgresStore.open(url, min_size=2, max_size=4)

    return postgres


async def _race(
    opens: Callable[[], Awaitable[Store]], headers: dict[str, str]
) -> tuple[list[int], list[str], TeamState | None]:
    store = await opens()
    try:
        return await _race_on(store, headers)
    finally:
        await store.close()


async def _race_on(
    store: Store, headers: dict[str, str]
) -> tuple[list[int], list[str], TeamState | None]:
    app = create_app(store=store, clock=lambda: NOW)
    state = {"store": store, "clock": lambda: NOW}
    assert (await _request(app, state, "POST", TEAM, {}, WEEKDAY_SHIFT))[0] == 201
    # Two instants: a schedule changes at most once an instant.
    bodies = [
        {**WEEKDAY_SHIFT, "members": [member], "effective": effective}
        for member, effective in (("Ann", "2025-05-01T00:00:00Z"), ("Bob", "2025-05-02T00:00:00Z"))
    ]
    answers = await asyncio.gather(
        *(_request(app, state, "PUT", SHIFT, headers, body) for body in bodies)
    )
    return (
        sorted(status for status, _ in answers),
        sorted(h.get("etag", "") for _, h in answers),
        await store.load_team("ops-team"),
    )


def test_two_puts_racing_with_one_if_match_one_wins_and_one_gets_412(
    racing_store: Callable[[], Awaitable[Store]],
) -> None:
    statuses, _, state = asyncio.run(_race(racing_store, {"If-Match": '"1"'}))
    assert statuses == [200, 412]
    assert state is not None
    assert state.revision("Weekday Shift") == 2


def test_two_puts_racing_without_if_match_both_win_one_after_the_other(
    racing_store: Callable[[], Awaitable[Store]],
) -> None:
    statuses, tags, state = asyncio.run(_race(racing_store, {}))
    assert statuses == [200, 200]
    assert tags == ['"2"', '"3"']  # each ETag is that of the state its write made
    assert state is not None
    assert state.revision("Weekday Shift") == 3
