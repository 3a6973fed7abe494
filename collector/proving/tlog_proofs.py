"""C2SP tlog-proof files of stored records, against the checkpoint witnesses cosigned.

A JSON proof (collector.proving.proofs) leads to the collector's own signature only; a
reader who trusts the collector's key no more than the provider does wants a checkpoint
that witnesses cosigned. So each record gets a tlog-proof against the newest stored
checkpoint that covers it and carries a good cosignature (its note with the cosignature
lines appended, `cosigned_note`), and against the JSON proof's checkpoint when no
cosigned one covers it yet (then its only signature is the collector's). The format and
its `extra` are collector.portable.tlog_proof's; docs/record-format.md specifies both.
"""

from __future__ import annotations

from collections.abc import Iterable

from collector.evidence.store import EvidenceStore
from collector.portable.chain import GENESIS
from collector.portable.merkle import TreeLevels
from collector.portable.tlog_proof import TlogProof, record_extra, utc_text
from collector.proving import checkpoints
from collector.proving.cosignatures import cosigned_note, stored_cosignatures


def cosigned_checkpoints(store: EvidenceStore) -> list[checkpoints.StoredCheckpoint]:
    """The stored checkpoints with at least one cosignature that still verifies, oldest first."""
    stored = checkpoints.stored(store)
    found = stored_cosignatures(store, {c.seq: c for c in stored})
    return [c for c in stored if any(s.problem is None for s in found.get(c.seq, []))]


def witnessed_checkpoints(store: EvidenceStore) -> list[dict[str, object]]:
    """Per stored checkpoint that any witness cosigned: its seq and size, who cosigned it
    and when (UTC), and each cosignature that no longer verifies over it, with why."""
    stored = {c.seq: c for c in checkpoints.stored(store)}
    found = stored_cosignatures(store, stored)
    listed: list[dict[str, object]] = []
    for seq, cosignatures in sorted(found.items()):
        at = stored.get(seq)
        good = [c for c in cosignatures if c.problem is None]
        listed.append(
            {
                "checkpoint_seq": seq,
                "ts_ns": at.ts_ns if at is not None else None,
                "tree_size": at.checkpoint.size if at is not None else None,
                "cosigners": [
                    {
                        "witness": c.witness,
                        "timestamp": c.timestamp,
                        "time": utc_text(c.timestamp) if c.timestamp is not None else None,
                    }
                    for c in good
                ],
                "problems": [
                    f"witness {c.witness}: {c.problem}" for c in cosignatures if c.problem
                ],
            }
        )
    return listed


def tlog_proofs(
    store: EvidenceStore,
    seqs: Iterable[int],
    fallback: checkpoints.StoredCheckpoint,
    tree: TreeLevels,
) -> dict[int, str]:
    """The tlog-proof text of each seq; `tree` holds at least `fallback`'s records."""
    witnessed = [c for c in cosigned_checkpoints(store) if c.checkpoint.size <= tree.size]
    notes: dict[int, str] = {}
    made = {}
    for seq in seqs:
        covering = [c for c in witnessed if c.checkpoint.size >= seq]
        at = covering[-1] if covering else fallback
        if at.seq not in notes:
            notes[at.seq] = cosigned_note(store, at) if covering else at.note
        payload, _ = store.raw(seq)
        before = GENESIS if seq == 1 else bytes.fromhex(store.raw(seq - 1)[1])
        path = tree.inclusion_proof(seq - 1, at.checkpoint.size)
        proof = TlogProof(seq - 1, tuple(path), notes[at.seq], record_extra(before, payload))
        made[seq] = proof.encode()
    return made
