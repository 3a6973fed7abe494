"""Is this store the history a checkpoint signed? Truncated, rewritten and forked, told apart.

The chain alone finds a changed row, but a history cut short, or recomputed from some
point on, still chains. A checkpoint that left the machine fixes the tree of the first
`size` records; this module holds the store against it:

- consistent: the store's first `size` records have the checkpoint's root, and a
  consistency proof (RFC 9162) from it to the store's current tree is given;
- truncated: the store holds fewer records than the checkpoint signed;
- rewritten: the store's first `size` records are not the ones signed;
- forked: as rewritten, but the store also holds its own checkpoint, signed by the same key,
  of the history it holds now: the key signed two histories that cannot both be true.

The store's own checkpoint records are held against its records the same way, so a history
rewritten after the fact but left with its old checkpoints is named even with no file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from collector.evidence.store import EvidenceStore
from collector.evidence.store_errors import StoreCorrupt
from collector.portable.merkle import Frontier, TreeLevels
from collector.portable.signed_note import Checkpoint, NoteError, VerifierKey, verify_note
from collector.proving import checkpoints

Verdict = Literal["consistent", "truncated", "rewritten", "forked", "other store"]


@dataclass(frozen=True)
class Consistency:
    """The store held against one checkpoint."""

    verdict: Verdict
    message: str
    checkpoint: Checkpoint
    store_size: int
    proof: tuple[bytes, ...] = ()
    """From the checkpoint's size to `store_size`, when consistent."""
    store_root: bytes = b""


def leaves(store: EvidenceStore, size: int) -> TreeLevels:
    """The Merkle tree of the store's first `size` records, from their stored hashes."""
    return TreeLevels(b"".join(checkpoints.leaf_hashes(store, 0, size)))


def read_checkpoint(note: str, key: VerifierKey) -> Checkpoint:
    """The checkpoint in a signed note, once `key`'s signature on it verifies."""
    return Checkpoint.parse(verify_note(note, key))


def against(store: EvidenceStore, note: str, key: VerifierKey) -> Consistency:
    """Hold the store against a signed checkpoint (NoteError when the note does not verify)."""
    checkpoint = read_checkpoint(note, key)
    head = store.head()
    size = 0 if head is None else head.seq
    mine = checkpoints.origin(store)
    m = checkpoint.size
    if checkpoint.origin != mine:
        return Consistency(
            "other store",
            f"the checkpoint is of another store ({checkpoint.origin}; this one is {mine})",
            checkpoint, size,
        )  # fmt: skip
    if m > size:
        return Consistency(
            "truncated",
            f"TRUNCATED: the checkpoint signed {m} records, the store holds {size}:"
            f" seq {size + 1}-{m} are gone",
            checkpoint, size,
        )  # fmt: skip
    try:
        tree = leaves(store, size)
    except StoreCorrupt as exc:  # a row gone from the middle: the tree cannot be rebuilt
        return Consistency(
            "rewritten",
            f"REWRITTEN: the records the checkpoint signed are not all there ({exc.problem})",
            checkpoint, size,
        )  # fmt: skip
    if m == 0 or tree.root(m) == checkpoint.root:
        proof = tuple(tree.consistency_proof(m, size)) if m else ()
        return Consistency(
            "consistent",
            f"consistent: the store holds the {m} records the checkpoint signed"
            f" and {size - m} after them",
            checkpoint, size, proof, tree.root(size),
        )  # fmt: skip
    own = _own_signed_history(store, key, tree, m)
    if own is not None:
        return Consistency(
            "forked",
            f"FORKED: key {key.name} signed two histories: this checkpoint of {m} records,"
            f" and the store's own of {own.checkpoint.size} (seq {own.seq}) that differs from it",
            checkpoint, size,
        )  # fmt: skip
    return Consistency(
        "rewritten",
        f"REWRITTEN: the store's first {m} records are not the ones the checkpoint signed",
        checkpoint, size,
    )  # fmt: skip


def _own_signed_history(
    store: EvidenceStore, key: VerifierKey, tree: TreeLevels, m: int
) -> checkpoints.StoredCheckpoint | None:
    """A checkpoint in the store, by `key`, of the history it holds now, covering seq m."""
    for stored in checkpoints.stored(store):
        size = stored.checkpoint.size
        if size < m or size > tree.size or stored.key != key:
            continue
        try:
            verify_note(stored.note, key)
        except NoteError:
            continue
        if tree.root(size) == stored.checkpoint.root:
            return stored
    return None


@dataclass(frozen=True)
class OwnCheckpointProblem:
    """A checkpoint record whose tree the store no longer holds."""

    seq: int
    size: int
    last_good_size: int
    message: str


def own_checkpoints_problem(
    store: EvidenceStore, stored: Iterable[checkpoints.StoredCheckpoint] | None = None
) -> OwnCheckpointProblem | None:
    """The first of the store's own checkpoints that its records no longer match.

    Each stored checkpoint is held against the tree of the records before it, in one
    streaming pass over the stored hashes (a frontier: constant memory however long the
    history). The last one that still matches bounds where a rewrite began.
    """
    ordered = sorted(
        checkpoints.stored(store) if stored is None else stored, key=lambda c: c.checkpoint.size
    )
    if not ordered:
        return None
    head = store.head()
    held = 0 if head is None else head.seq
    frontier, good = Frontier(), 0
    for item in ordered:
        size = item.checkpoint.size
        if size > held:
            return OwnCheckpointProblem(
                item.seq, size, good,
                f"checkpoint at seq {item.seq} signed {size} records; the store holds"
                f" {held}: TRUNCATED",
            )  # fmt: skip
        try:
            frontier = checkpoints.extend(frontier, store, size)
        except StoreCorrupt as exc:
            return OwnCheckpointProblem(
                item.seq, size, good,
                f"checkpoint at seq {item.seq} signed {size} records that are not all there"
                f" ({exc.problem}): REWRITTEN between seq {good + 1} and seq {size}",
            )  # fmt: skip
        if frontier.root() != item.checkpoint.root:
            return OwnCheckpointProblem(
                item.seq, size, good,
                f"checkpoint at seq {item.seq} signed {size} records that the store no longer"
                f" holds: REWRITTEN between seq {good + 1} and seq {size}",
            )  # fmt: skip
        good = size
    return None
