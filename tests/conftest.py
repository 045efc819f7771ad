"""Shared test settings: hypothesis profiles, fast and repeatable by default, thorough
with ONCALL_HYPOTHESIS_PROFILE=thorough.

This file needs only the core's test dependencies (hypothesis, pytest), so that
``pytest tests/core`` runs where only ``oncall_core`` is installed.  The
PostgreSQL fixtures are in ``tests/postgres.py``; the conftest files of the
suites that need them (pg, contract, server) load them.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# "fast" (the default, and CI's) draws the same examples on every run, so a result
# does not depend on luck; "thorough" explores afresh each time.
settings.register_profile(
    "fast",
    max_examples=60,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "thorough",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("ONCALL_HYPOTHESIS_PROFILE", "fast"))
