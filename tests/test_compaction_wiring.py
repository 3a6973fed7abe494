"""Compaction wired in: the policy, a cron round's detached compaction, the daemon's thread,
`slawitness compact` and `seal`.

Every store is a real SQLite file of records at fixed past dates (2026-09); `now_ns` is
passed explicitly where the policy is asserted, and the verbs run today against records
long settled, so no assertion depends on today's date."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from collector.evidence.compaction import (
    DAY_NS,
    MIN_RUN,
    SETTLE_NS,
    compact,
    compact_when_due,
    why_not_due,
)
from collector.evidence.compaction_runs import DAEMON_MAX_RECORDS, compaction_lock
from collector.evidence.store import EvidenceStore
from collector.proving import checkpoints
from tests.clirun import slawitness, slawitness_process, write_config
from tests.rig.stores import fill, make_record, raw_connection

DAY = 20_706 * DAY_NS
"""2026-09-10 00:00 UTC."""
S = 10**9
PING = {"name": "ping", "kind": "icmp", "interval": "60s", "timeout": "2s"}
TARGET = [{"name": "vps1", "host": "127.0.0.1", "probes": [PING]}]


def _append(store: EvidenceStore, first_ts: int, count: int, step: int = S) -> None:
    """`count` probe records, `step` apart from `first_ts`."""
    records = []
    for i in range(count):
        record = make_record(i + 1)
        record["ts_ns"] = first_ts + i * step
        records.append(record)
    store.append(records)


def _blocks(store: EvidenceStore) -> list[int]:
    return [block.count for block in store.blocks.blocks()]


def test_a_run_is_due_at_min_run_settled_records_or_at_its_days_close(tmp_path: Path) -> None:
    with EvidenceStore.create(tmp_path / "short.db") as store:
        _append(store, DAY + 3600 * S, MIN_RUN - 1)
        settled = DAY + 3600 * S + MIN_RUN * S + SETTLE_NS
        assert compact_when_due(store, settled) is None
        why = why_not_due(store, settled)
        assert f"holds only {MIN_RUN - 1} records" in why, why
        closed = DAY + DAY_NS + SETTLE_NS
        assert compact(store, closed).records == MIN_RUN - 1, "the day's tail, once it closed"
        assert _blocks(store) == [MIN_RUN - 1] and store.first_raw() is None
    with EvidenceStore.create(tmp_path / "live.db") as store:
        _append(store, DAY + 3600 * S, MIN_RUN)
        now = DAY + 3600 * S + MIN_RUN * S + SETTLE_NS
        _append(store, now - SETTLE_NS + S, 600)  # the last hour, not settled
        done = compact_when_due(store, now)
        assert done is not None and (done.blocks, done.records) == (1, MIN_RUN)
        assert store.count() == MIN_RUN + 600 and store.verify().ok
        first = store.first_raw()
        assert first is not None and first[1] == now - SETTLE_NS + S, "the hour stays raw"
        assert compact_when_due(store, now) is None


def test_a_block_never_straddles_midnight_and_the_daemon_cap_holds(tmp_path: Path) -> None:
    with EvidenceStore.create(tmp_path / "e.db") as store:
        _append(store, DAY + DAY_NS - 3000 * S, 3000)  # the end of one day
        _append(store, DAY + DAY_NS, 10_000)  # and the start of the next
        now = DAY + DAY_NS + 10_000 * S + SETTLE_NS
        done = compact_when_due(store, now, max_records=DAEMON_MAX_RECORDS)
        assert done is not None
        assert _blocks(store) == [3000, DAEMON_MAX_RECORDS], "10,000 - 8,192 is under MIN_RUN"
        assert all(b.min_ts_ns // DAY_NS == b.max_ts_ns // DAY_NS for b in store.blocks.blocks())
        assert store.count() == 13_000 and store.verify().ok


def _store_with_old_records(folder: Path, records: int) -> Path:
    config = write_config(folder, TARGET)
    with EvidenceStore.create(folder / "evidence.db") as store:
        fill(store, records, batch=5000)  # 2026-09, one a second
    return config


def _wait_for_blocks(path: Path, records: int, timeout: float = 90) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        with EvidenceStore.open(path, readonly=True) as store:
            found = _blocks(store)
        if sum(found) >= records or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_a_cron_round_compacts_in_a_detached_child_once(tmp_path: Path) -> None:
    config = _store_with_old_records(tmp_path, 3000)
    store = tmp_path / "evidence.db"
    with compaction_lock(store) as held:  # as if another round's compaction were under way
        assert held
        started = time.monotonic()
        done = slawitness("probe", "--config", str(config))
        assert done.returncode == 0, done.stderr
        assert time.monotonic() - started < 30
        time.sleep(3)
        assert _wait_for_blocks(store, 3000, timeout=0) == [], "no second compaction started"
    rounds = [
        subprocess.Popen(
            [sys.executable, "-m", "cli", "probe", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    for child in rounds:
        assert child.wait(timeout=60) == 0
    assert _wait_for_blocks(store, 3000) == [3000], "the old day, in one block"
    time.sleep(2)  # a second child, had one started, would have moved something by now
    with EvidenceStore.open(store, readonly=True) as opened:
        assert _blocks(opened) == [3000] and opened.verify().ok
        assert opened.count() > 3000 and opened.first_raw() is not None, "the rounds stay raw"


def test_the_daemon_compacts_in_a_thread_and_still_stops_at_once(tmp_path: Path) -> None:
    records = 60_000  # two closed days, 8 daemon blocks of ~1.5-2 s each
    config = _store_with_old_records(tmp_path, records)
    store = tmp_path / "evidence.db"
    child = subprocess.Popen(
        [sys.executable, "-m", "cli", "run", "--config", str(config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert _wait_for_blocks(store, 1, timeout=60), "the pass at start"
    finally:
        child.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        _, err = child.communicate(timeout=60)
    took = time.monotonic() - stopped
    assert child.returncode == 0, err
    assert took < 8, f"SIGTERM took {took:.1f} s"
    with EvidenceStore.open(store, readonly=True) as opened:
        found = _blocks(opened)
        assert found and max(found) <= DAEMON_MAX_RECORDS
        assert sum(found) < records, "it stopped between blocks rather than finish them"
        assert opened.verify().ok
        [stop] = [r for r in opened.records(types=["collector"]) if r.record["event"] == "stop"]
        assert stop.seq > records


def test_a_daemon_refused_compaction_warns_once_and_probing_goes_on(tmp_path: Path) -> None:
    config = _store_with_old_records(tmp_path, 500)
    store = tmp_path / "evidence.db"
    with raw_connection(store, drop_triggers=True) as conn:
        conn.execute("UPDATE records SET payload = CAST('tampered' AS BLOB) WHERE seq = 200")
    child = subprocess.Popen(
        [sys.executable, "-m", "cli", "run", "--config", str(config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with EvidenceStore.open(store, readonly=True) as opened:
                if any(opened.records(types=["probe"], since_ns=DAY + 60 * DAY_NS)):
                    break  # a probe of today's round landed after the refusal
            time.sleep(0.3)
    finally:
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    warnings = [line for line in err.splitlines() if "compaction stopped" in line]
    assert len(warnings) == 1 and "seq 1-500 do not verify" in warnings[0], err
    with EvidenceStore.open(store, readonly=True) as opened:
        assert _blocks(opened) == [], "the rows stay raw, for verify to report"
        assert any(opened.records(types=["probe"], since_ns=DAY + 60 * DAY_NS))


def test_the_compact_verb_says_what_it_moved_and_vacuum_shrinks_an_old_store(
    tmp_path: Path,
) -> None:
    _store_with_old_records(tmp_path, 20_000)
    store = tmp_path / "evidence.db"
    with raw_connection(store) as conn:  # a store made before incremental auto_vacuum
        conn.execute("PRAGMA auto_vacuum=NONE; VACUUM")
        assert next(conn.execute("PRAGMA auto_vacuum"))[0] == 0
    done = slawitness("compact", "--store", str(store), "--until", "2026-09")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("compacted 20000 records into 1 blocks; store "), done.stdout
    kept = store.stat().st_size
    again = slawitness("compact", "--store", str(store), "--vacuum")
    assert again.returncode == 0, again.stderr
    assert "nothing to compact: every record is in a block already" in again.stdout
    assert "vacuumed: store" in again.stdout
    assert store.stat().st_size * 4 < kept, (kept, store.stat().st_size)
    check = slawitness("verify", "--store", str(store))
    assert check.returncode == 0 and "20000 records" in check.stdout, check.stdout


def test_what_cannot_be_compacted_is_one_line(tmp_path: Path) -> None:
    missing = slawitness("compact", "--store", str(tmp_path / "none.db"))
    assert missing.returncode == 3 and missing.stderr.count("\n") == 1, missing.stderr
    _store_with_old_records(tmp_path, 500)
    store = tmp_path / "evidence.db"
    with compaction_lock(store):
        busy = slawitness("compact", "--store", str(store))
    assert busy.returncode == 3 and "another compaction is under way" in busy.stderr
    assert busy.stderr.count("\n") == 1
    with raw_connection(store, drop_triggers=True) as conn:
        conn.execute("UPDATE records SET payload = CAST('tampered' AS BLOB) WHERE seq = 200")
    refused = slawitness_process("compact", "--store", str(store))
    assert refused.returncode == 1 and "seq 1-500 do not verify" in refused.stderr
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    with EvidenceStore.open(store, readonly=True) as opened:
        assert _blocks(opened) == [] and opened.count() == 500, "the rows stay raw, as found"


def test_seal_compacts_its_month_and_its_archive_still_verifies(tmp_path: Path) -> None:
    config = _store_with_old_records(tmp_path, 40)
    store = tmp_path / "evidence.db"
    with EvidenceStore.open(store) as opened:
        checkpoints.create_key(tmp_path / "slawitness.key", checkpoints.origin(opened))
        hashes = [opened.raw(seq)[1] for seq in range(1, 41)]
    archive = tmp_path / "seal.zip"
    done = slawitness("seal", "--config", str(config), "--period", "2026-09", "--out", str(archive))
    assert done.returncode == 0, done.stderr
    assert "sealed 2026-09: 40 records moved into blocks first" in done.stdout
    with EvidenceStore.open(store, readonly=True) as opened:
        assert _blocks(opened) == [40] and opened.verify().ok
    with zipfile.ZipFile(archive) as opened_zip:
        lines = opened_zip.read("records/evidence.jsonl").decode().splitlines()
        opened_zip.extractall(tmp_path / "unpacked")
    assert [json.loads(line)["hash"] for line in lines] == hashes
    standalone = subprocess.run(
        [sys.executable, "verify.py"], cwd=tmp_path / "unpacked",
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert standalone.returncode == 0 and "OK:" in standalone.stdout, standalone.stdout
