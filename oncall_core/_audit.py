"""The audit trail: who changed what, when, and in which request.

A write that is given an :class:`Author` makes one :class:`AuditEntry` for each
effect it has (a swap, two overrides, makes two), and a store keeps the entries
with the change, atomically: no change without its entries, no entry without
its change.  An entry's ``detail`` is the effect as stored, in the JSON shape
of :func:`oncall_core.to_json` (the version, the deletion, the rotation change,
the override with its id), so the trail says exactly what the write did, not
what the request asked for.  The entries are append-only, like the history they
describe.

The functions here are the one rule for which entry each effect makes; both
stores call them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from ._errors import ValidationError
from ._model import Deletion, Override, RotationChange, Schedule, _in_utc
from ._text import clean_text
from ._wire import to_json

MAX_REQUEST_ID = 200
"""The longest request id an entry keeps."""


class AuditAction(enum.Enum):
    """What a write did."""

    SCHEDULE_CREATED = "schedule.created"  # a first version, or a re-creation
    SCHEDULE_EDITED = "schedule.edited"  # a later version
    SCHEDULE_DELETED = "schedule.deleted"
    ROTATION_CHANGED = "rotation.changed"
    OVERRIDE_ADDED = "override.added"
    OVERRIDE_ENDED = "override.ended"  # deleted while under way: it ends then
    OVERRIDE_REMOVED = "override.removed"  # deleted before it started (or without a clock)
    KEY_CREATED = "key.created"
    KEY_REVOKED = "key.revoked"


def _actor(text: str) -> str:
    return clean_text(text, "actor")


def _at(moment: datetime) -> datetime:
    return _in_utc(moment, "at")


def _request_id(text: str | None) -> str | None:
    if text is None:
        return None
    if not isinstance(text, str) or not 0 < len(text) <= MAX_REQUEST_ID or not text.isprintable():
        raise ValidationError(
            f"request_id must be printable text of 1 to {MAX_REQUEST_ID} characters",
            field="request_id",
        )
    return text


@attrs.frozen
class Author:
    """Who makes a write (an API key's name, or ``anonymous``), when, and in which
    request: what the write's audit entries record of it."""

    actor: str = attrs.field(converter=_actor)
    at: datetime = attrs.field(converter=_at)
    request_id: str | None = attrs.field(default=None, converter=_request_id)


def _detail(value: Mapping[str, Any]) -> dict[str, Any]:
    return dict(value)


@attrs.frozen
class AuditEntry:
    """One effect of one write: ``action`` on ``team`` (None for a key change) and
    ``schedule`` (None when the effect is not one schedule's), by ``actor`` at ``at``
    in request ``request_id``; ``detail`` is the effect as stored, as JSON.  ``id``
    is given by the store and orders the entries as they were written."""

    team: str | None
    at: datetime = attrs.field(converter=_at)
    actor: str = attrs.field(converter=_actor)
    request_id: str | None = attrs.field(converter=_request_id)
    action: AuditAction
    schedule: str | None
    detail: dict[str, Any] = attrs.field(converter=_detail, hash=False)
    id: int | None = None


def audit_entry(
    by: Author,
    action: AuditAction,
    *,
    team: str | None,
    effect: object,
    schedule: str | None = None,
) -> AuditEntry:
    """The entry recording that ``by`` did ``action``, whose stored result is ``effect``."""
    return AuditEntry(
        team=team,
        at=by.at,
        actor=by.actor,
        request_id=by.request_id,
        action=action,
        schedule=schedule,
        detail=to_json(effect),
    )


# Each rule below gives a write's entries: none for a write without an author.


def version_entries(by: Author | None, version: Schedule, *, created: bool) -> list[AuditEntry]:
    """The entries of a stored version: a creation (or re-creation), or an edit."""
    if by is None:
        return []
    action = AuditAction.SCHEDULE_CREATED if created else AuditAction.SCHEDULE_EDITED
    return [audit_entry(by, action, team=version.team, schedule=version.name, effect=version)]


def deletion_entries(by: Author | None, team: str, ended: Deletion) -> list[AuditEntry]:
    """The entries of a stored deletion."""
    if by is None:
        return []
    action = AuditAction.SCHEDULE_DELETED
    return [audit_entry(by, action, team=team, schedule=ended.schedule, effect=ended)]


def rotation_entries(by: Author | None, team: str, change: RotationChange) -> list[AuditEntry]:
    """The entries of a stored rotation change."""
    if by is None:
        return []
    action = AuditAction.ROTATION_CHANGED
    return [audit_entry(by, action, team=team, schedule=change.schedule, effect=change)]


def override_entries(by: Author | None, team: str, added: Sequence[Override]) -> list[AuditEntry]:
    """The entries of stored overrides (with their ids), one each."""
    if by is None:
        return []
    action = AuditAction.OVERRIDE_ADDED
    return [audit_entry(by, action, team=team, schedule=o.schedule, effect=o) for o in added]


def override_deletion_entries(
    by: Author | None, team: str, before: Override, after: Override | None
) -> list[AuditEntry]:
    """The entries of a deleted override: ``before`` as it was, ``after`` as it was
    left (None: removed; else ended early)."""
    if by is None:
        return []
    if after is None:
        action, effect = AuditAction.OVERRIDE_REMOVED, before
    else:
        action, effect = AuditAction.OVERRIDE_ENDED, after
    return [audit_entry(by, action, team=team, schedule=before.schedule, effect=effect)]
