"""oncall_pg: PostgreSQL storage for oncall_core (psycopg 3), migrations, embedded Postgres.

It imports ``oncall_core`` and nothing of the server.
"""

from ._conninfo import build_conninfo, is_conninfo, redact_conninfo
from ._embedded import EmbeddedPostgres, EmbeddedPostgresError, default_data_dir
from ._migrate import Migration, SchemaTooNew, migrate, migrations
from ._store import PostgresStore

__all__ = [
    "EmbeddedPostgres",
    "EmbeddedPostgresError",
    "Migration",
    "PostgresStore",
    "SchemaTooNew",
    "build_conninfo",
    "default_data_dir",
    "is_conninfo",
    "migrate",
    "migrations",
    "redact_conninfo",
]
