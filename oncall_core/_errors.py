"""The domain errors: one base class and a few subclasses with their details as attributes."""

from __future__ import annotations


class OncallError(Exception):
    """Base class of every error that oncall-schedule raises on purpose."""


class ValidationError(OncallError, ValueError):
    """Input that does not describe a valid schedule, rotation, override or instant.

    ``field`` names the offending field (``"start"``, ``"rotation.every"``, ``"members[2]"``)
    when one field is at fault; the message is the text to show to the user.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(OncallError):
    """The team, schedule or override asked for does not exist."""

    def __init__(self, message: str, *, team: str | None = None, name: str | None = None) -> None:
        super().__init__(message)
        self.team = team
        self.name = name


class Unprocessable(ValidationError):
    """Well-formed input that the team's schedules cannot honour (a swap of an instant
    that starts no shift, a change in the past)."""


class PastIsReadOnly(Unprocessable):
    """A change asked to take effect before now: answers about the past never change."""


class Conflict(OncallError):
    """The request contradicts stored state (a duplicate, a concurrent change)."""


class ScheduleExists(Conflict):
    """The team already has a schedule with this name."""

    def __init__(self, team: str, name: str) -> None:
        super().__init__(f"team {team!r} already has a schedule named {name!r}")
        self.team = team
        self.name = name


class PreconditionFailed(OncallError):
    """The schedule changed since the caller read it (its revision is not the one expected)."""

    def __init__(self, team: str, name: str, expected: int, actual: int) -> None:
        super().__init__(
            f"schedule {name!r} of team {team!r} changed: revision {actual}, not {expected}"
        )
        self.team = team
        self.name = name
        self.expected = expected
        self.actual = actual


class StorageUnavailable(OncallError):
    """The store cannot be reached; the request changed nothing and may be retried."""


def schedule_not_found(team: str, name: str) -> NotFound:
    """The error for a schedule that does not exist."""
    return NotFound(f"team {team!r} has no schedule named {name!r}", team=team, name=name)


def team_not_found(team: str) -> NotFound:
    """The error for a team that does not exist."""
    return NotFound(f"no team named {team!r}", team=team)


def override_not_found(team: str, override_id: int) -> NotFound:
    """The error for an override that does not exist."""
    return NotFound(f"team {team!r} has no override {override_id}", team=team)
