"""Compaction: moving the raw rows of closed days into blocks (`collector.evidence.blocks`).

A raw row costs about 600 bytes on disk, a record in a block about 30: a year of a big
collector fits its disk only compacted. Compaction moves records and never changes one:
it takes the run of raw rows that starts at the first raw row, checks the run's chain
(a run that does not verify stays raw, as found, for `verify` to report), encodes the
block, decodes it again and holds every payload byte and every recomputed hash to the
stored rows and the stored hash before them, and only then inserts the block and deletes
exactly those rows in one write transaction. A crash at any moment leaves the rows or the
block, never neither, and the schema refuses the DELETE of any row no block covers.

Which runs: a block never straddles a UTC day (by the records' ts_ns, cut at the first
row in seq order of another day), holds at most MAX_RECORDS, and takes only settled rows,
older than SETTLE_NS (late records have landed by then). A run is due once it holds
MIN_RUN settled records, or once its day closed SETTLE_NS ago (the day's tail, however
short): a live store then never keeps much more than an hour plus MIN_RUN records raw,
whatever its rate. zstd-19 costs about 0.2 ms of CPU a record, so compaction never runs on
a probe's path: a cron round starts it detached, the daemon in a thread of its own
(`collector.evidence.compaction_runs`), `seal` before it archives a month.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from collector.evidence.blocks import MAX_RECORDS, Block, build, chain_of, decode
from collector.evidence.store import EvidenceStore
from collector.portable.chain import GENESIS
from collector.portable.errors import TamperedError

Row = tuple[Any, ...]
"""A raw row: seq, ts_ns, type, target, payload, hash."""
DAY_NS = 86_400 * 10**9
SETTLE_NS = 3_600 * 10**9
"""How old a record, and how long past its day's end, before it may be compacted."""
MIN_RUN = 4_096
"""The settled records of one day that make a block due before the day closes (smaller
blocks compress worse; larger ones would keep more raw)."""


class CompactionRefused(TamperedError):
    """The rows due do not verify, or their block did not reproduce them: nothing moved."""


@dataclass(frozen=True)
class CompactionResult:
    """What one compaction pass moved, and the file's size around it."""

    blocks: int
    records: int
    block_bytes: int
    file_bytes_before: int
    file_bytes_after: int
    seconds: float


@dataclass(frozen=True)
class _Head:
    """Where the next due block would start, found by the cheap checks alone."""

    first_seq: int
    day_end: int
    cutoff: int
    closed: bool


def _oldest_raw(store: EvidenceStore, now_ns: int) -> tuple[int, int, int, int] | None:
    """The first raw row's seq and ts_ns, the settling cutoff and the end of that row's
    day (one indexed lookup), or None when every record is in a block."""
    first = store.first_raw()
    if first is None:
        return None
    first_seq, first_ts = first
    return first_seq, first_ts, now_ns - SETTLE_NS, (first_ts // DAY_NS + 1) * DAY_NS


def _due_head(store: EvidenceStore, now_ns: int, until_ns: int | None) -> _Head | None:
    """The start of the next due block, or None, after at most two indexed lookups (the
    first raw row by seq, the raw row MIN_RUN after it)."""
    oldest = _oldest_raw(store, now_ns)
    if oldest is None:
        return None
    first_seq, first_ts, cutoff, day_end = oldest
    if first_ts >= cutoff or (until_ns is not None and day_end > until_ns):
        return None
    closed = day_end <= cutoff
    if not closed and not _settled(store, first_seq + MIN_RUN - 1, day_end, cutoff):
        return None
    return _Head(first_seq, day_end, cutoff, closed)


def _due_run(
    store: EvidenceStore,
    now_ns: int,
    until_ns: int | None,
    max_records: int = MAX_RECORDS,
) -> list[Row] | None:
    """The raw rows of the next block that is due, or None."""
    head = _due_head(store, now_ns, until_ns)
    if head is None:
        return None
    rows = store.raw_rows(head.first_seq, max_records)
    run = _settled_run(rows, head.first_seq, head.day_end, head.cutoff)
    if not run:
        return None
    return run if head.closed or len(run) >= min(MIN_RUN, max_records) else None


def _settled(store: EvidenceStore, seq: int, day_end: int, cutoff: int) -> bool:
    """Whether the raw row `seq` exists, is of the day ending at `day_end`, and is settled."""
    ts_ns = store.raw_ts(seq)
    return ts_ns is not None and day_end - DAY_NS <= ts_ns < min(day_end, cutoff)


def _settled_run(rows: list[Row], first_seq: int, day_end: int, cutoff: int) -> list[Row]:
    """The leading rows of one seq run, of one day, all settled."""
    run = []
    for expected, row in enumerate(rows, first_seq):
        seq, ts_ns = row[0], row[1]
        if seq != expected or not day_end - DAY_NS <= ts_ns < min(day_end, cutoff):
            break
        run.append(row)
    return run


def why_not_due(store: EvidenceStore, now_ns: int, until_ns: int | None = None) -> str:
    """Why `compact` found nothing due, in a few words (the user's `nothing to compact`)."""
    oldest = _oldest_raw(store, now_ns)
    if oldest is None:
        return "every record is in a block already"
    first_seq, first_ts, cutoff, day_end = oldest
    if until_ns is not None and day_end > until_ns:
        return "the first raw record's day ends after --until"
    if first_ts >= cutoff:
        return "the first raw record is less than an hour old"
    count = len(_settled_run(store.raw_rows(first_seq, MIN_RUN), first_seq, day_end, cutoff))
    return (
        f"the oldest settled run (from seq {first_seq}) holds only {count} records; a block"
        f" takes {MIN_RUN}, or the rest of a day an hour after it closes"
    )


def _hash_before(store: EvidenceStore, seq: int) -> bytes:
    if seq == 1:
        return GENESIS
    _, digest = store.raw(seq - 1)
    return bytes.fromhex(digest)


def block_of(store: EvidenceStore, run: list[Row]) -> Block:
    """The block of `run`, checked to reproduce it exactly, or CompactionRefused."""
    first_seq, last_seq = run[0][0], run[-1][0]
    bad = store.check_range(first_seq, last_seq + 1)
    if bad is not None:
        raise CompactionRefused(f"seq {first_seq}-{last_seq} do not verify ({bad[1]})")
    prev = _hash_before(store, first_seq)
    block = build(first_seq, prev, [(r[1], r[2], r[3], r[4]) for r in run])
    payloads = decode(block)
    hashes = chain_of(bytes(block.prev_hash), first_seq, payloads)
    for row, payload, digest in zip(run, payloads, hashes, strict=True):
        if payload != row[4] or digest.hex() != row[5]:
            raise CompactionRefused(f"seq {row[0]}: the block does not reproduce the row")
    return block


def compact(
    store: EvidenceStore,
    now_ns: int,
    *,
    until_ns: int | None = None,
    limit: int | None = None,
    max_records: int = MAX_RECORDS,
) -> CompactionResult:
    """Move every due run into a block (at most `limit` blocks of at most `max_records`);
    CompactionRefused stops at a run that does not verify, after the blocks before it
    moved."""
    started, before = time.monotonic(), _file_bytes(store)
    blocks = records = block_bytes = 0
    while limit is None or blocks < limit:
        run = _due_run(store, now_ns, until_ns, max_records)
        if run is None:
            break
        block = block_of(store, run)
        if not store.move_into_block(block):
            break  # another process compacted these rows meanwhile
        blocks, records = blocks + 1, records + block.count
        block_bytes += len(block.data)
    if blocks:
        store.release_free_pages()
    return CompactionResult(
        blocks, records, block_bytes, before, _file_bytes(store), time.monotonic() - started
    )


def is_due(store: EvidenceStore, now_ns: int) -> bool:
    """Whether a block is due: at most two indexed lookups (the first raw row by seq, the
    raw row MIN_RUN after it) when none is, what nearly every cron round finds."""
    return _due_head(store, now_ns, None) is not None


def compact_when_due(
    store: EvidenceStore, now_ns: int, *, limit: int | None = None, max_records: int = MAX_RECORDS
) -> CompactionResult | None:
    """For the daemon and cron rounds: compact what is due, or None after at most two
    indexed lookups when nothing is."""
    if _due_head(store, now_ns, None) is None:
        return None
    return compact(store, now_ns, limit=limit, max_records=max_records)


def _file_bytes(store: EvidenceStore) -> int:
    total = 0
    for suffix in ("", "-wal"):
        if os.path.exists(store.path + suffix):
            total += os.path.getsize(store.path + suffix)
    return total
