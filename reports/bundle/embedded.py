"""The evidence a report PDF carries inside itself, as PDF/A-3 associated files.

A reader who gets the PDF without the bundle can still take out (pdfdetach, Acrobat's
attachments pane) what the figures rest on and check it with the bundle's verify.py or
Go's tlog packages: summary.json exactly as written beside the report (Source), the records
its incidents cite as stored (Data), and per store the signed checkpoint, the newest
cosigned one, the public key and each cited record's inclusion proof and C2SP tlog-proof
(Supplement). Names are flat (PDF attachments have no folders) and carry the store's name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import apsw

from collector.evidence.store import EvidenceStore
from collector.evidence.store_errors import StoreError
from collector.portable.tlog_proof import TLOG_PROOF_SUFFIX
from collector.proving.cosignatures import cosigned_note
from collector.proving.proofs import ProofError
from collector.proving.tlog_proofs import cosigned_checkpoints
from reports.bundle.proofs import Anchor, cited_in, cited_proofs, cited_records
from reports.bundle.records import json_bytes
from reports.render.pdf import EmbeddedFile
from reports.sources.evidence_view import EvidenceView

JSON, JSON_LINES, TEXT = "application/json", "application/x-ndjson", "text/plain"


def embedded_evidence(
    summary_bytes: bytes,
    summary: Mapping[str, Any],
    anchors: Sequence[Anchor],
    evidence: EvidenceView,
    warn: Callable[[str], None] | None = None,
) -> list[EmbeddedFile]:
    """summary.json and, per anchored store, its cited records, checkpoints and proofs; a
    store whose proofs cannot be made is left out with a warning (the report still goes)."""
    files = [
        EmbeddedFile("summary.json", summary_bytes, JSON, "Source", "The figures this report shows")
    ]
    cited = cited_records(summary)
    names: set[str] = set()
    for anchor in anchors:
        if anchor.checkpoint is None:
            continue
        name = _unique(anchor.store, names)
        try:
            files += _store_files(evidence.store(anchor.store), anchor, cited, name)
        except (StoreError, ProofError, apsw.Error) as exc:
            if warn is not None:
                warn(f"{anchor.store}: its proofs are not embedded in the PDF: {exc}")
    return files


def _store_files(
    store: EvidenceStore, anchor: Anchor, cited: Sequence[tuple[str, int]], name: str
) -> list[EmbeddedFile]:
    assert anchor.checkpoint is not None
    at = anchor.checkpoint
    seqs = cited_in(store, cited, at.checkpoint.size)
    files = [
        EmbeddedFile(
            f"checkpoint-{name}.txt",
            at.note.encode("utf-8"),
            TEXT,
            "Supplement",
            f"The signed checkpoint of {at.checkpoint.size} records the figures rest on",
        ),
        EmbeddedFile(
            f"key-{name}.pub",
            (at.key.encode() + "\n").encode("ascii"),
            TEXT,
            "Supplement",
            "The collector's public key that signed the checkpoint",
        ),
    ]
    witnessed = [c for c in cosigned_checkpoints(store) if c.checkpoint.size <= at.checkpoint.size]
    if witnessed:
        newest = witnessed[-1]
        files.append(
            EmbeddedFile(
                f"checkpoint-{name}-cosigned.txt",
                cosigned_note(store, newest).encode("utf-8"),
                TEXT,
                "Supplement",
                f"The newest witnessed checkpoint ({newest.checkpoint.size} records), cosigned",
            )
        )
    if not seqs:
        return files
    lines = b"".join(store.raw(seq)[0] + b"\n" for seq in seqs)
    files.append(
        EmbeddedFile(
            f"records-{name}.jsonl",
            lines,
            JSON_LINES,
            "Data",
            "The records the incidents cite, as stored (one per line, seq " + _seqs(seqs) + ")",
        )
    )
    proofs = cited_proofs(store, at, seqs, seqs)
    for proof in proofs.inclusion:
        files.append(
            EmbeddedFile(
                f"proof-{name}-seq-{proof['seq']}.json",
                json_bytes(proof),
                JSON,
                "Supplement",
                f"Inclusion proof of seq {proof['seq']} in the signed checkpoint",
            )
        )
    for seq, text in proofs.tlog.items():
        files.append(
            EmbeddedFile(
                f"proof-{name}-seq-{seq}{TLOG_PROOF_SUFFIX}",
                text.encode("utf-8"),
                TEXT,
                "Supplement",
                f"C2SP tlog-proof of seq {seq} (checkpoint and cosignatures included)",
            )
        )
    return files


def _unique(store: Path, taken: set[str]) -> str:
    """The store's file name without its suffix, numbered when two stores share it."""
    stem, number = store.stem or "store", 1
    name = stem
    while name in taken:
        number += 1
        name = f"{stem}-{number}"
    taken.add(name)
    return name


def _seqs(seqs: Sequence[int]) -> str:
    shown = ", ".join(str(seq) for seq in seqs[:10])
    return shown + (f" and {len(seqs) - 10} more" if len(seqs) > 10 else "")


__all__ = ["embedded_evidence"]
