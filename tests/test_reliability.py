"""Evidence survives what really happens to collectors: overlapping cron rounds and kills.

These tests start the real `slawitness` processes against loopback targets and check the
store afterwards. Their counts are the fast variants; `pytest --slow` runs the long ones.
RELIABILITY.md lists the guarantees and the figures of a run.
"""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from collector.evidence.store import EvidenceStore
from tests.clirun import write_config
from tests.rig.loopback import TcpListener
from tests.rig.stores import make_record

COMMAND = [sys.executable, "-m", "cli"]


def tcp_config(folder: Path, port: int, probes: int, interval: str = "60s") -> Path:
    timeout = "50ms" if interval.endswith("ms") else "2s"
    return write_config(
        folder,
        [{"name": "vps1", "host": "127.0.0.1",
          "probes": [{"name": f"tcp{i}", "kind": "tcp", "port": port, "interval": interval,
                      "timeout": timeout} for i in range(probes)]}],
    )  # fmt: skip


def test_sixteen_probe_rounds_at_once_make_one_chain(
    tmp_path: Path, tcp_listener: TcpListener, slow: bool, figures: Counter[str]
) -> None:
    config = tcp_config(tmp_path, tcp_listener.port, probes=2)
    processes, rounds = 16, 30 if slow else 10
    per_round = 0
    for number in range(rounds):
        with EvidenceStore.open(tmp_path / "evidence.db", create=True) as store:
            before = store.count()
        argv = [*COMMAND, "--quiet", "probe", "--config", str(config)]
        started = [
            subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(processes)
        ]
        for child in started:
            _, err = child.communicate(timeout=120)
            assert child.returncode == 0, err
            assert "locked" not in err and "busy" not in err.lower(), err
        with EvidenceStore.open(tmp_path / "evidence.db", readonly=True) as store:
            added = store.count() - before
        per_round = per_round or added // processes
        assert added == processes * per_round, f"round {number}: {added} records"
    with EvidenceStore.open(tmp_path / "evidence.db", readonly=True) as store:
        report = store.verify()
        seqs = [r.seq for r in store.records()]
    assert report.ok, report.problem
    assert seqs == list(range(1, rounds * processes * per_round + 1))  # one chain, no gaps
    assert per_round >= 3  # two probe records and the round's own record
    figures["overlap: probe processes run at once, in total"] += rounds * processes
    figures["overlap: records checked"] += len(seqs)


def test_sigkill_at_random_moments_loses_nothing_committed(
    tmp_path: Path, tcp_listener: TcpListener, slow: bool, figures: Counter[str]
) -> None:
    config = tcp_config(tmp_path, tcp_listener.port, probes=4, interval="100ms")
    path, kills = tmp_path / "evidence.db", 100 if slow else 30
    chance = random.Random(6)
    checked = 0
    for _ in range(kills):
        child = subprocess.Popen(
            [*COMMAND, "run", "--config", str(config)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        time.sleep(chance.uniform(0.6, 2.5))
        seen = None
        if path.exists():
            with EvidenceStore.open(path, readonly=True) as store:
                seen = store.head()  # committed: another connection can read it
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        with EvidenceStore.open(path, readonly=True) as store:
            report = store.verify()
            assert report.ok, report.problem
            if seen is not None:
                (kept,) = store.records(after_seq=seen.seq - 1, limit=1)
                assert (kept.seq, kept.hash) == (seen.seq, seen.hash)
                assert report.count >= seen.seq
            assert report.count == report.head_seq  # seqs 1..n, none repeated
            checked = report.count
            figures["crash: SIGKILLs of slawitness run survived"] += 1
            figures["crash: records re-verified after the kills"] += report.count
    assert checked > kills * 5  # the daemon got to append between the kills


def test_a_wal_torn_mid_frame_keeps_every_earlier_commit(tmp_path: Path) -> None:
    """Power fails while the last transaction's frames are written: the store opens,
    every earlier commit is there, the torn batch is wholly absent, the chain verifies."""
    live, copy = tmp_path / "live", tmp_path / "copy"
    live.mkdir()
    copy.mkdir()
    path = live / "evidence.db"
    with EvidenceStore.create(path) as store:
        committed = [
            a for i in range(20) for a in store.append([make_record(i * 3 + j) for j in range(3)])
        ]
        last = store.append([make_record(1000 + j, target=f"host{j}") for j in range(40)])
        for name in ("evidence.db", "evidence.db-wal"):  # the files as the disk holds them
            shutil.copyfile(live / name, copy / name)
    wal = copy / "evidence.db-wal"
    frame = 24 + 4096
    assert wal.stat().st_size > 4 * frame, "the batches must still be in the WAL"
    with wal.open("r+b") as torn:
        torn.truncate(wal.stat().st_size - frame // 2)  # half of the last frame never landed
    with EvidenceStore.open(copy / "evidence.db") as store:
        report = store.verify()
        stored = [(r.seq, r.hash) for r in store.records()]
    assert report.ok, report.problem
    assert stored[: len(committed)] == [(a.seq, a.hash) for a in committed]
    assert len(stored) == len(committed) and len(last) == 40  # its commit frame was torn
