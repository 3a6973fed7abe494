"""The compact history: closed days moved into blocks read, verify and prove as before.

Every store here is a real SQLite file of three fixed days of one-minute records
(`tests.month_store.write_month`), copied and compacted; tampering is done with SQLite."""

from __future__ import annotations

import shutil
from pathlib import Path

import apsw
import pytest

from collector.evidence.blocks import SPAN
from collector.evidence.compaction import DAY_NS, compact
from collector.evidence.store import EvidenceStore
from tests.month_store import ns, write_month
from tests.rig.stores import raw_connection

HOSTS = [("vps1", "ping", "icmp", "target"), ("resolver", "ping", "icmp", "control")]
LATER = ns("2026-10-06T00:00:00")


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    raw = tmp_path / "raw.db"
    down = {"vps1": [("2026-10-02T10:00:00", "2026-10-02T10:30:00")]}
    write_month(
        raw, vantage="office", start="2026-10-01T00:00:00", end="2026-10-04T00:00:00",
        hosts=HOSTS, down=down,
    )  # fmt: skip
    packed = tmp_path / "packed.db"
    shutil.copy(raw, packed)
    with EvidenceStore.open(packed) as store:
        result = compact(store, LATER)
    assert result.blocks == 3 and result.records == 3 * 1440 * len(HOSTS)
    return raw, packed


def _view(store: EvidenceStore) -> tuple[object, ...]:
    head = store.head()
    assert head is not None
    return (
        list(store.records()),
        list(store.fields(["ok", "latency_ns", "target", "error"])),
        list(store.hashes(0, head.seq)),
        [store.raw(seq) for seq in (1, 1440, 2881, head.seq)],
        store.verify(),
        store.check_range(1000, 5000),
        store.shape(),
        list(
            store.records(
                target="vps1",
                since_ns=ns("2026-10-02T09:00:00"),
                until_ns=ns("2026-10-02T11:00:00"),
            )
        ),
        list(store.records(newest_first=True, limit=5, target="resolver")),
    )


def test_a_compacted_store_reads_exactly_as_before(pair: tuple[Path, Path]) -> None:
    raw, packed = pair
    with EvidenceStore.open(raw, readonly=True) as a, EvidenceStore.open(packed) as b:
        assert _view(a) == _view(b)
        assert b.verify().ok
        blocks = list(b.blocks.blocks())
        assert all(k.min_ts_ns // DAY_NS == k.max_ts_ns // DAY_NS for k in blocks)
        assert b.count() == a.count() and b.first_raw() is None


def test_deletion_outside_a_block_is_refused_by_sqlite(pair: tuple[Path, Path]) -> None:
    _, packed = pair
    with EvidenceStore.open(packed) as store:
        store.append([{"ts_ns": LATER, "type": "note", "target": None}])
    with raw_connection(packed) as conn:
        for sql in ("DELETE FROM records", "DELETE FROM blocks", "UPDATE blocks SET count = 1"):
            with pytest.raises(apsw.ConstraintError, match="append-only"):
                conn.execute(sql)


@pytest.mark.parametrize("column", ["data", "anchors"])
def test_a_flipped_byte_in_a_block_is_named_by_its_span(
    pair: tuple[Path, Path], column: str
) -> None:
    _, packed = pair
    with raw_connection(packed, drop_triggers=True) as conn:
        conn.execute("DROP TRIGGER blocks_no_update")
        first, value = conn.execute(
            f"SELECT first_seq, {column} FROM blocks ORDER BY first_seq LIMIT 1 OFFSET 1"
        ).fetchone()
        at = 32 * 3 + 5 if column == "anchors" else len(value) // 2
        flipped = value[:at] + bytes([value[at] ^ 0x40]) + value[at + 1 :]
        conn.execute(f"UPDATE blocks SET {column} = ? WHERE first_seq = ?", (flipped, first))
    with EvidenceStore.open(packed, readonly=True) as store:
        report = store.verify()
    assert not report.ok and report.problem is not None and "is damaged" in report.problem
    assert report.first_bad_seq is not None and (report.first_bad_seq - first) % SPAN == 0
    if column == "anchors":
        assert report.first_bad_seq == first + 3 * SPAN
