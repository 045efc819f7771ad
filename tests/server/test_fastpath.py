"""The fast path of GET /schedule (oncall_server._fastpath) answers exactly what the
router's handler and route guard answer: on drawn requests (teams and instants
written every way a client writes them, repeated and invalid parameters, every kind
of Authorization header), with no key, with keys, and with keys required on reads,
two apps on one store, one with the fast path and one without, give the same status,
headers and body, and count the same requests in their metrics.

White-box on purpose: ``first_values`` is compared with Starlette's own reading of
a query string, and a test counts what ``FastSchedule`` answers itself."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from unittest import mock
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from oncall_core import (
    MemoryStore,
    Override,
    Rotation,
    RotationKind,
    Schedule,
    StorageUnavailable,
    TeamState,
    Weekday,
)
from oncall_server import ApiKeyConfig, Config, ServerConfig, create_app
from oncall_server._fastpath import FastSchedule, first_values

NOW = datetime(2025, 4, 28, 14, 30, tzinfo=UTC)
SECRETS = {
    "reader": "oncall_reader-0123456789abcdef0123456789abcdef",
    "ops": "oncall_ops-0123456789abcdef0123456789abcdef01",
}
KEYS = (
    ApiKeyConfig(name="reader", hash=hashlib.sha256(SECRETS["reader"].encode()).hexdigest()),
    ApiKeyConfig(
        name="ops", hash=hashlib.sha256(SECRETS["ops"].encode()).hexdigest(), teams=("ops",)
    ),
)
CONFIGS = {
    "open": ServerConfig(),
    "keys": ServerConfig(api_keys=KEYS),
    "read requires a key": ServerConfig(api_keys=KEYS, read_requires_key=True),
}

TEAMS = [
    "ops",
    "dev",
    "Ops",
    " ops",
    "ops\x00",
    "nobody",
    "ünïcode team",
    "night/shift",
    "",
    "a" * 300,
]
TIMES = [
    "now",
    "2025-04-28T10:00:00Z",
    "2025-04-28T10:00:00+05:30",
    "2025-04-28T22:00:00-05:00",
    "2025-04-29T03:00:00.123456Z",
    "2025-04-28t10:00:00z",
    "2025-04-28 10:00:00Z",
    "2025-13-01T00:00:00Z",
    "1800-01-01T00:00:00Z",
    "yesterday",
    "",
]
AUTHORIZATIONS = [
    None,
    f"Bearer {SECRETS['reader']}",
    f"Bearer {SECRETS['ops']}",
    f"bearer   {SECRETS['reader']}  ",
    "Bearer oncall_not-a-key-0123456789abcdef0123456789abc",
    "Basic dXNlcjpwYXNz",
    "Bearer",
    "Bearer caf\xe9".encode("latin-1"),  # not ASCII
]


def schedule(team: str, members: list[str], kind: RotationKind) -> Schedule:
    return Schedule(
        team=team,
        name="primary",
        members=members,
        days=list(Weekday),
        start=datetime(2025, 1, 1, 9).time(),
        end=datetime(2025, 1, 1, 17).time(),
        rotation=Rotation(kind=kind, start=datetime(2025, 4, 1, 9, tzinfo=UTC)),
    )


async def fill(store: MemoryStore) -> None:
    for team in ("ops", "dev", "ünïcode team", "night/shift"):
        await store.create_schedule(schedule(team, ["Ann", "Bob", "Cid"], RotationKind.DAILY))
    cover = Override(member="Dee", start=NOW, end=datetime(2025, 4, 28, 16, tzinfo=UTC))
    await store.add_override("ops", cover)


@contextmanager
def two_apps(config: ServerConfig) -> Iterator[tuple[TestClient, TestClient]]:
    import asyncio

    store = MemoryStore()
    asyncio.run(fill(store))
    built = [
        create_app(
            Config(server=config, use_database=False),
            store=store,
            clock=lambda: NOW,
            fast_path=fast,
        )
        for fast in (True, False)
    ]
    with TestClient(built[0]) as fast, TestClient(built[1]) as routed:
        yield fast, routed


def encoded(value: str, how: str) -> str:
    if how == "plain":  # as typed: a "+" stays a "+" (which the server reads as a space)
        return quote(value, safe=":+/;,@!$'()*")
    if how == "quote":
        return quote(value, safe="")
    return quote_plus(value)


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, dict[str, str | bytes]]:
    """A query string for /schedule and the request's headers."""
    pairs = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["team", "time", "team", "time", "other", "Team"]),
                st.sampled_from(TEAMS + TIMES),
                st.sampled_from(["plain", "quote", "plus"]),
            ),
            max_size=5,
        )
    )
    # Usually a team and a time, first: the case the fast path is for.
    if draw(st.booleans()):
        pairs = [
            (
                "team",
                draw(st.sampled_from(TEAMS[:3])),
                draw(st.sampled_from(["plain", "quote", "plus"])),
            ),
            (
                "time",
                draw(st.sampled_from(TIMES[:5])),
                draw(st.sampled_from(["plain", "quote", "plus"])),
            ),
            *pairs,
        ]
    query = "&".join(f"{name}={encoded(value, how)}" for name, value, how in pairs)
    headers: dict[str, str | bytes] = {"X-Request-Id": "same-for-both"}
    authorization = draw(st.sampled_from(AUTHORIZATIONS))
    if authorization is not None:
        headers["Authorization"] = authorization
    return query, headers


def requests_counted(client: TestClient) -> dict[tuple[str, ...], float]:
    counted = {}
    for family in text_string_to_metric_families(client.get("/metrics").text):
        if family.name == "oncall_http_requests":
            for sample in family.samples:
                labels = sample.labels
                if labels["route"] != "/metrics":
                    counted[labels["method"], labels["route"], labels["status"]] = sample.value
    return counted


@pytest.mark.parametrize("name", CONFIGS)
def test_the_fast_path_answers_what_the_router_answers(name: str) -> None:
    with two_apps(CONFIGS[name]) as (fast, routed):
        statuses: set[int] = set()

        def check(query: str, headers: dict[str, str | bytes]) -> None:
            one = fast.get(f"/schedule?{query}", headers=headers)
            other = routed.get(f"/schedule?{query}", headers=headers)
            assert (one.status_code, one.content) == (other.status_code, other.content)
            assert one.headers.multi_items() == other.headers.multi_items()
            statuses.add(one.status_code)

        @given(requests())
        def same(request: tuple[str, dict[str, str | bytes]]) -> None:
            check(*request)

        same()
        # And every team, instant and Authorization header of the pools, exhaustively.
        for team, time, authorization in itertools.product(TEAMS, TIMES, AUTHORIZATIONS):
            headers: dict[str, str | bytes] = {"X-Request-Id": "same-for-both"}
            if authorization is not None:
                headers["Authorization"] = authorization
            check(f"team={encoded(team, 'quote')}&time={encoded(time, 'quote')}", headers)
        assert 200 in statuses and 400 in statuses  # both kinds were drawn
        assert requests_counted(fast) == requests_counted(routed)


@given(st.text(alphabet=st.sampled_from("ab=&+%2C3 é\x00;"), max_size=20))
def test_query_values_are_read_as_starlette_reads_them(text: str) -> None:
    from starlette.datastructures import QueryParams

    raw = text.encode("utf-8")
    params = QueryParams(raw)
    assert first_values(raw) == {name: params.getlist(name)[0] for name in params}


def test_a_failing_store_is_answered_alike_and_asked_once() -> None:
    class Failing(MemoryStore):
        async def load_team(self, team: str) -> TeamState | None:
            raise StorageUnavailable("down: postgresql://secret@db")

    answers = []
    for fast_path in (True, False):
        app = create_app(store=Failing(), clock=lambda: NOW, fast_path=fast_path)
        with TestClient(app) as client:
            answer = client.get("/schedule?team=ops&time=now", headers={"X-Request-Id": "r"})
            counted = {
                (sample.name, tuple(sorted(sample.labels.items()))): sample.value
                for family in text_string_to_metric_families(client.get("/metrics").text)
                for sample in family.samples
                if family.name in ("oncall_store_errors", "oncall_http_requests")
                and sample.labels.get("route") != "/metrics"
            }
            answers.append(
                (answer.status_code, answer.content, answer.headers.multi_items(), counted)
            )
    assert answers[0] == answers[1]
    status, content, _, counted = answers[0]
    assert status == 503 and b"secret" not in content
    assert (
        counted[
            (
                "oncall_store_errors_total",
                (("error", "StorageUnavailable"), ("operation", "load_team")),
            )
        ]
        == 1
    )


def test_the_plain_case_is_answered_by_the_fast_path_and_the_rest_by_the_router() -> None:
    """Without this, the comparison above would pass with the fast path answering
    nothing at all."""
    answered: list[int] = []
    original = FastSchedule._answer

    async def counted(self: FastSchedule, *arguments: Any) -> None:
        answered.append(1)
        await original(self, *arguments)

    with (
        mock.patch.object(FastSchedule, "_answer", counted),
        two_apps(CONFIGS["keys"]) as (fast, _),
    ):
        reader = {"Authorization": f"Bearer {SECRETS['reader']}"}
        assert fast.get("/schedule?team=ops&time=now", headers=reader).status_code == 200
        assert fast.get("/schedule?team=nobody&time=now").status_code == 404
        assert len(answered) == 2  # both asked the store through the fast path
        for refused in ("/schedule?team=ops&time=x", "/schedule?team=ops"):
            assert fast.get(refused).status_code == 400
        ops_only = {"Authorization": f"Bearer {SECRETS['ops']}"}
        assert fast.get("/schedule?team=dev&time=now", headers=ops_only).status_code == 403
        assert len(answered) == 2  # the router answered those
