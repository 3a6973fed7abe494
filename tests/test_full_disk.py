"""A store on a disk that fills up: one clear line, nothing committed lost, a visible gap,
and the next round resumes once there is room again (a real tmpfs, filled by the test)."""

from __future__ import annotations

import errno
from collections.abc import Callable
from pathlib import Path

import yaml

from collector.evidence.ballast import BALLAST_BYTES, ballast_path, marker_path
from collector.evidence.store import EvidenceStore
from tests.clirun import slawitness
from tests.rig.loopback import TcpListener


def fill(folder: Path) -> Path:
    """A file that takes every free block of the file system."""
    filler = folder / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(bytes(256 * 1024))
                out.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def test_a_full_disk_stops_the_round_then_resumes_with_a_visible_gap(
    tmp_path: Path, small_tmpfs: Callable[[str], Path], tcp_listener: TcpListener
) -> None:
    disk = small_tmpfs("16m")
    store_path = disk / "evidence.db"
    config = tmp_path / "slawitness.yml"
    config.write_text(yaml.safe_dump({
        "vantage": "office", "store": str(store_path),
        "targets": [{"name": "vps1", "host": "127.0.0.1", "probes": [
            {"name": "ssh", "kind": "tcp", "port": tcp_listener.port, "timeout": "2s"}]}],
    }))  # fmt: skip
    first = slawitness("probe", "--config", str(config))
    assert first.returncode == 0, first.stderr
    assert "MiB free for" in first.stderr  # 16 MiB is below the low-space watermark
    assert ballast_path(str(store_path)).stat().st_size == BALLAST_BYTES
    with EvidenceStore.open(store_path, readonly=True) as store:
        before = store.count()
    filler = fill(disk)
    stored_rounds = 0
    for _ in range(50):
        failed = slawitness("--quiet", "probe", "--config", str(config))
        if failed.returncode != 0:
            break
        stored_rounds += 1
    assert failed.returncode == 3
    assert (
        failed.stderr.strip()
        .splitlines()[-1]
        .startswith(f"slawitness: {store_path}: the disk is full: this batch was not stored")
    )
    assert not ballast_path(str(store_path)).exists() and marker_path(str(store_path)).exists()
    filler.unlink()
    again = slawitness("probe", "--config", str(config))
    assert again.returncode == 0, again.stderr
    with EvidenceStore.open(store_path, readonly=True) as store:
        report = store.verify()
        events = [r.record for r in store.records(types=["collector"], after_seq=before)]
    per_round = 2  # the probe's record and the round's
    assert report.ok and report.count == before + stored_rounds * per_round + per_round + 1
    (gap,) = [e for e in events if e["event"] == "resumed"]
    assert gap["detail"]["reason"] == "disk full" and gap["detail"]["full_since_ns"] > 0  # type: ignore[index]
    assert not marker_path(str(store_path)).exists()
    assert ballast_path(str(store_path)).exists()
