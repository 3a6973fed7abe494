"""Which tiles a tree grown from one published size to another needs, and their bytes.

Publishing must cost what the growth costs, not the store: a tile of level L is full once
256 hashes of that level exist, and a full tile never changes, so only the tile a previous
size left partial (its hashes read back from that partial tile) and the tiles after it are
built. The hashes of level L+1 are the Merkle roots of the full tiles of level L, all of
which are among those just built; nothing below the previous size is hashed again.

Everything here is a function of its arguments (no files, no store), so the tile maths is
tested apart from the file writing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from collector.portable.merkle import Frontier, leaf_hash, root
from collector.publishing.tile_paths import (
    ENTRIES,
    HASH_SIZE,
    TILE_HEIGHT,
    TILE_WIDTH,
    edge_index,
    encode_bundle,
    tile_path,
    width_at,
)


@dataclass(frozen=True)
class TileFile:
    """One resource to publish: its path under the log's folder and its bytes."""

    path: str
    data: bytes
    full: bool
    """A full tile or bundle is immutable once published; a partial one has its width in
    its path, so it is never overwritten by a wider one either."""


@dataclass(frozen=True)
class Edge:
    """The partial tiles of a tree: for each level that has one, its hashes (width * 32
    bytes), and the partial entry bundle's entries. What a later publish starts from."""

    size: int
    hashes: dict[int, bytes]
    entries: list[bytes]

    def frontier(self) -> Frontier:
        """The tree's frontier (the roots of its perfect subtrees, left to right), from the
        partial tiles alone: the partial tile of level L holds the subtrees of 256**L
        leaves that no full tile of L covers, so each level's own frontier, highest level
        first, is the tree's."""
        hashes: list[bytes] = []
        for level in sorted(self.hashes, reverse=True):
            part = Frontier()
            row = self.hashes[level]
            for at in range(0, len(row), HASH_SIZE):
                part.append(row[at : at + HASH_SIZE])
            hashes += part.hashes
        return Frontier(self.size, hashes)

    def frontier_or_none(self) -> Frontier | None:
        """The frontier, or None when the tiles hold the wrong number of hashes for it."""
        try:
            return self.frontier()
        except ValueError:
            return None


EMPTY_EDGE = Edge(0, {}, [])


def levels_of(size: int) -> range:
    """The levels a tree of `size` has hashes at (level L holds floor(size / 256**L))."""
    top = 0
    while size >> (TILE_HEIGHT * (top + 1)):
        top += 1
    return range(top + 1) if size else range(0)


def _row_tiles(
    level: int | str, known: int, prefix: Sequence[bytes], added: Sequence[bytes], hashes: bool
) -> tuple[list[TileFile], list[bytes]]:
    """The tiles of one level (or of the bundles) from the first one `known` items leave
    unfinished: `prefix` is that tile's items so far, `added` what comes after. Returns
    the tiles and the items of the level's rightmost partial tile."""
    row = [*prefix, *added]
    first = known // TILE_WIDTH
    files, edge = [], []
    for at in range(0, len(row), TILE_WIDTH):
        chunk = row[at : at + TILE_WIDTH]
        data = b"".join(chunk) if hashes else encode_bundle(list(chunk))
        full = len(chunk) == TILE_WIDTH
        files.append(TileFile(tile_path(level, first + at // TILE_WIDTH, len(chunk)), data, full))
        if not full:
            edge = list(chunk)
    return files, edge


def grow(old: Edge, entries: Sequence[bytes]) -> tuple[list[TileFile], Edge]:
    """The tiles and bundles that the tree of `old.size` leaves grown by `entries` (the
    entry data of the leaves after it, in order) needs beyond those already published,
    and the grown tree's edge."""
    size = old.size + len(entries)
    files, bundle_edge = _row_tiles(ENTRIES, old.size, old.entries, entries, hashes=False)
    added = [leaf_hash(entry) for entry in entries]
    edge_hashes: dict[int, bytes] = {}
    for level in levels_of(size):
        known = old.size >> (TILE_HEIGHT * level)
        prefix = _split(old.hashes.get(level, b""))
        if len(prefix) != width_at(old.size, level):
            raise ValueError(f"the partial tile of level {level} has {len(prefix)} hashes")
        level_files, edge = _row_tiles(level, known, prefix, added, hashes=True)
        files += level_files
        if edge:
            edge_hashes[level] = b"".join(edge)
        added = [root(_split(tile.data)) for tile in level_files if tile.full]
    return files, Edge(size, edge_hashes, bundle_edge)


def _split(row: bytes) -> list[bytes]:
    return [row[at : at + HASH_SIZE] for at in range(0, len(row), HASH_SIZE)]


def edge_paths(size: int) -> dict[int | str, str]:
    """The paths of the partial tiles (and bundle) a tree of `size` leaves, by level."""
    paths: dict[int | str, str] = {}
    for level in levels_of(size):
        if width_at(size, level):
            paths[level] = tile_path(level, edge_index(size, level), width_at(size, level))
    if size % TILE_WIDTH:
        paths[ENTRIES] = tile_path(ENTRIES, size // TILE_WIDTH, size % TILE_WIDTH)
    return paths
