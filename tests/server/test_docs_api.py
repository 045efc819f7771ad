"""Every curl example of docs/api.md runs, in order, against the app on a memory store
with the clock of the examples, and answers the status (and the body, where the page
shows one) that the page says."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from oncall_core import MemoryStore
from oncall_server import create_app
from tests.server.conftest import NOW

PAGE = Path(__file__).parents[2] / "docs" / "api.md"
HOST = "localhost:1373"


def examples(text: str) -> list[tuple[list[str], int, Any]]:
    """(curl arguments, status, body or None) for each curl command of the page."""
    found: list[tuple[list[str], int, Any]] = []
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if not line.startswith("curl "):
            continue
        status_line = lines[index + 1]
        assert status_line.startswith("# HTTP "), f"no status after: {line}"
        body_line = lines[index + 2] if index + 2 < len(lines) else ""
        body = json.loads(body_line[2:]) if body_line.startswith("# {") else None
        found.append((shlex.split(line)[1:], int(status_line.split()[2]), body))
    return found


def request(client: TestClient, arguments: list[str]) -> Any:
    """Send what curl would, for the options the page uses (-s, -i, -X, -H, -d)."""
    method, headers, data, url = "GET", {}, None, None
    words = iter(arguments)
    for word in words:
        if word in ("-s", "-i"):
            continue
        if word == "-X":
            method = next(words)
        elif word == "-H":
            key, _, value = next(words).partition(":")
            headers[key.strip()] = value.strip()
        elif word == "-d":
            data = next(words)
            method = "POST" if method == "GET" else method
        else:
            assert url is None, f"unexpected argument {word!r}"
            url = word
    assert url is not None and url.startswith(HOST)
    return client.request(
        method, url[len(HOST) :], headers=headers, content=None if data is None else data.encode()
    )


EXAMPLES = examples(PAGE.read_text())


def _shape(path: str, patterns: set[str]) -> str | None:
    """The route pattern (``/teams/{team}/overrides/{id}``) that a path matches."""
    parts = path.split("/")
    for pattern in patterns:
        pieces = pattern.split("/")
        if len(pieces) == len(parts) and all(
            piece.startswith("{") or piece == part
            for piece, part in zip(pieces, parts, strict=True)
        ):
            return pattern
    return None


def test_the_page_has_an_example_of_every_endpoint() -> None:
    served = {
        (method, route.path)
        # The endpoints this page is about: those of teams, members, /oncall and /audit.
        for route in create_app(store=MemoryStore()).routes
        if getattr(route, "path", "").startswith(("/teams", "/members", "/oncall", "/audit"))
        for method in getattr(route, "methods", set()) - {"HEAD"}
    }
    patterns = {path for _, path in served}
    used = set()
    for arguments, _, _ in EXAMPLES:
        method = arguments[arguments.index("-X") + 1] if "-X" in arguments else "GET"
        url = next(a for a in arguments if a.startswith(HOST)).split("?")[0]
        used.add((method, _shape(url[len(HOST) :], patterns)))
    assert len(served) == 24
    assert served <= used


@pytest.fixture(scope="module")
def client() -> Any:
    with TestClient(create_app(store=MemoryStore(), clock=lambda: NOW)) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("arguments", "status", "body"), EXAMPLES, ids=[f"example-{i}" for i in range(len(EXAMPLES))]
)
def test_each_example_answers_what_the_page_says(
    client: TestClient, arguments: list[str], status: int, body: Any
) -> None:
    response = request(client, arguments)
    assert response.status_code == status, response.text
    if body is not None:
        assert response.json() == body
