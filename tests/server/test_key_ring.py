"""The key ring's memory of accepted ``Authorization`` values never changes an answer.

White-box on purpose: ``oncall_server._keys.KeyRing`` remembers the header values it
accepted, so that a client's key is hashed once, not on every request.  These tests
hold that memory to the rule a request is judged by (the first ``Authorization``
header, scheme ``Bearer`` in any case, the secret trimmed, looked up by its SHA-256),
written out again here from docs/security.md; check its bound; and check that a
revoked key is refused once the ring has read the keys again, remembered or not.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from oncall_pg import KeyRecord, PostgresKeys
from oncall_server import _keys
from oncall_server._keys import KeyRing

NOW = datetime(2025, 4, 28, 12, tzinfo=UTC)
SECRETS = ["oncall_first-0123456789abcdef", "oncall_second-0123456789abcdef", "ünïcode-key"]
RECORDS = [
    KeyRecord(
        name=f"key-{number}",
        hash=hashlib.sha256(secret.encode()).hexdigest(),
        scope="read",
        teams=(),
    )
    for number, secret in enumerate(SECRETS)
]
BY_HASH = {record.hash: record for record in RECORDS}

Headers = list[tuple[bytes, bytes]]


def expected(headers: Headers) -> KeyRecord | None:
    """The rule, from the documentation, with no memory."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, secret = value.decode("latin-1").partition(" ")
            secret = secret.strip()
            if scheme.lower() != "bearer" or not secret:
                return None
            return BY_HASH.get(hashlib.sha256(secret.encode()).hexdigest())
    return None


spaces = st.text(st.sampled_from(" \t\x0b\x0c\x1c\x1f"), max_size=2)
secrets = st.sampled_from(SECRETS) | st.text(max_size=8)
schemes = st.sampled_from(["Bearer", "bearer", "BEARER", "Basic", "Bearer:", ""])
spelled = st.builds(lambda s, a, b, c: f"{s} {a}{b}{c}", schemes, spaces, secrets, spaces)
values = spelled.filter(lambda text: all(ord(c) < 256 for c in text)).map(
    lambda text: text.encode("latin-1")
) | st.binary(max_size=12)
header_lists = st.lists(
    st.tuples(st.sampled_from([b"authorization", b"host", b"x-other"]), values), max_size=3
)


@given(st.lists(header_lists, min_size=1, max_size=40))
def test_a_remembered_value_answers_as_the_rule_does(requests: list[Headers]) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_keys, "ACCEPTED_REMEMBERED", 3)  # so that draws reach the bound
        ring = KeyRing(RECORDS, clock=lambda: NOW)
        for headers in requests * 2:  # each again, once remembered
            assert ring.find_presented({"headers": headers}) == expected(headers)
            assert len(ring._accepted) <= 3


async def test_a_remembered_key_is_refused_once_revoked(database_url: str) -> None:
    secret = "oncall_revoked-0123456789abcdef"
    scope = {"headers": [(b"authorization", f"Bearer {secret}".encode())]}
    async with AsyncConnectionPool(
        database_url, kwargs={"autocommit": True, "row_factory": dict_row}, open=False
    ) as pool:
        keys = PostgresKeys(pool)
        await keys.create(
            name="bot", hash=hashlib.sha256(secret.encode()).hexdigest(), scope="read",
            teams=[], now=NOW,
        )  # fmt: skip
        ring = KeyRing(stored=keys, clock=lambda: NOW)
        await ring.refresh()
        for _ in range(2):  # hashed, then remembered
            found = ring.find_presented(scope)
            assert found is not None and found.name == "bot"
        await ring.refresh()  # the same keys: still remembered, still accepted
        assert ring.find_presented(scope) is not None
        assert await keys.revoke("bot", now=NOW) is not None
        await ring.refresh()
        assert ring.find_presented(scope) is None
        assert not ring.open  # a revoked key still counts: the ring stays closed
