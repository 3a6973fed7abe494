"""The verbs of long-term keeping: backup (a verified copy), seal (a closed month archived)
and compact (settled records moved into blocks).

Evidence must still check out years later, after the collector is gone: `backup` copies the
whole store through SQLite's backup API and verifies the copy; `seal` writes a closed
month's records, signed checkpoint and proofs as an archive that verifies on its own.
`compact` moves settled records into compressed blocks (`collector.evidence.compaction`),
which read and verify exactly as the rows did. Nothing is ever deleted from a store, sealed
and backed up or not.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import click

from cli.base import (
    EXIT_STORE,
    announce,
    config_option,
    exit_on_sigterm,
    fail,
    load,
    say,
    store_option,
    store_path_of,
)
from cli.types import Month
from collector.documents.backup import backup as copy_store
from collector.evidence.compaction import compact as compact_store
from collector.evidence.compaction import why_not_due
from collector.evidence.compaction_runs import NICENESS, compaction_lock
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
    say(f"sealed {info.month}: {info.compacted} records moved into blocks first")


@click.command("compact")
@config_option
@store_option
@click.option(
    "--until",
    "month",
    type=Month(),
    default=None,
    help="Compact only days up to the end of this month, YYYY-MM (UTC).",
)
@click.option(
    "--vacuum",
    is_flag=True,
    help="Rewrite the file with VACUUM afterwards (a store made before incremental"
    " auto_vacuum keeps freed pages otherwise; needs free space of the file's size).",
)
@click.option("--due", is_flag=True, hidden=True, help="A cron round's niced, quiet pass.")
def compact(
    config_path: Path, store_path: Path | None, month: str | None, vacuum: bool, due: bool
) -> None:
    """Move settled records into compressed blocks (read and verified as before).

    A block holds one UTC day's records, settled an hour: 4,096 of them, or the rest of
    a day an hour after it closes. Cron rounds and the daemon do this by themselves.
    """
    from reports.bundle.seal import month_bounds

    exit_on_sigterm()
    if due:
        os.nice(NICENESS)
    path = store_path_of(config_path, store_path)  # the store is all it needs
    until_ns = None if month is None else month_bounds(month)[1]
    with EvidenceStore.open(path) as store, compaction_lock(path) as held:
        if not held:
            if due:
                return  # another round's compaction is under way: it takes these rows too
            fail(f"{path}: another compaction is under way; try again later", EXIT_STORE)
        now_ns = time.time_ns()
        done = compact_store(store, now_ns, until_ns=until_ns)
        if done.blocks:
            say(
                f"compacted {done.records} records into {done.blocks} blocks;"
                f" store {_mb(done.file_bytes_before)} -> {_mb(done.file_bytes_after)}"
            )
        else:
            say(f"nothing to compact: {why_not_due(store, now_ns, until_ns)}")
        if vacuum:
            before = os.path.getsize(path)
            store.vacuum()
            say(f"vacuumed: store {_mb(before)} -> {_mb(os.path.getsize(path))}")


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"
