"""GET /metrics over HTTP, read back with prometheus_client's own parser."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from oncall_core import MemoryStore, StorageUnavailable, TeamState
from oncall_server import ApiKeyConfig, Config, ServerConfig, create_app, load_config
from tests.seed import WEEKDAY_SHIFT

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
AT = "2025-04-28T14:30:00Z"  # inside the seed's shift


def scrape(client: TestClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_requests_are_counted_by_route_template_and_status(client: TestClient) -> None:
    assert client.post("/schedule", json=WEEKDAY_SHIFT).status_code == 201
    before = scrape(client)
    for _ in range(5):
        assert client.get("/schedule", params={"team": "ops-team", "time": AT}).status_code == 200
    for team in ("ops-team", "team-a", "team-b"):
        client.get(f"/teams/{team}/schedules")
    assert client.get("/no/such/route").status_code == 404
    assert client.delete("/schedule").status_code == 405
    after = scrape(client)

    def added(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    route = {"method": "GET", "route": "/schedule"}
    assert added("oncall_http_requests_total", **route, status="200") == 5
    assert added("oncall_http_request_duration_seconds_count", **route) == 5
    assert added("oncall_http_request_duration_seconds_bucket", **route, le="+Inf") == 5
    templated = {"method": "GET", "route": "/teams/{team}/schedules"}
    assert added("oncall_http_request_duration_seconds_count", **templated) == 3
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert added("oncall_http_requests_total", **unmatched) == 1
    # A wrong method is its route's: the path matched.
    wrong = {"method": "DELETE", "route": "/schedule", "status": "405"}
    assert added("oncall_http_requests_total", **wrong) == 1
    # No team name, nor the unknown path, became a label value.
    labels = {value for _, pairs in after for _, value in pairs}
    assert not labels & {"ops-team", "team-a", "team-b", "/no/such/route"}
    # The scrape before this one was counted too.
    assert value(after, "oncall_http_requests_total", method="GET", route="/metrics", status="200")


def test_store_calls_and_their_errors_are_counted() -> None:
    class Failing(MemoryStore):
        async def load_team(self, team: str) -> TeamState | None:
            raise StorageUnavailable("down")

    with TestClient(create_app(store=Failing())) as client:
        for _ in range(3):
            assert client.get("/schedule", params={"team": "t", "time": AT}).status_code == 503
        samples = scrape(client)
    load = {"operation": "load_team"}
    assert value(samples, "oncall_store_call_duration_seconds_count", **load) == 3
    failed = {**load, "error": "StorageUnavailable"}
    assert value(samples, "oncall_store_errors_total", **failed) == 3
    assert value(samples, "oncall_http_requests_total", method="GET", route="/schedule",
                 status="503") == 3  # fmt: skip


def test_the_memory_store_counts_its_calls_but_its_team_reads_and_the_teams() -> None:
    with TestClient(create_app(Config(use_database=False))) as client:
        client.post("/schedule", json=WEEKDAY_SHIFT)
        for _ in range(4):
            client.get("/schedule", params={"team": "ops-team", "time": AT})
        client.get("/oncall")
        samples = scrape(client)
    assert value(samples, "oncall_store_call_duration_seconds_count",
                 operation="create_schedule") == 1  # fmt: skip
    # Its reads of teams are dict lookups, as a cache's hits: not timed.
    operations = {value for _, labels in samples for name, value in labels if name == "operation"}
    assert "create_schedule" in operations
    assert not operations & {"load_team", "load_teams"}
    assert value(samples, "oncall_teams") == 1
    assert value(samples, "oncall_schedules") == 1
    # No cache, no pool, no embedded PostgreSQL: nothing said about them.
    names = {name for name, _ in samples}
    assert not any(name.startswith(("oncall_cache", "oncall_db_pool", "oncall_embedded")) for
                   name in names)  # fmt: skip


@pytest.fixture
def postgres_client(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    monkeypatch.chdir(tmp_path)  # no stray config.yaml
    config = load_config(None, {"ONCALL_DATABASE__URL": database_url})
    with TestClient(create_app(config)) as client:
        yield client


def test_postgresql_reports_its_pool_cache_and_store_calls(postgres_client: TestClient) -> None:
    client = postgres_client
    client.post("/schedule", json=WEEKDAY_SHIFT)
    # Within the cache's half second: the first is a miss, the others hits.
    for _ in range(3):
        client.get("/schedule", params={"team": "ops-team", "time": AT})
    samples = scrape(client)
    hits, misses = (
        value(samples, "oncall_cache_hits_total"),
        value(samples, "oncall_cache_misses_total"),
    )
    assert hits + misses == 3 and misses >= 1 and hits >= 1
    # Only the misses reached the store.
    assert value(samples, "oncall_store_call_duration_seconds_count", operation="load_team") == (
        misses
    )
    assert value(samples, "oncall_cache_entries") == 1
    assert value(samples, "oncall_db_pool_max_connections") == 10
    in_use = value(samples, "oncall_db_pool_connections", state="in_use")
    idle = value(samples, "oncall_db_pool_connections", state="idle")
    assert in_use >= 0 and idle >= 1
    assert (value(samples, "oncall_teams"), value(samples, "oncall_schedules")) == (1, 1)
    # An external database: no embedded PostgreSQL to report on.
    assert ("oncall_embedded_postgres_up", ()) not in samples


def test_every_request_and_store_call_is_counted_past_the_batch(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The hot paths' observations are counted in batches (oncall_server._metrics.PENDING,
    # 256), and at each scrape: more than two batches and some.
    monkeypatch.chdir(tmp_path)  # no stray config.yaml
    config = load_config(
        None, {"ONCALL_DATABASE__URL": database_url, "ONCALL_DATABASE__CACHE_TTL": "0"}
    )
    lookups = 2 * 256 + 7
    with TestClient(create_app(config)) as client:
        client.post("/schedule", json=WEEKDAY_SHIFT)
        before = scrape(client)
        for _ in range(lookups):
            answer = client.get("/schedule", params={"team": "ops-team", "time": AT})
            assert answer.status_code == 200
        after = scrape(client)

    def added(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    route = {"method": "GET", "route": "/schedule"}
    assert added("oncall_http_requests_total", **route, status="200") == lookups
    assert added("oncall_http_request_duration_seconds_bucket", **route, le="+Inf") == lookups
    assert added("oncall_http_request_duration_seconds_sum", **route) > 0
    load = {"operation": "load_team"}  # no cache: every lookup reached PostgreSQL
    assert added("oncall_store_call_duration_seconds_count", **load) == lookups
    assert added("oncall_store_call_duration_seconds_bucket", **load, le="+Inf") == lookups
    # The scrape in between was counted too, once.
    metrics = {"method": "GET", "route": "/metrics", "status": "200"}
    assert added("oncall_http_requests_total", **metrics) == 1


def test_each_app_has_its_own_registry() -> None:
    with (
        TestClient(create_app(store=MemoryStore())) as first,
        TestClient(create_app(store=MemoryStore())) as second,
    ):
        for _ in range(3):
            first.get("/healthz")
        ours = {"method": "GET", "route": "/healthz", "status": "200"}
        assert value(scrape(first), "oncall_http_requests_total", **ours) == 3
        assert value(scrape(second), "oncall_http_requests_total", **ours) == 0


def test_metrics_can_be_turned_off() -> None:
    config = Config(server=ServerConfig(metrics=False), use_database=False)
    with TestClient(create_app(config)) as client:
        response = client.get("/metrics")
    assert response.status_code == 404
    assert response.json() == {"error": "Not Found"}


def test_a_required_key_is_any_valid_api_key() -> None:
    secret = "oncall_metrics-reader-0123456789abcdef0123456789"
    key = ApiKeyConfig(
        name="scraper", hash=hashlib.sha256(secret.encode()).hexdigest(), scope="read"
    )
    config = Config(
        server=ServerConfig(metrics_requires_key=True, api_keys=(key,)), use_database=False
    )
    with TestClient(create_app(config)) as client:
        for headers in ({}, {"Authorization": "Bearer anything"}):
            response = client.get("/metrics", headers=headers)
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == "Bearer"
        allowed = client.get("/metrics", headers={"Authorization": f"Bearer {secret}"})
    assert allowed.status_code == 200
    assert secret not in allowed.text


def test_a_required_key_fails_closed_when_no_key_exists() -> None:
    config = Config(server=ServerConfig(metrics_requires_key=True), use_database=False)
    with TestClient(create_app(config)) as client:
        response = client.get("/metrics", headers={"Authorization": "Bearer anything"})
    assert response.status_code == 401
    assert response.json() == {"error": "an API key with the metrics scope is required"}
    assert response.headers["www-authenticate"] == "Bearer"


def test_answers_reused_and_computed_are_counted() -> None:
    with TestClient(create_app(Config(use_database=False))) as client:
        client.post("/schedule", json=WEEKDAY_SHIFT)
        for _ in range(3):  # the same instant: computed once, then reused
            assert (
                client.get("/schedule", params={"team": "ops-team", "time": AT}).status_code == 200
            )
        samples = scrape(client)
    assert value(samples, "oncall_answers_computed_total") == 1
    assert value(samples, "oncall_answers_reused_total") == 2
