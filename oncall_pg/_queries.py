"""The named SQL queries of ``sql/queries.sql``, loaded once.

Each block starts with a ``-- name --`` line and a ``-- description`` line;
the SQL follows.  Queries are parametrised with psycopg's ``%(name)s``
placeholders: no user data is ever formatted into SQL text.
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


QUERIES = _load()
