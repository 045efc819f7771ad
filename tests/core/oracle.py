"""A slow, independent reference for who is on call, written from the issue's words.

It shares no code with oncall_core's resolution: it uses aware datetimes and
zoneinfo directly, finds the instant of a wall time by checking both folds and
scanning minute by minute across a skipped stretch, and looks at the windows of
the days around an instant one by one.  Tests compare the engine against it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from oncall_core import RotationKind, Schedule, TeamState

_STEPS = {
    RotationKind.HOURLY: timedelta(hours=1),
    RotationKind.DAILY: timedelta(days=1),
    RotationKind.WEEKLY: timedelta(weeks=1),
}


def _shows(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def instant_of(wall: datetime, zone: ZoneInfo) -> datetime:
    """The first instant whose local date-and-time is at or after ``wall`` (naive)."""
    readings = [wall.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1)]
    exact = [moment for moment in readings if _shows(moment, zone) == wall]
    if exact:
        return min(exact)
    # Skipped: scan from before the jump to the first instant showing a later time.
    moment = min(readings).replace(second=0, microsecond=0)
    while _shows(moment, zone) < wall:
        moment += timedelta(minutes=1)
    while _shows(moment - timedelta(seconds=1), zone) >= wall:
        moment -= timedelta(seconds=1)
    return moment


def windows(
    schedule: Schedule, around: datetime, after: int = 2
) -> list[tuple[date, datetime, datetime]]:
    """(day, start, end) of the windows starting from two days before ``around`` to ``after``."""
    zone = ZoneInfo(schedule.timezone)
    local_day = around.astimezone(zone).date()
    found = []
    for delta in range(-2, after + 1):
        day = local_day + timedelta(days=delta)
        if day.weekday() not in schedule.days:
            continue
        end_day = day + timedelta(days=1) if schedule.overnight else day
        start = instant_of(datetime.combine(day, schedule.start), zone)
        end = instant_of(datetime.combine(end_day, schedule.end), zone)
        found.append((day, start, end))
    return found


def covering_day(schedule: Schedule, at: datetime) -> date | None:
    """The local day whose window covers ``at``, or None."""
    for day, start, end in windows(schedule, at):
        if start <= at < end:
            return day
    return None


def turn(schedule: Schedule, at: datetime, day: date | None) -> int:
    """The rotation's turn number at ``at`` (``day``: the covering window's day)."""
    rotation = schedule.rotation
    zone = ZoneInfo(schedule.timezone)
    if rotation.kind is RotationKind.MANUAL:
        return 0
    assert rotation.start is not None
    anchor = rotation.start.astimezone(zone).replace(tzinfo=None)
    if rotation.kind is RotationKind.PER_SHIFT:
        if day is None:  # a "set" change outside a window pins the next shift
            day = next(d for d, start, _ in windows(schedule, at, after=8) if start > at)
        # The first window whose start instant is at or after the anchor instant.
        first = anchor.date() - timedelta(days=1)
        while first.weekday() not in schedule.days or (
            instant_of(datetime.combine(first, schedule.start), zone) < rotation.start
        ):
            first += timedelta(days=1)
        weeks, rest = divmod((day - first).days, 7)
        cursor = first + timedelta(weeks=weeks)
        count = weeks * len(schedule.days)
        count += sum((cursor + timedelta(i)).weekday() in schedule.days for i in range(rest))
        return count
    step = _STEPS[rotation.kind] * rotation.every
    shown = at.astimezone(zone).replace(tzinfo=None)
    guess = (shown - anchor) // step
    for k in (guess + 1, guess, guess - 1, guess - 2):
        if instant_of(anchor + k * step, zone) <= at:
            return k
    raise AssertionError("no turn found")


def member(team: TeamState, schedule: Schedule, at: datetime, day: date | None) -> str:
    """The rotation's member at ``at`` under the version ``schedule``."""
    offset = _offset(team, schedule, at, before=False)
    return schedule.members[(turn(schedule, at, day) + offset) % len(schedule.members)]


def _offset(team: TeamState, schedule: Schedule, at: datetime, *, before: bool) -> int:
    """The rotation offset of the version ``schedule`` at ``at``: the handover from the
    version before it, then its rotation changes up to ``at`` (``before``: strictly
    before ``at``)."""
    history = team.history(schedule.name)
    index = history.index(schedule)
    since = schedule.effective
    offset = 0
    previous = history[index - 1] if index else None
    if isinstance(previous, Schedule):
        # The handover: whoever held the turn at the version's instant keeps it.
        assert since is not None
        place = turn(previous, since, covering_day(previous, since)) + _offset(
            team, previous, since, before=True
        )
        place %= len(previous.members)
        held = previous.members[place]
        if place < len(schedule.members) and schedule.members[place] == held:
            position = place
        elif held in schedule.members:
            position = schedule.members.index(held)
        else:
            position = 0
        offset = position - turn(schedule, since, covering_day(schedule, since))
    changes = [
        c
        for c in team.changes
        if c.schedule == schedule.name and (since is None or c.effective >= since)
    ]
    for change in sorted(changes, key=lambda c: c.effective):
        if change.effective > at or (before and change.effective == at):
            break
        if change.position is None:
            offset += 1
        else:
            at_change = change.effective
            offset = change.position - turn(schedule, at_change, covering_day(schedule, at_change))
    return offset


def in_force(team: TeamState, at: datetime) -> list[tuple[int, Schedule]]:
    """(creation rank, version) of each schedule in force at ``at``."""
    found = []
    for name in team.names:
        history = team.history(name)
        current = None
        for index, version in enumerate(history):
            if version.effective is None or version.effective <= at:
                current = index
        if current is None or not isinstance(history[current], Schedule):
            continue
        first = current
        while first > 0 and isinstance(history[first - 1], Schedule):
            first -= 1
        version = history[current]
        assert isinstance(version, Schedule)
        found.append((team.schedules.index(history[first]), version))  # type: ignore[arg-type]
    return found


def answer(team: TeamState, at: datetime) -> tuple[str, str | None, bool] | None:
    """(member, schedule name, whether an override applied) at ``at``, or None."""
    ranked = sorted(in_force(team, at), key=lambda pair: (-pair[1].priority, pair[0]))
    for _, schedule in ranked:
        day = covering_day(schedule, at)
        if day is None:
            continue
        applicable = [
            o
            for o in team.overrides
            if o.start <= at < o.end and o.schedule in (None, schedule.name)
        ]
        if applicable:
            return applicable[-1].member, schedule.name, True
        return member(team, schedule, at, day), schedule.name, False
    team_wide = [o for o in team.overrides if o.start <= at < o.end and o.schedule is None]
    if team_wide:
        return team_wide[-1].member, None, True
    return None
