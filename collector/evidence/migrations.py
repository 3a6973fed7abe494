"""The evidence store's schema, as named and versioned migrations.

A store records its schema version in its `meta` table. Opening a store applies, in one
transaction, every migration whose version is above the stored one, so a crash mid-upgrade
leaves the old schema intact. A store whose version is above `SCHEMA_VERSION` was written by
a newer slawitness and is refused rather than guessed at. Migrations are only ever added at
the end of `MIGRATIONS`; a released one is never edited.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import apsw

APPLICATION_ID = 0x534C4157
"""`PRAGMA application_id` of every store ("SLAW"), so "not a store" is detectable."""


@dataclass(frozen=True)
class Migration:
    """One schema step: `sql` takes a store from `version - 1` to `version`."""

    version: int
    name: str
    sql: str
    readers_need_it: bool = True
    """False for a step that only speeds reads up (an index): a store that has not had it
    can still be opened read-only, from read-only media, by this version."""


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "create records, meta and the append-only triggers",
        """
        CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE records(
            seq INTEGER PRIMARY KEY,
            ts_ns INTEGER NOT NULL,
            type TEXT NOT NULL,
            target TEXT,
            payload BLOB NOT NULL,
            hash TEXT NOT NULL
        );
        CREATE INDEX records_ts ON records(ts_ns);
        CREATE INDEX records_target_ts ON records(target, ts_ns);
        CREATE TRIGGER records_no_update BEFORE UPDATE ON records
        BEGIN SELECT RAISE(ABORT, 'evidence records are append-only: UPDATE refused'); END;
        CREATE TRIGGER records_no_delete BEFORE DELETE ON records
        BEGIN SELECT RAISE(ABORT, 'evidence records are append-only: DELETE refused'); END;
        """,
    ),
    Migration(
        2,
        "index records by type, so the latest checkpoint is found without a scan",
        "CREATE INDEX records_type_seq ON records(type, seq);",
        readers_need_it=False,
    ),
    Migration(
        3,
        "add blocks (closed days compressed); records may move into a block, nothing else",
        """
        CREATE TABLE blocks(
            first_seq INTEGER PRIMARY KEY,
            last_seq INTEGER NOT NULL,
            count INTEGER NOT NULL,
            min_ts_ns INTEGER NOT NULL,
            max_ts_ns INTEGER NOT NULL,
            prev_hash BLOB NOT NULL,
            last_hash BLOB NOT NULL,
            anchors BLOB NOT NULL,
            targets TEXT NOT NULL,
            types TEXT NOT NULL,
            codec TEXT NOT NULL,
            data BLOB NOT NULL
        );
        CREATE TRIGGER blocks_no_update BEFORE UPDATE ON blocks
        BEGIN SELECT RAISE(ABORT, 'evidence blocks are append-only: UPDATE refused'); END;
        CREATE TRIGGER blocks_no_delete BEFORE DELETE ON blocks
        BEGIN SELECT RAISE(ABORT, 'evidence blocks are append-only: DELETE refused'); END;
        DROP TRIGGER records_no_delete;
        CREATE TRIGGER records_no_delete BEFORE DELETE ON records
        WHEN NOT EXISTS (SELECT 1 FROM blocks WHERE OLD.seq BETWEEN first_seq AND last_seq)
        BEGIN SELECT RAISE(ABORT, 'evidence records are append-only: DELETE refused'); END;
        """,
    ),
)

SCHEMA_VERSION = MIGRATIONS[-1].version
"""The schema version this code writes and reads."""


def pending(current: int) -> tuple[Migration, ...]:
    """The migrations a store at `current` still needs, in order."""
    return tuple(m for m in MIGRATIONS if m.version > current)


def stored_version(conn: apsw.Connection) -> int | None:
    """The schema version a store records (0 before the first migration), None if garbled."""
    if conn.execute("SELECT 1 FROM sqlite_schema WHERE name = 'meta'").fetchone() is None:
        return 0
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None or not isinstance(row[0], str) or not row[0].isdigit():
        return None
    return int(row[0])


def upgrade(conn: apsw.Connection, current: int) -> None:
    """Apply the pending migrations; the caller holds the write transaction around it.

    The first migration also stamps the file: application_id, a fresh store id (so two
    stores can never be mistaken for one another in a bundle) and the creation time.
    """
    for migration in pending(current):
        conn.execute(migration.sql)
    if current == 0:
        conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
        conn.executemany(
            "INSERT INTO meta VALUES (?, ?)",
            [
                ("store_id", str(uuid.uuid4())),
                ("created_ns", str(time.time_ns())),
                ("application", "slawitness"),
            ],
        )
    conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
