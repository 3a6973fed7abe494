"""The rig's fixtures, loaded as plugins (a rig that cannot be built fails under CI=true)."""

from __future__ import annotations

import collections
import json
import os

import pytest

from tests.rig import SLOW_ENV

pytest_plugins = [
    "tests.rig.servers",
    "tests.rig.netns",
    "tests.rig.stores",
    "tests.rig.prometheus",
    "tests.rig.tsa",
    "tests.rig.routed",
]


def pytest_addoption(parser):  # type: ignore[no-untyped-def]
    parser.addoption(
        "--figures",
        metavar="FILE",
        default=None,
        help="write the reliability tests' counts (kills, records, cases) to FILE as JSON",
    )
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


_FIGURES: collections.Counter[str] = collections.Counter()


@pytest.fixture(scope="session")
def figures() -> collections.Counter[str]:
    """Counts the reliability tests add to (kills survived, records checked, cases tried),
    written by `--figures FILE` for RELIABILITY.md."""
    return _FIGURES


def pytest_sessionfinish(session, exitstatus):  # type: ignore[no-untyped-def]
    target = session.config.getoption("--figures")
    if target:
        with open(target, "w", encoding="utf-8") as out:
            json.dump(dict(sorted(_FIGURES.items())), out, indent=2)
            out.write("\n")
