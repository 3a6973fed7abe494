"""Tampering with a store file behind slawitness's back, and `verify` naming where.

Each tamper is done the way an attacker would: a plain SQLite connection to the file with
the append-only triggers dropped. The attacker may even compute valid hashes for the rows
they touch; what they cannot do without rewriting every later row is make the next row
link, so `verify` names the first seq from which the evidence cannot be trusted.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import apsw
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.evidence.store import EvidenceStore
from collector.portable.chain import GENESIS, canonical_payload, chain_hash
from tests.rig.stores import fill, make_record, one_row, raw_connection


def _hash_before(conn: apsw.Connection, seq: int) -> bytes:
    row = conn.execute("SELECT hash FROM records WHERE seq = ?", (seq - 1,)).fetchone()
    return GENESIS if row is None else bytes.fromhex(row[0])


def _renumber(conn: apsw.Connection, from_seq: int, delta: int) -> None:
    """Shift seqs >= from_seq by delta, through negatives so the primary key never clashes."""
    conn.execute("UPDATE records SET seq = -(seq + ?) WHERE seq >= ?", (delta, from_seq))
    conn.execute("UPDATE records SET seq = -seq WHERE seq < 0")


def flip_byte(conn: apsw.Connection, k: int) -> int:
    (payload,) = one_row(conn, "SELECT payload FROM records WHERE seq = ?", k)
    changed = bytearray(payload)
    changed[len(changed) // 2] ^= 0x01
    conn.execute("UPDATE records SET payload = ? WHERE seq = ?", (bytes(changed), k))
    return k


def _edit_field(conn: apsw.Connection, k: int, *, rehash: bool) -> None:
    (payload,) = one_row(conn, "SELECT payload FROM records WHERE seq = ?", k)
    record = json.loads(payload)
    record["ok"] = not record["ok"]
    new = canonical_payload(record)
    conn.execute("UPDATE records SET payload = ? WHERE seq = ?", (new, k))
    if rehash:
        digest = chain_hash(_hash_before(conn, k), k, new).hex()
        conn.execute("UPDATE records SET hash = ? WHERE seq = ?", (digest, k))


def edit_field(conn: apsw.Connection, k: int) -> int:
    _edit_field(conn, k, rehash=False)
    return k


def edit_field_and_rehash(conn: apsw.Connection, k: int) -> int:
    _edit_field(conn, k, rehash=True)
    return k + 1


def delete_row(conn: apsw.Connection, k: int) -> int:
    conn.execute("DELETE FROM records WHERE seq = ?", (k,))
    return k


def delete_and_renumber(conn: apsw.Connection, k: int) -> int:
    conn.execute("DELETE FROM records WHERE seq = ?", (k,))
    _renumber(conn, k + 1, -1)
    return k


def insert_forged(conn: apsw.Connection, k: int) -> int:
    """A made-up record at seq k with a correct hash; the old k..n move up by one."""
    forged = {**make_record(10_000), "detail": {"message": "host was up"}}
    payload = canonical_payload(forged)
    digest = chain_hash(_hash_before(conn, k), k, payload).hex()
    _renumber(conn, k, 1)
    conn.execute(
        "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?)",
        (k, forged["ts_ns"], forged["type"], forged["target"], payload, digest),
    )
    return k + 1


def duplicate_row(conn: apsw.Connection, k: int) -> int:
    """A copy of row k inserted right after it, with its stored hash; later rows move up."""
    cols = "ts_ns, type, target, payload, hash"
    copy = one_row(conn, f"SELECT {cols} FROM records WHERE seq = ?", k)
    _renumber(conn, k + 1, 1)
    conn.execute("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?)", (k + 1, *copy))
    return k + 1


def swap_rows(conn: apsw.Connection, k: int) -> int:
    """Reorder: the contents of rows k and k+1 change places, seqs stay."""
    cols = "ts_ns, type, target, payload, hash"
    a = one_row(conn, f"SELECT {cols} FROM records WHERE seq = ?", k)
    b = one_row(conn, f"SELECT {cols} FROM records WHERE seq = ?", k + 1)
    update = "UPDATE records SET ts_ns=?, type=?, target=?, payload=?, hash=? WHERE seq=?"
    conn.execute(update, (*b, k))
    conn.execute(update, (*a, k + 1))
    return k


def retarget_column(conn: apsw.Connection, k: int) -> int:
    """Only the indexed column changes: the payload and hash still verify."""
    conn.execute("UPDATE records SET target = 'someone-else' WHERE seq = ?", (k,))
    return k


TAMPERS: dict[str, Callable[[apsw.Connection, int], int]] = {
    f.__name__: f
    for f in (
        flip_byte,
        edit_field,
        edit_field_and_rehash,
        delete_row,
        delete_and_renumber,
        insert_forged,
        duplicate_row,
        swap_rows,
        retarget_column,
    )
}


def _tampered_report(
    path: Path, size: int, kind: str, k: int
) -> tuple[int, str | None, int | None]:
    """Build a store of `size` records, tamper at k, and return (expected, problem, found)."""
    with EvidenceStore.create(path) as store:
        fill(store, size)
    with raw_connection(path, drop_triggers=True) as conn:
        expected = TAMPERS[kind](conn, k)
    with EvidenceStore.open(path, readonly=True) as store:
        report = store.verify()
    assert not report.ok
    return expected, report.problem, report.first_bad_seq


@pytest.mark.parametrize("kind", sorted(TAMPERS))
@pytest.mark.parametrize("k", [1, 2, 5, 9])
def test_verify_names_the_first_bad_seq(tmp_path: Path, kind: str, k: int) -> None:
    expected, problem, found = _tampered_report(tmp_path / "evidence.db", 10, kind, k)
    assert found == expected
    assert problem is not None and problem.startswith(f"seq {expected}")


@pytest.mark.parametrize(
    ("kind", "wording"),
    [
        ("flip_byte", "hash does not match its payload and the previous hash"),
        ("delete_row", "seq 4 missing (next stored seq is 5)"),
        ("retarget_column", "column target ('someone-else') does not match the payload ('vps1')"),
    ],
)
def test_problem_wording(tmp_path: Path, kind: str, wording: str) -> None:
    _, problem, _ = _tampered_report(tmp_path / "evidence.db", 6, kind, 4)
    assert problem is not None and wording in problem


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), size=st.integers(2, 25), kind=st.sampled_from(sorted(TAMPERS)))
def test_any_tamper_before_the_head_is_found(
    data: st.DataObject, size: int, kind: str, figures: Counter[str]
) -> None:
    k = data.draw(st.integers(1, size - 1), label="position")
    with tempfile.TemporaryDirectory() as where:
        expected, _, found = _tampered_report(Path(where) / "evidence.db", size, kind, k)
    assert found == expected
    figures["tamper: cases tried and detected at the right seq"] += 1


def test_report_counts_and_head_describe_the_stored_rows(tmp_path: Path) -> None:
    path = tmp_path / "evidence.db"
    with EvidenceStore.create(path) as store:
        appended = fill(store, 8)
    with raw_connection(path, drop_triggers=True) as conn:
        delete_row(conn, 3)
    with EvidenceStore.open(path, readonly=True) as store:
        report = store.verify()
    assert (report.ok, report.count, report.first_bad_seq) == (False, 7, 3)
    assert (report.head_seq, report.head_hash) == (8, appended[-1].hash)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE records SET payload = x'7b7d' WHERE seq = 2",
        "UPDATE records SET seq = 100 WHERE seq = 3",
        "DELETE FROM records WHERE seq = 1",
        "DELETE FROM records",
    ],
)
def test_triggers_refuse_update_and_delete(fresh_store: EvidenceStore, sql: str) -> None:
    appended = fill(fresh_store, 4)
    with (
        raw_connection(fresh_store.path) as conn,
        pytest.raises(apsw.ConstraintError, match="append-only"),
    ):
        conn.execute(sql)
    report = fresh_store.verify()
    assert report.ok and report.count == 4 and report.head_hash == appended[-1].hash


def test_a_clean_store_verifies_after_many_batches(fresh_store: EvidenceStore) -> None:
    appended = fill(fresh_store, 500, batch=7)
    report = fresh_store.verify()
    assert report.ok and report.problem is None and report.first_bad_seq is None
    assert (report.count, report.head_seq, report.head_hash) == (500, 500, appended[-1].hash)
