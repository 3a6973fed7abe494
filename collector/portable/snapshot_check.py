"""Checking a bundle's SQLite snapshot of a records segment against the segment itself.

`records/<name>.sqlite` is the segment as an SQLite file, for readers who would rather query
it than parse JSON lines. It is only evidence if it says what the JSONL says: the same rows
(seq, hash, payload bytes) and, in its `meta` table, the same store, first and last seq and
hash before the first record as `records/chain.json`. It is read with the standard library's
`sqlite3` from a private temporary copy, opened immutable, so nothing is ever written beside
the bundle. Standard library only: the bundle's `verify.py` embeds this module.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from collector.portable.bundle_members import READ_ERRORS, Members

if TYPE_CHECKING:
    import sqlite3

_META_KEYS = ("store_id", "first_seq", "last_seq", "prev_hash")


def check_snapshot(
    members: Members,
    name: str,
    declared: Mapping[str, object],
    rows: Iterator[tuple[int, str, bytes]],
    problems: list[str],
    notes: list[str],
) -> None:
    """Compare snapshot `name` with `declared` (its chain.json entry) and `rows` (its
    records file's seq, hash and payload, in order); one problem names what differs."""
    if name not in members.names:
        problems.append(f"{name}: missing (every records file has its SQLite snapshot)")
        return
    try:
        import sqlite3
    except ImportError:
        notes.append(f"{name}: not checked (this Python has no sqlite3 module)")
        return
    with tempfile.TemporaryDirectory(prefix="slawitness-verify-") as folder:
        path = os.path.join(folder, "snapshot.sqlite")
        try:
            with members.open(name) as stream, open(path, "wb") as out:
                shutil.copyfileobj(stream, out, 1 << 20)
        except READ_ERRORS as exc:
            problems.append(f"{name}: cannot be read ({exc})")
            return
        conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
        try:
            problem = _difference(conn, declared, rows)
        except sqlite3.Error as exc:
            problem = f"not a readable snapshot ({exc})"
        finally:
            conn.close()
    if problem is not None:
        problems.append(f"{name}: {problem}")


def _difference(
    conn: sqlite3.Connection,
    declared: Mapping[str, object],
    rows: Iterator[tuple[int, str, bytes]],
) -> str | None:
    meta = dict(conn.execute("SELECT key, value FROM meta"))
    for key in _META_KEYS:
        value = declared.get(key)
        if meta.get(key) != (None if value is None else str(value)):
            return f"meta {key} is {meta.get(key)!r}, records/chain.json says {value!r}"
    stored = conn.execute("SELECT seq, hash, payload FROM records ORDER BY seq")
    for row, line in itertools.zip_longest(stored, rows):
        if row is None or line is None:
            return f"holds {'fewer' if row is None else 'more'} rows than its records file"
        seq, digest, payload = row
        if isinstance(payload, str):
            payload = payload.encode("utf-8", "surrogateescape")
        if seq != line[0]:
            return f"holds seq {seq} where its records file has seq {line[0]}"
        if (digest, payload) != line[1:]:
            return f"seq {seq}: its hash or payload differs from its records file"
    return None
