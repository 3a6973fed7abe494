"""Quiet in cron, informative on a terminal: --quiet, --log-level and --version."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import pytest

from collector.evidence.store import EvidenceStore
from tests.clirun import slawitness, slawitness_installed, write_config
from tests.rig.loopback import TcpListener


@pytest.fixture
def config(tmp_path: Path, tcp_listener: TcpListener) -> Path:
    return write_config(
        tmp_path,
        [{"name": "vps1", "host": "127.0.0.1",
          "probes": [{"name": "ssh", "kind": "tcp", "port": tcp_listener.port}]}],
    )  # fmt: skip


def test_a_round_prints_its_lines_and_is_silent_when_quiet(tmp_path: Path, config: Path) -> None:
    loud = slawitness("probe", "--config", str(config))
    assert loud.returncode == 0 and "vps1" in loud.stdout
    quiet = slawitness("--quiet", "probe", "--config", str(config))
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    with EvidenceStore.open(tmp_path / "evidence.db", readonly=True) as store:
        assert store.count() >= 4  # both rounds were recorded all the same


def test_a_log_level_above_info_is_quiet_too(config: Path) -> None:
    done = slawitness("--log-level", "warning", "probe", "--config", str(config))
    assert (done.returncode, done.stdout) == (0, "")


def test_errors_still_show_when_quiet(tmp_path: Path) -> None:
    done = slawitness("--quiet", "probe", "--config", str(tmp_path / "missing.yml"))
    assert done.returncode == 2 and "missing.yml" in done.stderr


def test_version() -> None:
    done = slawitness_installed("--version")  # the console script pip installed, as cron runs it
    assert done.returncode == 0 and version("slawitness") in done.stdout
