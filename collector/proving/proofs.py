"""Making proof files from a store: one record against a checkpoint, or two checkpoints.

The formats are read by `collector.portable.proof_check` (and the bundle's standalone verifier). A
proof always leads to a checkpoint the store holds, signed when it was written, so what a
third party checks is a commitment made before anyone asked for the proof.
"""

from __future__ import annotations

from collections.abc import Iterable

from collector.evidence.store import EvidenceStore
from collector.evidence.store_errors import StoreCorrupt
from collector.portable.chain import GENESIS
from collector.portable.errors import UsageError
from collector.portable.merkle import TreeLevels
from collector.portable.proof_check import CONSISTENCY, INCLUSION
from collector.proving import checkpoints
from collector.proving.consistency import leaves


class ProofError(UsageError):
    """No proof can be made as asked (one line: the seq, or the missing checkpoint)."""


def covering(store: EvidenceStore, seq: int) -> checkpoints.StoredCheckpoint:
    """The earliest stored checkpoint whose tree holds `seq`."""
    for stored in checkpoints.stored(store):
        if stored.checkpoint.size >= seq:
            return stored
    raise ProofError(f"no checkpoint covers seq {seq} yet (run: slawitness checkpoint)")


def inclusion_proofs(
    store: EvidenceStore,
    seqs: Iterable[int],
    at: checkpoints.StoredCheckpoint,
    tree: TreeLevels | None = None,
) -> list[dict[str, object]]:
    """A proof file per seq, against checkpoint `at` (its tree built once for them all)."""
    size = at.checkpoint.size
    tree = tree or leaves(store, size)
    proofs = []
    for seq in seqs:
        if not 1 <= seq <= size:
            raise ProofError(f"seq {seq} is not in the checkpoint of {size} records")
        row = store.raw(seq)
        before = GENESIS.hex() if seq == 1 else store.raw(seq - 1)[1]
        payload, digest = row
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError:
            raise StoreCorrupt(store.path, f"seq {seq}: payload is not UTF-8") from None
        proofs.append(
            {
                "format": INCLUSION,
                "seq": seq,
                "prev_hash": before,
                "hash": digest,
                "payload": text,
                "tree_size": size,
                "proof": [h.hex() for h in tree.inclusion_proof(seq - 1, size)],
                "checkpoint": at.note,
                "key": at.key.encode(),
            }
        )
    return proofs


def consistency_proof(
    store: EvidenceStore, old_note: str, new: checkpoints.StoredCheckpoint, old_size: int
) -> dict[str, object]:
    """The proof that checkpoint `new` extends an older one of `old_size` records."""
    tree = leaves(store, new.checkpoint.size)
    return {
        "format": CONSISTENCY,
        "old": old_note,
        "new": new.note,
        "proof": [h.hex() for h in tree.consistency_proof(old_size, new.checkpoint.size)],
        "key": new.key.encode(),
    }
