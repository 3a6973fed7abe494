"""The verbs of long-term keeping: backup (a verified copy) and seal (a closed month archived).

Evidence must still check out years later, after the collector is gone: `backup` copies the
whole store through SQLite's backup API and verifies the copy; `seal` writes a closed
month's records, signed checkpoint and proofs as an archive that verifies on its own.
Nothing is ever deleted from a store, sealed and backed up or not.
"""

from __future__ import annotations

from pathlib import Path

import click

from cli.base import (
    announce,
    config_option,
    exit_on_sigterm,
    load,
    say,
    store_option,
)
from cli.types import Month
from collector.documents.backup import backup as copy_store
from collector.evidence.store import EvidenceStore


@click.command("backup")
@config_option
@store_option
@click.argument("dest", metavar="DEST", type=click.Path(path_type=Path))
def backup(config_path: Path, store_path: Path | None, dest: Path) -> None:
    """Copy the store to DEST (SQLite's backup API), verify the copy, and record it."""
    exit_on_sigterm()
    config = load(config_path, store_path)
    with EvidenceStore.open(config.store) as store:
        info = copy_store(store, dest, config.vantage)
    say(
        f"backup {info.path}: {info.records} records verified, head seq {info.head_seq}"
        f" hash {info.head_hash}, file sha256 {info.sha256}"
    )
    if info.attachments:
        say(f"backup {info.path}: {info.attachments} attachments copied and checked")
    for problem in info.problems:
        click.echo(f"slawitness backup: {problem}; not in the backup", err=True)


@click.command("seal")
@config_option
@store_option
@click.option(
    "--period",
    "month",
    type=Month(),
    required=True,
    help="The closed month to seal, YYYY-MM (UTC).",
)
@click.option(
    "--out",
    "zip_path",
    type=click.Path(path_type=Path),
    default=None,
    help="The archive to write (default: seal-VANTAGE-YYYY-MM.zip).",
)
@click.option("--force", is_flag=True, help="Replace an existing archive at --out.")
def seal(
    config_path: Path, store_path: Path | None, month: str, zip_path: Path | None, force: bool
) -> None:
    """Write a closed month as a signed archive that verifies without the store."""
    from reports.bundle.seal import seal as write_seal

    exit_on_sigterm()
    config = load(config_path, store_path)
    out = zip_path or Path(f"seal-{config.vantage}-{month}.zip")
    info = write_seal(config, config_path, month, out, announce("seal", warning=True), force)
    say(
        f"sealed {info.month}: seq {info.first_seq}-{info.last_seq}, anchored in a checkpoint"
        f" of {info.checkpoint_size} records; {out} sha256 {info.bundle.sha256}"
    )
