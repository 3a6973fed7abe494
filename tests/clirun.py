"""Running the real `slawitness` command in a child process, as cron or a user would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml


def slawitness(
    *args: str, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`slawitness ARGS...`, its output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def write_config(
    folder: Path,
    targets: list[dict],
    controls: list[dict] | None = None,
    vantage: str = "test-vantage",
) -> Path:
    """A config file in `folder` with a store beside it."""
    path = folder / "slawitness.yml"
    data: dict = {"vantage": vantage, "store": "evidence.db", "targets": targets}
    if controls:
        data["controls"] = controls
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
