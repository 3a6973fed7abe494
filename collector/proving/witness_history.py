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
from datetime import UTC, datetime

from collector.config.model import Witnesses
from collector.evidence.store import EvidenceStore
from collector.evidence.store_errors import StoreCorrupt
from collector.portable.cosignature import CosignerKey
from collector.portable.tlog_policy import Policy, quorum_of
from collector.proving import checkpoints
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


def witness_states(store: EvidenceStore, after_seq: int | None = None) -> dict[str, WitnessState]:
    """Every witness's state by its encoded key, from one pass over its records (those past
    `after_seq` only, when given: what was said about the checkpoints from there on)."""
    states: dict[str, WitnessState] = defaultdict(WitnessState)
    kinds = [COSIGNATURE, COSIGNATURE_FAILED, WITNESS_CONFLICT]
    for item in store.records(types=kinds, after_seq=after_seq):
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


def utc(timestamp: int | None) -> str:
    """A cosignature's POSIX timestamp as UTC, the way every other line prints time."""
    if timestamp is None:
        return "an unknown time"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class WitnessedCheckpoint:
    """One checkpoint with what its witnesses said, for `status` and `verify`."""

    checkpoint: StoredCheckpoint
    cosignatures: list[StoredCosignature]
    policy: Policy | None

    @property
    def witnessed(self) -> bool | None:
        """Whether the policy is met; None when no policy is known (no config)."""
        if self.policy is None:
            return None
        return self.policy.satisfied(good_cosigners(self.cosignatures))

    def describe(self) -> str:
        good = [c for c in self.cosignatures if c.problem is None]
        names = ", ".join(f"{c.witness} at {utc(c.timestamp)}" for c in good) or "nobody"
        line = (
            f"checkpoint seq {self.checkpoint.seq} ({self.checkpoint.checkpoint.size} records):"
            f" cosigned by {names}"
        )
        if self.policy is not None:
            verdict = "witnessed" if self.witnessed else "NOT witnessed"
            line += f"; {verdict} ({self.policy.describe()})"
        return line

    def rewrites(self) -> list[str]:
        """One line per stored cosignature that no longer verifies over this checkpoint."""
        return [
            f"checkpoint seq {self.checkpoint.seq}: the cosignature by witness {c.witness}"
            f" (cosigned at {utc(c.timestamp)}) does not verify over it: REWRITTEN after it"
            " was witnessed"
            for c in self.cosignatures
            if c.problem is not None
        ]


def witnessed_checkpoints(
    found: dict[int, list[StoredCosignature]],
    stored: list[StoredCheckpoint],
    policy: Policy | None,
) -> list[WitnessedCheckpoint]:
    """Every checkpoint with its re-checked cosignatures (`found`), oldest first."""
    return [WitnessedCheckpoint(c, found.get(c.seq, []), policy) for c in stored]


def orphan_cosignatures(
    found: dict[int, list[StoredCosignature]], stored: list[StoredCheckpoint]
) -> list[str]:
    """Cosignature records naming no checkpoint of this store: a checkpoint record removed."""
    known = {s.seq for s in stored}
    return [
        f"cosignature seq {c.seq} by witness {c.witness}: {c.problem}"
        for seq, items in found.items()
        if seq not in known
        for c in items
    ]


@dataclass(frozen=True)
class WitnessAudit:
    """What `verify` says about witnesses: facts to show, problems that fail it."""

    facts: list[str]
    problems: list[str]


def audit(store: EvidenceStore, settings: Witnesses | None) -> WitnessAudit:
    """Each checkpoint's cosigners (held to the config's policy when there is one), every
    cosignature the store's checkpoints no longer match, and every recorded conflict."""
    try:
        stored = checkpoints.stored(store)
    except StoreCorrupt as exc:  # named by verify's own checkpoint checks as well
        return WitnessAudit([], [f"cannot hold the witnesses to the checkpoints: {exc.problem}"])
    policy = None if settings is None else configured_policy(settings)
    found = cosigners_by_checkpoint(store, stored)
    views = witnessed_checkpoints(found, stored, policy)
    cosigned = [v for v in views if v.cosignatures]
    facts = [v.describe() for v in cosigned]
    problems = [line for v in cosigned for line in v.rewrites()]
    problems += orphan_cosignatures(found, stored)
    problems += [c.describe() for c in conflicts(store)]
    return WitnessAudit(facts, problems)


def status_lines(store: EvidenceStore, settings: Witnesses, recent: int = 3) -> list[str]:
    """For `status`: the latest checkpoints' cosigners, whether the latest is witnessed,
    who is still to answer for it and why, and every conflict, which must stand out."""
    try:
        stored = checkpoints.stored(store)
    except StoreCorrupt as exc:
        return [f"witnesses: cannot read the checkpoints ({exc.problem}); run slawitness verify"]
    policy = configured_policy(settings)
    recent_stored = stored[-recent:]
    views = witnessed_checkpoints(
        cosigners_by_checkpoint(store, recent_stored), recent_stored, policy
    )
    lines = [f"witnesses: {policy.describe()}"]
    lines += [f"  {view.describe()}" for view in views]
    if views:
        latest = views[-1]
        waiting = good_cosigners(latest.cosignatures)
        for server in settings.servers:
            name = server.key.split("+", 1)[0]
            if name not in waiting:
                lines.append(f"  {name}: {_last_failure(store, server.key, latest.checkpoint.seq)}")
    lines += [f"  {c.describe()}" for c in conflicts(store)]
    return lines


def _last_failure(store: EvidenceStore, key: str, checkpoint_seq: int) -> str:
    """Why `key`'s witness has not cosigned the checkpoint yet, from its latest record."""
    for item in store.records(types=[COSIGNATURE_FAILED, WITNESS_CONFLICT], newest_first=True):
        record = item.record
        if record.get("key") == key and record.get("checkpoint_seq") == checkpoint_seq:
            if record["type"] == WITNESS_CONFLICT:
                return "saw a different history (see the conflict below)"
            return f"not cosigned yet: {record.get('error')} (asked again later)"
    return "not asked yet"
