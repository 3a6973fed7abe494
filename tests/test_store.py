"""The evidence store on real SQLite files: append, read, filters, errors, many writers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import apsw
import pytest

from collector.evidence.migrations import APPLICATION_ID, SCHEMA_VERSION
from collector.evidence.store import EvidenceStore
from collector.evidence.store_errors import (
    NotAStore,
    SqliteTooOld,
    StoreError,
    StoreExists,
    StoreFull,
    StoreMissing,
    StoreReadOnly,
    UnknownSchemaVersion,
    require_sqlite,
)
from collector.portable.chain import GENESIS, canonical_payload, chain_hash
from tests.rig.stores import (
    fill,
    make_record,
    one_row,
    raw_connection,
    remount,
    start_append_worker,
)


def test_create_stamps_the_file(fresh_store: EvidenceStore) -> None:
    meta = fresh_store.meta()
    assert uuid.UUID(meta["store_id"]).version == 4
    assert meta["schema_version"] == str(SCHEMA_VERSION)
    assert meta["application"] == "slawitness"
    assert int(meta["created_ns"]) > 0
    with raw_connection(fresh_store.path) as conn:
        assert one_row(conn, "PRAGMA application_id")[0] == APPLICATION_ID
        assert one_row(conn, "PRAGMA journal_mode")[0] == "wal"
        triggers = {
            r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type='trigger'")
        }
    assert triggers == {
        "records_no_update", "records_no_delete", "blocks_no_update", "blocks_no_delete"
    }  # fmt: skip
    assert fresh_store.head() is None and fresh_store.count() == 0
    assert fresh_store.verify().ok


def test_two_stores_get_different_ids(tmp_path: Path) -> None:
    with EvidenceStore.create(tmp_path / "a.db") as a, EvidenceStore.create(tmp_path / "b.db") as b:
        assert a.meta()["store_id"] != b.meta()["store_id"]


def test_append_chains_records_and_reads_them_back(fresh_store: EvidenceStore) -> None:
    records = [make_record(i) for i in range(1, 6)]
    first = fresh_store.append(records[:2])
    rest = fresh_store.append(records[2:])
    appended = first + rest
    assert [a.seq for a in appended] == [1, 2, 3, 4, 5]
    prev = GENESIS
    for a, record in zip(appended, records, strict=True):
        prev = chain_hash(prev, a.seq, canonical_payload(record))
        assert a.hash == prev.hex()
    stored = list(fresh_store.records())
    assert [s.record for s in stored] == records
    assert [(s.seq, s.hash) for s in stored] == [(a.seq, a.hash) for a in appended]
    assert fresh_store.head() == appended[-1]
    assert fresh_store.count() == 5


def test_the_stored_bytes_are_the_canonical_payload(fresh_store: EvidenceStore) -> None:
    record = make_record(1)
    [appended] = fresh_store.append([record])
    with raw_connection(fresh_store.path) as conn:
        payload, digest = one_row(conn, "SELECT payload, hash FROM records")
    assert payload == canonical_payload(record)
    assert digest == appended.hash and len(digest) == 64 and digest == digest.lower()


def test_records_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "evidence.db"
    with EvidenceStore.create(path) as store:
        appended = fill(store, 7)
    with EvidenceStore.open(path) as store:
        assert store.head() == appended[-1]
        more = store.append([make_record(8)])
        assert more[0].seq == 8
        assert store.verify().ok


def test_empty_append_writes_nothing(fresh_store: EvidenceStore) -> None:
    fill(fresh_store, 2)
    assert fresh_store.append([]) == []
    assert fresh_store.count() == 2


@pytest.mark.parametrize(
    "bad",
    [
        {"ts_ns": 1},
        {"ts_ns": 1, "type": "probe", "latency": 0.25},
        {"ts_ns": 1, "type": "probe", "seq": 99},
    ],
)
def test_a_bad_record_fails_the_whole_batch(
    fresh_store: EvidenceStore, bad: dict[str, object]
) -> None:
    fill(fresh_store, 2)
    with pytest.raises(ValueError, match=r"records\[1\]"):
        fresh_store.append([make_record(3), bad, make_record(4)])
    assert fresh_store.count() == 2
    assert fresh_store.verify().ok


FILTER_CASES = [
    ({}, list(range(1, 13))),
    ({"target": "vps2"}, [2, 5, 8, 11]),
    ({"types": ["note"]}, [4, 8, 12]),
    ({"types": []}, []),
    ({"types": ["probe", "heartbeat"]}, [1, 2, 3, 5, 6, 7, 9, 10, 11]),
    ({"since_ns": 5, "until_ns": 9}, [5, 6, 7, 8]),
    ({"since_ns": 10}, [10, 11, 12]),
    ({"until_ns": 2}, [1]),
    ({"target": "vps1", "since_ns": 4, "types": ["probe"]}, [7, 10]),
    ({"target": "nobody"}, []),
]


@pytest.mark.parametrize(("filters", "seqs"), FILTER_CASES)
def test_record_filters(
    fresh_store: EvidenceStore, filters: dict[str, object], seqs: list[int]
) -> None:
    records = []
    for i in range(1, 13):
        kind = "note" if i % 4 == 0 else "probe"
        target = ["vps1", "vps2", "vps3"][(i - 1) % 3]
        records.append({"ts_ns": i, "type": kind, "target": target, "i": i})
    fresh_store.append(records)
    found = list(fresh_store.records(**filters))  # type: ignore[arg-type]
    assert [r.seq for r in found] == seqs
    assert [r.record["i"] for r in found] == seqs


def test_records_without_target(fresh_store: EvidenceStore) -> None:
    fresh_store.append([make_record(1, target=None, type="heartbeat"), make_record(2)])
    assert [r.seq for r in fresh_store.records(target="vps1")] == [2]
    assert "target" not in next(fresh_store.records()).record
    assert fresh_store.verify().ok


def test_read_only_store_reads_and_refuses_writes(tmp_path: Path) -> None:
    path = tmp_path / "evidence.db"
    with EvidenceStore.create(path) as store:
        appended = fill(store, 4)
    with EvidenceStore.open(path, readonly=True) as store:
        assert store.head() == appended[-1]
        assert store.verify().ok
        with pytest.raises(StoreReadOnly, match="opened read-only"):
            store.append([make_record(5)])
    assert store.readonly


def test_create_or_open(tmp_path: Path) -> None:
    path = tmp_path / "evidence.db"
    with EvidenceStore.open(path, create=True) as store:
        fill(store, 2)
    with EvidenceStore.open(path, create=True) as store:
        assert store.count() == 2
    with pytest.raises(StoreExists, match="already exists"):
        EvidenceStore.create(path)


def test_an_empty_file_becomes_a_store_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "evidence.db"
    path.touch()
    with pytest.raises(NotAStore, match="empty database"):
        EvidenceStore.open(path)
    with EvidenceStore.open(path, create=True) as store:
        assert store.append([make_record(1)])[0].seq == 1


def _random_bytes(path: Path) -> None:
    path.write_bytes(os.urandom(8192))


def _other_application(path: Path) -> None:
    with raw_connection(path) as conn:
        conn.execute("PRAGMA application_id=1234; CREATE TABLE photos(id INTEGER PRIMARY KEY)")


def _plain_sqlite(path: Path) -> None:
    with raw_connection(path) as conn:
        conn.execute("CREATE TABLE t(x)")


def _newer_schema(path: Path) -> None:
    EvidenceStore.create(path).close()
    with raw_connection(path) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")


def _garbled_schema(path: Path) -> None:
    EvidenceStore.create(path).close()
    with raw_connection(path) as conn:
        conn.execute("UPDATE meta SET value = 'one' WHERE key = 'schema_version'")


ERROR_CASES = [
    (_random_bytes, NotAStore, "not a slawitness evidence store (file is not a database)"),
    (_other_application, NotAStore, "another application, application_id 0x4d2"),
    (_plain_sqlite, NotAStore, "another application, application_id 0x0"),
    (_newer_schema, UnknownSchemaVersion, "schema version 99 is newer"),
    (_garbled_schema, UnknownSchemaVersion, "schema version is missing or not a number"),
]


@pytest.mark.parametrize(("make", "error", "message"), ERROR_CASES)
@pytest.mark.parametrize("readonly", [False, True])
def test_files_that_are_not_usable_stores(
    tmp_path: Path,
    make: Callable[[Path], None],
    error: type[StoreError],
    message: str,
    readonly: bool,
) -> None:
    path = tmp_path / "evidence.db"
    make(path)
    with pytest.raises(error) as caught:
        EvidenceStore.open(path, readonly=readonly)
    text = str(caught.value)
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(StoreMissing, match="file does not exist"):
        EvidenceStore.open(tmp_path / "evidence.db")
    with pytest.raises(StoreMissing, match="file does not exist"):
        EvidenceStore.open(tmp_path / "evidence.db", readonly=True, create=True)
    missing = tmp_path / "no" / "such"
    with pytest.raises(StoreMissing) as caught:
        EvidenceStore.create(missing / "evidence.db")
    assert str(caught.value) == f"{missing}/evidence.db: directory {missing} does not exist"
    assert not (tmp_path / "evidence.db").exists()


def test_a_directory_is_not_a_store(tmp_path: Path) -> None:
    with pytest.raises(NotAStore, match="not a regular file"):
        EvidenceStore.open(tmp_path)


def test_sqlite_version_gate() -> None:
    with pytest.raises(SqliteTooOld) as caught:
        require_sqlite("evidence.db", "3.40.1")
    assert str(caught.value).startswith("evidence.db: SQLite 3.40.1 is too old")
    require_sqlite("evidence.db", "3.51.3")
    require_sqlite("evidence.db", apsw.sqlite_lib_version())


def test_closed_store_says_so(tmp_path: Path) -> None:
    store = EvidenceStore.create(tmp_path / "evidence.db")
    store.close()
    store.close()
    with pytest.raises(StoreError, match="store is closed"):
        store.count()


def test_read_only_file_system(small_tmpfs: Callable[[str], Path]) -> None:
    where = small_tmpfs("1m")
    path = where / "evidence.db"
    with EvidenceStore.create(path) as store:
        appended = fill(store, 5)
    remount(where, "ro")
    with pytest.raises(StoreReadOnly) as caught:
        EvidenceStore.open(path)
    assert str(caught.value) == f"{path}: cannot write: the file or its file system is read-only"
    with EvidenceStore.open(path, readonly=True) as store:
        report = store.verify()
    assert report.ok and report.head_hash == appended[-1].hash


def test_full_disk(small_tmpfs: Callable[[str], Path]) -> None:
    path = small_tmpfs("256k") / "evidence.db"
    with EvidenceStore.create(path) as store:
        committed = 0
        with pytest.raises(StoreFull) as caught:
            for i in range(10_000):
                store.append([{**make_record(i), "pad": "x" * 4000}])
                committed += 1
        assert str(caught.value).startswith(f"{path}: the disk is full: this batch was not stored")
        assert store.count() == committed
        assert store.verify().ok


def _seq_hash(pair: str) -> tuple[int, str]:
    """One `seq:hash` pair as a worker prints it."""
    seq, digest = pair.split(":")
    return int(seq), digest


def test_eight_processes_append_at_once(tmp_path: Path) -> None:
    path = tmp_path / "evidence.db"
    EvidenceStore.create(path).close()
    workers, batches, size = 8, 50, 3
    procs = [start_append_worker(path, w, batches, size) for w in range(workers)]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    reported: list[tuple[int, str]] = []
    for proc in procs:
        out, _ = proc.communicate(timeout=240)
        assert proc.returncode == 0
        assert len(out.splitlines()) == batches
        reported += [_seq_hash(pair) for pair in out.split()]
    seqs = [seq for seq, _ in reported]
    assert sorted(seqs) == list(range(1, workers * batches * size + 1))
    with EvidenceStore.open(path, readonly=True) as store:
        report = store.verify()
        assert report.ok and report.count == workers * batches * size
        stored = {(r.seq, r.hash): r.record for r in store.records()}
        assert set(stored) == set(reported)
        keys = {(r["worker"], r["batch"], r["i"]) for r in stored.values()}
    assert len(keys) == workers * batches * size


def test_sigkill_mid_append_keeps_every_committed_batch(tmp_path: Path) -> None:
    path = tmp_path / "evidence.db"
    EvidenceStore.create(path).close()
    size = 5
    proc = start_append_worker(path, 0, 1_000_000, size)
    assert proc.stdout is not None and proc.stdin is not None
    assert proc.stdout.readline().strip() == "ready"
    proc.stdin.write("go\n")
    proc.stdin.flush()
    committed = [proc.stdout.readline() for _ in range(200)]
    proc.send_signal(signal.SIGKILL)
    rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    committed += rest.splitlines()
    pairs = {_seq_hash(pair) for line in committed for pair in line.split()}
    assert len(pairs) >= 200 * size
    with EvidenceStore.open(path) as store:
        report = store.verify()
        stored = {(r.seq, r.hash) for r in store.records()}
        assert report.ok, report.problem
        assert report.count % size == 0
        assert pairs <= stored
        assert store.append([make_record(1)])[0].seq == report.count + 1


CREATE_AND_APPEND = """
import sys
from collector.evidence.store import EvidenceStore
from collector.evidence.store_errors import StoreError
try:
    with EvidenceStore.open(sys.argv[1], create=True) as store:
        store.append([{"ts_ns": 1, "type": "probe", "target": "vps1"}])
except StoreError as exc:
    print(exc)
    sys.exit(3)
"""


def test_eight_first_openers_of_a_missing_store_make_one_store(tmp_path: Path) -> None:
    """Overlapping first cron rounds race to create the file; every one must succeed."""
    for attempt in range(10):
        path = tmp_path / f"race{attempt}.db"
        children = [
            subprocess.Popen(
                [sys.executable, "-c", CREATE_AND_APPEND, str(path)],
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(8)
        ]
        outputs = [(child.communicate(timeout=60)[0], child.returncode) for child in children]
        assert all(code == 0 for _, code in outputs), outputs
        with EvidenceStore.open(path, readonly=True) as store:
            report = store.verify()
        assert report.ok and report.count == 8


def test_fields_are_extracted_by_sqlite_in_seq_order(fresh_store: EvidenceStore) -> None:
    fresh_store.append([make_record(i) for i in range(6)])
    fresh_store.append([make_record(9, target="vps2"), make_record(10, type="note")])
    rows = list(fresh_store.fields(["ok", "latency_ns", "missing"], target="vps1", types=["probe"]))
    assert rows == [(i + 1, int(i % 3 != 0), 1_000_000 + i, None) for i in range(6)]
    assert [r[0] for r in fresh_store.fields(["ts_ns"], types=["probe"])] == [*range(1, 7), 7]
    with pytest.raises(ValueError, match="not a payload field name"):
        list(fresh_store.fields(["ok') OR 1 --"]))
