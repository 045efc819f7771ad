"""CORS over HTTP: preflights and answers for the configured origins only, off by default."""

from __future__ import annotations

from starlette.testclient import TestClient

from oncall_core import MemoryStore
from oncall_server import Config, ServerConfig, create_app

ALLOWED = "https://app.example.com"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "content-type",
}


def app_with(**server: object) -> TestClient:
    config = Config(server=ServerConfig(**server), use_database=False)  # type: ignore[arg-type]
    return TestClient(create_app(config, store=MemoryStore()))


def test_a_preflight_from_a_configured_origin_is_allowed() -> None:
    with app_with(cors_origins=f"{ALLOWED}, http://localhost:3000") as client:
        response = client.options("/schedule", headers={"Origin": ALLOWED, **PREFLIGHT})
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == ALLOWED
        assert "POST" in response.headers["access-control-allow-methods"]
        assert "content-type" in response.headers["access-control-allow-headers"].lower()
        # The answer itself may then be read by that page, with our headers.
        answer = client.get("/healthz", headers={"Origin": ALLOWED})
        assert answer.headers["access-control-allow-origin"] == ALLOWED
        assert "X-Request-ID" in answer.headers["access-control-expose-headers"]


def test_another_origin_is_refused() -> None:
    with app_with(cors_origins=ALLOWED) as client:
        other = {"Origin": "https://evil.example", **PREFLIGHT}
        response = client.options("/schedule", headers=other)
        assert response.status_code == 400
        assert "access-control-allow-origin" not in response.headers
        answer = client.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in answer.headers


def test_a_429_can_be_read_by_an_allowed_page() -> None:
    with app_with(cors_origins=ALLOWED, rate_limit=1.0, rate_limit_burst=1) as client:
        client.get("/healthz")
        refused = client.get("/healthz", headers={"Origin": ALLOWED})
        assert refused.status_code == 429
        assert refused.headers["access-control-allow-origin"] == ALLOWED
        assert "Retry-After" in refused.headers["access-control-expose-headers"]


def test_no_cors_by_default() -> None:
    with TestClient(create_app(store=MemoryStore())) as client:
        response = client.options("/schedule", headers={"Origin": ALLOWED, **PREFLIGHT})
        assert response.status_code == 405
        assert not any(name.startswith("access-control-") for name in response.headers)
        answer = client.get("/healthz", headers={"Origin": ALLOWED})
        assert not any(name.startswith("access-control-") for name in answer.headers)
