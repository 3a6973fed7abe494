"""Signed evidence in a bundle: each store's checkpoint and inclusion proofs of its records.

A records segment shows no record inside it was changed, but whoever holds the store could
have rewritten the whole chain before bundling it. A checkpoint signed with the collector's
key commits to the store's history; an inclusion proof shows one record is in it. So the
bundle carries, per store whose segment a checkpoint covers (`proofs/<name>/`): the signed
checkpoint, the public key, a proof of the segment's last record (which anchors all of it:
the chain links every record to the last one) and a proof of each record the report cites
(`evidence_seqs` of its incidents, the attachment records of its complaint file), these
also as C2SP tlog-proofs (`seq-<N>.tlog-proof`) against the newest checkpoint witnesses
cosigned that covers it; verify.json's anchor lists who cosigned which checkpoint, when.

Which checkpoint: before the records are staged, the config's own store gets a fresh one
when the signing key loads, so it covers everything the report reads (its segment is cut at
the checkpoint's size: the checkpoint record itself and anything appended after it are
outside the signed tree). Any other store, or the config's when no fresh checkpoint could
be written, is anchored by its latest stored checkpoint if that covers the segment's last
seq. Otherwise the segment goes unanchored, and verify.json and a warning say why.
"""

from __future__ import annotations

import base64
import json
import platform
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import apsw

from collector import __version__
from collector.config.model import Config
from collector.evidence.store import EvidenceStore
from collector.evidence.store_errors import StoreError
from collector.portable.bundle_proof_check import (
    CHECKPOINT_FILE,
    NOT_ANCHORED,
    PUBLIC_KEY_FILE,
    proof_folder,
)
from collector.portable.signed_note import SigningKey
from collector.portable.tlog_proof import TLOG_PROOF_SUFFIX
from collector.proving import checkpoints
from collector.proving.consistency import leaves
from collector.proving.proofs import ProofError, inclusion_proofs
from collector.proving.tlog_proofs import tlog_proofs, witnessed_checkpoints
from reports.bundle.records import SegmentInfo, StagedRecords, json_bytes, segment_name
from reports.sources.evidence_view import EvidenceView


@dataclass(frozen=True)
class Anchor:
    """What will anchor one store's segment: a checkpoint, or why there is none."""

    store: Path
    checkpoint: checkpoints.StoredCheckpoint | None
    fresh: bool = False
    """Written for this bundle (the store's segment is cut at its size)."""
    problem: str | None = None

    @property
    def limit(self) -> int | None:
        """The last seq the segment may hold (a fresh checkpoint's size), or None."""
        if self.fresh and self.checkpoint is not None:
            return self.checkpoint.checkpoint.size
        return None


@dataclass(frozen=True)
class Proofs:
    """The members under proofs/, verify.json's `anchors`, and what must never be bundled."""

    members: dict[str, bytes] = field(default_factory=dict)
    anchors: list[dict[str, Any]] = field(default_factory=list)
    forbidden: list[tuple[str, bytes]] = field(default_factory=list)


def anchor_stores(
    config: Config, stores: Sequence[Path], evidence: EvidenceView | None = None
) -> tuple[list[Anchor], SigningKey | None]:
    """Before staging: a fresh checkpoint of the config's store (when the key loads), the
    latest stored one of every other store (read through `evidence`, when given); and the
    key, so the bundle can refuse it."""
    try:
        key: SigningKey | None = checkpoints.load_key(config.checkpoints.key)
        key_problem = None
    except checkpoints.SigningKeyError as exc:
        key, key_problem = None, str(exc)
    own = config.store.resolve()
    found = []
    for store in stores:
        fresh = None
        if store.resolve() == own:
            fresh = _fresh(store, key, config.vantage) if key is not None else key_problem
        if isinstance(fresh, checkpoints.StoredCheckpoint):
            found.append(Anchor(store, fresh, fresh=True))
        else:
            found.append(_latest(store, fresh, evidence))
    return found, key


def _fresh(store: Path, key: SigningKey, vantage: str) -> checkpoints.StoredCheckpoint | str:
    try:
        with EvidenceStore.open(store) as opened:
            return checkpoints.write(opened, key, vantage)
    except StoreError as exc:
        return f"cannot sign a fresh checkpoint: {exc}"


def _latest(store: Path, problem: str | None, evidence: EvidenceView | None) -> Anchor:
    """The store's latest checkpoint; `problem` says why there is no fresh one, if asked."""
    try:
        with ExitStack() as held_open:
            view = evidence or held_open.enter_context(EvidenceView())
            stored = checkpoints.latest(view.store(store))
    except StoreError as exc:
        return Anchor(store, None, problem=f"cannot read its checkpoints: {exc}")
    if stored is None:
        return Anchor(store, None, problem=problem or "the store holds no checkpoint")
    return Anchor(store, stored, problem=problem)


def prove(
    records: StagedRecords,
    anchors: Sequence[Anchor],
    summary: Mapping[str, Any],
    key: SigningKey | None = None,
    warn: Callable[[str], None] | None = None,
    evidence: EvidenceView | None = None,
) -> Proofs:
    """After the report: proofs/<name>/ for each segment its anchor covers, proving its
    last seq and the seqs the report's incidents cite; a warning for each one it does not.
    `evidence`, when given, is the bundle's open view of the stores."""
    cited = cited_records(summary)
    proofs = Proofs(forbidden=private_needles(key) if key is not None else [])
    for segment, anchor in zip(records.segments, anchors, strict=True):
        entry = _prove_segment(segment, anchor, cited, proofs.members, evidence)
        proofs.anchors.append(entry)
        if not entry["anchored"] and segment.last_seq is not None and warn is not None:
            warn(f"{segment.member}: {NOT_ANCHORED} ({entry['problem']})")
    return proofs


def _prove_segment(
    segment: SegmentInfo,
    anchor: Anchor,
    cited: Sequence[tuple[str, int]],
    members: dict[str, bytes],
    evidence: EvidenceView | None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {"member": segment.member, "anchored": False}
    first, last, at = segment.first_seq, segment.last_seq, anchor.checkpoint
    if first is None or last is None:
        return {**entry, "problem": "no records"}
    if at is None:
        return {**entry, "problem": anchor.problem}
    if at.checkpoint.size < last:
        why = f"the latest checkpoint (seq {at.seq}) covers seq 1-{at.checkpoint.size} only"
        return {**entry, "problem": f"{why}; the segment ends at seq {last}"}
    try:
        with ExitStack() as held_open:
            view = evidence or held_open.enter_context(EvidenceView())
            store = view.store(anchor.store)
            held = cited_in(store, cited, at.checkpoint.size)
            seqs = [s for s in held if s != last]
            made = cited_proofs(store, at, [*seqs, last], held)
            witnessed = witnessed_checkpoints(store)
    except (StoreError, ProofError, apsw.Error) as exc:
        return {**entry, "problem": f"cannot make the proofs: {exc}"}
    folder = proof_folder(segment_name(segment.member))
    members[folder + CHECKPOINT_FILE] = at.note.encode("utf-8")
    members[folder + PUBLIC_KEY_FILE] = (at.key.encode() + "\n").encode("ascii")
    for proof in made.inclusion:
        members[f"{folder}seq-{proof['seq']}.json"] = json_bytes(proof)
    for seq, text in made.tlog.items():
        members[f"{folder}seq-{seq}{TLOG_PROOF_SUFFIX}"] = text.encode("utf-8")
    return {
        **entry,
        "anchored": True,
        "checkpoint": "fresh" if anchor.fresh else "stored",
        "checkpoint_seq": at.seq,
        "tree_size": at.checkpoint.size,
        "key": at.key.encode(),
        "proved_seqs": [*seqs, last],
        "witnessed": witnessed,
        "problem": anchor.problem,
    }


@dataclass(frozen=True)
class CitedProofs:
    """Proofs of cited records against one checkpoint: inclusion proofs as JSON (against
    that checkpoint) and C2SP tlog-proofs (against the newest cosigned one covering each)."""

    inclusion: list[dict[str, Any]]
    tlog: dict[int, str]


def cited_proofs(
    store: EvidenceStore,
    at: checkpoints.StoredCheckpoint,
    inclusion_seqs: Sequence[int],
    tlog_seqs: Sequence[int],
) -> CitedProofs:
    """The proofs of `inclusion_seqs` and `tlog_seqs` (all within `at`'s tree), the tree
    built once for both: the bundle's proofs/ and the report PDF's embedded files."""
    tree = leaves(store, at.checkpoint.size)
    made = inclusion_proofs(store, inclusion_seqs, at, tree)
    return CitedProofs(made, tlog_proofs(store, tlog_seqs, at, tree))


def cited_in(store: EvidenceStore, cited: Sequence[tuple[str, int]], size: int) -> list[int]:
    """The seqs the report cites that this store holds within the checkpoint's tree."""
    return sorted({s for v, s in cited if s <= size and _vantage(store, s) == v})


def _vantage(store: EvidenceStore, seq: int) -> object:
    """The vantage a stored record names (None when it names none or is unreadable)."""
    try:
        record = json.loads(store.raw(seq)[0])
    except (StoreError, ValueError):
        return None
    return record.get("vantage") if isinstance(record, dict) else None


def cited_records(summary: Mapping[str, Any]) -> list[tuple[str, int]]:
    """(vantage, seq) of every record the report cites: its incidents' evidence and the
    attachment records of its complaint file (often made long before the period, so
    proved on their own rather than carried in a segment)."""
    found = []
    for incident in summary.get("incidents") or []:
        seqs, vantages = incident.get("evidence_seqs") or [], incident.get("evidence_vantages")
        found += [(v, s) for v, s in zip(vantages or [], seqs, strict=False) if type(s) is int]
    for attached in (summary.get("complaint_file") or {}).get("attachments") or []:
        if type(attached.get("seq")) is int and isinstance(attached.get("vantage"), str):
            found.append((attached["vantage"], attached["seq"]))
    return found


def private_needles(key: SigningKey) -> list[tuple[str, bytes]]:
    """The private key's encodings that must never appear in any member."""
    return [
        ("the private signing key", key.encode().encode("ascii")),
        ("the private signing key's seed", base64.b64encode(key.seed)),
        ("the private signing key's seed", key.seed),
    ]


def versions_json() -> bytes:
    """What made the bundle: a reader re-running a check can match these."""
    return json_bytes(
        {
            "slawitness": __version__,
            "sqlite": apsw.sqlite_lib_version(),
            "apsw": apsw.apsw_version(),
            "python": platform.python_version(),
        }
    )
