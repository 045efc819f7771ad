"""The named SQL queries of ``sql/queries.sql``, loaded once.

Each block starts with a ``-- name --`` line and a ``-- description`` line;
the SQL follows.  Queries are parametrised with psycopg's ``%(name)s``
placeholders: no user data is ever formatted into SQL text.  One query is
derived from another rather than written twice: ``load_teams`` (see
:func:`_derive`).
"""

from __future__ import annotations

import re
from importlib.resources import files

_HEADER = re.compile(r"^-- (?P<name>\w+) --$", re.MULTILINE)


def _parse(text: str) -> dict[str, str]:
    queries: dict[str, str] = {}
    headers = list(_HEADER.finditer(text))
    for header, following in zip(headers, [*headers[1:], None], strict=True):
        body = text[header.end() : following.start() if following else len(text)]
        sql = "\n".join(line for line in body.splitlines() if not line.startswith("--")).strip()
        queries[header["name"]] = sql
    return queries


def _load() -> dict[str, str]:
    # The file ships inside the package: its text is as trusted as a literal in code.
    return _parse(files("oncall_pg").joinpath("sql", "queries.sql").read_text(encoding="utf-8"))


def _derive(queries: dict[str, str]) -> dict[str, str]:
    # load_teams is load_team for any number of teams: the same JSON document,
    # written once.  It is a statement of its own, not load_team with a one-element
    # array: the planner cannot tell how many names an array parameter holds, so
    # for "= ANY" it never settles on a generic plan, and every load would be
    # planned afresh (about 0.4 ms).
    one, many = "WHERE t.name = %(team)s;", "WHERE t.name = ANY(%(teams)s::text[]);"
    if queries["load_team"].count(one) != 1:
        raise RuntimeError(f"sql/queries.sql: load_team must end with {one}")
    return {**queries, "load_teams": queries["load_team"].replace(one, many)}


QUERIES = _derive(_load())
