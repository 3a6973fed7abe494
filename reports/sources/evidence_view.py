"""The evidence stores one report or bundle reads, each opened once.

A report reads every store several times over: its samples and chain, its timestamps, the
path traces taken during incidents, its attachments and its notes; a bundle adds the
segment's store id, the inclusion proofs and the attached documents. Each of those reads
used to open the store afresh (five opens per store for a report, more for a bundle), each
open checking the SQLite version, the schema and the header again. The view opens a store
the first time a read asks for it and hands the same read-only handle to every later read,
until the report or bundle is done with it.

Opening on first request, not up front, keeps each error where it was: a store that cannot
be opened fails at the read that first needs it, with that read's message.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from collector.evidence.store import EvidenceStore


class EvidenceView:
    """Read-only handles on the stores of one report or bundle, by the path it was given."""

    def __init__(self) -> None:
        self._opened: dict[Path, EvidenceStore] = {}

    def store(self, path: Path | str) -> EvidenceStore:
        """The store at `path`, opened read-only on the first request; `StoreError` if it
        cannot be, as `EvidenceStore.open` raises it."""
        key = Path(path)
        opened = self._opened.get(key)
        if opened is None:
            opened = EvidenceStore.open(key, readonly=True)
            self._opened[key] = opened
        return opened

    def close(self) -> None:
        """Close every store the view opened."""
        while self._opened:
            _, opened = self._opened.popitem()
            opened.close()

    def __enter__(self) -> EvidenceView:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


__all__ = ["EvidenceView"]
