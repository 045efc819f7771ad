"""oncall_pg: PostgreSQL storage for oncall_core (psycopg 3), migrations, embedded Postgres.

It imports ``oncall_core`` and nothing of the server.
"""

from ._migrate import Migration, SchemaTooNew, migrate, migrations
from ._store import PostgresStore

__all__ = ["Migration", "PostgresStore", "SchemaTooNew", "migrate", "migrations"]
