"""Documents kept as evidence beside the measurements: contract, invoices, correspondence.

A complaint rests on more than measurements, and the documents must be as hard to dispute as
the records: each attached file is copied into the store's attachments folder under its
SHA-256 name, made read-only, and an `attachment` record naming that hash is chained like any
measurement, so the chain fixes when the file was held and what it contained. The copy is
hashed while it is written, so the stored bytes are exactly the hashed ones even if the
original changes meanwhile.

Nothing is ever written outside the folder: the copy is made under a fresh temporary name
inside it (O_EXCL) and hard-linked to its hash name, which never replaces an existing entry,
and an entry that is not a regular file (a planted symbolic link) is refused, not followed.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from collector.core.file_digest import sha256_of_file
from collector.core.partial_files import PartialFileError, claim_temporary, sweep
from collector.evidence.records import Stamp
from collector.evidence.store import EvidenceStore, StoredRecord
from collector.portable.errors import StoreAccessError, UsageError

ATTACHMENT = "attachment"
DOCUMENT_KINDS: tuple[str, ...] = ("contract", "invoice", "payment", "correspondence", "other")
"""What an attached document is, in the order the report lists them."""
FOLDER_SUFFIX = ".attachments"
INCOMING_PREFIX = ".incoming-"
"""A copy not yet linked under its hash name; one left by a killed attach is removed by
the next."""
_CHUNK = 1 << 20
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"PK\x03\x04", "application/zip"),
    (b"From ", "application/mbox"),
)
"""Leading bytes that say what a file is whatever its name says."""
_HEX64 = re.compile(r"[0-9a-f]{64}")
_BY_SUFFIX = {".eml": "message/rfc822", ".mbox": "application/mbox"}


class AttachError(ValueError, UsageError):
    """A file cannot be attached (one line naming the file and why); nothing was recorded."""


class FolderError(AttachError, StoreAccessError):
    """The attachments folder cannot be made or written: the store's side, not the file's,
    so it ends as a store error does although callers catch it with every AttachError."""

    exit_code = StoreAccessError.exit_code


def folder_of(store: str | os.PathLike[str]) -> Path:
    """The attachments folder of a store: `evidence.attachments/` beside `evidence.db`.

    Derived from the store's path, so `verify --store` finds it without a config, and a
    store moved together with its folder keeps its documents."""
    path = Path(store)
    folder = path.with_name(path.stem + FOLDER_SUFFIX)
    return folder if folder != path else path.with_name(path.name + FOLDER_SUFFIX)


sha256_of = sha256_of_file
"""The file's SHA-256, read in chunks; OSError when it cannot be read."""


def media_type(head: bytes, name: str) -> str:
    """What the file is: its leading bytes first, then its name's suffix."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    suffix = Path(name).suffix.lower()
    return _BY_SUFFIX.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


@dataclass
class Incoming:
    """A file copied into the folder under a temporary name, hashed as it was written.

    `keep` links it under its hash name; `discard` removes the temporary copy (our own
    partial file, never evidence). `lock` holds the copy's flock until then, so another
    attach tells it from the leftover of a killed one (`collector.core.partial_files`)."""

    folder: Path
    temp: Path
    sha256: str
    size: int
    head: bytes
    lock: int = -1

    @property
    def final(self) -> Path:
        return self.folder / self.sha256

    def keep(self) -> bool:
        """Link the copy under its hash name; False when an identical file was already
        there (deduplicated). Refuses an existing entry that is not that same content."""
        try:
            os.link(self.temp, self.final)
            _sync_folder(self.folder)
            return True
        except FileExistsError:
            _check_existing(self.final, self.sha256)
            return False
        except OSError as exc:
            raise FolderError(f"{self.final}: cannot be written ({exc.strerror})") from None
        finally:
            self.discard()

    def discard(self) -> None:
        self.temp.unlink(missing_ok=True)
        if self.lock >= 0:
            os.close(self.lock)
            self.lock = -1


def copy_in(source: Path, folder: Path, max_size: int) -> Incoming:
    """Copy `source` into `folder` under a temporary name, hashing it on the way.

    Raises AttachError for a missing or unreadable file, one that is not a regular file, one
    larger than `max_size` (checked before and while copying: a growing file is caught),
    and a folder that cannot be made or is a symbolic link."""
    try:
        info = source.stat()
    except OSError as exc:
        raise AttachError(f"{source}: cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise AttachError(f"{source}: not a regular file")
    if info.st_size > max_size:
        raise AttachError(_too_big(source, info.st_size, max_size))
    _ensure_folder(folder)
    sweep(folder, INCOMING_PREFIX)
    handle, temp = _temporary(folder)
    lock = os.dup(handle)
    digest, size, head = hashlib.sha256(), 0, b""
    try:
        with source.open("rb") as reader, os.fdopen(handle, "wb") as writer:
            for chunk in iter(lambda: reader.read(_CHUNK), b""):
                size += len(chunk)
                if size > max_size:
                    raise AttachError(_too_big(source, size, max_size))
                head = head or chunk[:16]
                digest.update(chunk)
                writer.write(chunk)
            writer.flush()
            os.fsync(writer.fileno())
        os.chmod(temp, 0o444)
    except OSError as exc:
        _discard_unfinished(temp, lock)
        raise AttachError(f"{source}: cannot be copied into {folder} ({exc.strerror})") from None
    except BaseException:
        _discard_unfinished(temp, lock)
        raise
    return Incoming(folder, temp, digest.hexdigest(), size, head, lock)


def _discard_unfinished(temp: Path, lock: int) -> None:
    """Remove a copy that failed half-way and release its lock (`Incoming.discard`)."""
    temp.unlink(missing_ok=True)
    os.close(lock)


def _temporary(folder: Path) -> tuple[int, Path]:
    try:
        return claim_temporary(folder, INCOMING_PREFIX)
    except OSError as exc:
        raise FolderError(f"{folder}: cannot be written ({exc.strerror})") from None
    except PartialFileError as exc:
        raise FolderError(str(exc)) from None


def _too_big(source: Path, size: int, max_size: int) -> str:
    return (
        f"{source}: {_mib(size)} is larger than the {_mib(max_size)} limit"
        " (attachments.max_size in the config)"
    )


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def _ensure_folder(folder: Path) -> None:
    if folder.is_symlink():
        raise FolderError(f"{folder}: is a symbolic link; the attachments folder must be a folder")
    try:
        folder.mkdir(mode=0o755, exist_ok=True)
    except OSError as exc:
        raise FolderError(f"{folder}: cannot be created ({exc.strerror})") from None
    if not folder.is_dir():
        raise FolderError(f"{folder}: exists and is not a folder")


def _check_existing(final: Path, sha256: str) -> None:
    """An entry already under the hash name must be that very content, as a regular file."""
    problem = file_problem(final.parent, sha256)
    if problem is not None:
        raise AttachError(
            f"{final}: {problem}; nothing was written through it (run `slawitness verify`,"
            " move it aside and attach again)"
        )


def _sync_folder(folder: Path) -> None:
    """The new name must survive a crash as well as the bytes behind it."""
    handle = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def attachment_record(
    stamp: Stamp,
    vantage: str,
    target: str,
    document: Mapping[str, object],
) -> dict[str, object]:
    """The chained record of one attached file. `document` holds `kind`, `sha256`, `name`
    (the original file name), `size`, `media_type`, `date` (the document's own date, or
    None), `note` and `messages` (the e-mail headers read from it, or None)."""
    return {"type": ATTACHMENT, **stamp.fields(), "vantage": vantage, "target": target,
            **{key: document.get(key) for key in _DOCUMENT_FIELDS}}  # fmt: skip


_DOCUMENT_FIELDS = ("kind", "sha256", "name", "size", "media_type", "date", "note", "messages")


@dataclass(frozen=True)
class FileCheck:
    """One attachment record's file as the folder holds it now (`problem` None: intact)."""

    seq: int
    name: str
    sha256: str
    problem: str | None


def check_files(
    store_path: str | os.PathLike[str], rows: Iterable[StoredRecord]
) -> list[FileCheck]:
    """Each attachment record's file, held against its hash: missing, not a regular file, or
    changed. `rows` are the store's attachment records; a file named by several is read
    once."""
    folder = folder_of(store_path)
    seen: dict[str, str | None] = {}
    checks = []
    for row in rows:
        digest = str(row.record.get("sha256"))
        if digest not in seen:
            seen[digest] = file_problem(folder, digest)
        checks.append(FileCheck(row.seq, str(row.record.get("name")), digest, seen[digest]))
    return checks


def file_problem(folder: Path, sha256: str) -> str | None:
    """Why the folder's copy of `sha256` is not that content, or None."""
    if not _HEX64.fullmatch(sha256):
        return f"the record names no SHA-256 ({sha256[:70]!r})"
    path = folder / sha256
    try:
        info = path.lstat()
    except FileNotFoundError:
        return f"file MISSING from {folder}"
    except OSError as exc:
        return f"file cannot be read ({exc.strerror})"
    if not stat.S_ISREG(info.st_mode):
        return "file is not a regular file"
    try:
        held = sha256_of(path)
    except OSError as exc:
        return f"file cannot be read ({exc.strerror})"
    if held != sha256:
        return f"file CHANGED: its SHA-256 is now {held}"
    return None


def matching(hashes: Iterable[str], prefix: str) -> list[str]:
    """The distinct hashes that begin with `prefix` (a citation names a file by one)."""
    return sorted({digest for digest in hashes if digest.startswith(prefix)})


def cited_problem(store_path: Path, target: str, prefix: str) -> str | None:
    """Why `sla.source.attachment` does not name exactly one intact file attached to the
    target (None: it does), so `check-config` can say so long before the report is due."""
    if not store_path.exists():
        return f"the store {store_path} does not exist yet, so no file is attached"
    with EvidenceStore.open(store_path, readonly=True) as store:
        held = {
            str(r.record.get("sha256")) for r in store.records(target=target, types=[ATTACHMENT])
        }
    hashes = matching(held, prefix)
    if not hashes:
        return (
            f"no file attached to {target} has a SHA-256 starting {prefix}"
            f" (slawitness attach --target {target} --kind contract FILE)"
        )
    if len(hashes) > 1:
        return f"{len(hashes)} files attached to {target} match {prefix}; give more of the hash"
    problem = file_problem(folder_of(store_path), hashes[0])
    return None if problem is None else f"the cited file {hashes[0]}: {problem}"


def copy_folder(
    source_store: str | os.PathLike[str], dest_store: str | os.PathLike[str], digests: Iterable[str]
) -> tuple[int, list[str]]:
    """Copy the named files from one store's attachments folder to another's, each checked
    against its hash on the way (a backup without its documents would lose evidence). How
    many were copied, and why any could not be."""
    source, dest = folder_of(source_store), folder_of(dest_store)
    copied, problems = 0, []
    for digest in sorted(set(digests)):
        problem = file_problem(source, digest)
        if problem is None:
            incoming = copy_in(source / digest, dest, max_size=2**62)
            if incoming.sha256 == digest:
                incoming.keep()
                copied += 1
                continue
            incoming.discard()
            problem = "file changed while it was copied"
        problems.append(f"attachment {digest}: {problem}")
    return copied, problems


def bundle_member(sha256: str, name: str) -> str:
    """Where a file goes in a bundle: `attachments/<sha256>/<name>`, the name made safe (no
    folders, no control characters) so a reader sees what it is and can check its hash
    against the folder it sits in."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    safe = "".join(c if c.isalnum() or c in "._-() " else "_" for c in base).strip(" .")
    return f"attachments/{sha256}/{safe[:120] or 'file'}"
