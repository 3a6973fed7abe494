"""The block codec: a run of consecutive records kept as one compressed row.

A closed day of evidence is read far more rarely than it is written, and a raw row costs
about 600 bytes (the payload, its hex hash, three indexes). A block holds the same records
as the concatenation of their canonical payloads, each preceded by its length as an
unsigned LEB128 varint, compressed with zstd at level 19 with the frame checksum on
(codec `zstd-19-v1`). Nothing else of a record is stored: seq is first_seq plus the
position, the indexed columns are read from the payload, and every hash is recomputed
from `prev_hash` with `collector.portable.chain.chain_hash`, so the block holds exactly the
bytes the chain covers and a third party checks it with the record format alone.

`anchors` holds the chain hash of the last record of every full 256-record span (the
records at positions 255, 511, ...), and `last_hash` the hash of the last record: a
recomputed hash that disagrees locates damage to one span.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import zstandard

from collector.portable.chain import chain_hash
from collector.portable.errors import TamperedError

CODEC = "zstd-19-v1"
LEVEL = 19
SPAN = 256
"""Records per anchor: a damaged block is located to this many records."""
MAX_RECORDS = 65_536
"""Records per block at most: a reader decodes one block to reach one record."""


class BlockDamaged(ValueError, TamperedError):
    """A block's data does not decode (bad frame, bad checksum, bad varints, other codec)."""


@dataclass(frozen=True)
class Block:
    """One `blocks` row, its columns in table order."""

    first_seq: int
    last_seq: int
    count: int
    min_ts_ns: int
    max_ts_ns: int
    prev_hash: bytes
    last_hash: bytes
    anchors: bytes
    targets: str
    types: str
    codec: str
    data: bytes

    def anchor(self, span: int) -> bytes:
        """The stored hash closing span `span` (the last span's is `last_hash`)."""
        if (span + 1) * SPAN <= self.count:
            return self.anchors[span * 32 : span * 32 + 32]
        return self.last_hash

    def target_set(self) -> frozenset[str]:
        return frozenset(json.loads(self.targets))

    def type_set(self) -> frozenset[str]:
        return frozenset(json.loads(self.types))


def canonical_list(values: Iterable[str | None]) -> str:
    """The sorted distinct non-null values as compact JSON (the `targets`/`types` columns)."""
    distinct = sorted({v for v in values if v is not None})
    return json.dumps(distinct, ensure_ascii=False, separators=(",", ":"))


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode(payloads: Sequence[bytes]) -> bytes:
    """The `data` of a block holding `payloads` in seq order."""
    framed = b"".join(_varint(len(p)) + p for p in payloads)
    return zstandard.ZstdCompressor(level=LEVEL, write_checksum=True).compress(framed)


def split(framed: bytes) -> tuple[list[bytes], bool]:
    """The payloads in decompressed `framed` bytes, and whether they ended cleanly (a
    truncated last one is dropped)."""
    payloads: list[bytes] = []
    pos, end = 0, len(framed)
    while pos < end:
        length = shift = 0
        while True:
            if pos >= end or shift > 35:
                return payloads, False
            byte = framed[pos]
            pos += 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        if pos + length > end:
            return payloads, False
        payloads.append(framed[pos : pos + length])
        pos += length
    return payloads, True


def decode(block: Block) -> list[bytes]:
    """The block's payloads, or BlockDamaged."""
    if block.codec != CODEC:
        raise BlockDamaged(f"unknown codec {block.codec!r}")
    try:
        framed = zstandard.ZstdDecompressor().decompress(block.data)
    except zstandard.ZstdError as exc:
        raise BlockDamaged(f"data does not decode ({exc})") from None
    payloads, clean = split(framed)
    if not clean or len(payloads) != block.count:
        raise BlockDamaged(f"data holds {len(payloads)} whole records, not {block.count}")
    return payloads


def decode_prefix(block: Block) -> list[bytes]:
    """As many leading payloads as still decode from a damaged block (to locate damage)."""
    if block.codec != CODEC:
        return []
    out = bytearray()
    reader = zstandard.ZstdDecompressor().decompressobj()
    try:
        for start in range(0, len(block.data), 1024):
            out += reader.decompress(block.data[start : start + 1024])
    except zstandard.ZstdError:
        pass
    return split(bytes(out))[0][: block.count]


def chain_of(prev_hash: bytes, first_seq: int, payloads: Iterable[bytes]) -> list[bytes]:
    """The chain hash of each payload, from the hash of the record before the first."""
    hashes, prev = [], prev_hash
    for offset, payload in enumerate(payloads):
        prev = chain_hash(prev, first_seq + offset, payload)
        hashes.append(prev)
    return hashes


def build(
    first_seq: int, prev_hash: bytes, rows: Sequence[tuple[int, str, str | None, bytes]]
) -> Block:
    """The block of `rows` (ts_ns, type, target, payload), the first at `first_seq`."""
    if not 0 < len(rows) <= MAX_RECORDS:
        raise ValueError(f"a block holds 1 to {MAX_RECORDS} records, not {len(rows)}")
    hashes = chain_of(prev_hash, first_seq, (row[3] for row in rows))
    stamps = [row[0] for row in rows]
    return Block(
        first_seq=first_seq,
        last_seq=first_seq + len(rows) - 1,
        count=len(rows),
        min_ts_ns=min(stamps),
        max_ts_ns=max(stamps),
        prev_hash=prev_hash,
        last_hash=hashes[-1],
        anchors=b"".join(hashes[SPAN - 1 :: SPAN]),
        targets=canonical_list(row[2] for row in rows),
        types=canonical_list(row[1] for row in rows),
        codec=CODEC,
        data=encode([row[3] for row in rows]),
    )
