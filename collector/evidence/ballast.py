"""Room kept free beside the evidence store, so that a full disk cannot wedge it.

When the disk fills, SQLite refuses the append (nothing committed is lost), but the WAL
checkpoint that would let the store shrink its journal may fail for the same reason, and
the store stays stuck. So a writable store keeps a ballast file of BALLAST_BYTES beside it:
on SQLITE_FULL the ballast is deleted, which gives the checkpoint its room, and an empty
marker file records when; the next append that succeeds is preceded by a "resumed" record,
so the rounds that could not be stored show as a visible gap, never a silent one.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

BALLAST_BYTES = 4 * 1024 * 1024
LOW_SPACE_BYTES = 64 * 1024 * 1024
"""Below this much free space a writing verb warns: the disk is about to fill."""


def ballast_path(store: str) -> Path:
    return Path(store + ".ballast")


def marker_path(store: str) -> Path:
    return Path(store + ".full")


def free_bytes(store: str) -> int:
    """Free space, for an unprivileged writer, on the store's file system."""
    stats = os.statvfs(os.path.dirname(os.path.abspath(store)))
    return stats.f_bavail * stats.f_frsize


def keep_ballast(store: str) -> None:
    """Create the ballast if it is missing and the disk has room for it (best effort)."""
    path = ballast_path(store)
    if path.exists() or free_bytes(store) < BALLAST_BYTES + LOW_SPACE_BYTES // 8:
        return
    with contextlib.suppress(OSError), path.open("wb") as ballast:
        try:  # real blocks, not a sparse file, without writing 4 MiB of zeros
            os.posix_fallocate(ballast.fileno(), 0, BALLAST_BYTES)
        except OSError:
            ballast.write(bytes(BALLAST_BYTES))


def release_ballast(store: str, now_ns: int) -> None:
    """Free the ballast's room and leave the marker saying since when the disk was full."""
    with contextlib.suppress(OSError):
        ballast_path(store).unlink(missing_ok=True)
    marker = marker_path(store)
    if not marker.exists():
        with contextlib.suppress(OSError):
            marker.write_text(str(now_ns), encoding="ascii")


def full_since(store: str) -> int | None:
    """When an append last failed for lack of space (ns), if no append has succeeded since."""
    try:
        return int(marker_path(store).read_text(encoding="ascii").strip() or 0)
    except (OSError, ValueError):
        return None


def resumed(store: str) -> None:
    """An append succeeded again: drop the marker and put the ballast back when there is room."""
    with contextlib.suppress(OSError):
        marker_path(store).unlink(missing_ok=True)
    keep_ballast(store)
