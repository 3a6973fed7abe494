"""Where each remote-write receiver has got to in the store: a small file beside it.

The position is the last seq a receiver answered 2xx for, one per URL, in
`STORE.remote-write.json`. It lives outside the store because the store is evidence and
append-only; losing this file only means samples are sent again, which receivers accept
(a sample with the same labels, timestamp and value is a duplicate, not a conflict).
The file is replaced atomically, so a crash leaves the old position or the new one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def position_path(store: str | os.PathLike[str]) -> Path:
    """The position file of the store at `store`."""
    return Path(f"{os.fspath(store)}.remote-write.json")


def read_positions(store: str | os.PathLike[str]) -> dict[str, int]:
    """{url: last seq shipped}; empty when the file is absent or unreadable (ship again)."""
    try:
        raw = json.loads(position_path(store).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(raw, dict):
        return {}
    return {url: seq for url, seq in raw.items() if isinstance(seq, int) and seq >= 0}


def write_position(store: str | os.PathLike[str], url: str, seq: int) -> None:
    """Record that `url` holds every sample up to `seq`, keeping the other URLs' positions."""
    path = position_path(store)
    positions = read_positions(store)
    positions[url] = seq
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(positions, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(partial, path)
