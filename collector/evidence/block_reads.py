"""Reading the records kept in blocks, for `EvidenceStore`'s readers.

Compaction moves a contiguous run starting at the first raw row, so every block lies
below every raw row: the history is the blocks in seq order followed by the raw rows,
and each reader takes its blocks first. A block is skipped by its columns (seq span,
ts span, targets, types) before its data is touched; a decoded block's payloads and
recomputed hashes are cached (blocks never change), so proofs that read one record after
another decode a block once. `check_block` is the chain check of one block: the hashes
are recomputed from `prev_hash` span by span and held to the anchors before any record
of the span is handed on.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator
from typing import Any

import apsw

from collector.evidence.blocks import SPAN, Block, BlockDamaged, chain_of, decode, decode_prefix
from collector.evidence.fast_verify import accepted_record
from collector.portable.chain import link_problem, parse_payload

_COLUMNS = (
    "first_seq, last_seq, count, min_ts_ns, max_ts_ns, prev_hash, last_hash, anchors,"
    " targets, types, codec, data"
)
_CACHED = 2


def has_blocks_table(conn: apsw.Connection) -> bool:
    """False for a store at schema 2 opened read-only (it has no blocks yet)."""
    row = conn.execute("SELECT 1 FROM sqlite_schema WHERE type='table' AND name='blocks'")
    return row.fetchone() is not None


class BlockReader:
    """The blocks of one connection."""

    def __init__(self, conn: apsw.Connection) -> None:
        self._conn = conn
        self._present: bool | None = None
        self._cache: OrderedDict[int, tuple[list[bytes], list[bytes]]] = OrderedDict()

    @property
    def present(self) -> bool:
        if not self._present:  # a table once seen stays; a missing one may appear (upgrade)
            self._present = has_blocks_table(self._conn)
        return self._present

    def blocks(
        self,
        *,
        since_ns: int | None = None,
        until_ns: int | None = None,
        target: str | None = None,
        types: Collection[str] | None = None,
        after_seq: int | None = None,
        upto_seq: int | None = None,
        descending: bool = False,
    ) -> Iterator[Block]:
        """The blocks that may hold a record the filters select, in seq order."""
        if not self.present:
            return
        where, params = ["1"], list[object]()
        for clause, value in (
            ("max_ts_ns >= ?", since_ns),
            ("min_ts_ns < ?", until_ns),
            ("last_seq > ?", after_seq),
            ("first_seq <= ?", upto_seq),
            ("EXISTS (SELECT 1 FROM json_each(targets) WHERE value = ?)", target),
        ):
            if value is not None:
                where.append(clause)
                params.append(value)
        if types is not None:
            marks = ",".join("?" * len(types))
            where.append(f"EXISTS (SELECT 1 FROM json_each(types) WHERE value IN ({marks}))")
            params.extend(types)
        order = "DESC" if descending else ""
        clause = " AND ".join(where)
        sql = f"SELECT {_COLUMNS} FROM blocks WHERE {clause} ORDER BY first_seq {order}"
        for row in self._conn.execute(sql, params):
            yield Block(*row)

    def containing(self, seq: int) -> Block | None:
        if not self.present:
            return None
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM blocks WHERE first_seq <= ? ORDER BY first_seq DESC LIMIT 1",
            (seq,),
        ).fetchone()
        block = None if row is None else Block(*row)
        return block if block is not None and seq <= block.last_seq else None

    def last(self, below: int | None = None) -> tuple[int, bytes] | None:
        """(last seq, last hash) of the last block, or of the last one ending below `below`."""
        if not self.present:
            return None
        row = self._conn.execute(
            "SELECT last_seq, last_hash FROM blocks WHERE last_seq < ?"
            " ORDER BY first_seq DESC LIMIT 1",
            (2**63 - 1 if below is None else below,),
        ).fetchone()
        return None if row is None else (row[0], bytes(row[1]))

    def count(self) -> int:
        if not self.present:
            return 0
        row = self._conn.execute("SELECT coalesce(sum(count), 0) FROM blocks").fetchone()
        return int(row[0]) if row else 0

    def decoded(self, block: Block) -> tuple[list[bytes], list[bytes]]:
        """The block's payloads and recomputed hashes (BlockDamaged when it does not decode)."""
        hit = self._cache.get(block.first_seq)
        if hit is None:
            payloads = decode(block)
            hit = payloads, chain_of(bytes(block.prev_hash), block.first_seq, payloads)
            self._cache[block.first_seq] = hit
            while len(self._cache) > _CACHED:
                self._cache.popitem(last=False)
        return hit


def record_matches(
    record: dict[str, Any],
    since_ns: int | None,
    until_ns: int | None,
    target: str | None,
    types: Collection[str] | None,
) -> bool:
    """The readers' filter, as the SQL WHERE of the raw rows applies it."""
    ts = record.get("ts_ns")
    return (
        (since_ns is None or ts >= since_ns)  # type: ignore[operator]
        and (until_ns is None or ts < until_ns)  # type: ignore[operator]
        and (target is None or record.get("target") == target)
        and (types is None or record.get("type") in types)
    )


def json_value(value: object) -> object:
    """A payload field as SQLite's json_extract returns it."""
    if value is True or value is False:
        return int(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return value


def _damaged(block: Block, seq: int, why: str) -> tuple[int, str]:
    return seq, f"seq {seq}: block {block.first_seq}-{block.last_seq} is damaged ({why})"


def _columns_problem(record: dict[str, object]) -> str | None:
    ts_ns, rtype, target = record.get("ts_ns"), record.get("type"), record.get("target")
    if type(ts_ns) is not int or type(rtype) is not str or not rtype:
        return "payload has no int ts_ns or no type"
    if target is not None and type(target) is not str:
        return "payload's target is not a string"
    return None


def check_block(
    block: Block,
    prev_hash: bytes,
    expected_seq: int,
    wanted: tuple[int, int],
    on_record: Callable[[int, dict[str, object]], None] | None,
) -> tuple[tuple[int, str] | None, bytes]:
    """(first break or None, hash of the block's last record). `on_record` sees the
    verified records with wanted[0] <= seq < wanted[1]."""
    first, last = block.first_seq, block.last_seq
    if first != expected_seq:  # missing or repeated seqs, worded as for raw rows
        return link_problem(prev_hash, expected_seq, first, b"", None), prev_hash
    if bytes(block.prev_hash) != prev_hash:
        unlinked = "its prev_hash is not the hash of the record before"
        return _damaged(block, first, unlinked), prev_hash
    if block.count != last - first + 1 or len(block.anchors) != 32 * (block.count // SPAN):
        return _damaged(block, first, "its count, seq span and anchors disagree"), prev_hash
    try:
        payloads, why = decode(block), ""
    except BlockDamaged as exc:
        payloads, why = decode_prefix(block), str(exc)
    lo, hi = wanted
    digest = prev_hash
    for start in range(0, block.count, SPAN):
        seq0 = first + start
        span = payloads[start : start + SPAN]
        if len(span) < min(SPAN, block.count - start):
            return _damaged(block, seq0, why or "records missing"), digest
        hashes = chain_of(digest, seq0, span)
        closes_block = start + SPAN >= block.count
        if hashes[-1] != bytes(block.anchor(start // SPAN)) or (
            closes_block and hashes[-1] != bytes(block.last_hash)
        ):
            end = seq0 + len(span) - 1
            return _damaged(block, seq0, f"seq {seq0}-{end} disagree with its anchor"), digest
        for offset, payload in enumerate(span):
            seq = seq0 + offset
            record = accepted_record(payload)
            if record is None:
                try:
                    record = parse_payload(payload)
                except ValueError as exc:
                    return (seq, f"seq {seq}: {exc}"), digest
            problem = _columns_problem(record)
            if problem is not None:
                return (seq, f"seq {seq}: {problem}"), digest
            if on_record is not None and lo <= seq < hi:
                on_record(seq, record)
        digest = hashes[-1]
    if why:  # every hash agrees, yet the frame does not check: its checksum is damaged
        return _damaged(block, first + (block.count - 1) // SPAN * SPAN, why), digest
    return None, digest
