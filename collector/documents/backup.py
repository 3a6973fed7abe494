"""`slawitness backup DEST`: a copy of the store that is known to be good before it is kept.

A file copy of a live WAL database can miss its last commits or be torn mid-write; SQLite's
online backup API copies a consistent snapshot page by page while the collector goes on
appending. The copy is then opened on its own, its chain verified, and its head checked
against the store's record at the same seq, so a copy that would not verify is never left
behind as if it were one. The copy is switched out of WAL mode, so it is one complete file.

The store then gets a chained `backup` record (where, how many records, the head's hash and
the file's SHA-256): evidence of when the evidence was put in safe keeping. The attached
documents the copy's records name go with it, into the copy's own attachments folder, each
checked against its hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import apsw

from collector.core.file_digest import sha256_of_file
from collector.core.output_paths import OutputPathError, placing
from collector.documents.attachments import ATTACHMENT, AttachError, copy_folder
from collector.evidence.records import Stamp
from collector.evidence.store import EvidenceStore
from collector.evidence.store_errors import StoreError, translate
from collector.portable.errors import StoreAccessError

PAGES_PER_STEP = 4096
"""Pages copied per step; between steps the collector's appends go on."""
SQLITE_COMPANIONS = ("-journal", "-wal", "-shm")
"""The files SQLite keeps beside a database it writes; a killed backup can leave them."""


class BackupError(StoreAccessError):
    """The backup could not be made or did not verify (one line naming the file)."""


@dataclass(frozen=True)
class BackupInfo:
    """A verified copy: where, how many records, its head, and the file's SHA-256."""

    path: Path
    records: int
    head_seq: int | None
    head_hash: str | None
    sha256: str
    attachments: int = 0
    problems: tuple[str, ...] = ()
    """Attachments that could not be copied (missing or changed in the store's folder)."""


def _copy(source: EvidenceStore, dest: Path) -> None:
    """Copy into DEST.partial (a leftover of a killed backup removed first, with its
    journal), then rename it over DEST, which must not exist; the partial is removed on any
    failure. A DEST that is taken, or not a file, is refused before anything is copied."""
    try:
        with placing(dest, replace=False, hint=None, companions=SQLITE_COMPANIONS) as partial:
            target = apsw.Connection(str(partial.path))
            try:
                with target.backup("main", source.connection(), "main") as copying:
                    while not copying.done:
                        copying.step(PAGES_PER_STEP)
                target.execute("PRAGMA journal_mode=DELETE")
            finally:
                target.close()
    except OutputPathError as exc:
        raise BackupError(str(exc)) from None
    except apsw.Error as exc:
        raise translate(str(dest), exc) from exc
    except OSError as exc:
        raise BackupError(f"{dest}: cannot write the backup: {exc.strerror}") from None


def backup(store: EvidenceStore, dest: Path, vantage: str) -> BackupInfo:
    """Copy `store` to `dest` (which must not exist), verify the copy, record the backup."""
    _copy(store, dest)
    try:
        with EvidenceStore.open(dest, readonly=True) as copy:
            report = copy.verify()
    except StoreError as exc:
        raise BackupError(f"{dest}: the copy cannot be read ({exc.problem})") from None
    if not report.ok:
        raise BackupError(f"{dest}: the copy does not verify: {report.problem}")
    if report.head_seq is not None and store.raw(report.head_seq)[1] != report.head_hash:
        raise BackupError(f"{dest}: the copy's head seq {report.head_seq} differs from the store's")
    with EvidenceStore.open(dest, readonly=True) as copy:
        digests = [str(row.record.get("sha256")) for row in copy.records(types=[ATTACHMENT])]
    try:
        copied, problems = copy_folder(store.path, dest, digests)
    except AttachError as exc:
        raise BackupError(f"{dest}: cannot copy the attachments: {exc}") from None
    info = BackupInfo(dest, report.count, report.head_seq, report.head_hash, sha256_of_file(dest),
                      copied, tuple(problems))  # fmt: skip
    store.append([
        {
            "type": "backup", **Stamp.now().fields(), "vantage": vantage, "target": None,
            "path": str(dest.resolve()), "records": info.records, "head_seq": info.head_seq,
            "head_hash": info.head_hash, "sha256": info.sha256, "attachments": copied,
            "attachments_missing": len(problems),
        }
    ])  # fmt: skip
    return info
