"""Where C2SP tlog-tiles puts each resource, and how an entry bundle is encoded.

The paths are the spec's exactly (`tile/<L>/<N>[.p/<W>]`, `tile/entries/<N>[.p/<W>]`, the
index written as zero-padded 3-digit elements, all but the last starting with `x`), so a
reader written against the spec finds our files without knowing who wrote them.
"""

from __future__ import annotations

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
"""Hashes in a full tile (and entries in a full bundle): 256."""
HASH_SIZE = 32
ENTRIES = "entries"
"""The level name of entry bundles in their paths."""


def index_path(index: int) -> str:
    """N as the spec writes it: 1234067 is `x001/x234/067`."""
    if index < 0:
        raise ValueError(f"a tile index is never negative (got {index})")
    elements = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        elements.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(elements))


def tile_path(level: int | str, index: int, width: int) -> str:
    """The path of tile `index` at `level` (or of an entry bundle, level `ENTRIES`) holding
    `width` hashes or entries: a full one has no `.p/<W>` suffix."""
    if not 1 <= width <= TILE_WIDTH:
        raise ValueError(f"a tile holds 1 to {TILE_WIDTH} hashes (got {width})")
    suffix = "" if width == TILE_WIDTH else f".p/{width}"
    return f"tile/{level}/{index_path(index)}{suffix}"


def width_at(size: int, level: int) -> int:
    """How many hashes the rightmost (partial) tile of `level` holds in a tree of `size`:
    floor(size / 256**level) mod 256; 0 when that level has no partial tile."""
    return (size >> (TILE_HEIGHT * level)) % TILE_WIDTH


def edge_index(size: int, level: int) -> int:
    """The index of the tile of `level` that the tree of `size` leaves partial."""
    return size >> (TILE_HEIGHT * (level + 1))


def encode_bundle(entries: list[bytes]) -> bytes:
    """An entry bundle: each entry as its big-endian uint16 length, then its bytes."""
    out = bytearray()
    for entry in entries:
        if len(entry) >= 1 << 16:
            raise ValueError(f"an entry of {len(entry)} bytes does not fit a uint16 length")
        out += len(entry).to_bytes(2, "big") + entry
    return bytes(out)


def decode_bundle(data: bytes) -> list[bytes]:
    """The entries of a bundle; ValueError when its lengths run past its end."""
    entries, at = [], 0
    while at < len(data):
        if at + 2 > len(data):
            raise ValueError("an entry bundle ends inside a length")
        length = int.from_bytes(data[at : at + 2], "big")
        if at + 2 + length > len(data):
            raise ValueError("an entry bundle ends inside an entry")
        entries.append(data[at + 2 : at + 2 + length])
        at += 2 + length
    return entries
