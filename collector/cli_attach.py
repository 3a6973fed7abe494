"""The `attach` verb: contract, invoices, receipts and correspondence into the evidence.

Every file named is copied and hashed first; only when all of them are in hand are they
linked under their hash names and their records appended in one batch, so a refused file
(too big, unreadable, an e-mail that is not one) leaves no record behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import click

from collector.attachments import (
    ATTACHMENT,
    DOCUMENT_KINDS,
    AttachError,
    FolderError,
    Incoming,
    attachment_record,
    copy_in,
    folder_of,
    media_type,
)
from collector.cli_base import EXIT_STORE, EXIT_USAGE, config_option, fail, load, say, store_option
from collector.config import Config
from collector.mail_headers import MAIL_SUFFIXES, MailError, read_messages
from collector.records import Stamp
from collector.store import EvidenceStore


@click.command()
@config_option
@store_option
@click.option("--target", required=True, help="The target the documents are about.")
@click.option(
    "--kind",
    required=True,
    type=click.Choice(DOCUMENT_KINDS),
    help="What the documents are; `correspondence` reads the headers of .eml and .mbox files.",
)
@click.option(
    "--date",
    "doc_date",
    default=None,
    metavar="YYYY-MM-DD",
    help="The document's own date (an invoice's date, the contract's signing date).",
)
@click.option("--note", default=None, help="A line saying what the documents are.")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def attach(
    config_path: Path,
    store_path: Path | None,
    target: str,
    kind: str,
    doc_date: str | None,
    note: str | None,
    files: tuple[Path, ...],
) -> None:
    """Keep documents as evidence: each file is stored under its SHA-256 name beside the
    store and a chained record fixes when it was held and what it contained."""
    config = load(config_path, store_path)
    _check_target(config, target)
    day = _parse_date(doc_date)
    folder = folder_of(config.store)
    incoming: list[tuple[Path, Incoming, list[dict[str, object]] | None]] = []
    try:
        for path in files:
            copy = copy_in(path, folder, int(config.attachments.max_size))
            incoming.append((path, copy, None))
            if kind == "correspondence" and path.suffix.lower() in MAIL_SUFFIXES:
                incoming[-1] = (path, copy, read_messages(copy.temp, path.suffix))
        for _, copy, _ in incoming:
            copy.keep()
    except MailError as exc:
        _discard(incoming)
        fail(
            f"{incoming[-1][0]}: {exc} (attach it with --kind other to keep it anyway)", EXIT_USAGE
        )
    except FolderError as exc:
        _discard(incoming)
        fail(str(exc), EXIT_STORE)
    except AttachError as exc:
        _discard(incoming)
        fail(str(exc), EXIT_USAGE)
    with EvidenceStore.open(config.store, create=True) as store:
        held = {
            (row.record.get("sha256"), row.record.get("target"), row.record.get("kind")): row.seq
            for row in store.records(types=[ATTACHMENT])
        }
        records, names = [], []
        for path, copy, messages in incoming:
            seq = held.get((copy.sha256, target, kind))
            if seq is not None:
                where = f"seq {seq}" if seq else "named twice"
                say(f"{path}: already attached to {target} as {kind} ({where}), {copy.sha256}")
                continue
            held[(copy.sha256, target, kind)] = 0
            document = {
                "kind": kind, "sha256": copy.sha256, "name": path.name, "size": copy.size,
                "media_type": media_type(copy.head, path.name), "date": day, "note": note,
                "messages": messages,
            }  # fmt: skip
            records.append(attachment_record(Stamp.now(), config.vantage, target, document))
            names.append((path, copy.sha256, messages))
        appended = store.append(records) if records else []
    for (path, digest, messages), stored in zip(names, appended, strict=True):
        read = "" if messages is None else f", {len(messages)} e-mail messages read"
        say(f"attached {path} as seq {stored.seq}: sha256 {digest}{read}")


def _check_target(config: Config, name: str) -> None:
    names = [t.name for t in config.targets]
    if name not in names:
        fail(f"--target {name!r}: no such target in the config (targets: {', '.join(names)})",
             EXIT_USAGE)  # fmt: skip


def _parse_date(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        fail(f"invalid value for '--date': {value!r} is not a date like 2026-10-01", EXIT_USAGE)


def _discard(incoming: Sequence[tuple[Path, Incoming, object]]) -> None:
    for _, copy, _ in incoming:
        copy.discard()
