"""Custody events: the moments evidence left the collector's hands, chained as records.

An export, a report, a bundle or a hand-over told in the user's words (`note add
--custody`) each appends one `custody` record (`records.custody_record`) naming the files
made with their SHA-256, so a file changed after it was made no longer matches the hash the
chain fixed when it was written. Backups, seals and attachments are custody events too;
they keep their own record types (`backup`, `seal`, `attachment`), listed beside these.

Recording a custody event never undoes what it records: the export, report or bundle is
already made, so a store that cannot be written (a read-only copy, someone else's file)
costs a warning, not the verb's success.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from collector.config.model import Config
from collector.core.file_digest import sha256_of_file
from collector.core.results import JsonScalar
from collector.evidence.records import Stamp, custody_record
from collector.evidence.store import Appended, EvidenceStore
from collector.evidence.store_errors import StoreError

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

CUSTODY = "custody"
"""The record type of exports, reports, bundles and hand-overs."""
CUSTODY_EVENTS = ("export", "report", "bundle", "hand-over")
"""What a `custody` record's `event` may say."""
CUSTODY_TYPES = (CUSTODY, "backup", "seal", "attachment")
"""Every record type that is a custody event."""


def file_entry(
    path: Path, name: str | None = None, sha256: str | None = None
) -> dict[str, JsonScalar]:
    """A made file as a custody record names it: `name`, `size` and `sha256` (computed
    from the file unless the maker already knows it)."""
    if sha256 is None:
        sha256 = sha256_of_file(path)
    return {"name": name or path.name, "size": path.stat().st_size, "sha256": sha256}


class HashingStream(io.RawIOBase):
    """Passes bytes on to `target` and hashes exactly what it passed, so an export's
    custody record names the SHA-256 of the bytes the reader got, not of a re-encoding."""

    def __init__(self, target: BinaryIO) -> None:
        super().__init__()
        self._target = target
        self._digest = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: ReadableBuffer, /) -> int:
        chunk = bytes(data)
        self._target.write(chunk)
        self._digest.update(chunk)
        self.size += len(chunk)
        return len(chunk)

    def flush(self) -> None:
        if not self._target.closed:  # closing this stream must not touch a closed stdout
            self._target.flush()

    def entry(self, name: str) -> dict[str, JsonScalar]:
        """What was written so far, as a custody record's file entry."""
        return {"name": name, "size": self.size, "sha256": self._digest.hexdigest()}


def record_custody(
    store_path: Path, record: Mapping[str, object], warn: Callable[[str], None] | None
) -> Appended | None:
    """Append one custody record to the store at `store_path`; where it cannot be written,
    `warn` hears why in one line and None comes back."""
    try:
        with EvidenceStore.open(store_path) as store:
            [appended] = store.append([record])
    except StoreError as exc:
        if warn is not None:
            warn(f"{exc.path}: the {record.get('event')} was not recorded as a custody event"
                 f" ({exc.problem})")  # fmt: skip
        return None
    return appended


def own_store(config: Config, stores: Sequence[Path]) -> Path | None:
    """The config's own store when it is among the stores read: the one whose history a
    report or bundle made from it belongs to (a copy of another collector's store is not
    ours to write)."""
    own = os.path.realpath(config.store)
    return config.store if any(os.path.realpath(p) == own for p in stores) else None


class Span(Protocol):
    """The period a report or bundle covers, as `reports.sla.period.Period` has it."""

    @property
    def label(self) -> str: ...
    @property
    def start_ns(self) -> int: ...
    @property
    def end_ns(self) -> int: ...


def record_made(
    config: Config,
    stores: Sequence[Path],
    event: str,
    made: Path,
    files: Sequence[Path],
    *,
    target: str,
    period: Span,
    warn: Callable[[str], None] | None,
    known_sha256: Mapping[Path, str] | None = None,
) -> Appended | None:
    """A report folder or bundle zip (`made`) written from `stores`, recorded in the
    config's own store when that is one of them, with each of `files` and its SHA-256
    (named relative to the folder; `known_sha256` spares hashing a file twice)."""
    store = own_store(config, stores)
    if store is None:
        return None
    known = known_sha256 or {}
    entries = [
        file_entry(f, f.relative_to(made).as_posix() if made.is_dir() else f.name, known.get(f))
        for f in files
        if f.is_file()
    ]
    record = custody_record(Stamp.now(), config.vantage, event, target=target,
                            period=period.label, since_ns=period.start_ns,
                            until_ns=period.end_ns, path=str(made.resolve()),
                            files=entries)  # fmt: skip
    return record_custody(store, record, warn)


__all__ = [
    "CUSTODY",
    "CUSTODY_EVENTS",
    "CUSTODY_TYPES",
    "HashingStream",
    "Span",
    "file_entry",
    "own_store",
    "record_custody",
    "record_made",
]
