"""What the store says about its witnesses: who cosigned which checkpoint, who refused, who
saw a different history.

The collector keeps no state outside the store, so everything it needs to talk to a witness
again (the size that witness last cosigned, whether the latest checkpoint is still to be
sent, when it last failed) is read back from the chained records here, and so is what
`status` and `verify` show. Three record types, all naming the witness by name and key:

- `cosignature` (collector.proving.cosignatures): a verified cosignature, kept verbatim;
- `cosignature_failed`: the witness could not be reached or refused for a reason that may
  pass (403, 404, a timeout); the checkpoint is sent again after `witnesses.retry`;
- `witness_conflict`: the witness holds a tree of this log that the store's history does
  not extend (a 409 naming a size the retry could not reconcile, or a 422): whoever reads
  the store must see it, so it is never retried for that checkpoint.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from collector.config.model import Witnesses
from collector.evidence.store import EvidenceStore
from collector.portable.cosignature import CosignerKey
from collector.portable.tlog_policy import Policy, quorum_of
from collector.proving.checkpoints import StoredCheckpoint
from collector.proving.cosignatures import COSIGNATURE, StoredCosignature, stored_cosignatures

COSIGNATURE_FAILED = "cosignature_failed"
"""The record type of a witness request that got no cosignature, to be retried."""
WITNESS_CONFLICT = "witness_conflict"
"""The record type of a witness answer showing it saw a different history of this log."""


@dataclass
class WitnessState:
    """One witness's dealings with this store, as its records tell them."""

    cosigned_size: int = 0
    """The largest tree size it cosigned (what the next request's `old` line says)."""
    cosigned_seqs: set[int] = field(default_factory=set)
    conflict_seqs: set[int] = field(default_factory=set)
    failed_ns: dict[int, int] = field(default_factory=dict)
    """checkpoint seq -> when the last request for it failed."""


def witness_states(store: EvidenceStore) -> dict[str, WitnessState]:
    """Every witness's state by its encoded key, from one pass over its records."""
    states: dict[str, WitnessState] = defaultdict(WitnessState)
    kinds = [COSIGNATURE, COSIGNATURE_FAILED, WITNESS_CONFLICT]
    for item in store.records(types=kinds):
        record = item.record
        state = states[str(record.get("key", ""))]
        seq, size, ts_ns = (record.get(k) for k in ("checkpoint_seq", "size", "ts_ns"))
        if not isinstance(seq, int):
            continue
        if record["type"] == COSIGNATURE and isinstance(size, int):
            state.cosigned_size = max(state.cosigned_size, size)
            state.cosigned_seqs.add(seq)
        elif record["type"] == WITNESS_CONFLICT:
            state.conflict_seqs.add(seq)
        elif isinstance(ts_ns, int):
            state.failed_ns[seq] = ts_ns
    return dict(states)


def configured_policy(settings: Witnesses) -> Policy:
    """The config's `at_least K of servers` as a tlog-policy quorum."""
    keys = [CosignerKey.parse(server.key) for server in settings.servers]
    return quorum_of(keys, settings.at_least)


@dataclass(frozen=True)
class Conflict:
    """A `witness_conflict` record read back."""

    seq: int
    checkpoint_seq: int
    witness: str
    url: str
    size: int
    witness_size: int | None
    status: int | None
    body: str

    def describe(self) -> str:
        """The line that must stand out in `status` and `verify`."""
        theirs = (
            f"it cosigned {self.witness_size} records"
            if self.witness_size is not None
            else "it holds a tree our history does not extend"
        )
        return (
            f"WITNESS CONFLICT: witness {self.witness} ({self.url}) saw a different history:"
            f" {theirs}; the checkpoint at seq {self.checkpoint_seq} has {self.size}"
            f" (HTTP {self.status}, record seq {self.seq})"
        )


def conflicts(store: EvidenceStore) -> list[Conflict]:
    """Every `witness_conflict` record, oldest first."""
    found = []
    for item in store.records(types=[WITNESS_CONFLICT]):
        r = item.record
        witness_size, status = r.get("witness_size"), r.get("status")
        found.append(
            Conflict(
                item.seq, int(str(r.get("checkpoint_seq", -1))), str(r.get("witness", "")),
                str(r.get("url", "")), int(str(r.get("size", 0))),
                witness_size if isinstance(witness_size, int) else None,
                status if isinstance(status, int) else None, str(r.get("body", "")),
            )
        )  # fmt: skip
    return found


def good_cosigners(found: list[StoredCosignature]) -> set[str]:
    """The names of the witnesses whose stored cosignature still verifies."""
    return {c.witness for c in found if c.problem is None}


def cosigners_by_checkpoint(
    store: EvidenceStore, stored: list[StoredCheckpoint]
) -> dict[int, list[StoredCosignature]]:
    """Each checkpoint's cosignatures, re-checked over its stored note."""
    return stored_cosignatures(store, {c.seq: c for c in stored})
