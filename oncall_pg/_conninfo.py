"""libpq connection strings: building them, checking them, and hiding their passwords.

libpq takes two spellings, a URI (``postgresql://user:pw@host:5432/db?sslmode=require``)
and ``key=value`` pairs (``host=db password='it''s' dbname=oncall``).  Whatever names
a database, in either spelling, goes through these functions, so that nothing outside
this package needs to know libpq's quoting rules.
"""

from __future__ import annotations

import re

from psycopg.conninfo import conninfo_to_dict, make_conninfo

__all__ = ["build_conninfo", "conninfo_target", "is_conninfo", "redact_conninfo"]

_MASK = "***"


def build_conninfo(**params: str | int) -> str:
    """A libpq ``key=value`` string of ``params`` (``host``, ``port``, ``dbname``...).

    Values are quoted as libpq needs (spaces, quotes, backslashes).  Raises
    :class:`psycopg.ProgrammingError` for a key that libpq does not know.
    """
    return make_conninfo("", **params)


def conninfo_target(text: str) -> dict[str, str | int]:
    """The ``host``, ``port`` and ``database`` a libpq connection string connects to.

    What the string leaves out is libpq's default, said as such (a missing host is
    libpq's default Unix-socket directory, which libpq alone knows); with several
    hosts, the first port.  No password, whatever the string holds.
    """
    parts = conninfo_to_dict(text)
    return {
        "host": str(parts.get("host") or "(libpq default)"),
        "port": int(str(parts.get("port") or 5432).split(",")[0]),
        "database": str(parts.get("dbname") or parts.get("user") or "(libpq default)"),
    }


def is_conninfo(text: str) -> bool:
    """Whether libpq accepts ``text`` as a connection URI or ``key=value`` string."""
    try:
        conninfo_to_dict(text)
    except Exception:  # psycopg raises ProgrammingError, but a parser may raise anything
        return False
    return True


_URI = re.compile(r"(?P<scheme>postgres(?:ql)?://)(?P<rest>.*)", re.DOTALL)
_QUERY_PASSWORD = re.compile(r"(?P<key>[?&]password=)[^&]*")
_KEYWORD_PASSWORD = re.compile(
    r"(?P<key>(?:^|\s)password\s*=\s*)(?:'(?:[^'\\]|\\.)*'|(?:[^\s'\\]|\\.)+)"
)


def redact_conninfo(text: str) -> str:
    """``text``, a libpq URI or ``key=value`` string, with any password replaced by ``***``.

    ``postgresql://oncall:s3cret@db/oncall`` becomes ``postgresql://oncall:***@db/oncall``;
    a ``password`` query parameter or keyword is masked too.  A string libpq cannot
    parse is masked whole.
    """
    uri = _URI.fullmatch(text)
    if uri is None:
        try:
            params = conninfo_to_dict(text)
        except Exception:
            return _MASK
        if "password" not in params:
            return text
        masked = _KEYWORD_PASSWORD.sub(lambda match: match["key"] + _MASK, text)
        # Keep the operator's spelling when the substitution provably did the job;
        # otherwise rebuild the string (in libpq's order).
        if conninfo_to_dict(masked).get("password") == _MASK:
            return masked
        params["password"] = _MASK
        return make_conninfo("", **params)
    rest = uri["rest"]
    # Like libpq, user info is whatever precedes the first "@" before any "/".
    authority_end = rest.find("/")
    authority = rest if authority_end < 0 else rest[:authority_end]
    if "@" in authority:
        user_info, _, host_part = authority.partition("@")
        user, colon, _password = user_info.partition(":")
        if colon:
            rest = f"{user}:{_MASK}@{host_part}{rest[len(authority) :]}"
    rest = _QUERY_PASSWORD.sub(lambda match: match["key"] + _MASK, rest)
    return uri["scheme"] + rest
