"""Which attached documents a bundle carries, and why any is left out.

The complaint file of the report names its documents; the bundle carries each one whose
record the bundle can vouch for: inside a store's records segment, or proved against the
signed checkpoint (`bundle_proofs`). A document whose record is neither (a store without a
signing key, a record newer than its checkpoint), or whose stored file is missing or
changed, is left out with a warning rather than bundled unvouched: everything in a bundle
must check out for its reader.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from collector.documents.attachments import ATTACHMENT, bundle_member, file_problem, folder_of
from collector.evidence.record_views import AttachmentView
from collector.evidence.store import EvidenceStore
from reports.bundle.records import SegmentInfo


def carried_attachments(
    summary: Mapping[str, Any],
    segments: Sequence[SegmentInfo],
    anchors: Sequence[Mapping[str, Any]],
    warn: Callable[[str], None] | None = None,
) -> dict[str, Path]:
    """Bundle member name -> stored file, for each document the bundle can vouch for."""
    carried: dict[str, Path] = {}
    complaint = summary.get("complaint_file") or {}
    damaged = {p["sha256"]: p["problem"] for p in complaint.get("problems") or []}
    for entry in complaint.get("attachments") or []:
        problem = damaged.get(entry["sha256"]) or _left_out(entry, segments, anchors)
        if problem is None:
            carried[entry["member"]] = folder_of(entry["store"]) / entry["sha256"]
        elif warn is not None:
            warn(f"{entry['member']}: left out of the bundle: {problem}")
    return carried


def _left_out(
    entry: Mapping[str, Any], segments: Sequence[SegmentInfo], anchors: Sequence[Mapping[str, Any]]
) -> str | None:
    """Why the bundle cannot vouch for the document's record (the report, made just before,
    has already held each file against its hash: `problems`)."""
    seq, store = entry["seq"], Path(entry["store"]).resolve()
    for segment, anchor in zip(segments, anchors, strict=True):
        if Path(segment.store).resolve() != store:
            continue
        first, last = segment.first_seq, segment.last_seq
        if first is not None and last is not None and first <= seq <= last:
            return None
        if seq in (anchor.get("proved_seqs") or []):
            return None
    return (
        f"its record (seq {seq}) is outside the bundle's records and no signed checkpoint"
        " proves it (run `slawitness checkpoint`, or `slawitness init --key-only` first)"
    )


def segment_attachments(
    store: EvidenceStore, first: int, last: int, warn: Callable[[str], None] | None = None
) -> dict[str, Path]:
    """Bundle member name -> stored file, for every document attached by a record in the
    segment first..last of the open `store` (a sealed month carries the documents attached
    that month)."""
    carried: dict[str, Path] = {}
    folder = folder_of(store.path)
    rows = [row for row in store.records(types=[ATTACHMENT], after_seq=first - 1)
            if row.seq <= last]  # fmt: skip
    for row in rows:
        record = AttachmentView.of(row.record, seq=row.seq, store=str(store.path))
        digest, name = record.sha256, record.name or ""
        problem = file_problem(folder, digest)
        if problem is None:
            carried[bundle_member(digest, name)] = folder / digest
        elif warn is not None:
            warn(f"{bundle_member(digest, name)}: left out: {problem}")
    return carried
