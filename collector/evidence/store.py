"""The evidence store: an append-only, hash-chained SQLite file.

Every probe attempt, heartbeat and note becomes one record; `append` gives it the next seq
and chains its hash to the previous record's (see `collector.portable.chain` for the format), all in
one `BEGIN IMMEDIATE` transaction, so cron rounds that overlap never fork the chain. The
store knows records (plain dicts with `ts_ns`, `type` and maybe `target`), not probes or
config. It runs on apsw because the Python here links an SQLite with the WAL-reset race.

Every failure leaves this module as one of these, its message one line naming the file::

    StoreError
    ├── StoreMissing          the file (or its directory) does not exist
    ├── StoreExists           `create` found a file already there
    ├── NotAStore             random bytes, an empty file, another application's database
    ├── UnknownSchemaVersion  written by a newer slawitness (or needs an upgrade read-only)
    ├── StoreReadOnly         writing to a store opened, mounted or stored read-only
    ├── StoreBusy             another writer held the lock past the busy timeout
    ├── StoreFull             the disk (or the database's size limit) is full
    ├── StoreCorrupt          SQLite found the file damaged
    └── SqliteTooOld          the linked SQLite is older than MIN_SQLITE
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, NamedTuple, Self

import apsw
import msgspec

from collector.evidence.ballast import keep_ballast, release_ballast
from collector.evidence.block_reads import BlockReader, check_block, json_value, record_matches
from collector.evidence.blocks import Block, BlockDamaged
from collector.evidence.clock_check import ClockJump, ClockWatch
from collector.evidence.fast_verify import first_break_fast
from collector.evidence.migrations import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    pending,
    stored_version,
    upgrade,
)
from collector.evidence.newest_first import newest_first_merge
from collector.evidence.store_errors import (
    BUSY_TIMEOUT_MS,
    JOURNAL_SIZE_LIMIT,
    NotAStore,
    StoreCorrupt,
    StoreExists,
    StoreFull,
    StoreMissing,
    StoreReadOnly,
    UnknownSchemaVersion,
    require_sqlite,
    translate,
)
from collector.portable.chain import GENESIS, chain_hash, record_columns

_DECODE = msgspec.json.Decoder(dict[str, Any]).decode
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _filters(
    since_ns: int | None,
    until_ns: int | None,
    target: str | None,
    types: Collection[str] | None,
    after_seq: int | None,
) -> tuple[str, list[object]]:
    """The WHERE clause and parameters shared by the readers."""
    where, params = ["1"], list[object]()
    for clause, value in (
        ("ts_ns >= ?", since_ns),
        ("ts_ns < ?", until_ns),
        ("target = ?", target),
        ("seq > ?", after_seq),
    ):
        if value is not None:
            where.append(clause)
            params.append(value)
    if types is not None:
        where.append(f"type IN ({','.join('?' * len(types))})" if types else "0")
        params.extend(types)
    return " AND ".join(where), params


class Appended(NamedTuple):
    """Where a record landed: its seq and its hash (64 lowercase hex)."""

    seq: int
    hash: str


class StoredRecord(NamedTuple):
    """A record read back: its seq, its hash, and its parsed payload (without seq)."""

    seq: int
    hash: str
    record: dict[str, object]


@dataclass(frozen=True)
class VerifyReport:
    """The chain check. `count`, `head_seq` and `head_hash` describe the rows as stored,
    whether or not they verify; `first_bad_seq` and `problem` name the first break."""

    ok: bool
    count: int
    head_seq: int | None
    head_hash: str | None
    first_bad_seq: int | None
    problem: str | None
    unsynced: int = 0
    """Records taken while the kernel did not hold the clock synchronised (flagged only)."""
    clock_jumps: tuple[ClockJump, ...] = ()
    """Wall-clock jumps between records of one boot (flagged only)."""


def _connect(path: str, readonly: bool, create: bool) -> apsw.Connection:
    """A connection with the busy timeout set, read-only media included.

    Reading a WAL database needs its `-shm` file; on a read-only file system with no `-shm`
    left behind (a store copied onto read-only media) nothing can change the file, so it
    is opened as immutable instead of failing.
    """
    flags = apsw.SQLITE_OPEN_READONLY if readonly else apsw.SQLITE_OPEN_READWRITE
    if create and not readonly:
        flags |= apsw.SQLITE_OPEN_CREATE
    directory = os.path.dirname(os.path.abspath(path))
    try:
        if readonly and not os.access(directory, os.W_OK) and not os.path.exists(path + "-shm"):
            uri = "file:" + urllib.parse.quote(os.path.abspath(path)) + "?immutable=1"
            conn = apsw.Connection(uri, flags=flags | apsw.SQLITE_OPEN_URI)
        else:
            conn = apsw.Connection(path, flags=flags)
        conn.setbusytimeout(BUSY_TIMEOUT_MS)
    except apsw.Error as exc:
        raise translate(path, exc) from exc
    return conn


def _raw_hash(path: str, head: Appended) -> bytes:
    """The head's hash as the 32 bytes the next record chains to."""
    try:
        raw = bytes.fromhex(head.hash)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise StoreCorrupt(path, f"seq {head.seq} has a malformed hash; run slawitness verify")
    return raw


PROGRESS_EVERY = 50_000


class EvidenceStore:
    """An open store. Use `create` or `open`; close it, or use it as a context manager."""

    def __init__(self, path: str, conn: apsw.Connection, readonly: bool) -> None:
        self.path, self.readonly, self._conn = path, readonly, conn
        self.blocks = BlockReader(conn)
        """The records compaction moved into blocks (`collector.evidence.compaction`)."""
        self._append_lock = threading.Lock()
        """One connection, one transaction at a time: the daemon appends from a worker
        thread while `/probe` appends from the HTTP server's threads."""

    @classmethod
    def create(cls, path: str | os.PathLike[str]) -> EvidenceStore:
        """A new, empty store at `path`; the file must not exist, its directory must."""
        name = os.fspath(path)
        if os.path.lexists(name):
            raise StoreExists(name, "a file already exists here; not creating a store over it")
        return cls.open(name, create=True)

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, readonly: bool = False, create: bool = False
    ) -> EvidenceStore:
        """Open a store, upgrading its schema if writable; `create` makes a missing one."""
        name = os.fspath(path)
        require_sqlite(name, apsw.sqlite_lib_version())
        directory = os.path.dirname(os.path.abspath(name))
        if not os.path.isdir(directory):
            raise StoreMissing(name, f"directory {directory} does not exist")
        if not os.path.exists(name) and (readonly or not create):
            raise StoreMissing(name, "no evidence store here (file does not exist)")
        if os.path.exists(name) and not os.path.isfile(name):
            raise NotAStore(name, "not a slawitness evidence store (not a regular file)")
        store = cls(name, _connect(name, readonly, create), readonly)
        try:
            with store._boundary():
                store._prepare(may_initialize=create)
        except BaseException:
            store.close()
            raise
        if not readonly:
            keep_ballast(name)
        return store

    def _prepare(self, *, may_initialize: bool) -> None:
        """Check this is a store, set the connection up, and bring the schema up to date."""
        conn = self._conn
        if not self.readonly and conn.readonly("main"):
            raise StoreReadOnly(self.path, "cannot write: the file or its file system is read-only")
        with self._transaction("BEGIN"):  # one snapshot: a concurrent creator may commit
            app_id = self._scalar("PRAGMA application_id")
            tables = self._scalar("SELECT count(*) FROM sqlite_schema")
        if app_id != APPLICATION_ID:
            if app_id != 0 or tables:
                raise NotAStore(
                    self.path,
                    "not a slawitness evidence store (a SQLite database"
                    f" of another application, application_id {app_id:#x})",
                )
            if not may_initialize:
                raise NotAStore(self.path, "not a slawitness evidence store (empty database)")
        if not self.readonly:
            if may_initialize and not tables:  # only before the first table, and before WAL
                conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
            if self._scalar("PRAGMA journal_mode") != "wal":
                self._switch_to_wal()
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
        current = self._checked_version()
        if current < SCHEMA_VERSION:
            if self.readonly and not any(m.readers_need_it for m in pending(current)):
                return
            if self.readonly:
                raise UnknownSchemaVersion(
                    self.path,
                    f"schema version {current} needs an"
                    f" upgrade to {SCHEMA_VERSION}; open it read-write",
                )
            with self._transaction("BEGIN IMMEDIATE"):
                upgrade(conn, self._checked_version())  # re-read: another opener may have won

    def _switch_to_wal(self) -> None:
        """Enter WAL mode, retrying: SQLite answers BUSY here without calling the busy
        handler when a concurrent first opener holds a lock on the brand-new file."""
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                self._conn.execute("PRAGMA journal_mode=WAL")
                return
            except apsw.BusyError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _checked_version(self) -> int:
        current = stored_version(self._conn)
        if current is None:
            raise UnknownSchemaVersion(self.path, "schema version is missing or not a number")
        if current > SCHEMA_VERSION:
            raise UnknownSchemaVersion(
                self.path,
                f"schema version {current} is newer than this"
                f" slawitness understands ({SCHEMA_VERSION}); upgrade it",
            )
        return current

    def append(self, records: Sequence[Mapping[str, object]]) -> list[Appended]:
        """Chain and insert `records` in order, atomically; returns where each landed."""
        rows = []
        for index, record in enumerate(records):
            try:
                rows.append(record_columns(record))
            except ValueError as exc:
                raise ValueError(f"records[{index}]: {exc}") from exc
        if self.readonly:
            raise StoreReadOnly(self.path, "store was opened read-only; cannot append")
        if not rows:
            return []
        try:
            return self._append_rows(rows)
        except StoreFull as exc:
            release_ballast(self.path, time.time_ns())
            with contextlib.suppress(apsw.Error):  # the ballast's room lets the WAL shrink
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            raise StoreFull(
                self.path,
                "the disk is full: this batch was not stored (everything before it is);"
                " free some space and the next append resumes",
            ) from exc

    def append_decided(
        self, decide: Callable[[], Sequence[Mapping[str, object]]]
    ) -> list[tuple[Appended, Mapping[str, object]]]:
        """Append what `decide` returns, deciding inside the same write transaction: what it
        reads through this store cannot change before its records land, so two processes
        deciding at once (overlapping cron rounds) never both decide the same thing."""
        if self.readonly:
            raise StoreReadOnly(self.path, "store was opened read-only; cannot append")
        with self._append_lock, self._boundary(), self._transaction("BEGIN IMMEDIATE"):
            records = list(decide())
            rows = [record_columns(record) for record in records]
            return list(zip(self._insert_rows(rows), records, strict=True))

    def _append_rows(self, rows: list[tuple[int, str, str | None, bytes]]) -> list[Appended]:
        with self._append_lock, self._boundary(), self._transaction("BEGIN IMMEDIATE"):
            return self._insert_rows(rows)

    def _insert_rows(self, rows: list[tuple[int, str, str | None, bytes]]) -> list[Appended]:
        """Chain and insert, inside the caller's write transaction."""
        appended: list[Appended] = []
        if rows:
            head = self.head()
            seq, prev = (0, GENESIS) if head is None else (head.seq, _raw_hash(self.path, head))
            inserts = []
            for ts_ns, rtype, target, payload in rows:
                seq += 1
                prev = chain_hash(prev, seq, payload)
                inserts.append((seq, ts_ns, rtype, target, payload, prev.hex()))
                appended.append(Appended(seq, prev.hex()))
            self._conn.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?)", inserts)
        return appended

    def head(self) -> Appended | None:
        """The last record's seq and hash, or None for an empty store."""
        with self._boundary():
            row = self._conn.execute(
                "SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            if row is None:
                last = self.blocks.last()
                return None if last is None else Appended(last[0], last[1].hex())
        return Appended(row[0], row[1])

    def latest(self, rtype: str) -> StoredRecord | None:
        """The last record of type `rtype` (by seq), or None."""
        with self._boundary():
            row = self._row(
                "SELECT seq, hash, payload FROM records WHERE type = ? ORDER BY seq DESC LIMIT 1",
                (rtype,),
            )
            if row is None:
                for block in self.blocks.blocks(types=[rtype], descending=True):
                    for seq, payload, digest in reversed(list(self._block_rows(block))):
                        record = json.loads(payload)
                        if record.get("type") == rtype:
                            return StoredRecord(seq, digest, record)
                return None
        return StoredRecord(row[0], row[1], json.loads(row[2]))

    def hashes(self, after_seq: int, upto_seq: int) -> Iterator[tuple[int, str]]:
        """(seq, stored hash) of after_seq < seq <= upto_seq in seq order: the Merkle leaves."""
        with self._boundary():
            for block in self.blocks.blocks(after_seq=after_seq, upto_seq=upto_seq):
                for seq, _, digest in self._block_rows(block):
                    if after_seq < seq <= upto_seq:
                        yield seq, digest
            yield from self._conn.execute(
                "SELECT seq, hash FROM records WHERE seq > ? AND seq <= ? ORDER BY seq",
                (after_seq, upto_seq),
            )

    def raw(self, seq: int) -> tuple[bytes, str]:
        """The payload bytes and hash of `seq` exactly as stored (for proofs)."""
        with self._boundary():
            row = self._row("SELECT payload, hash FROM records WHERE seq = ?", (seq,))
            block = self.blocks.containing(seq) if row is None else None
            if block is not None:
                payloads, hashes = self._decoded(block)
                return payloads[seq - block.first_seq], hashes[seq - block.first_seq].hex()
        if row is None or not isinstance(row[0], bytes) or not isinstance(row[1], str):
            raise StoreCorrupt(self.path, f"seq {seq} is missing or malformed")
        return row[0], row[1]

    def count(self) -> int:
        """How many records the store holds."""
        with self._boundary():
            return int(self._scalar("SELECT count(*) FROM records")) + self.blocks.count()

    def meta(self) -> dict[str, str]:
        """The store's identity: store_id, created_ns, application, schema_version."""
        with self._boundary():
            return dict(self._conn.execute("SELECT key, value FROM meta"))

    def records(
        self,
        *,
        since_ns: int | None = None,
        until_ns: int | None = None,
        target: str | None = None,
        types: Collection[str] | None = None,
        after_seq: int | None = None,
        newest_first: bool = False,
        limit: int | None = None,
    ) -> Iterator[StoredRecord]:
        """Records with since_ns <= ts_ns < until_ns, of `target`, of `types`, past `after_seq`.

        In seq order, or with `newest_first` by descending time (the (target, ts_ns) index
        makes "the latest records of a target" cheap however long the history is).
        """
        where, params = _filters(since_ns, until_ns, target, types, after_seq)
        order = "ts_ns DESC, seq DESC" if newest_first else "seq"
        sql = f"SELECT seq, hash, payload FROM records WHERE {where} ORDER BY {order}"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        filters = (since_ns, until_ns, target, types)
        with self._boundary():
            raw = (
                StoredRecord(seq, digest, json.loads(payload))
                for seq, digest, payload in self._conn.execute(sql, params)
            )
            blocks = self.blocks.blocks(
                since_ns=since_ns, until_ns=until_ns, target=target, types=types,
                after_seq=after_seq, descending=newest_first,
            )  # fmt: skip

            def decoded(block: Block) -> Iterator[StoredRecord]:
                return self._block_records(block, filters, after_seq)

            found = (
                newest_first_merge(raw, blocks, decoded)
                if newest_first
                else itertools.chain((r for b in blocks for r in decoded(b)), raw)
            )
            yield from itertools.islice(found, limit)

    def fields(
        self,
        names: Sequence[str],
        *,
        since_ns: int | None = None,
        until_ns: int | None = None,
        target: str | None = None,
        types: Collection[str] | None = None,
    ) -> Iterator[tuple[Any, ...]]:
        """(seq, *values) of top-level payload fields, in seq order, extracted by SQLite.

        For readers that need a few fields of millions of records (the SLA engine): the
        JSON is taken apart in C instead of decoding every payload in Python. Booleans come
        back as 1/0, missing fields and nulls as None.
        """
        for name in names:
            if not _FIELD.match(name):
                raise ValueError(f"not a payload field name: {name!r}")
        where, params = _filters(since_ns, until_ns, target, types, None)
        extracts = ", ".join("json_extract(CAST(payload AS TEXT), ?)" for _ in names)
        sql = f"SELECT seq, {extracts} FROM records WHERE {where} ORDER BY seq"
        filters = (since_ns, until_ns, target, types)
        with self._boundary():
            blocks = self.blocks.blocks(
                since_ns=since_ns, until_ns=until_ns, target=target, types=types
            )
            for block in blocks:
                for seq, payload, _ in self._block_rows(block):
                    record = _DECODE(payload)
                    if record_matches(record, *filters):
                        yield (seq, *(json_value(record.get(n)) for n in names))
            paths: list[object] = [f"$.{n}" for n in names]
            yield from self._conn.execute(sql, [*paths, *params])

    def verify(
        self,
        progress: Callable[[int, int], None] | None = None,
        also: Callable[[int, dict[str, object]], None] | None = None,
    ) -> VerifyReport:
        """Recompute the chain from the stored bytes, streaming, in one read snapshot.

        `progress(done, count)` is called every PROGRESS_EVERY verified records (a terminal's
        progress bar over a big store); `also` sees every verified record (the date check)."""
        watch = ClockWatch()
        with self._boundary(), self._transaction("BEGIN"):
            count, head_seq, head_hash = self.shape()

            def seen(seq: int, record: dict[str, object]) -> None:
                watch(seq, record)
                if also is not None:
                    also(seq, record)
                if progress is not None and seq % PROGRESS_EVERY == 0:
                    progress(seq, count)  # seqs run 1..n on an intact chain

            bad = self.check_range(on_record=seen)
        bad_seq, problem = bad if bad else (None, None)
        return VerifyReport(
            bad is None, count, head_seq, head_hash, bad_seq, problem,
            watch.unsynced, tuple(watch.jumps),
        )  # fmt: skip

    def shape(self) -> tuple[int, int | None, str | None]:
        """(count, head seq, head hash) of the rows as stored, verified or not."""
        with self._boundary():
            count, head_seq = self._row("SELECT count(*), max(seq) FROM records")
            head_hash = self._scalar("SELECT hash FROM records WHERE seq = ?", (head_seq,))
            last = self.blocks.last() if head_seq is None else None
            if last is not None:
                head_seq, head_hash = last[0], last[1].hex()
        return count + self.blocks.count(), head_seq, head_hash

    def check_range(
        self,
        first_seq: int | None = None,
        end_seq: int | None = None,
        on_record: Callable[[int, dict[str, object]], None] | None = None,
    ) -> tuple[int, str] | None:
        """The chain check of the rows with first_seq <= seq < end_seq (None: unbounded).

        A range starts from the stored hash of the row before it, so a store checked in
        consecutive ranges, in any order or in parallel processes, has the first break the
        whole-store check finds: the first range's, since every earlier range verified.
        `on_record` sees each verified record (see `collector.portable.chain.first_break`).
        """
        prev_hash, expected_seq = GENESIS, 1
        where, params = "1", list[object]()
        lo, hi = -1 if first_seq is None else first_seq, 2**63 - 1 if end_seq is None else end_seq
        with self._boundary():
            blocks = self.blocks.blocks(
                after_seq=None if first_seq is None else first_seq - 1,
                upto_seq=None if end_seq is None else end_seq - 1,
            )
            for index, block in enumerate(blocks):
                if index == 0 and first_seq is not None:  # from the stored hash before it
                    before = self._before(block.first_seq)
                    if before is not None and isinstance(before[1], str):
                        return before[0], before[1]  # a raw row there with a malformed hash
                    if before is not None and isinstance(before[0], bytes):
                        prev_hash, expected_seq = before[0], before[1]
                bad, prev_hash = check_block(block, prev_hash, expected_seq, (lo, hi), on_record)
                if bad is not None:
                    return bad
                expected_seq = block.last_seq + 1
                first_seq = None if first_seq is None else max(first_seq, expected_seq)
            if first_seq is not None:
                where, params = "seq >= ?", [first_seq]
                before = self._row(
                    "SELECT seq, hash FROM records WHERE seq < ? ORDER BY seq DESC LIMIT 1",
                    (first_seq,),
                )
                last = self.blocks.last(below=first_seq)
                if last is not None and (before is None or before[0] < last[0]):
                    prev_hash, expected_seq, before = last[1], last[0] + 1, None
                if before is not None:
                    try:
                        prev_hash = _raw_hash(self.path, Appended(*before))
                    except StoreCorrupt:  # the range before names this row itself
                        return before[0], f"seq {before[0]}: malformed hash"
                    expected_seq = before[0] + 1
            if end_seq is not None:
                where += " AND seq < ?"
                params.append(end_seq)
            rows = self._conn.execute(
                "SELECT seq, ts_ns, type, target, payload, hash FROM records"
                f" WHERE {where} ORDER BY seq",
                params,
            )
            return first_break_fast(
                rows, prev_hash=prev_hash, expected_seq=expected_seq, on_record=on_record
            )

    def raw_rows(self, first_seq: int, limit: int) -> list[tuple[Any, ...]]:
        """Up to `limit` raw rows (seq, ts_ns, type, target, payload, hash) from first_seq on,
        in seq order: what compaction encodes and then holds its block to."""
        with self._boundary():
            return list(
                self._conn.execute(
                    "SELECT seq, ts_ns, type, target, payload, hash FROM records"
                    " WHERE seq >= ? ORDER BY seq LIMIT ?",
                    (first_seq, limit),
                )
            )

    def stored_rows(self, first_seq: int, last_seq: int) -> Iterator[tuple[Any, ...]]:
        """(seq, ts_ns, type, target, payload, hash) of first_seq..last_seq as the `records`
        table holds them, block records included (their columns read from the payload,
        their hashes recomputed): what a bundle's segment and snapshot carry."""
        with self._boundary():
            for block in self.blocks.blocks(after_seq=first_seq - 1, upto_seq=last_seq):
                for seq, payload, digest in self._block_rows(block):
                    if first_seq <= seq <= last_seq:
                        record = _DECODE(payload)
                        ts_ns, rtype = record.get("ts_ns"), record.get("type")
                        yield seq, ts_ns, rtype, record.get("target"), payload, digest
            yield from self._conn.execute(
                "SELECT seq, ts_ns, type, target, payload, hash FROM records"
                " WHERE seq BETWEEN ? AND ? ORDER BY seq",
                (first_seq, last_seq),
            )

    def records_table_sql(self) -> str | None:
        """The `CREATE TABLE records` statement, for copies that define it exactly as here."""
        with self._boundary():
            return self._scalar(
                "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'records'"
            )

    @contextmanager
    def read_snapshot(self) -> Iterator[None]:
        """One read transaction around several reads, so they see one state of the store."""
        with self._boundary(), self._transaction("BEGIN"):
            yield

    def first_raw(self) -> tuple[int, int] | None:
        """(seq, ts_ns) of the first record not in a block."""
        with self._boundary():
            return self._row("SELECT seq, ts_ns FROM records ORDER BY seq LIMIT 1")

    def raw_ts(self, seq: int) -> int | None:
        with self._boundary():
            return self._scalar("SELECT ts_ns FROM records WHERE seq = ?", (seq,))

    def move_into_block(self, block: Block) -> bool:
        """Insert `block` and delete the raw rows it holds, in one write transaction; False
        (nothing done) when those rows are no longer all raw (another compaction won).

        The caller has checked the block against the rows; the schema refuses the DELETE
        of any row no block covers, so a row can only ever leave `records` into a block."""
        if self.readonly:
            raise StoreReadOnly(self.path, "store was opened read-only; cannot compact")
        with self._append_lock, self._boundary(), self._transaction("BEGIN IMMEDIATE"):
            raw = self._scalar(
                "SELECT count(*) FROM records WHERE seq BETWEEN ? AND ?",
                (block.first_seq, block.last_seq),
            )
            overlap = self._scalar(
                "SELECT count(*) FROM blocks WHERE first_seq <= ? AND last_seq >= ?",
                (block.last_seq, block.first_seq),
            )
            if raw != block.count or overlap:
                return False
            self._conn.execute(
                "INSERT INTO blocks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    block.first_seq, block.last_seq, block.count, block.min_ts_ns,
                    block.max_ts_ns, block.prev_hash, block.last_hash, block.anchors,
                    block.targets, block.types, block.codec, block.data,
                ),
            )  # fmt: skip
            self._conn.execute(
                "DELETE FROM records WHERE seq BETWEEN ? AND ?", (block.first_seq, block.last_seq)
            )
            if self._conn.changes() != block.count:
                raise StoreCorrupt(self.path, "compaction deleted an unexpected number of rows")
        return True

    def release_free_pages(self) -> None:
        """Give the pages compaction freed back to the file system (a store created with
        auto_vacuum=INCREMENTAL; in an older one they are reused by later appends)."""
        with self._append_lock, self._boundary():
            for _ in self._conn.execute("PRAGMA incremental_vacuum"):  # a page a step
                pass
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def vacuum(self) -> None:
        """SQLite's VACUUM: rewrites the file compactly, once, and turns incremental
        auto_vacuum on for an old store (needs free space of the file's size)."""
        with self._append_lock, self._boundary():
            self._conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
            self._conn.execute("VACUUM")
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _before(self, seq: int) -> tuple[bytes, int] | tuple[int, str] | None:
        """(hash, seq + 1) of the record stored before `seq`, None at the start, or the
        problem of a raw row there whose hash is malformed."""
        row = self._row(
            "SELECT seq, hash FROM records WHERE seq < ? ORDER BY seq DESC LIMIT 1", (seq,)
        )
        last = self.blocks.last(below=seq)
        if last is not None and (row is None or row[0] < last[0]):
            return last[1], last[0] + 1
        if row is None:
            return None
        try:
            return _raw_hash(self.path, Appended(*row)), row[0] + 1
        except StoreCorrupt:
            return row[0], f"seq {row[0]}: malformed hash"

    def _decoded(self, block: Block) -> tuple[list[bytes], list[bytes]]:
        try:
            return self.blocks.decoded(block)
        except BlockDamaged as exc:
            raise StoreCorrupt(
                self.path, f"block {block.first_seq}-{block.last_seq} is damaged ({exc});"
                " run slawitness verify",
            ) from None  # fmt: skip

    def _block_rows(self, block: Block) -> Iterator[tuple[int, bytes, str]]:
        payloads, hashes = self._decoded(block)
        for offset, (payload, digest) in enumerate(zip(payloads, hashes, strict=True)):
            yield block.first_seq + offset, payload, digest.hex()

    def _block_records(
        self, block: Block, filters: tuple[Any, ...], after_seq: int | None
    ) -> Iterator[StoredRecord]:
        for seq, payload, digest in self._block_rows(block):
            record = _DECODE(payload)
            if (after_seq is None or seq > after_seq) and record_matches(record, *filters):
                yield StoredRecord(seq, digest, record)

    def connection(self) -> apsw.Connection:
        """The SQLite connection, for SQLite's online backup API (`documents.backup`) only."""
        return self._conn

    def close(self) -> None:
        """Close the connection (idempotent); later calls raise StoreError."""
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _row(self, sql: str, params: tuple[object, ...] = ()) -> Any:
        return self._conn.execute(sql, params).fetchone()

    def _scalar(self, sql: str, params: tuple[object, ...] = ()) -> Any:
        row = self._row(sql, params)
        return None if row is None else row[0]

    @contextmanager
    def _boundary(self) -> Iterator[None]:
        try:
            yield
        except apsw.Error as exc:
            raise translate(self.path, exc) from exc

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[None]:
        """`BEGIN IMMEDIATE` for writes (the lock first, so no two writers read one head),
        plain `BEGIN` for a read snapshot; rolled back on any error."""
        self._conn.execute(begin)
        try:
            yield
            self._conn.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
