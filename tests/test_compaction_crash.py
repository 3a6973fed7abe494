"""A compaction killed at any moment loses nothing: the rows or their block, never neither.

A real SQLite store of three fixed days is compacted by a child process that this test
kills with SIGKILL at growing delays after it opened the store; after every kill the store
must open, verify as the untouched copy does, and hold every seq exactly once with its
original payload. A last, uninterrupted compaction must then finish the job. The
assertions hold whichever moment a kill lands on; the only thing asked of timing is that
the first kill (right after the child said it started) finds the child still working,
which three days of records at zstd-19 (several seconds) make certain."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

from collector.evidence.compaction import compact
from collector.evidence.store import EvidenceStore
from tests.month_store import ns, write_month

HOSTS = [
    ("vps1", "ping", "icmp", "target"),
    ("vps1", "ssh", "tcp", "target"),
    ("vps1", "web", "http", "target"),
    ("resolver", "ping", "icmp", "control"),
]
LATER = ns("2026-10-06T00:00:00")
DELAYS_S = (0.0, 0.3, 0.7, 1.2, 2.0, 3.0)
CHILD = """
import sys
from collector.evidence.compaction import compact
from collector.evidence.store import EvidenceStore
with EvidenceStore.open(sys.argv[1]) as store:
    print("started", flush=True)
    compact(store, int(sys.argv[2]))
print("finished", flush=True)
"""


def _payloads(path: Path) -> tuple[list[object], list[object]]:
    """Every record as read back, and every chain hash, seq 1 to the head."""
    with EvidenceStore.open(path) as store:
        head = store.head()
        assert head is not None
        return list(store.records()), list(store.hashes(0, head.seq))


def _kill_after(store: Path, delay_s: float) -> int | None:
    """Start a compacting child, kill it `delay_s` after it started: its exit status
    (negative for a kill), or None when it had finished first."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(store), str(LATER)],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parent.parent,
    )  # fmt: skip
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "started"
    try:
        child.wait(timeout=delay_s)
        return None
    except subprocess.TimeoutExpired:
        child.send_signal(signal.SIGKILL)
        return child.wait(timeout=30)


def test_a_compaction_killed_at_any_moment_keeps_every_record(tmp_path: Path) -> None:
    original = tmp_path / "original.db"
    write_month(
        original, vantage="office", start="2026-10-01T00:00:00", end="2026-10-04T00:00:00",
        hosts=HOSTS, down={"vps1": [("2026-10-02T10:00:00", "2026-10-02T10:30:00")]},
    )  # fmt: skip
    killed = tmp_path / "killed.db"
    shutil.copy(original, killed)
    expected = _payloads(original)
    with EvidenceStore.open(original) as store:
        expected_verify = store.verify()

    outcomes = []
    for delay in DELAYS_S:
        outcomes.append(_kill_after(killed, delay))
        with EvidenceStore.open(killed) as store:
            assert store.verify() == expected_verify
        assert _payloads(killed) == expected
    assert outcomes[0] == -signal.SIGKILL, "the first kill must land while compacting"

    with EvidenceStore.open(killed) as store:
        compact(store, LATER)
        assert store.first_raw() is None, "a later compaction finishes the job"
        assert store.verify() == expected_verify
    assert _payloads(killed) == expected
