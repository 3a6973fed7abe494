"""A report killed while its worker processes run leaves none of them behind.

A report of 200,000 samples or more hands samples.csv and the PDFs to spawned workers
(`reports.render.background`). The real `slawitness report` runs as a child process here; once its
workers are up it is killed (SIGKILL, which no Python code sees, and SIGTERM), and /proc
must then hold none of the processes it started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from reports.render.background import BACKGROUND_SAMPLES
from tests.month_store import write_month

PROBES = 5
DEADLINE_S = 120
"""How long a condition is waited for (the workers to start, or to be gone): a bound on a
wait that normally takes a second, not a measurement."""


@pytest.fixture(scope="module")
def big_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """28 days of five one-minute probes of one target: more samples than BACKGROUND_SAMPLES."""
    folder = tmp_path_factory.mktemp("big")
    probes = [{"name": f"p{i}", "kind": "tcp", "port": 443, "interval": "60s", "timeout": "2s"}
              for i in range(PROBES)]  # fmt: skip
    config = {"vantage": "office", "store": "evidence.db",
              "targets": [{"name": "vps1", "host": "127.0.0.1", "probes": probes,
                           "sla": {"uptime": 99.9, "timezone": "UTC"}}]}  # fmt: skip
    (folder / "slawitness.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    written = write_month(
        folder / "evidence.db",
        vantage="office",
        start="2026-10-01T00:00:00",
        end="2026-10-29T00:00:00",
        hosts=[("vps1", f"p{i}", "tcp", "target") for i in range(PROBES)],
        down={"vps1": [("2026-10-03T10:00:00", "2026-10-03T11:00:00")]},
    )
    assert written >= BACKGROUND_SAMPLES
    return folder


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found |= {int(c) for c in (task / "children").read_text().split()}
        except OSError:
            continue
    return found


def _descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        for child in _children(todo.pop()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    """In /proc and not a zombie (a zombie holds no memory; only its parent can reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _workers_of(process: subprocess.Popen[bytes]) -> set[int]:
    """The report's spawned workers, once they are running (its other children come and go)."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline and process.poll() is None:
        workers = {p for p in _descendants(process.pid) if "multiprocessing" in _cmdline(p)}
        if len(workers) >= 2:  # the resource tracker and at least one worker
            return workers
        time.sleep(0.02)
    pytest.fail("the report never started its worker processes")


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_killed_report_leaves_no_worker_process(
    big_case: Path, tmp_path: Path, how: signal.Signals
) -> None:
    out = tmp_path / "report"
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "report", "--config", str(big_case / "slawitness.yml"),
         "--target", "vps1", "--period", "2026-10", "--format", "json,csv", "--out", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        started = _workers_of(process) | _descendants(process.pid)
        os.kill(process.pid, how)
        _, stderr = process.communicate(timeout=DEADLINE_S)
        deadline = time.monotonic() + DEADLINE_S
        while any(map(_alive, started)) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = {pid: _cmdline(pid) for pid in started if _alive(pid)}
        assert not left, f"left behind after {how.name}: {left}"
        if how == signal.SIGTERM:
            assert process.returncode == 128 + signal.SIGTERM, stderr
            assert b"Traceback" not in stderr, stderr
            assert not list(out.glob("*.partial")), "SIGTERM left a partial file"
    finally:
        process.kill()
        process.wait()
