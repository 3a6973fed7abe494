"""The `publish` verb: the store's log as static C2SP tlog-tiles files in a folder."""

from __future__ import annotations

from pathlib import Path

import click

from cli.base import config_option, say, store_option, store_path_of
from collector.evidence.store import EvidenceStore
from collector.publishing.publisher import publish as publish_log


@click.command()
@config_option
@store_option
@click.argument("folder", metavar="DIR", type=click.Path(path_type=Path))
def publish(config_path: Path, store_path: Path | None, folder: Path) -> None:
    """Write the tree of the latest checkpoint into DIR as C2SP tlog-tiles (DIR/checkpoint
    with its witness cosignatures, DIR/tile/...), for any static web server or object store
    to serve to witnesses, auditors or the provider.

    Each log entry is a record's 32-byte chain hash, never the record itself: the published
    log shows how many records there are and proves a record shown elsewhere is in it, but
    names no target, address or result. A second publish writes only the new tiles and
    refuses a DIR holding another store's log or a different history."""
    path = store_path_of(config_path, store_path)
    with EvidenceStore.open(path, readonly=True) as store:
        done = publish_log(store, folder)
    if not (done.tiles_written or done.checkpoint_written):
        say(f"{folder} already serves the tree of {done.size} records; nothing written")
        return
    was = "nothing" if done.previous_size is None else f"{done.previous_size} records"
    kept = f", {done.tiles_kept} already there" if done.tiles_kept else ""
    checkpoint = "and the checkpoint " if done.checkpoint_written else ""
    say(
        f"published the tree of {done.size} records (checkpoint seq {done.checkpoint_seq}) to"
        f" {folder}, which held {was}: {done.tiles_written} tiles {checkpoint}written{kept},"
        f" {done.bytes_written} bytes"
    )
