"""A records segment as an SQLite file of its own, for the bundle.

A reader who would rather query the evidence than parse JSON lines gets
`records/<name>.sqlite`: the store's `records` rows from the segment's first to its last seq,
byte for byte, in a table defined exactly as the store defines it, and a `meta` table naming
the store, the seq range, the stored hash before the first record and the store's schema
version. It is made inside one read transaction of the store, through the store's readers
(records kept in blocks come out as the rows they were), so it is consistent however busy
the collector is, and never by copying the live file, which in WAL mode is not complete on
its own. The new file is in rollback-journal
(DELETE) mode, so the one file is the whole database. `collector.portable.snapshot_check` holds it
against the JSONL.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from pathlib import Path

import apsw

from collector.evidence.store import EvidenceStore
from collector.evidence.store_errors import StoreError
from collector.portable.chain import GENESIS

_CREATE_RECORDS = re.compile(r"^\s*CREATE\s+TABLE\s+\"?records\"?\s*\(", re.IGNORECASE)


def read_only_uri(store: Path) -> str:
    """The store as a read-only SQLite URI, immutable on read-only media with no `-shm`
    (as EvidenceStore opens it: SQLite could not create the `-shm` there)."""
    name = os.path.abspath(store)
    uri = "file:" + urllib.parse.quote(name)
    if not os.access(os.path.dirname(name), os.W_OK) and not os.path.exists(name + "-shm"):
        return uri + "?immutable=1"
    return uri + "?mode=ro"


def write_snapshot(store: EvidenceStore, out: Path, first: int | None, last: int | None) -> None:
    """Write the store's records first..last (none when first is None) into the new file
    `out`, inside the caller's read snapshot of the store; StoreError when the store cannot
    be read, apsw.Error when `out` cannot be written, ValueError when it is not a store.
    Records compaction moved into blocks are written as the rows they were."""
    flags = apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE | apsw.SQLITE_OPEN_URI
    conn = apsw.Connection(os.fspath(out), flags=flags)
    try:
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("BEGIN")
        create = store.records_table_sql()
        if not isinstance(create, str) or not _CREATE_RECORDS.match(create):
            raise ValueError("it has no records table")
        conn.execute(create)
        conn.execute("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        source = store.meta()
        meta = {
            "store_id": source.get("store_id"),
            "source_schema_version": source.get("schema_version"),
        }
        if first is not None and last is not None:
            conn.executemany(
                "INSERT INTO main.records VALUES (?, ?, ?, ?, ?, ?)", store.stored_rows(first, last)
            )
            prev = GENESIS.hex() if first == 1 else _stored_hash(store, first - 1)
            meta.update(first_seq=str(first), last_seq=str(last), prev_hash=prev)
        conn.executemany(
            "INSERT INTO meta VALUES (?, ?)", [(k, v) for k, v in sorted(meta.items()) if v]
        )
        conn.execute("COMMIT")
    finally:
        conn.close()


def _stored_hash(store: EvidenceStore, seq: int) -> str | None:
    """The stored hash of `seq`, None when it is missing or damaged (the check says so)."""
    try:
        return store.raw(seq)[1]
    except StoreError:
        return None
