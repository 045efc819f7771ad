"""A schema-driven fuzzer (schemathesis) against the served /openapi.json, on both stores.

Every request the document calls valid must be accepted (2xx, or 404/409 where
the data is missing or already there), every request it calls invalid must be
refused with a 4xx, and every response must match the document: status,
headers and body (schemathesis' response checks, all of them).  Derandomized
and bounded, so that a run is fast and the same every time.

Two rules no JSON Schema can state are left out of the valid requests
generated: a schedule's ``end`` after its ``start`` (at or before it when
``overnight``), and integers written as integers (JSON Schema's ``integer``
includes ``573.0``, which the server refuses).  The document says both in words.
Nor can it state what depends on the server's state and clock, so valid requests
are also generated without those: a ``cursor`` (only those the server gave are
valid), an ``If-Match`` other than ``*`` (a stale one is refused with 412), an
instant before the server's clock (the past is read-only: 422), a body
``team`` or ``name`` other than the path's (400), an override's ``end`` before
its start (or now), and a ``from``..``to`` range that is empty or longer than
366 days (400, with the defaults that hang on the clock).  A swap of instants
that start no shift is a 422 the document allows, though no schema can tell
such instants from others: for swaps, that one answer is not held against the
server.
"""

from __future__ import annotations

import warnings
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance
from starlette.testclient import TestClient

from oncall_core import ValidationError, clean_text, parse_instant, parse_time_of_day
from tests.server.conftest import NOW

PAST = NOW - timedelta(minutes=1)
# The ranges docs/api.md states: views look 7 days ahead of from (or now); feeds from 7
# days back to 90 ahead (97 days after from); at most 366 days either way.
DEFAULT_SPAN, BACK, FEED_SPAN = timedelta(days=7), timedelta(days=7), timedelta(days=97)
MAX_RANGE = timedelta(days=366)

EXAMPLES = 40  # per operation and mode


def times_in_order(body: Any) -> bool:
    """Whether a generated schedule's start and end agree with its overnight flag."""
    if not isinstance(body, dict):
        return True
    try:
        start = parse_time_of_day(body["start"], "start")
        end = parse_time_of_day(body["end"], "end")
    except (KeyError, TypeError, ValidationError):
        return True  # the schema said so already
    return end <= start if body.get("overnight", False) else start < end


def integral_floats(value: Any) -> bool:
    """Whether ``value`` holds a float with an integer value (``573.0``) anywhere."""
    if isinstance(value, float):
        return value.is_integer()
    if isinstance(value, dict):
        return any(integral_floats(item) for item in value.values())
    if isinstance(value, list):
        return any(integral_floats(item) for item in value)
    return False


def _not_past(text: Any) -> bool:
    try:
        return parse_instant(text, field="at") >= PAST
    except ValidationError:
        return True  # the schema said so already


def _same_text(given: Any, path: Any) -> bool:
    try:
        return given is None or clean_text(given, "text") == clean_text(path, "text")
    except ValidationError:
        return True  # the schema said so already


def _instant(text: Any) -> Any:
    if text == "now":
        return NOW
    try:
        return parse_instant(text, field="at")
    except ValidationError:
        return None


_EARLIEST, _LATEST = NOW.replace(year=1900, month=1, day=1), NOW.replace(year=2400, month=1, day=1)


def range_ok(query: dict[str, Any], path: str) -> bool:
    """Whether a view's ``from``..``to`` is one the server accepts (see _requests.time_range)."""
    start, end = _instant(query.get("from")), _instant(query.get("to"))
    if ("from" in query and start is None) or ("to" in query and end is None):
        return True  # the schema said so already
    if path.endswith("/overrides"):
        return start is None or end is None or end > start
    back, ahead = (BACK, FEED_SPAN) if path.endswith(".ics") else (timedelta(), DEFAULT_SPAN)
    if start is None:
        start = NOW - back if end is None else end - ahead
    if end is None:
        end = start + ahead
    in_years = all(_EARLIEST <= moment < _LATEST for moment in (start, end))
    return in_years and start < end and end - start <= MAX_RANGE


def override_ok(body: Any) -> bool:
    """Whether a generated override starts now or later and ends after that."""
    if not isinstance(body, dict):
        return True
    start, end = _instant(body.get("start")), _instant(body.get("end"))
    if start is None or end is None:
        return True  # the schema said so already
    return bool(start >= PAST and end > max(start, NOW))


def stateless(case: Any) -> bool:
    """Whether a valid request's outcome is independent of the server's state and clock
    (see the module docstring)."""
    query = case.query or {}
    headers = {key.lower(): value for key, value in (case.headers or {}).items()}
    body = case.body if isinstance(case.body, dict) else {}
    path = case.path_parameters or {}
    if "cursor" in query or headers.get("if-match", "*").strip(" \t") != "*":
        return False
    instants = [query.get("at"), query.get("effective"), body.get("at"), body.get("effective")]
    if not all(_not_past(text) for text in instants if text is not None):
        return False
    if not range_ok(query, case.path) or (
        case.path.endswith("/overrides") and not override_ok(body)
    ):
        return False
    return all(
        _same_text(body.get(field), path[field])
        for field in ("team", "name")
        if field in path and "/schedules" in case.path and case.method.upper() != "GET"
    )


def _send(test_client: TestClient, case: Any) -> Any:
    arguments = case.as_transport_kwargs(base_url="http://testserver")
    content = arguments.get("data")
    return test_client.request(
        arguments["method"],
        case.formatted_path,
        params=arguments.get("params"),
        headers=arguments.get("headers"),
        json=arguments.get("json"),
        content=content if content is not None else None,
    )


def _fuzz(test_client: TestClient, operation: Any, mode: str) -> None:
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=schemathesis.GenerationMode(mode)))
    def check(case: Any) -> None:
        if mode == "positive":
            assume(times_in_order(case.body) and not integral_floats(case.body))
            assume(stateless(case))
        response = _send(test_client, case)
        refused_swap = case.path.endswith("/swaps") and response.status_code == 422
        case.validate_response(
            response, excluded_checks=[positive_data_acceptance] if refused_swap else None
        )

    check()


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_the_server_does_what_its_openapi_document_says(
    client: TestClient,
    mode: str,
) -> None:
    document = client.get("/openapi.json").json()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        schema = schemathesis.openapi.from_dict(document)
    tried = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if (
            mode == "negative"
            and not operation.definition.raw.get("parameters")
            and ("requestBody" not in operation.definition.raw)
        ):
            continue  # nothing to make invalid

        _fuzz(client, operation, mode)
        tried += 1
    assert tried == (29 if mode == "positive" else 26)
