"""The test rig: real servers and hosts that the tests break on purpose."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def rig_unavailable(reason: str) -> NoReturn:
    """Skip a test whose rig cannot be built here, but fail it under CI=true, where it must."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"rig unavailable in CI: {reason}")
    pytest.skip(f"rig unavailable: {reason}")


SLOW_ENV = "SLAWITNESS_TESTS_SLOW"
"""Set by `pytest --slow` before collection, for tests that size their runs at import."""


def slow_run() -> bool:
    """Whether this is a `pytest --slow` run (the long variants)."""
    return os.environ.get(SLOW_ENV) == "1"
