"""The calendar feeds (RFC 5545) over HTTP (issue 11), on each store.

Each feed is read back as a calendar client would: parsed with ``icalendar``,
expanded with ``recurring_ical_events``, and compared event by event with the
JSON views (``/shifts``).  One test fetches a feed from a real server process
and checks it against the rules Google Calendar and Outlook enforce.
"""

from __future__ import annotations

import http.client
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import recurring_ical_events
from icalendar import Calendar
from starlette.testclient import TestClient

from tests.server.conftest import NOW, Clock
from tests.server.test_process import Server
from tests.server.test_views import BACKUP, DAY

REASON = "Ann's dentist, then the school run; Bob covers (über-long reason, folded) " * 3
WEEK = "from=2025-04-29T00:00:00Z&to=2025-05-06T00:00:00Z"


@pytest.fixture
def ops(client: TestClient) -> TestClient:
    """Team ops: Day over Backup, and an override with a long reason on Wednesday."""
    for schedule in (DAY, BACKUP):
        assert client.post("/teams/ops/schedules", json=schedule).status_code == 201
    override = {
        "member": "Dee",
        "start": "2025-04-30T10:00:00Z",
        "end": "2025-04-30T12:00:00Z",
        "reason": REASON,
    }
    assert client.post("/teams/ops/overrides", json=override).status_code == 201
    return client


def feed(client: TestClient, path: str) -> Calendar:
    response = client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    return Calendar.from_ical(response.content)


def events(calendar: Calendar) -> list[Any]:
    return list(calendar.walk("VEVENT"))


def shifts(client: TestClient, path: str) -> list[dict[str, Any]]:
    response = client.get(path)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["shifts"]
    return found


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def as_shift(event: Any) -> tuple[datetime, datetime, str]:
    return event.decoded("dtstart"), event.decoded("dtend"), str(event["summary"])


# 1. One event per shift, as /shifts has them: the instants, member, team, schedule, source.
def test_the_team_feed_has_one_event_per_shift(ops: TestClient) -> None:
    calendar = feed(ops, f"/teams/ops/calendar.ics?{WEEK}")
    expected = shifts(ops, f"/teams/ops/shifts?{WEEK}")
    found = events(calendar)
    assert len(found) == len(expected) > 10
    for event, shift in zip(found, expected, strict=True):
        start, end = event.decoded("dtstart"), event.decoded("dtend")
        assert (start, end) == (instant(shift["start"]), instant(shift["end"]))
        assert start.utcoffset() == timedelta(0) and event["dtstart"].to_ical().endswith(b"Z")
        summary = str(event["summary"])
        assert summary.startswith(f"{shift['member']} on call: ops / {shift['schedule']}")
        assert summary.endswith(" (override)") == (shift["source"] == "override")
        assert [str(c) for c in event["categories"].cats] == ["on-call", shift["source"]]
        assert str(event["uid"]).endswith("@oncall-schedule")
        assert event.decoded("dtstamp") == NOW
    assert len({str(e["uid"]) for e in found}) == len(found)
    override = next(e for e in found if "(override)" in str(e["summary"]))
    assert str(override["summary"]) == "Dee on call: ops / Day (override)"
    assert f"Override: {REASON.strip()}" in str(override["description"])


# 2. A calendar client reads the same instants as covered.
def test_a_calendar_client_reads_the_instants_covered(ops: TestClient) -> None:
    calendar = feed(ops, f"/teams/ops/calendar.ics?{WEEK}")
    start, end = instant("2025-04-29T00:00:00Z"), instant("2025-05-06T00:00:00Z")
    read = sorted(
        (e.decoded("dtstart"), e.decoded("dtend"))
        for e in recurring_ical_events.of(calendar).between(start, end)
    )
    expected = [
        (instant(s["start"]), instant(s["end"])) for s in shifts(ops, f"/teams/ops/shifts?{WEEK}")
    ]
    assert read == expected


# 3. The feed's calendar properties: its name, refresh hints, PRODID, VERSION, CALSCALE,
# and by default the shifts from 7 days ago to 90 days ahead.
def test_the_feed_names_itself_and_asks_to_be_polled_hourly(ops: TestClient) -> None:
    response = ops.get("/teams/ops/calendar.ics")
    text = response.text
    for line in [
        "VERSION:2.0",
        "PRODID:-//oncall-schedule//oncall-schedule 0.1.0//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:On call: ops",
        "REFRESH-INTERVAL;VALUE=DURATION:PT1H",
        "X-PUBLISHED-TTL:PT1H",
    ]:
        assert f"\r\n{line}\r\n" in text
    found = events(Calendar.from_ical(response.content))
    starts = [e.decoded("dtstart") for e in found]
    assert min(starts) >= NOW - timedelta(days=7, hours=6)  # 04-21 08:00, Backup's first
    assert max(starts) < NOW + timedelta(days=90)
    # From 04-21 14:30 to 07-27 14:30: Backup, Day, Backup on 96 whole days, two of
    # them on each part day (a shift the window cuts is whole), and Dee's override
    # splits Ann's Wednesday in three.
    assert len(found) == 96 * 3 + 2 * 2 + 2


# 4. A UID stays the same while the shift does, even when the window cuts it, and
# changes when the shift does.
def test_uids_follow_the_shifts(ops: TestClient, clock: Clock) -> None:
    before = {as_shift(e): str(e["uid"]) for e in events(feed(ops, "/teams/ops/calendar.ics"))}
    clock.now = NOW + timedelta(days=1, hours=2)  # the window slides
    after = {as_shift(e): str(e["uid"]) for e in events(feed(ops, "/teams/ops/calendar.ics"))}
    common = set(before) & set(after)
    assert len(common) > 250
    assert all(before[key] == after[key] for key in common)
    cut = events(
        feed(ops, "/teams/ops/calendar.ics?from=2025-04-29T12:00:00Z&to=2025-04-29T13:00:00Z")
    )
    assert [as_shift(e) for e in cut] == [
        (instant("2025-04-29T09:00:00Z"), instant("2025-04-29T17:00:00Z"), "Ann on call: ops / Day")
    ]
    assert str(cut[0]["uid"]) == after[as_shift(cut[0])]
    # Bob takes over Ann's Thursday afternoon: her Thursday shift is another one now.
    thursday = {"member": "Bob", "start": "2025-05-01T15:00:00Z", "end": "2025-05-01T17:00:00Z"}
    assert ops.post("/teams/ops/overrides", json=thursday).status_code == 201
    changed = {as_shift(e): str(e["uid"]) for e in events(feed(ops, "/teams/ops/calendar.ics"))}
    ann = (
        instant("2025-05-01T09:00:00Z"),
        instant("2025-05-01T17:00:00Z"),
        "Ann on call: ops / Day",
    )
    assert ann in after and ann not in changed
    assert set(changed.values()) - set(after.values()) == {
        changed[key]
        for key in changed
        if key[0].date().isoformat() == "2025-05-01" and "ops / Day" in key[2]
    }


# 5. One member's feed: their shifts in every team, as /members/{member}/shifts has them.
def test_the_member_feed_matches_their_shifts(ops: TestClient) -> None:
    other = {**BACKUP, "name": "Evenings", "start": "6:00PM", "end": "11:00PM"}
    assert ops.post("/teams/support/schedules", json=other).status_code == 201
    calendar = feed(ops, f"/members/Cy/calendar.ics?{WEEK}")
    assert calendar["x-wr-calname"] == "On call: Cy"
    expected = shifts(ops, f"/members/Cy/shifts?{WEEK}")
    assert {t["team"] for t in expected} == {"ops", "support"}
    assert [as_shift(e) for e in events(calendar)] == [
        (instant(s["start"]), instant(s["end"]), f"Cy on call: {s['team']} / {s['schedule']}")
        for s in expected
    ]
    assert events(feed(ops, "/members/Nobody/calendar.ics")) == []


@pytest.mark.parametrize(
    ("path", "status", "field"),
    [
        ("/teams/ops/calendar.ics?from=x", 400, "from"),
        ("/teams/ops/calendar.ics?from=2025-01-01T00:00:00Z&to=2026-06-01T00:00:00Z", 400, "to"),
        ("/members/Cy/calendar.ics?to=2025-01-01", 400, "to"),
        ("/members/%00/calendar.ics", 400, "member"),
        ("/teams/nobody/calendar.ics", 404, "nobody"),
    ],
)
def test_a_bad_feed_request_names_the_field(
    ops: TestClient, path: str, status: int, field: str
) -> None:
    response = ops.get(path)
    assert response.status_code == status
    assert field in response.json()["error"]


# 6. Served over real HTTP, a feed keeps the rules Google Calendar and Outlook enforce:
# CRLF line endings, lines folded at 75 octets, the required properties, its media type.
def test_a_served_feed_keeps_the_rules_calendar_clients_enforce(tmp_path: Path) -> None:
    server = Server({"ONCALL_USE_DATABASE": "false"}, tmp_path)
    try:
        server.wait_ready()
        team = "Équipe d'astreinte de nuit, région Île-de-France"  # long, and not ASCII
        path = "/teams/" + quote(team, safe="")
        status, _ = server.request("POST", f"{path}/schedules", {**DAY, "name": "Jour"})
        assert status == 201
        start = (datetime.now(UTC) + timedelta(days=2)).replace(hour=10, minute=0, second=0)
        override = {
            "member": "Dee",
            "start": start.isoformat(),
            "end": (start + timedelta(hours=2)).isoformat(),
            "reason": REASON,
        }
        assert server.request("POST", f"{path}/overrides", override)[0] == 201
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        try:
            connection.request(
                "GET", f"{path.replace('É', '%C3%89').replace('Î', '%C3%8E')}/calendar.ics"
            )
            response = connection.getresponse()
            body = response.read()
            assert response.status == 200, body
            assert response.getheader("Content-Type") == "text/calendar; charset=utf-8"
        finally:
            connection.close()
    finally:
        server.stop()
    assert body.endswith(b"\r\n") and b"\n" not in body.replace(b"\r\n", b"")
    lines = body.split(b"\r\n")[:-1]
    assert all(len(line) <= 75 for line in lines), max(lines, key=len)
    assert any(line.startswith(b" ") for line in lines)  # some were folded
    unfolded = re.sub(rb"\r\n[ \t]", b"", body).decode("utf-8")  # folds split no character
    for required in ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:", "END:VCALENDAR"]:
        assert f"\r\n{required}" in f"\r\n{unfolded}"
    blocks = unfolded.split("BEGIN:VEVENT\r\n")[1:]
    assert len(blocks) > 90
    for block in blocks:
        for name in ["UID:", "DTSTAMP:", "DTSTART:", "DTEND:", "SUMMARY:"]:
            assert sum(line.startswith(name) for line in block.split("\r\n")) == 1, name
    assert "X-WR-CALNAME:On call: Équipe d'astreinte de nuit\\, région Île-de-France" in unfolded
    assert REASON.strip().replace(",", "\\,").replace(";", "\\;") in unfolded


def test_an_events_dtstamp_is_when_it_was_first_published(ops: TestClient, clock: Clock) -> None:
    first = events(feed(ops, f"/teams/ops/calendar.ics?{WEEK}"))
    clock.now = NOW + timedelta(hours=1)
    again = events(feed(ops, f"/teams/ops/calendar.ics?{WEEK}"))
    assert [e.decoded("dtstamp") for e in again] == [NOW] * len(first)
    thursday = {"member": "Bob", "start": "2025-05-01T15:00:00Z", "end": "2025-05-01T17:00:00Z"}
    assert ops.post("/teams/ops/overrides", json=thursday).status_code == 201
    stamps = {e.decoded("dtstamp") for e in events(feed(ops, f"/teams/ops/calendar.ics?{WEEK}"))}
    assert stamps == {NOW, NOW + timedelta(hours=1)}  # the new shifts are new events
