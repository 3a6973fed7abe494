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
row in seq order of another day), holds at most MAX_RECORDS, and takes rows older than
one hour before now whose day closed at least an hour ago (late records of the day have
landed by then), or, sooner, any full MAX_RECORDS run older than an hour, so a collector
writing 11,000 probes a minute never keeps a day of raw rows.
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


def _due_run(store: EvidenceStore, now_ns: int, until_ns: int | None) -> list[Row] | None:
    """The raw rows of the next block that is due, or None."""
    first = store.first_raw()
    if first is None:
        return None
    first_seq, first_ts = first
    cutoff = now_ns - SETTLE_NS
    day = first_ts // DAY_NS
    day_end = (day + 1) * DAY_NS
    closed = day_end <= cutoff and (until_ns is None or day_end <= until_ns)
    if first_ts >= cutoff or (until_ns is not None and day_end > until_ns):
        return None
    if not closed:  # only a full run, cheaply ruled out by the row MAX_RECORDS ahead
        ahead = store.raw_ts(first_seq + MAX_RECORDS - 1)
        if ahead is None or ahead // DAY_NS != day or ahead >= cutoff:
            return None
    rows = store.raw_rows(first_seq, MAX_RECORDS)
    run = []
    for expected, row in enumerate(rows, first_seq):
        seq, ts_ns = row[0], row[1]
        if seq != expected or ts_ns // DAY_NS != day or ts_ns >= cutoff:
            break
        run.append(row)
    if not run:
        return None
    return run if closed or len(run) == MAX_RECORDS else None


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
    store: EvidenceStore, now_ns: int, *, until_ns: int | None = None, limit: int | None = None
) -> CompactionResult:
    """Move every due run into a block (at most `limit` blocks); CompactionRefused stops
    at a run that does not verify, after the blocks before it moved."""
    started, before = time.monotonic(), _file_bytes(store)
    blocks = records = block_bytes = 0
    while limit is None or blocks < limit:
        run = _due_run(store, now_ns, until_ns)
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


def compact_when_due(store: EvidenceStore, now_ns: int) -> CompactionResult | None:
    """For the daemon and cron rounds: compact what is due, or None after one or two
    indexed lookups when nothing is (every round but those an hour into a new day)."""
    if _due_run(store, now_ns, None) is None:
        return None
    return compact(store, now_ns)


def _file_bytes(store: EvidenceStore) -> int:
    total = 0
    for suffix in ("", "-wal"):
        if os.path.exists(store.path + suffix):
            total += os.path.getsize(store.path + suffix)
    return total
