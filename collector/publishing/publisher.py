"""`slawitness publish DIR`: the store's log as C2SP tlog-tiles in DIR, grown in place.

What is published is the tree of the store's latest stored checkpoint, and nothing about
the records but their hashes: the entry of leaf i is the 32-byte chain hash of record seq
i+1 (the leaf hash is SHA-256(0x00 || that hash), as every checkpoint and proof of ours
computes it). A reader learns how many records there are and can check that a record
someone shows them is in the log, but no target, address or result is ever in DIR.

DIR/checkpoint is that checkpoint's signed note with every witness cosignature the store
holds for it, so a reader can hold the tree to the witnesses as well as to our key.

A publish appends only: the tiles from the previous publish's partial edge onward are
written, each atomically (a partial file renamed into place), full tiles already there are
never written again, and the checkpoint is written last, so a reader never sees a
checkpoint whose tiles are not yet there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from collector.core.bounded_read import SMALL_FILE_LIMIT, read_bounded
from collector.core.output_paths import replacing
from collector.evidence.store import EvidenceStore
from collector.evidence.store_errors import StoreCorrupt
from collector.proving import checkpoints
from collector.proving.cosignatures import cosigned_note
from collector.publishing.published_dir import (
    CHECKPOINT_FILE,
    TILE_READ_LIMIT,
    PublishRefused,
    matching_checkpoint,
    published_checkpoint,
    published_edge,
)
from collector.publishing.tiling import TileFile, grow


@dataclass(frozen=True)
class Published:
    """What one publish did, for its one line of output and for tests."""

    size: int
    previous_size: int | None
    """The size DIR served before; None when it held no log yet."""
    checkpoint_seq: int
    tiles_written: int
    tiles_kept: int
    """Tiles this tree needs that DIR already held byte for byte (an earlier publish
    interrupted before its checkpoint, or the same size published again)."""
    bytes_written: int
    checkpoint_written: bool


def publish(store: EvidenceStore, folder: Path) -> Published:
    """Publish the tree of `store`'s latest checkpoint into `folder` (PublishRefused, with
    nothing written, when the store has no checkpoint or `folder` is not a prefix of its
    log)."""
    latest = checkpoints.latest(store)
    if latest is None:
        raise PublishRefused(
            f"{store.path}: the store holds no checkpoint yet, so there is no signed tree to"
            " publish; sign one with: slawitness checkpoint"
        )
    served = published_checkpoint(folder)
    previous = None
    if served is not None:
        signed = checkpoints.stored(store)
        previous = matching_checkpoint(
            folder, served, checkpoints.origin(store), signed, latest.checkpoint.size
        )
    edge = published_edge(folder, previous)
    files, grown = grow(
        edge, list(checkpoints.record_hashes(store, edge.size, latest.checkpoint.size))
    )
    if grown.frontier() != latest.frontier:
        raise StoreCorrupt(
            store.path,
            f"its records up to seq {latest.checkpoint.size} do not make the tree its latest"
            " checkpoint signed; run slawitness verify",
        )
    new = [tile for tile in files if not _already_there(folder, tile)]
    note = cosigned_note(store, latest)
    written = sum(_write(folder / tile.path, tile.data) for tile in new)
    checkpoint_path = folder / CHECKPOINT_FILE
    fresh = _held(checkpoint_path) != note.encode()
    if fresh:
        written += _write(checkpoint_path, note.encode())
    return Published(
        latest.checkpoint.size,
        None if served is None else served.size,
        latest.seq,
        len(new),
        len(files) - len(new),
        written,
        fresh,
    )


def _already_there(folder: Path, tile: TileFile) -> bool:
    """Whether `folder` holds `tile` byte for byte; a refusal when it holds other bytes
    there, checked for every tile before the first is written."""
    path = folder / tile.path
    if not os.path.lexists(path):
        return False
    try:
        held = read_bounded(path, TILE_READ_LIMIT)
    except OSError as exc:
        problem = getattr(exc, "strerror", None) or str(exc)
        raise PublishRefused(f"{path}: cannot be read ({problem}); nothing was written") from None
    if held != tile.data:
        raise PublishRefused(
            f"{path}: it holds other hashes than this store's log; the folder is another"
            " history's. Nothing was written"
        )
    return True


def _held(path: Path) -> bytes | None:
    """The bytes DIR's checkpoint holds now (None: none yet), so an unchanged one is left be."""
    try:
        return read_bounded(path, SMALL_FILE_LIMIT)
    except OSError:
        return None


def _write(path: Path, data: bytes) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path, replace=True, hint=None) as out:
        out.write(data)
    return len(data)
