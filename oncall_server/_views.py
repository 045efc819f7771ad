"""The read-only views: who is on call (a team's, every team's), shifts, gaps, hours,
and one member's shifts across their teams.

Each handler reads the range or instant asked for, loads the states it needs
(one ``load_teams`` for many teams) and hands them to the core (``everyone_on_call``,
``timeline``, ``gaps``, ``hours_per_schedule``); no scheduling rule lives here.
A range is at most :data:`~oncall_server._requests.MAX_RANGE` long, so that
one request's work is bounded.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import attrs
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from oncall_core import (
    OnCall,
    Shift,
    TeamState,
    clean_text,
    everyone_on_call,
    format_instant,
    gaps,
    hours_per_schedule,
    timeline,
    to_json,
)

from ._pages import page, page_request
from ._requests import instant_or_now, now, query, store_of, team_segment, team_state, time_range

DEFAULT_SPAN = timedelta(days=7)
"""How far ahead of ``from`` (or now) shifts, gaps and reports look without ``to``."""
HOUR = timedelta(hours=1)


def on_call_json(answer: OnCall) -> dict[str, Any]:
    """One schedule's answer: who, from which schedule and source, until when, and who next."""
    return {
        "member": answer.member,
        "schedule": answer.schedule,
        "source": answer.source.value,
        "override": None if answer.override is None else answer.override.id,
        "until": None if answer.until is None else format_instant(answer.until),
        "next": None
        if answer.until is None or answer.next_member is None
        else {"member": answer.next_member, "schedule": answer.next_schedule},
    }


def member_segment(request: Request) -> str:
    """The ``{member}`` path segment, cleaned as the model cleans it."""
    return clean_text(request.path_params["member"], "member")


def _instant_asked(request: Request) -> datetime:
    return instant_or_now(request, "time") or now(request)


async def team_on_call(request: Request) -> Response:
    """``GET /teams/{team}/oncall?time=``: everyone on call then, in precedence order."""
    team = team_segment(request)
    at = _instant_asked(request)
    state = await team_state(request, team)
    return JSONResponse(
        {
            "team": team,
            "time": format_instant(at),
            "oncall": [on_call_json(a) for a in everyone_on_call(state, at)],
        }
    )


async def every_team_on_call(request: Request) -> Response:
    """``GET /oncall?time=``: every team's answer, a page of teams by name."""
    at = _instant_asked(request)
    asked = page_request(request, lambda key: isinstance(key, str))
    store = store_of(request)
    found = await store.list_teams(at=at, after=asked.after, limit=asked.limit + 1)
    # The store applied the cursor already: the page is the start of what it found.
    summaries, next_cursor = page(found, lambda s: s.team, attrs.evolve(asked, after=None))
    states = await store.load_teams([s.team for s in summaries])
    return JSONResponse(
        {
            "time": format_instant(at),
            "teams": [
                {"team": team, "oncall": [on_call_json(a) for a in everyone_on_call(state, at)]}
                for team, state in states.items()
            ],
            "next_cursor": next_cursor,
        }
    )


def _range_json(start: datetime, end: datetime) -> dict[str, str]:
    return {"from": format_instant(start), "to": format_instant(end)}


async def team_shifts(request: Request) -> Response:
    """``GET /teams/{team}/shifts?from=&to=&schedule=``: the team's timeline (or one
    schedule's, alone)."""
    team = team_segment(request)
    start, end = time_range(request, ahead=DEFAULT_SPAN)
    schedule_text = query(request, "schedule")
    schedule = None if schedule_text is None else clean_text(schedule_text, "schedule")
    state = await team_state(request, team)
    shifts = timeline(state, start, end, schedule=schedule)
    return JSONResponse(
        {"team": team, **_range_json(start, end), "shifts": [to_json(s) for s in shifts]}
    )


async def team_gaps(request: Request) -> Response:
    """``GET /teams/{team}/gaps?from=&to=``: when nobody is on call for the team."""
    team = team_segment(request)
    start, end = time_range(request, ahead=DEFAULT_SPAN)
    state = await team_state(request, team)
    return JSONResponse(
        {
            "team": team,
            **_range_json(start, end),
            "gaps": [to_json(g) for g in gaps(state, start, end)],
        }
    )


def _hours(duration: timedelta) -> float:
    return round(duration / HOUR, 6)


async def team_report(request: Request) -> Response:
    """``GET /teams/{team}/report?from=&to=``: hours on call per member, and within it
    per schedule (null: a team-wide override outside every schedule)."""
    team = team_segment(request)
    start, end = time_range(request, ahead=DEFAULT_SPAN)
    state = await team_state(request, team)
    totals = hours_per_schedule(state, start, end)
    members = [
        {
            "member": member,
            "hours": _hours(sum(per_schedule.values(), timedelta())),
            "schedules": [
                {"schedule": schedule, "hours": _hours(duration)}
                for schedule, duration in sorted(
                    per_schedule.items(), key=lambda item: (item[0] is not None, item[0] or "")
                )
            ],
        }
        for member, per_schedule in sorted(totals.items())
    ]
    return JSONResponse({"team": team, **_range_json(start, end), "members": members})


async def member_timeline(
    request: Request, member: str, start: datetime, end: datetime
) -> tuple[dict[str, TeamState], list[tuple[str, Shift]]]:
    """The states of the teams ``member`` belongs to, and (team, shift) for each of
    their shifts over [start, end) in those teams, by start (then team)."""
    store = store_of(request)
    teams = await store.teams_of_member(member)
    states = await store.load_teams(teams)
    found = [
        (team, shift)
        for team, state in states.items()
        for shift in timeline(state, start, end)
        if shift.member == member
    ]
    found.sort(key=lambda item: (item[1].start, item[0]))
    return states, found


async def member_shifts(request: Request) -> Response:
    """``GET /members/{member}/shifts?from=&to=``: one person's shifts across their teams."""
    member = member_segment(request)
    start, end = time_range(request, ahead=DEFAULT_SPAN)
    _, found = await member_timeline(request, member, start, end)
    return JSONResponse(
        {
            "member": member,
            **_range_json(start, end),
            "shifts": [{"team": team, **to_json(shift)} for team, shift in found],
        }
    )
