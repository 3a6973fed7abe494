"""Attaching documents to a target: the steps behind `slawitness attach` (and the demo).

Every file named is copied and hashed first; only when all of them are in hand are they
linked under their hash names and their records appended in one batch, so a refused file
(too big, unreadable, an e-mail that is not one) leaves no record behind. A file already
attached to the same target as the same kind is stored once and not recorded again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from collector.config.model import Config
from collector.documents.attachments import (
    ATTACHMENT,
    AttachError,
    Incoming,
    attachment_record,
    copy_in,
    folder_of,
    media_type,
)
from collector.documents.mail_headers import MAIL_SUFFIXES, MailError, read_messages
from collector.evidence.records import Stamp, readable
from collector.evidence.store import EvidenceStore

Messages = list[dict[str, object]] | None


@dataclass(frozen=True)
class Attached:
    """One file: its hash, the seq of its new record (or of the earlier one that already
    holds it, `new` False; 0 when the same file was named twice), and the e-mail messages
    read from it (None: not an e-mail file)."""

    path: Path
    sha256: str
    seq: int
    new: bool
    messages: int | None


def attach_files(
    config: Config,
    target: str,
    kind: str,
    files: Sequence[Path],
    *,
    day: str | None = None,
    note: str | None = None,
) -> list[Attached]:
    """Store `files` as `kind` documents of `target` and chain their records.

    Raises AttachError (FolderError when the store's folder is at fault); nothing is
    recorded then."""
    incoming: list[tuple[Path, Incoming, Messages]] = []
    try:
        for path in files:
            copy = copy_in(path, folder_of(config.store), int(config.attachments.max_size))
            incoming.append((path, copy, None))
            if kind == "correspondence" and path.suffix.lower() in MAIL_SUFFIXES:
                try:
                    incoming[-1] = (path, copy, read_messages(copy.temp, path.suffix))
                except MailError as exc:
                    hint = "attach it with --kind other to keep it anyway"
                    raise AttachError(f"{path}: {exc} ({hint})") from None
        for _, copy, _ in incoming:
            copy.keep()
    finally:
        for _, copy, _ in incoming:
            copy.discard()
    return _record(config, target, kind, incoming, day, note)


def _record(
    config: Config,
    target: str,
    kind: str,
    incoming: list[tuple[Path, Incoming, Messages]],
    day: str | None,
    note: str | None,
) -> list[Attached]:
    done: list[Attached] = []
    records: list[dict[str, object]] = []
    with EvidenceStore.open(config.store, create=True) as store:
        held = {
            (row.record.get("sha256"), row.record.get("target"), row.record.get("kind")): row.seq
            for row in store.records(types=[ATTACHMENT])
        }
        fresh = []
        for path, copy, messages in incoming:
            count = None if messages is None else len(messages)
            seq = held.get((copy.sha256, target, kind))
            if seq is not None:
                done.append(Attached(path, copy.sha256, seq, False, count))
                continue
            held[(copy.sha256, target, kind)] = 0
            document = {
                "kind": kind, "sha256": copy.sha256, "name": readable(path.name),
                "size": copy.size, "media_type": media_type(copy.head, path.name), "date": day,
                "note": None if note is None else readable(note),
                "messages": messages,
            }  # fmt: skip
            records.append(attachment_record(Stamp.now(), config.vantage, target, document))
            fresh.append((path, copy.sha256, count))
        appended = store.append(records) if records else []
    for (path, digest, count), stored in zip(fresh, appended, strict=True):
        done.append(Attached(path, digest, stored.seq, True, count))
    return done
