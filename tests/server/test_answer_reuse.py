"""GET /schedule reuses an answer while it holds (oncall_server._answers), and never
serves one that no longer does: across a write through the API, at an override's
end and at a rotation's handoff, with ``time=now`` as the clock moves, on both
stores."""

from __future__ import annotations

from datetime import timedelta

from starlette.testclient import TestClient

from tests.server.conftest import NOW, Clock

DAILY = {
    "team": "ops",
    "name": "daily",
    "members": ["Ann", "Bob"],
    "days": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    "start": "00:00",
    "end": "00:00",
    "overnight": True,  # 24-hour shifts, midnight to midnight
    "rotation": {"kind": "daily", "start": "2025-04-28T00:00:00Z"},
}


def now_on_call(client: TestClient) -> dict[str, str]:
    answer = client.get("/schedule?team=ops&time=now")
    assert answer.status_code == 200, answer.text
    body: dict[str, str] = answer.json()
    return body


def test_time_now_follows_writes_override_ends_and_handoffs(
    client: TestClient, clock: Clock
) -> None:
    assert client.post("/teams/ops/schedules", json=DAILY).status_code == 201
    first = now_on_call(client)
    assert first["oncall"] == "Ann" and first["until"] == "2025-04-29T00:00:00Z"
    clock.now = NOW + timedelta(hours=2)
    assert now_on_call(client) == first  # reused: the answer holds until midnight
    # A write through the API: an override from now on, for an hour.
    cover = {"member": "Cid", "start": "now", "end": "2025-04-28T17:30:00Z"}
    assert client.post("/teams/ops/overrides", json=cover).status_code == 201
    covered = now_on_call(client)
    assert (covered["oncall"], covered["source"], covered["until"]) == (
        "Cid",
        "override",
        "2025-04-28T17:30:00Z",
    )
    # The override's end: back to the rotation.
    clock.now = NOW.replace(hour=17, minute=30)
    assert now_on_call(client) == {**first, "until": "2025-04-29T00:00:00Z"}
    clock.now = NOW.replace(hour=23, minute=59, second=59, microsecond=999999)
    assert now_on_call(client)["oncall"] == "Ann"
    # The handoff at midnight: Bob.
    clock.now = NOW.replace(hour=0) + timedelta(days=1)
    handed = now_on_call(client)
    assert (handed["oncall"], handed["until"]) == ("Bob", "2025-04-30T00:00:00Z")
    # A rotation change by hand, in the middle of Bob's day: Ann again, at once.
    clock.now += timedelta(hours=5)
    rotated = client.post("/teams/ops/schedules/daily/rotate", json={"to": "Ann"})
    assert rotated.status_code == 201, rotated.text
    assert now_on_call(client)["oncall"] == "Ann"
    # An instant asked before, after all this: the answer of the state as it is now.
    earlier = client.get("/schedule?team=ops&time=2025-04-28T17:00:00Z").json()
    assert (earlier["oncall"], earlier["source"]) == ("Cid", "override")
