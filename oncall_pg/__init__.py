"""oncall_pg: PostgreSQL storage for oncall_core (psycopg 3), migrations, embedded Postgres.

It imports ``oncall_core`` and nothing of the server.
"""

from ._embedded import EmbeddedPostgres, EmbeddedPostgresError, default_data_dir
from ._migrate import Migration, SchemaTooNew, migrate, migrations
from ._store import PostgresStore

__all__ = [
    "EmbeddedPostgres",
    "EmbeddedPostgresError",
    "Migration",
    "PostgresStore",
    "SchemaTooNew",
    "default_data_dir",
    "migrate",
    "migrations",
]
