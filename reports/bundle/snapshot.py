"""A records segment as an SQLite file of its own, for the bundle.

A reader who would rather query the evidence than parse JSON lines gets
`records/<name>.sqlite`: the store's `records` rows from the segment's first to its last seq,
byte for byte, in a table defined exactly as the store defines it, and a `meta` table naming
the store, the seq range, the stored hash before the first record and the store's schema
version. It is made in one read transaction of the store (ATTACH read-only, INSERT ...
SELECT, COMMIT), so it is consistent however busy the collector is, and never by copying the
live file, which in WAL mode is not complete on its own. The new file is in rollback-journal
(DELETE) mode, so the one file is the whole database. `collector.portable.snapshot_check` holds it
against the JSONL.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from pathlib import Path

import apsw

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


def write_snapshot(store: Path, out: Path, first: int | None, last: int | None) -> None:
    """Write the store's records first..last (none when first is None) into the new file
    `out`; apsw.Error when the store cannot be read, ValueError when it is not a store."""
    flags = apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE | apsw.SQLITE_OPEN_URI
    conn = apsw.Connection(os.fspath(out), flags=flags)
    try:
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("ATTACH ? AS store", (read_only_uri(store),))
        conn.execute("BEGIN")
        row = conn.execute(
            "SELECT sql FROM store.sqlite_schema WHERE type = 'table' AND name = 'records'"
        ).fetchone()
        if row is None or not isinstance(row[0], str) or not _CREATE_RECORDS.match(row[0]):
            raise ValueError("it has no records table")
        conn.execute(row[0])
        conn.execute("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        source = dict(conn.execute("SELECT key, value FROM store.meta"))
        meta = {
            "store_id": source.get("store_id"),
            "source_schema_version": source.get("schema_version"),
        }
        if first is not None and last is not None:
            conn.execute(
                "INSERT INTO main.records SELECT * FROM store.records"
                " WHERE seq BETWEEN ? AND ? ORDER BY seq",
                (first, last),
            )
            before = conn.execute("SELECT hash FROM store.records WHERE seq = ?", (first - 1,))
            prev = GENESIS.hex() if first == 1 else (before.fetchone() or (None,))[0]
            meta.update(first_seq=str(first), last_seq=str(last), prev_hash=prev)
        conn.executemany(
            "INSERT INTO meta VALUES (?, ?)", [(k, v) for k, v in sorted(meta.items()) if v]
        )
        conn.execute("COMMIT")
    finally:
        conn.close()
