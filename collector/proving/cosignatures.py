"""Witness cosignatures as chained records, and a checkpoint's note with them appended.

A cosignature is only evidence if it is kept: each one the collector receives is checked
against the witness's key and appended as a `cosignature` record naming the checkpoint
record it is for, its signature line verbatim (so the cosigned note can be rebuilt byte for
byte), the witness's key and its timestamp. The store never rewrites the checkpoint record:
the cosigned note is the stored note plus these lines, built on demand by `cosigned_note`
for a bundle's proofs, `publish` and `status`.

Re-checking happens on every read: a record whose line no longer verifies over the stored
checkpoint's note is reported with its problem rather than dropped, because "the key holder
rewrote this checkpoint after a witness cosigned it" is exactly what it then shows.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from collector.evidence.records import Stamp
from collector.evidence.store import EvidenceStore
from collector.portable.cosignature import Cosignature, CosignerKey, check_cosignature
from collector.portable.signed_note import NoteError, split_note
from collector.proving.checkpoints import StoredCheckpoint

COSIGNATURE = "cosignature"
"""The record type of a witness's cosignature of a stored checkpoint."""


def cosignature_record(
    checkpoint: StoredCheckpoint,
    cosignature: Cosignature,
    url: str,
    vantage: str,
    stamp: Stamp | None = None,
) -> dict[str, object]:
    """The record that keeps `cosignature` of `checkpoint`, received from `url`."""
    return {
        "type": COSIGNATURE,
        **(stamp or Stamp.now()).fields(),
        "vantage": vantage,
        "target": None,
        "checkpoint_seq": checkpoint.seq,
        "size": checkpoint.checkpoint.size,
        "root": checkpoint.checkpoint.root.hex(),
        "witness": cosignature.key.name,
        "key": cosignature.key.encode(),
        "url": url,
        "timestamp": cosignature.timestamp,
        "line": cosignature.line,
    }


@dataclass(frozen=True)
class StoredCosignature:
    """A cosignature record read back and checked again against its checkpoint's note."""

    seq: int
    checkpoint_seq: int
    witness: str
    key: str
    timestamp: int | None
    line: str
    url: str
    problem: str | None
    """None when the line verifies over the stored checkpoint's note by the key it names."""


def stored_cosignatures(
    store: EvidenceStore, checkpoints_by_seq: dict[int, StoredCheckpoint]
) -> dict[int, list[StoredCosignature]]:
    """Every cosignature record, by the seq of the checkpoint it cosigns, each re-checked.

    `checkpoints_by_seq` are the store's checkpoints (collector.proving.checkpoints.stored);
    a record naming a checkpoint seq that is not among them gets a problem."""
    found: dict[int, list[StoredCosignature]] = defaultdict(list)
    for item in store.records(types=[COSIGNATURE]):
        record = item.record
        target = record.get("checkpoint_seq")
        line, key, url = (str(record.get(k, "")) for k in ("line", "key", "url"))
        timestamp = record.get("timestamp")
        seq = target if isinstance(target, int) else -1
        problem = _problem(checkpoints_by_seq.get(seq), line, key)
        found[seq].append(
            StoredCosignature(
                item.seq, seq, str(record.get("witness", "")), key,
                timestamp if isinstance(timestamp, int) else None, line, url, problem,
            )
        )  # fmt: skip
    return dict(found)


def _problem(checkpoint: StoredCheckpoint | None, line: str, key_text: str) -> str | None:
    if checkpoint is None:
        return "it names no checkpoint record of this store"
    try:
        key = CosignerKey.parse(key_text)
        text, _ = split_note(checkpoint.note)
        _, [signature] = split_note(text + "\n" + line + "\n")
        check_cosignature(text, signature, key)
    except (NoteError, ValueError) as exc:
        return f"{exc}: the checkpoint was changed after the witness cosigned it"
    return None


def cosigned_note(store: EvidenceStore, checkpoint: StoredCheckpoint) -> str:
    """`checkpoint`'s signed note with every good stored cosignature of it appended."""
    lines = [
        c.line
        for c in stored_cosignatures(store, {checkpoint.seq: checkpoint}).get(checkpoint.seq, [])
        if c.problem is None
    ]
    note = checkpoint.note if checkpoint.note.endswith("\n") else checkpoint.note + "\n"
    return note + "".join(f"{line}\n" for line in dict.fromkeys(lines))
