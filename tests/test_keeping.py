"""Keeping evidence for years: verified backups while the collector writes, and sealed
months that verify with the live store gone."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

from collector.documents.attachments import attachment_record, copy_in, folder_of
from collector.evidence.records import Stamp
from collector.evidence.store import EvidenceStore
from collector.proving import checkpoints
from tests.clirun import slawitness, write_config
from tests.rig.stores import fill, start_append_worker

PING = {"name": "ping", "kind": "icmp", "interval": "60s", "timeout": "2s"}
TARGET = [{"name": "vps1", "host": "127.0.0.1", "probes": [PING]}]


def _setup(folder: Path, records: int = 40, *, key: bool = True) -> Path:
    config = write_config(folder, TARGET)
    with EvidenceStore.create(folder / "evidence.db") as store:
        fill(store, records)  # 2026-09, one record a second
        if key:
            checkpoints.create_key(folder / "slawitness.key", checkpoints.origin(store))
    return config


def test_a_backup_taken_while_the_collector_writes_verifies(tmp_path: Path) -> None:
    config = _setup(tmp_path, 3000)
    worker = start_append_worker(tmp_path / "evidence.db", 0, 200, 20)
    assert worker.stdout is not None and worker.stdin is not None
    assert worker.stdout.readline().strip() == "ready"
    worker.stdin.write("go\n")
    worker.stdin.flush()
    worker.stdout.readline()  # the writer has committed its first batch
    copy = tmp_path / "copy.db"
    done = slawitness("backup", "--config", str(config), str(copy))
    worker.communicate(timeout=120)  # drain what it committed meanwhile
    assert done.returncode == 0, done.stderr
    assert "records verified" in done.stdout
    check = slawitness("verify", "--store", str(copy))
    assert check.returncode == 0, check.stdout
    with sqlite3.connect(f"file:{copy}?mode=ro", uri=True) as plain:
        assert plain.execute("PRAGMA journal_mode").fetchone()[0] == "delete", "one whole file"
    with EvidenceStore.open(copy, readonly=True) as backed, \
            EvidenceStore.open(tmp_path / "evidence.db", readonly=True) as live:  # fmt: skip
        head = backed.head()
        assert head is not None and live.raw(head.seq)[1] == head.hash
        [record] = live.records(types=["backup"])
        assert record.record["head_hash"] == head.hash and record.record["records"] == head.seq
        assert live.verify().ok


def test_a_backup_never_replaces_a_file(tmp_path: Path) -> None:
    config = _setup(tmp_path)
    existing = tmp_path / "copy.db"
    existing.write_bytes(b"precious")
    done = slawitness("backup", "--config", str(config), str(existing))
    assert done.returncode == 3 and "already exists" in done.stderr
    assert done.stderr.count("\n") == 1 and existing.read_bytes() == b"precious"
    missing = slawitness("backup", "--config", str(config), str(tmp_path / "no" / "copy.db"))
    assert missing.returncode == 3 and "does not exist" in missing.stderr


def test_a_sealed_month_verifies_without_the_store(tmp_path: Path) -> None:
    config = _setup(tmp_path)
    archive = tmp_path / "seal.zip"
    done = slawitness("seal", "--config", str(config), "--period", "2026-09", "--out", str(archive))
    assert done.returncode == 0, done.stderr
    assert "sealed 2026-09: seq 1-40" in done.stdout
    with EvidenceStore.open(tmp_path / "evidence.db", readonly=True) as store:
        [record] = store.records(types=["seal"])
        assert record.record["month"] == "2026-09" and record.record["last_seq"] == 40
    moved = tmp_path / "years-later"
    moved.mkdir()
    (tmp_path / "evidence.db").rename(moved / "gone.db")  # the live store is no more
    check = slawitness("verify-bundle", str(archive))
    assert check.returncode == 0, check.stdout
    assert "anchored in a checkpoint" in check.stdout and "proofs verified" in check.stdout
    with zipfile.ZipFile(archive) as opened:
        described = json.loads(opened.read("seal/seal.json"))
        assert (described["month"], described["records"]) == ("2026-09", 40)
        assert not any(n.startswith("report/") for n in opened.namelist())
        opened.extractall(tmp_path / "unpacked")
    standalone = subprocess.run(
        [sys.executable, "verify.py"], cwd=tmp_path / "unpacked",
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert standalone.returncode == 0 and "OK:" in standalone.stdout, standalone.stdout


def test_what_cannot_be_sealed_is_one_line(tmp_path: Path) -> None:
    config = _setup(tmp_path, key=False)
    for period, code, complaint in (
        ("2026-9", 2, "'2026-9' is not a month like 2026-10"),
        ("9999-12", 2, "outside the dates evidence can carry"),
        ("2199-01", 4, "the month is not over yet"),
        ("2026-09", 4, "cannot seal without signing"),
    ):
        done = slawitness("seal", "--config", str(config), "--period", period,
                          "--out", str(tmp_path / "x.zip"))  # fmt: skip
        assert done.returncode == code and complaint in done.stderr, done.stderr
        assert done.stderr.count("\n") == 1
    checkpoints.create_key(tmp_path / "slawitness.key", "k")
    empty = slawitness("seal", "--config", str(config), "--period", "2026-08",
                       "--out", str(tmp_path / "x.zip"))  # fmt: skip
    assert empty.returncode == 4 and "no records in 2026-08" in empty.stderr
    assert not (tmp_path / "x.zip").exists()


def test_a_sealed_month_carries_the_documents_attached_in_it(tmp_path: Path) -> None:
    config = _setup(tmp_path)
    contract = tmp_path / "contract.pdf"
    contract.write_bytes(b"%PDF-1.4\n% the agreement\n%%EOF\n")
    copy = copy_in(contract, folder_of(tmp_path / "evidence.db"), 2**20)
    copy.keep()
    document = {"kind": "contract", "sha256": copy.sha256, "name": "contract.pdf",
                "size": copy.size, "media_type": "application/pdf"}  # fmt: skip
    september = Stamp(ts_ns=1_788_300_000 * 10**9, mono_ns=1)  # 2026-09-01 22:00 UTC
    with EvidenceStore.open(tmp_path / "evidence.db") as store:
        [attached] = store.append([attachment_record(september, "v", "vps1", document)])
    archive = tmp_path / "seal.zip"
    done = slawitness("seal", "--config", str(config), "--period", "2026-09", "--out", str(archive))
    assert done.returncode == 0, done.stderr
    member = f"attachments/{copy.sha256}/contract.pdf"
    with zipfile.ZipFile(archive) as opened:
        assert opened.read(member) == contract.read_bytes()
        assert json.loads(opened.read("seal/seal.json"))["attachments"] == [member]
    check = slawitness("verify-bundle", str(archive))
    assert check.returncode == 0, check.stdout
    assert "1 attachments verified" in check.stdout
    assert f"attached in seq {attached.seq}" in check.stdout
