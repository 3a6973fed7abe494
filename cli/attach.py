"""The `attach` verb: contract, invoices, receipts and correspondence into the evidence."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from cli.base import EXIT_USAGE, config_option, fail, load, say, store_option
from collector.config.model import Config
from collector.documents.attaching import attach_files
from collector.documents.attachments import DOCUMENT_KINDS
from collector.evidence.records import readable


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
    for item in attach_files(config, target, kind, files, day=day, note=note):
        path = readable(str(item.path))
        if item.new:
            read = "" if item.messages is None else f", {item.messages} e-mail messages read"
            say(f"attached {path} as seq {item.seq}: sha256 {item.sha256}{read}")
        else:
            where = f"seq {item.seq}" if item.seq else "named twice"
            say(f"{path}: already attached to {target} as {kind} ({where}), {item.sha256}")


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
