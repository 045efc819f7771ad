"""Benchmark of the pure engine (oncall_core), run by hand.

Run from the repository root:

    .venv/bin/python bench/bench_core.py            # the table (about 10 s)
    .venv/bin/python bench/bench_core.py --profile  # cProfile of the warm oncall_at loop

It needs the ``bench`` extra (icalendar, recurring-ical-events) and prints one
table.  What it measures:

1. ``oncall_at(team, t)`` warm (the compiled team already cached) for a team of
   10 weekly-rotating schedules in four time zones (some overnight, various
   priorities), 50 rotation changes and 20 overrides.  1000 instants spread
   over one week are each asked once per batch; the per-call figure is a
   batch's time divided by 1000, and the table gives the median and p90 over
   the batches.  The week sits 1 day after the rotations' anchors, then 20
   years after: the cost must not grow with the distance.  The team's changes
   and overrides are laid out around the measured week in both cases, so the
   two runs differ only in the distance to the anchors.
2. ``oncall_at`` cold: building the TeamState from scratch plus the first call,
   which compiles it (each run's team has a name of its own, so the cache of
   compiled teams, keyed on the state's value, never has it yet).
3. ``timeline(team, A, A + 365 days)``: median of several runs.
4. Schedule versions: ``oncall_at`` warm on the same team and on the team with
   100 versions per schedule (each a new member list, spread over the year
   before the measured week), batches interleaved; the per-query cost must not
   grow with the versions beyond a bisection.  Also the cold compile of the
   versioned team (issue 13's cold path).
5. Issue 13's team (10 schedules with 10 versions each, then 100 each; 200
   rotation changes, 100 overrides), from its ``to_json`` document as a store
   reads it: building the ``TeamState`` checked (``from_json``) and trusted
   (``oncall_core.store.trusted_team_state``, what ``PostgresStore`` does; "-"
   when the code under test has none), and compiling it + the first
   ``oncall_at`` (each run on a team of its own name, so that the cache of
   compiled teams never has it).  CPU
   time of this process; bench/bench_pg.py ``--cold`` adds the database.
6. Side by side in the same process: "is someone on call at t, and in which
   window" for one Mon-Fri 9:00AM-5:00PM America/New_York schedule, answered
   by ``oncall_at`` and by ``recurring_ical_events.of(calendar).at(t)`` on the
   same schedule written as an iCalendar VEVENT with a weekly RRULE (what
   Grafana OnCall builds on).  2000 instants over 2025, DST days included; the
   script asserts both give the same answer (covered or not, and the window's
   end) on every one of them, then reports the ratio of per-query times.

Timings use ``time.perf_counter_ns`` with the garbage collector left on (as in
real use).  The machine may be shared and noisy: look at the p90 next to the
median, and rerun when they are far apart.
"""

from __future__ import annotations

import gc
import random
import statistics
import sys
import time as clock
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import attrs
import icalendar
import recurring_ical_events
from _report import percentile, print_machine, print_table, verdict

import oncall_core
from oncall_core import (
    Override,
    Rotation,
    RotationChange,
    RotationKind,
    Schedule,
    TeamState,
    Weekday,
    oncall_at,
    timeline,
)

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
TOKYO = ZoneInfo("Asia/Tokyo")
UTC_ZONE = ZoneInfo("UTC")

WEEKDAYS = (Weekday.MONDAY, Weekday.TUESDAY, Weekday.WEDNESDAY, Weekday.THURSDAY, Weekday.FRIDAY)
EVERY_DAY = tuple(Weekday)
ANCHOR_DAY = date(2024, 1, 8)  # a Monday: every rotation hands off at its first window that day
NEAR = timedelta(days=1)
FAR = timedelta(days=7305)  # 20 years of 365.25 days

INSTANTS = 1000  # instants per oncall_at batch, spread over one week
BATCHES = 60  # warm oncall_at batches per distance
COLD_RUNS = 30
TIMELINE_RUNS = 7
ICAL_INSTANTS = 2000
ICAL_ROUNDS = 7

# Targets (CPython 3.11).
TARGET_ONCALL_US = 10.0
TARGET_TIMELINE_MS = 50.0
TARGET_RATIO = 100.0

# name, member count, days, start, end, overnight, zone, every (weeks), priority
SCHEDULES = (
    ("ny-business", 4, WEEKDAYS, time(9), time(17), False, NEW_YORK, 1, 10),
    ("berlin-business", 3, WEEKDAYS, time(8), time(18), False, BERLIN, 2, 10),
    ("ny-evening", 3, WEEKDAYS, time(17), time(23), False, NEW_YORK, 1, 5),
    ("berlin-night", 4, WEEKDAYS, time(22), time(6), True, BERLIN, 1, 5),
    ("weekend-day", 5, (Weekday.SATURDAY, Weekday.SUNDAY), time(8), time(20), False, BERLIN, 1, 7),
    ("weekend-night", 3, (Weekday.FRIDAY, Weekday.SATURDAY, Weekday.SUNDAY), time(20), time(8),
     True, NEW_YORK, 1, 6),
    ("tokyo-business", 2, WEEKDAYS, time(9), time(18), False, TOKYO, 2, 3),
    ("release-window", 2, (Weekday.TUESDAY, Weekday.THURSDAY), time(14), time(16, 30), False,
     UTC_ZONE, 1, 20),
    ("db-primary", 6, EVERY_DAY, time(0), time(0), True, UTC_ZONE, 1, 1),
    ("escalation", 4, EVERY_DAY, time(9), time(9), True, NEW_YORK, 1, 0),
)  # fmt: skip


def build_team(
    around: datetime, team: str = "platform", *, changes: int = 50, overrides: int = 20
) -> TeamState:
    """The 10-schedule team, with its 50 changes and 20 overrides (by default) laid
    out over the four weeks centred on ``around`` (seeded: every call builds the
    same team, but for its name)."""
    rng = random.Random(2024)
    schedules = []
    for name, size, days, start, end, overnight, zone, every, priority in SCHEDULES:
        schedules.append(
            Schedule(
                team=team,
                name=name,
                members=[f"{name}-{n}" for n in range(size)],
                days=days,
                start=start,
                end=end,
                overnight=overnight,
                timezone=zone.key,
                rotation=Rotation(
                    kind=RotationKind.WEEKLY,
                    every=every,
                    start=datetime.combine(ANCHOR_DAY, start, zone),
                ),
                priority=priority,
            )
        )
    first = around - timedelta(days=14)
    span = timedelta(days=28).total_seconds()

    def somewhen() -> datetime:
        return first + timedelta(seconds=rng.randrange(int(span)))

    change_list = [
        RotationChange(
            schedule=SCHEDULES[n % len(SCHEDULES)][0],
            effective=somewhen(),
            position=None if n % 3 else rng.randrange(SCHEDULES[n % len(SCHEDULES)][1]),
        )
        for n in range(changes)
    ]
    override_list = []
    for n in range(overrides):
        begins = somewhen()
        limited = SCHEDULES[n % len(SCHEDULES)][0] if n % 5 >= 3 else None  # 8 of 20
        override_list.append(
            Override(
                member=f"stand-in-{n}",
                start=begins,
                end=begins + timedelta(hours=rng.randrange(1, 13)),
                schedule=limited,
                reason="benchmark",
            )
        )
    return TeamState(team=team, schedules=schedules, changes=change_list, overrides=override_list)


def spread(first: datetime, span: timedelta, count: int) -> list[datetime]:
    """``count`` instants evenly spread over [first, first + span) of real time, in UTC."""
    first, step = first.astimezone(UTC), span / count
    return [first + n * step for n in range(count)]


def per_call_ns(
    ask: Callable[[datetime], object], instants: Sequence[datetime], batches: int
) -> list[float]:
    """Per-call times (ns) of ``ask`` over ``instants``, one figure per batch."""
    results = []
    for _ in range(batches):
        started = clock.perf_counter_ns()
        for instant in instants:
            ask(instant)
        results.append((clock.perf_counter_ns() - started) / len(instants))
    return results


# --- 1 and 2: oncall_at, warm and cold ------------------------------------------------------


def bench_oncall_at(distance: timedelta) -> tuple[list[float], list[float], list[float]]:
    """(warm per-call ns, cold build ns, cold compile-and-first-call ns) at a distance."""
    week = datetime.combine(ANCHOR_DAY, time(), UTC) + distance
    instants = spread(week, timedelta(days=7), INSTANTS)
    team = build_team(week + timedelta(days=3, hours=12))
    oncall_at(team, instants[0])  # compile and cache
    warm = per_call_ns(lambda t: oncall_at(team, t), instants, BATCHES)

    builds, firsts = [], []
    for run in range(COLD_RUNS):
        started = clock.perf_counter_ns()
        fresh = build_team(week + timedelta(days=3, hours=12), f"cold-{distance.days}-{run}")
        built = clock.perf_counter_ns()
        oncall_at(fresh, instants[run * 7 % INSTANTS])
        builds.append(built - started)
        firsts.append(clock.perf_counter_ns() - built)
    return warm, builds, firsts


# --- 3: timeline over a year ----------------------------------------------------------------


def bench_timeline(distance: timedelta) -> tuple[list[float], int]:
    """(run times in ns, number of shifts) of a 365-day timeline starting at a distance."""
    first = datetime.combine(ANCHOR_DAY, time(), UTC) + distance
    team = build_team(first + timedelta(days=14))
    oncall_at(team, first)  # compile and cache
    runs, shifts = [], 0
    for _ in range(TIMELINE_RUNS):
        started = clock.perf_counter_ns()
        shifts = len(timeline(team, first, first + timedelta(days=365)))
        runs.append(clock.perf_counter_ns() - started)
    return runs, shifts


# --- 4: schedule versions ------------------------------------------------------------------

VERSIONS = 100


def with_versions(team: TeamState, count: int, before: datetime) -> TeamState:
    """``team`` with ``count - 1`` later versions of each schedule (a member list of
    its own each time), spread over the year before ``before``."""
    later = []
    for schedule in team.schedules:
        for n in range(1, count):
            effective = before - timedelta(days=365) + n * timedelta(days=365) / count
            turned = n % len(schedule.members)  # same length: the history's positions hold
            rotated = [*schedule.members[turned:], *schedule.members[:turned]]
            members = [*rotated[:-1], f"{schedule.name}-v{n}"]
            later.append(attrs.evolve(schedule, members=members, effective=effective))
    return attrs.evolve(team, schedules=(*team.schedules, *later))


def bench_versions() -> tuple[list[float], list[float], list[float]]:
    """(warm ns per call with 1 version, with VERSIONS versions, cold compile ns)."""
    week = datetime.combine(ANCHOR_DAY, time(), UTC) + NEAR + timedelta(days=400)
    instants = spread(week, timedelta(days=7), INSTANTS)
    plain = build_team(week + timedelta(days=3, hours=12))
    versioned = with_versions(plain, VERSIONS, week)
    oncall_at(plain, instants[0])
    oncall_at(versioned, instants[0])
    ones, hundreds = [], []
    for _ in range(BATCHES):
        ones += per_call_ns(lambda t: oncall_at(plain, t), instants, 1)
        hundreds += per_call_ns(lambda t: oncall_at(versioned, t), instants, 1)
    compiles = []
    for run in range(COLD_RUNS):
        fresh = with_versions(
            build_team(week + timedelta(days=3, hours=12), f"cold-versions-{run}"), VERSIONS, week
        )
        started = clock.perf_counter_ns()
        oncall_at(fresh, instants[run * 7 % INSTANTS])
        compiles.append(clock.perf_counter_ns() - started)
    return ones, hundreds, compiles


# --- 5: issue 13's team, cold --------------------------------------------------------------

COLD_SHAPES = (10, 100)  # versions per schedule


def bench_cold(versions: int) -> tuple[int, list[float], list[float], list[float]]:
    """(document bytes, checked build ns, trusted build ns, compile + first call ns)."""
    import json

    from oncall_core import from_json, to_json

    try:
        from oncall_core.store import trusted_team_state  # type: ignore[attr-defined]
    except ImportError:  # older code, run with PYTHONPATH pointing at it
        trusted_team_state = None
    week = datetime.combine(ANCHOR_DAY, time(), UTC) + NEAR + timedelta(days=400)
    around = week + timedelta(days=3, hours=12)
    team = build_team(around, f"cold-{versions}", changes=200, overrides=100)
    document = to_json(with_versions(team, versions, week))
    checked, trusted, compiles = [], [], []
    for run in range(COLD_RUNS):
        started = clock.process_time_ns()
        state = from_json(document, TeamState)
        checked.append(clock.process_time_ns() - started)
        if trusted_team_state is not None:
            started = clock.process_time_ns()
            trusted_team_state(document)
            trusted.append(clock.process_time_ns() - started)
        # A team of its own each run, so that the cache of compiled teams never has it.
        fresh = attrs.evolve(
            state,
            team=f"{state.team}-{run}",
            schedules=[attrs.evolve(s, team=f"{state.team}-{run}") for s in state.schedules],
        )
        started = clock.process_time_ns()
        oncall_at(fresh, week + timedelta(hours=run))
        compiles.append(clock.process_time_ns() - started)
    return len(json.dumps(document)), checked, trusted, compiles


# --- 6: against recurring_ical_events -------------------------------------------------------

ICAL_TEXT = """\
BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//oncall-schedule//bench//EN
BEGIN:VEVENT
UID:support-business@oncall-schedule.bench
DTSTAMP:20240101T000000Z
SUMMARY:business
DTSTART;TZID=America/New_York:20240101T090000
DTEND;TZID=America/New_York:20240101T170000
RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR
END:VEVENT
END:VCALENDAR
"""


def ical_instants() -> list[datetime]:
    """2000 instants over 2025: every half hour of real time on the days around both New
    York DST transitions, the windows' edges on the weekdays next to them, then seeded
    random ones."""
    instants = []
    for day in (date(2025, 3, d) for d in (7, 8, 9, 10)):
        instants += spread(datetime.combine(day, time(), NEW_YORK), timedelta(days=1), 48)
    for day in (date(2025, 10, 31), date(2025, 11, 1), date(2025, 11, 2), date(2025, 11, 3)):
        instants += spread(datetime.combine(day, time(), NEW_YORK), timedelta(days=1), 48)
    for day in (date(2025, 3, 7), date(2025, 3, 10), date(2025, 10, 31), date(2025, 11, 3)):
        for edge in (time(8, 59, 59), time(9), time(16, 59, 59, 999999), time(17)):
            instants.append(datetime.combine(day, edge, NEW_YORK).astimezone(UTC))
    rng = random.Random(2025)
    year = datetime(2025, 1, 1, tzinfo=UTC)
    while len(instants) < ICAL_INSTANTS:
        instants.append(year + timedelta(seconds=rng.randrange(365 * 86400)))
    return instants


def bench_ical() -> tuple[int, int, list[float], list[float], list[float]]:
    """(instants compared, of them covered, our per-query ns, their per-query ns, ratios)."""
    team = TeamState(
        team="support",
        schedules=[
            Schedule(
                team="support",
                name="business",
                members=["alice", "bob"],
                days=WEEKDAYS,
                start=oncall_core.parse_time_of_day("9:00AM", "start"),
                end=oncall_core.parse_time_of_day("5:00PM", "end"),
                timezone="America/New_York",
            )
        ],
    )
    query = recurring_ical_events.of(icalendar.Calendar.from_ical(ICAL_TEXT))
    instants = ical_instants()

    def ours(t: datetime) -> tuple[str, datetime] | None:
        answer = oncall_at(team, t)
        return None if answer is None else (answer.schedule, answer.until)

    def theirs(t: datetime) -> tuple[str, datetime] | None:
        events = query.at(t)
        if not events:
            return None
        assert len(events) == 1
        event = events[0]
        return str(event["SUMMARY"]), event["DTEND"].dt

    covered = 0
    for t in instants:
        mine, other = ours(t), theirs(t)
        assert mine == other, f"answers differ at {t.isoformat()}: {mine} vs {other}"
        covered += mine is not None

    # Interleaved rounds, so that both sides see the same noise: our pass, their pass,
    # our pass; the round's ratio is theirs over the mean of the two passes of ours.
    our_runs: list[float] = []
    their_runs: list[float] = []
    ratios: list[float] = []
    for _ in range(ICAL_ROUNDS):
        (before,) = per_call_ns(ours, instants, 1)
        their_runs += per_call_ns(theirs, instants, 1)
        (after,) = per_call_ns(ours, instants, 1)
        our_runs += [before, after]
        ratios.append(their_runs[-1] / ((before + after) / 2))
    return len(instants), covered, our_runs, their_runs, ratios


# --- the report -----------------------------------------------------------------------------


def profile() -> None:
    """cProfile of the warm oncall_at loop (1 day after the anchors), top functions."""
    import cProfile
    import pstats

    week = datetime.combine(ANCHOR_DAY, time(), UTC) + NEAR
    instants = spread(week, timedelta(days=7), INSTANTS)
    team = build_team(week + timedelta(days=3, hours=12))
    oncall_at(team, instants[0])
    with cProfile.Profile() as profiler:
        per_call_ns(lambda t: oncall_at(team, t), instants, 20)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


def figures(times: Sequence[float], scale: float, digits: int) -> list[str]:
    """Median and p90 of ``times`` (ns) divided by ``scale``, as table cells."""
    return [
        f"{statistics.median(times) / scale:.{digits}f}",
        f"{percentile(times, 0.9) / scale:.{digits}f}",
    ]


def main() -> None:
    if sys.argv[1:] == ["--profile"]:
        profile()
        return
    print_machine("oncall_core benchmark")
    print()
    rows: list[list[str]] = []
    for label, distance in (("1 day", NEAR), ("20 years", FAR)):
        warm, builds, firsts = bench_oncall_at(distance)
        median = statistics.median(warm) / 1000
        rows.append(
            [
                f"oncall_at warm, t {label} after anchors (us/call)",
                *figures(warm, 1000, 1),
                f"<= {TARGET_ONCALL_US:g}",
                verdict(median, TARGET_ONCALL_US),
            ]
        )
        colds = [b + f for b, f in zip(builds, firsts, strict=True)]
        for what, times in (
            (f"oncall_at cold: build TeamState + first call, {label} (us)", colds),
            (f"  of which build TeamState, {label} (us)", builds),
            (f"  of which compile + first call, {label} (us)", firsts),
        ):
            rows.append([what, *figures(times, 1000, 0), "-", ""])

    for label, distance in (("1 day", NEAR), ("20 years", FAR)):
        runs, shifts = bench_timeline(distance)
        median = statistics.median(runs) / 1e6
        rows.append(
            [
                f"timeline 365 days from {label} after anchors ({shifts} shifts) (ms)",
                f"{median:.1f}",
                f"{max(runs) / 1e6:.1f} (max)",
                f"<= {TARGET_TIMELINE_MS:g}",
                verdict(median, TARGET_TIMELINE_MS),
            ]
        )

    ones, hundreds, compiles = bench_versions()
    growth = statistics.median(hundreds) / statistics.median(ones)
    rows += [
        ["oncall_at warm, 1 version per schedule (us/call)", *figures(ones, 1000, 1), "-", ""],
        [
            f"oncall_at warm, {VERSIONS} versions per schedule (us/call)",
            *figures(hundreds, 1000, 1),
            "-",
            "",
        ],
        [
            f"  ratio {VERSIONS} versions / 1 version",
            f"{growth:.2f}x",
            "-",
            "<= 1.25x",
            verdict(growth, 1.25),
        ],
        [
            f"compile + first call, {VERSIONS} versions x 10 schedules (ms)",
            *figures(compiles, 1e6, 1),
            "-",
            "",
        ],
    ]

    for versions in COLD_SHAPES:
        size, checked, trusted, compiles = bench_cold(versions)
        label = f"issue 13's team, {versions} versions x 10 schedules ({size // 1000} KB)"
        rows += [
            [label, "", "", "", ""],
            ["  build TeamState checked: from_json (ms)", *figures(checked, 1e6, 2), "-", ""],
            [
                "  build TeamState trusted: trusted_team_state (ms)",
                *(figures(trusted, 1e6, 2) if trusted else ["-", "-"]),
                "-",
                "",
            ],
            ["  compile + first oncall_at (ms)", *figures(compiles, 1e6, 2), "-", ""],
        ]

    compared, covered, our_runs, their_runs, ratios = bench_ical()
    ratio = statistics.median(ratios)
    rows += [
        ["1 schedule: oncall_at (us/query)", *figures(our_runs, 1000, 2), "-", ""],
        [
            "1 schedule: recurring_ical_events .at(t) (us/query)",
            *figures(their_runs, 1000, 1),
            "-",
            "",
        ],
        [
            "  ratio recurring_ical_events / oncall_at (per round)",
            f"{ratio:.0f}x",
            f"{min(ratios):.0f}x (min)",
            f">= {TARGET_RATIO:g}x",
            verdict(ratio, TARGET_RATIO, at_least=True),
        ],
    ]
    print_table(("measurement", "median", "p90", "target", ""), rows)
    print()
    print(
        f"oncall_at vs recurring_ical_events: {compared} instants compared, "
        f"{covered} covered, identical answers (covered or not, window end) on all {compared}."
    )
    print(
        f"Runs: warm {BATCHES} batches x {INSTANTS} instants over one week; cold {COLD_RUNS}; "
        f"timeline {TIMELINE_RUNS}; comparison {ICAL_ROUNDS} interleaved rounds over "
        f"{compared} instants; gc enabled: {gc.isenabled()}."
    )


if __name__ == "__main__":
    main()
