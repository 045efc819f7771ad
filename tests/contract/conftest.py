"""This suite runs on a real PostgreSQL: the fixtures of tests/postgres.py."""

from tests.postgres import (  # noqa: F401 (fixtures are found by name)
    database_url,
    empty_database_url,
    no_cluster_left_behind,
    postgres_url,
    template_database,
)
