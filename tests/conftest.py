"""The rig's fixtures, loaded as plugins (a rig that cannot be built fails under CI=true)."""

from __future__ import annotations

pytest_plugins = [
    "tests.rig.servers",
    "tests.rig.netns",
    "tests.rig.stores",
    "tests.rig.prometheus",
]
