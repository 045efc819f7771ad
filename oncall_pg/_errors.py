"""One place that turns psycopg's errors into oncall_core's domain errors.

Every store call runs inside :func:`domain_errors`; the constraint names it
matches are those of ``sql/migrations``.  The original error stays as
``__cause__``.  Whether a failed read is worth retrying is decided on the raw
psycopg error (:func:`worth_retrying`), before it is translated.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from psycopg import OperationalError, errors
from psycopg_pool import PoolTimeout

from oncall_core import (
    Conflict,
    NotFound,
    OncallError,
    ScheduleExists,
    StorageUnavailable,
    ValidationError,
)


@asynccontextmanager
async def domain_errors(*, team: str | None = None, name: str | None = None) -> AsyncIterator[None]:
    """Raise the domain error matching any database error raised inside.

    ``team`` and ``name`` describe the schedule the call is about, for the errors
    that name it.
    """
    try:
        yield
    except OncallError:
        raise
    except errors.UniqueViolation as error:
        if error.diag.constraint_name == "schedules_team_name_key" and team and name:
            raise ScheduleExists(team, name) from error
        raise Conflict(f"already exists ({error.diag.constraint_name})") from error
    except errors.ForeignKeyViolation as error:
        raise NotFound(f"a referenced row does not exist ({error.diag.constraint_name})") from error
    except errors.CheckViolation as error:
        raise ValidationError(f"rejected by the database ({error.diag.constraint_name})") from error
    except (errors.SerializationFailure, errors.DeadlockDetected) as error:
        raise Conflict("a concurrent change got in the way; try again") from error
    except PoolTimeout as error:
        raise StorageUnavailable("storage unavailable: no database connection in time") from error
    except OperationalError as error:
        raise StorageUnavailable(f"storage unavailable: {error}") from error


def worth_retrying(error: Exception) -> bool:
    """Whether a read that failed with this psycopg error may succeed at once on
    another connection: the connection broke, or a concurrent transaction got in
    the way.  Not when no connection came free in time (that already waited its
    time)."""
    if isinstance(error, errors.SerializationFailure | errors.DeadlockDetected):
        return True
    return isinstance(error, OperationalError) and not isinstance(error, PoolTimeout)
