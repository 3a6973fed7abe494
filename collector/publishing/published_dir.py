"""What a folder already holds of a published log, checked before anything is added to it.

A publish only ever appends to what the folder holds, so the folder must be a prefix of this
store's log: its checkpoint names this store's origin, and a checkpoint the store itself
signed has that size and root. The partial tiles a later publish starts from are read back
from the folder, and accepted only when they rebuild that stored checkpoint's frontier (and
the partial bundle's entries hash to the partial tile's leaves): a damaged or foreign tile
is refused rather than built upon. Full tiles are never read back; they never change.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from collector.core.bounded_read import SMALL_FILE_LIMIT, read_bounded, read_text_bounded
from collector.portable.errors import UsageError
from collector.portable.merkle import leaf_hash
from collector.portable.signed_note import Checkpoint, NoteError
from collector.proving.checkpoints import StoredCheckpoint
from collector.publishing.tile_paths import (
    ENTRIES,
    HASH_SIZE,
    TILE_WIDTH,
    decode_bundle,
    width_at,
)
from collector.publishing.tiling import EMPTY_EDGE, Edge, edge_paths

CHECKPOINT_FILE = "checkpoint"
TILE_FOLDER = "tile"
TILE_READ_LIMIT = 3 * TILE_WIDTH * HASH_SIZE
"""A tile is 8 KiB, a bundle of our 32-byte entries 8.5 KiB; anything much bigger is not ours."""


class PublishRefused(UsageError):
    """The folder is not one this store may publish into; nothing was written (one line)."""


def published_checkpoint(folder: Path) -> Checkpoint | None:
    """The checkpoint the folder serves, None for a folder that holds no log yet (absent,
    empty, or only tiles of a publish interrupted before its checkpoint)."""
    try:
        info = os.stat(folder)
    except FileNotFoundError:
        return None
    if not stat.S_ISDIR(info.st_mode):
        raise PublishRefused(f"{folder}: not a directory; give a folder to publish into")
    path = folder / CHECKPOINT_FILE
    if not os.path.lexists(path):
        others = sorted(p.name for p in folder.iterdir() if p.name != TILE_FOLDER)
        if others:
            raise PublishRefused(
                f"{folder}: not a published log (no {CHECKPOINT_FILE} file, but it holds"
                f" {others[0]}); publish into an empty or new folder"
            )
        return None
    try:
        text = read_text_bounded(path, SMALL_FILE_LIMIT)
        return Checkpoint.parse(text.partition("\n\n")[0] + "\n")
    except (OSError, UnicodeDecodeError, NoteError) as exc:
        raise PublishRefused(f"{path}: not a checkpoint this store published ({exc})") from None


def matching_checkpoint(
    folder: Path, served: Checkpoint, origin: str, signed: list[StoredCheckpoint], latest: int
) -> StoredCheckpoint:
    """The stored checkpoint `served` is, or the refusal naming why the folder is not a
    prefix of this store's log (another store's, or a history this store never signed)."""
    if served.origin != origin:
        raise PublishRefused(
            f"{folder}: it holds the log of another store ({served.origin}, this store is"
            f" {origin}); publish each store into its own folder. Nothing was written"
        )
    for stored in signed:
        if (stored.checkpoint.size, stored.checkpoint.root) == (served.size, served.root):
            if served.size > latest:
                break
            return stored
    raise PublishRefused(
        f"{folder}: it holds a tree of {served.size} records (root {served.root.hex()}) that"
        " no checkpoint of this store signed: a different history. Nothing was written"
    )


def published_edge(folder: Path, stored: StoredCheckpoint | None) -> Edge:
    """The partial tiles and bundle of the published tree `stored`, checked against its
    frontier; the empty edge for a folder that holds no log yet."""
    if stored is None:
        return EMPTY_EDGE
    size = stored.checkpoint.size
    hashes: dict[int, bytes] = {}
    entries: list[bytes] = []
    for level, relative in edge_paths(size).items():
        data = _read_tile(folder, relative)
        if level == ENTRIES:
            try:
                entries = decode_bundle(data)
            except ValueError as exc:
                raise _damaged(folder, relative, str(exc)) from None
        else:
            assert isinstance(level, int)
            hashes[level] = data
    _check_edge_tiles(folder, size, hashes, stored.frontier.hashes)
    if b"".join(leaf_hash(entry) for entry in entries) != hashes.get(0, b""):
        raise _damaged(folder, edge_paths(size)[ENTRIES], "its entries do not hash to its tile")
    return Edge(size, hashes, entries)


def _check_edge_tiles(
    folder: Path, size: int, hashes: dict[int, bytes], frontier: list[bytes]
) -> None:
    """Each partial tile against its part of the stored frontier (highest level first: the
    subtrees of level L's partial tile are the frontier's next width.bit_count() hashes)."""
    at = 0
    for level in sorted(hashes, reverse=True):
        rebuilt = Edge(width_at(size, level), {0: hashes[level]}, []).frontier_or_none()
        wanted = frontier[at : at + width_at(size, level).bit_count()]
        at += len(wanted)
        if rebuilt is None or rebuilt.hashes != wanted:
            raise _damaged(
                folder, edge_paths(size)[level], "its hashes do not rebuild the checkpoint's tree"
            )


def _read_tile(folder: Path, relative: str) -> bytes:
    try:
        return read_bounded(folder / relative, TILE_READ_LIMIT)
    except OSError as exc:
        problem = getattr(exc, "strerror", None) or str(exc)
        raise _damaged(folder, relative, f"cannot be read ({problem})") from None


def _damaged(folder: Path, relative: str, problem: str) -> PublishRefused:
    return PublishRefused(
        f"{folder / relative}: {problem}; the published log is damaged. Nothing was written"
    )
