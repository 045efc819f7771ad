"""Rate limits over HTTP: 429 with Retry-After past the burst, per address and per key,
refilled by an injected clock."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from starlette.testclient import TestClient

from oncall_core import MemoryStore
from oncall_server import ApiKeyConfig, Config, ServerConfig, create_app

SECRETS = {
    "a": "oncall_rate-a-0123456789abcdef0123456789abcdef",
    "b": "oncall_rate-b-0123456789abcdef0123456789abcdef",
}
KEYS = tuple(
    ApiKeyConfig(name=name, hash=hashlib.sha256(secret.encode()).hexdigest(), scope="read")
    for name, secret in SECRETS.items()
)


class Timer:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@contextmanager
def clients(timer: Timer, **server: object) -> Iterator[Callable[[str], TestClient]]:
    """TestClients of one app, by client address."""
    config = Config(server=ServerConfig(**server), use_database=False)  # type: ignore[arg-type]
    app = create_app(config, store=MemoryStore(), timer=timer)
    opened: dict[str, TestClient] = {}

    def at(address: str) -> TestClient:
        if address not in opened:
            opened[address] = TestClient(app, client=(address, 50000)).__enter__()
        return opened[address]

    try:
        yield at
    finally:
        for client in opened.values():
            client.__exit__(None, None, None)


def statuses(client: TestClient, count: int, token: str | None = None) -> list[int]:
    headers = {"Authorization": f"Bearer {SECRETS.get(token, token)}"} if token else {}
    return [client.get("/healthz", headers=headers).status_code for _ in range(count)]


def test_past_the_burst_a_429_says_when_to_retry_and_time_refills() -> None:
    timer = Timer()
    with clients(timer, rate_limit=1.0, rate_limit_burst=3) as at:
        client = at("10.0.0.1")
        assert statuses(client, 3) == [200, 200, 200]
        refused = client.get("/healthz")
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "1"
        assert refused.json() == {"error": "too many requests; retry in 1 s"}
        assert "x-request-id" in refused.headers  # logged like any request
        timer.now += 0.5
        assert statuses(client, 1) == [429]  # half a token is not one
        timer.now += 0.5
        assert statuses(client, 2) == [200, 429]
        timer.now += 60  # refills up to the burst, not beyond
        assert statuses(client, 4) == [200, 200, 200, 429]


def test_retry_after_is_whole_seconds_and_at_least_one() -> None:
    timer = Timer()
    with clients(timer, rate_limit=0.1, rate_limit_burst=1) as at:
        client = at("10.0.0.1")
        assert statuses(client, 1) == [200]
        assert client.get("/healthz").headers["retry-after"] == "10"
        timer.now += 9.5
        assert client.get("/healthz").headers["retry-after"] == "1"  # 0.5 s, rounded up
    with clients(timer, rate_limit=50.0, rate_limit_burst=1) as at:
        assert statuses(at("10.0.0.1"), 1) == [200]
        assert at("10.0.0.1").get("/healthz").headers["retry-after"] == "1"  # 0.02 s


def test_each_address_has_its_own_bucket() -> None:
    with clients(Timer(), rate_limit=1.0, rate_limit_burst=2) as at:
        assert statuses(at("10.0.0.1"), 3) == [200, 200, 429]
        assert statuses(at("10.0.0.2"), 3) == [200, 200, 429]


def test_a_key_has_its_own_bucket_which_follows_it_across_addresses() -> None:
    with clients(Timer(), rate_limit=1.0, rate_limit_burst=2, api_keys=KEYS) as at:
        assert statuses(at("10.0.0.1"), 2) == [200, 200]
        assert statuses(at("10.0.0.1"), 1) == [429]  # the address is spent...
        assert statuses(at("10.0.0.1"), 2, token="a") == [200, 200]  # ...not key a
        assert statuses(at("10.0.0.2"), 1, token="a") == [429]  # key a, from elsewhere
        assert statuses(at("10.0.0.2"), 2, token="b") == [200, 200]
        assert statuses(at("10.0.0.2"), 2) == [200, 200]  # the address without a key


def test_a_made_up_token_counts_against_the_address() -> None:
    # Only a key the server knows has a bucket of its own; fresh tokens get none.
    with clients(Timer(), rate_limit=1.0, rate_limit_burst=2, api_keys=KEYS) as at:
        assert statuses(at("10.0.0.1"), 2) == [200, 200]
        assert statuses(at("10.0.0.1"), 1, token="made-up-1") == [429]
        assert statuses(at("10.0.0.1"), 1, token="made-up-2") == [429]


def test_the_buckets_kept_are_bounded() -> None:
    with clients(Timer(), rate_limit=1.0, rate_limit_burst=1, rate_limit_clients=2) as at:
        assert statuses(at("10.0.0.1"), 2) == [200, 429]
        assert statuses(at("10.0.0.2"), 2) == [200, 429]
        assert statuses(at("10.0.0.1"), 1) == [429]  # still kept
        assert statuses(at("10.0.0.3"), 1) == [200]  # drops 10.0.0.2, the least recent
        assert statuses(at("10.0.0.2"), 1) == [200]  # a new, full bucket


def test_no_limit_by_default() -> None:
    with TestClient(create_app(store=MemoryStore())) as client:
        assert set(statuses(client, 200)) == {200}
