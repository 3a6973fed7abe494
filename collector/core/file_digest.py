"""The SHA-256 of a file on disk, read in chunks: one way for every file slawitness names by
its hash (an attached document, a backup copy, a file a custody record lists)."""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 1 << 20


def sha256_of_file(path: Path) -> str:
    """The file's SHA-256 as hex; OSError when it cannot be read."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
