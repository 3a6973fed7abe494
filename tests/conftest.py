"""The rig's fixtures, loaded as plugins (a rig that cannot be built fails under CI=true)."""

from __future__ import annotations

import os

import pytest

from tests.rig import SLOW_ENV

pytest_plugins = [
    "tests.rig.servers",
    "tests.rig.netns",
    "tests.rig.stores",
    "tests.rig.prometheus",
]


def pytest_addoption(parser):  # type: ignore[no-untyped-def]
    parser.addoption(
        "--slow",
        action="store_true",
        help="run the long variants of the reliability tests (more kills, rounds, examples)",
    )


def pytest_configure(config):  # type: ignore[no-untyped-def]
    if config.getoption("--slow"):  # read at import by modules that size hypothesis runs
        os.environ[SLOW_ENV] = "1"


@pytest.fixture
def slow(request) -> bool:  # type: ignore[no-untyped-def]
    """True under --slow: the reliability tests scale their counts up."""
    return bool(request.config.getoption("--slow"))
