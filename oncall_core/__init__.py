"""oncall_core: who is on call, computed purely from schedules, rotations and overrides.

Pure and I/O-free: every function takes the instant it answers for; nothing
reads a clock, a file, the environment or the network.
"""

from ._errors import (
    Conflict,
    NotFound,
    OncallError,
    ScheduleExists,
    StorageUnavailable,
    ValidationError,
)
from ._model import (
    MANUAL,
    MAX_EVERY,
    MAX_PRIORITY,
    MIN_PRIORITY,
    Gap,
    OnCall,
    Override,
    Rotation,
    RotationChange,
    RotationKind,
    Schedule,
    Shift,
    Source,
    TeamState,
    Turn,
    Weekday,
)
from ._resolve import everyone_on_call, oncall_at
from ._text import MAX_REASON, MAX_TEXT, REFUSED_CATEGORIES, clean_text
from ._timeline import gaps, hours_per_member, rotation_turns, timeline
from ._wire import (
    converter,
    format_instant,
    format_time_of_day,
    from_json,
    leaf_errors,
    parse_instant,
    parse_rotation,
    parse_schedule_request,
    parse_time_of_day,
    parse_weekday,
    seed_answer,
    to_json,
)
from .store import MemoryStore, Store

__all__ = [
    "MANUAL",
    "MAX_EVERY",
    "MAX_PRIORITY",
    "MAX_REASON",
    "MAX_TEXT",
    "MIN_PRIORITY",
    "REFUSED_CATEGORIES",
    "Conflict",
    "Gap",
    "MemoryStore",
    "NotFound",
    "OnCall",
    "OncallError",
    "Override",
    "Rotation",
    "RotationChange",
    "RotationKind",
    "Schedule",
    "ScheduleExists",
    "Shift",
    "Source",
    "StorageUnavailable",
    "Store",
    "TeamState",
    "Turn",
    "ValidationError",
    "Weekday",
    "clean_text",
    "converter",
    "everyone_on_call",
    "format_instant",
    "format_time_of_day",
    "from_json",
    "gaps",
    "hours_per_member",
    "leaf_errors",
    "oncall_at",
    "parse_instant",
    "parse_rotation",
    "parse_schedule_request",
    "parse_time_of_day",
    "parse_weekday",
    "rotation_turns",
    "seed_answer",
    "timeline",
    "to_json",
]
