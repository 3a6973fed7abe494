"""Shared fixtures: the rig's plugins, and the rule that a rig that cannot be built fails in CI."""

from __future__ import annotations

pytest_plugins = [
    "tests.rig.servers",
    "tests.rig.netns",
    "tests.rig.stores",
]
