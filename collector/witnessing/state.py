"""A witness's memory in one SQLite file: the latest cosigned checkpoint of each log.

The spec's one hard rule for a witness's state is that checking the old size and recording
the new checkpoint happen atomically, or two requests racing can roll a log back. Here the
check runs inside `BEGIN IMMEDIATE` (the write lock is taken before the read), and the update
is a compare-and-set on the size that was read, so neither two threads nor two processes
sharing the file can lose leaves. Besides the latest checkpoint per origin, two append-only
tables keep every cosigned checkpoint and every refused one that a trusted key had signed
(a bad proof, a second root for one size): proof of what the log showed, should it misbehave.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from collector.portable.errors import StoreAccessError
from collector.portable.witness_wire import add_checkpoint_body
from collector.witnessing.decision import Latest, Refused, Submission, judge

_SCHEMA = """
CREATE TABLE IF NOT EXISTS latest (
    origin TEXT PRIMARY KEY, size INTEGER NOT NULL, root BLOB NOT NULL, note TEXT NOT NULL,
    updated_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS cosigned (
    id INTEGER PRIMARY KEY, origin TEXT NOT NULL, size INTEGER NOT NULL, root BLOB NOT NULL,
    note TEXT NOT NULL, cosignature TEXT NOT NULL, at_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS refused (
    id INTEGER PRIMARY KEY, origin TEXT NOT NULL, old_size INTEGER NOT NULL,
    size INTEGER NOT NULL, root BLOB NOT NULL, request TEXT NOT NULL, status INTEGER NOT NULL,
    reason TEXT NOT NULL, at_ns INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS cosigned_kept BEFORE UPDATE ON cosigned
    BEGIN SELECT RAISE(ABORT, 'cosigned checkpoints are append-only'); END;
CREATE TRIGGER IF NOT EXISTS cosigned_not_deleted BEFORE DELETE ON cosigned
    BEGIN SELECT RAISE(ABORT, 'cosigned checkpoints are append-only'); END;
CREATE TRIGGER IF NOT EXISTS refused_kept BEFORE UPDATE ON refused
    BEGIN SELECT RAISE(ABORT, 'refused checkpoints are append-only'); END;
CREATE TRIGGER IF NOT EXISTS refused_not_deleted BEFORE DELETE ON refused
    BEGIN SELECT RAISE(ABORT, 'refused checkpoints are append-only'); END;
"""
BUSY_TIMEOUT_S = 10.0

Cosigner = Callable[[str], str]
"""The checkpoint's note text -> the witness's cosignature line(s), newline-terminated."""


class WitnessStateError(StoreAccessError):
    """The witness's state file cannot be opened or written (one line naming it)."""


class WitnessState:
    """The state file, shared by the server's threads (one connection, one lock) and by
    any other process that opens it (SQLite's write lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise WitnessStateError(f"{path}: cannot open the witness state: {exc}") from None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def latest(self, origin: str) -> Latest | None:
        with self._lock:
            return self._latest(origin)

    def _latest(self, origin: str) -> Latest | None:
        row = self._db.execute(
            "SELECT size, root, note FROM latest WHERE origin = ?", (origin,)
        ).fetchone()
        return None if row is None else Latest(row[0], bytes(row[1]), row[2])

    def cosign(self, submission: Submission, cosigner: Cosigner) -> str:
        """Judge `submission` against the latest checkpoint and, when it extends it, record
        it and return the cosignature lines, all in one write transaction: the answer is
        only sent once it is durable. Refused (recorded when it is evidence) otherwise."""
        origin = submission.checkpoint.origin
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    found = self._latest(origin)
                    try:
                        new = judge(submission, found)
                    except Refused as refusal:
                        if refusal.misbehaviour:
                            self._keep_refused(submission, refusal)
                        self._db.execute("COMMIT")
                        raise
                    lines = cosigner(submission.text)
                    self._record(origin, found, new, lines)
                    self._db.execute("COMMIT")
                    return lines
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise WitnessStateError(
                    f"{self.path}: cannot write the witness state: {exc}"
                ) from None

    def _record(self, origin: str, found: Latest | None, new: Latest, lines: str) -> None:
        now = time.time_ns()
        if found is None:
            self._db.execute(
                "INSERT INTO latest VALUES (?, ?, ?, ?, ?)",
                (origin, new.size, new.root, new.note, now),
            )
        else:
            changed = self._db.execute(
                "UPDATE latest SET size = ?, root = ?, note = ?, updated_ns = ?"
                " WHERE origin = ? AND size = ? AND root = ?",
                (new.size, new.root, new.note, now, origin, found.size, found.root),
            ).rowcount
            if changed != 1:  # cannot happen under BEGIN IMMEDIATE; never cosign if it did
                raise sqlite3.OperationalError("the latest checkpoint changed under the lock")
        self._db.execute(
            "INSERT INTO cosigned (origin, size, root, note, cosignature, at_ns)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (origin, new.size, new.root, new.note, lines, now),
        )

    def _keep_refused(self, submission: Submission, refusal: Refused) -> None:
        request = submission.request
        self._db.execute(
            "INSERT INTO refused (origin, old_size, size, root, request, status, reason, at_ns)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                submission.checkpoint.origin,
                request.old_size,
                submission.checkpoint.size,
                submission.checkpoint.root,
                add_checkpoint_body(request.old_size, request.proof, request.note).decode(),
                int(refusal.status),
                refusal.reason,
                time.time_ns(),
            ),
        )

    def cosigned_count(self, origin: str) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT count(*) FROM cosigned WHERE origin = ?", (origin,)
            ).fetchone()
            return int(row[0])

    def refused(self, origin: str) -> list[tuple[int, int, int, str]]:
        """(old size, size, status, reason) of each refused signed checkpoint, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT old_size, size, status, reason FROM refused WHERE origin = ? ORDER BY id",
                (origin,),
            ).fetchall()
            return [(r[0], r[1], r[2], r[3]) for r in rows]
