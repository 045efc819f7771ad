"""What a client can make the server hold: bounded, over HTTP and by configuration."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from oncall_server import ConfigError, create_app, load_config
from tests.seed import WEEKDAY_SHIFT

AT = "2025-04-28T14:30:00Z"


def test_unknown_teams_asked_over_http_stay_within_the_cache_bound(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(
        None, {"ONCALL_DATABASE__URL": database_url, "ONCALL_DATABASE__CACHE_MAX_ENTRIES": "5"}
    )
    with TestClient(create_app(config)) as client:
        client.post("/schedule", json=WEEKDAY_SHIFT)
        for number in range(40):
            response = client.get("/schedule", params={"team": f"stranger-{number}", "time": AT})
            assert (response.status_code, response.json()) == (
                404,
                {"error": "no oncall member found for the given time"},
            )
            assert client.app_state["store"].entries <= 5
        answer = client.get("/schedule", params={"team": "ops-team", "time": AT})
        assert answer.json()["oncall"] == "John"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "ONCALL_DATABASE__CACHE_MAX_ENTRIES",
            "0",
            "database.cache_max_entries: must be at least 1, got 0 "
            "(from ONCALL_DATABASE__CACHE_MAX_ENTRIES)",
        ),
        (
            "ONCALL_DATABASE__CACHE_MAX_BYTES",
            "-1",
            "database.cache_max_bytes: must be at least 1, got -1 "
            "(from ONCALL_DATABASE__CACHE_MAX_BYTES)",
        ),
        (
            "ONCALL_SERVER__BODY_TIMEOUT",
            "0",
            "server.body_timeout: must be a positive number of seconds, got 0.0 "
            "(from ONCALL_SERVER__BODY_TIMEOUT)",
        ),
        (
            "ONCALL_SERVER__MAX_CONNECTIONS",
            "0",
            "server.max_connections: must be at least 1, got 0 "
            "(from ONCALL_SERVER__MAX_CONNECTIONS)",
        ),
    ],
)
def test_limits_are_checked_in_the_configuration(
    variable: str, value: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as raised:
        load_config(None, {variable: value})
    assert str(raised.value) == message
