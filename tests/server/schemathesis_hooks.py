"""Hooks for a full schemathesis run (every phase, every check) against a live server.

test_fuzz.py runs the fuzzing phase in the suite; this runs all phases, including
coverage and stateful ones, for a more thorough look (about 20 s per store)::

    ONCALL_USE_DATABASE=false ONCALL_SERVER__PORT=18373 oncall-server &
    SCHEMATHESIS_HOOKS=tests.server.schemathesis_hooks schemathesis run \\
        http://127.0.0.1:18373/openapi.json --checks all --max-examples 25 \\
        --generation-deterministic

The hook leaves out the requests whose validity no JSON Schema can state (see
test_fuzz.py).
"""

from __future__ import annotations

from typing import Any

import schemathesis

from tests.server.test_fuzz import integral_floats, override_ok, times_in_order


@schemathesis.hook
def filter_case(context: Any, case: Any) -> bool:
    """Keep a case unless the document cannot say whether it is valid."""
    overrides = case.path.endswith("/overrides") and case.method.upper() == "POST"
    return (
        times_in_order(case.body)
        and not integral_floats(case.body)
        and (not overrides or override_ok(case.body))
    )
