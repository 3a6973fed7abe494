"""Checking a proof file, in the standard library only (signatures: `signature_check`).

A proof file is what a third party receives instead of the whole store: one record, its
Merkle audit path, and the signed checkpoint it leads to (`slawitness-inclusion-proof/1`);
or two checkpoints and the consistency proof between them
(`slawitness-consistency-proof/1`). `check_proof` re-does every step from the bytes: the
record's hash from its payload and the hash before it, the canonical form of the payload,
the path to the checkpoint's root, the checkpoint's signature. Both formats are specified
in docs/record-format.md. The bundle's standalone verifier embeds this module, so it must
not import anything outside the standard library and the stdlib-only modules it builds on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone

from collector.portable.chain import chain_hash, parse_payload
from collector.portable.merkle import leaf_hash, verify_consistency, verify_inclusion
from collector.portable.signature_check import checked_with
from collector.portable.signed_note import (
    Checkpoint,
    CryptoMissing,
    NoteError,
    VerifierKey,
    verify_note,
)

INCLUSION = "slawitness-inclusion-proof/1"
CONSISTENCY = "slawitness-consistency-proof/1"


@dataclass
class ProofResult:
    """What a proof shows. `problems` empty means every check that could run passed;
    `unchecked` says what could not be checked here (a signature, with neither `cryptography`
    nor the `openssl` command)."""

    kind: str
    facts: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _hex(value: object, what: str, size: int = 32) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"{what} is missing")
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise ValueError(f"{what} is not hex") from None
    if len(raw) != size:
        raise ValueError(f"{what} is not {size} bytes")
    return raw


def _path(value: object) -> list[bytes]:
    if not isinstance(value, list):
        raise ValueError("proof is not a list of hashes")
    return [_hex(item, f"proof[{i}]") for i, item in enumerate(value)]


def signed_checkpoint(
    note: object, key_text: object, trusted: VerifierKey | None, result: ProofResult
) -> Checkpoint | None:
    """The checkpoint of `note`, its signature checked against `trusted` (else the key the
    file names, which only shows the file is self-consistent: say so)."""
    if not isinstance(note, str):
        result.problems.append("checkpoint is missing")
        return None
    try:
        named = VerifierKey.parse(str(key_text)) if key_text is not None else None
    except NoteError as exc:
        result.problems.append(f"key: {exc}")
        return None
    key = trusted or named
    try:
        checkpoint = Checkpoint.parse(note.partition("\n\n")[0] + "\n")
    except NoteError as exc:
        result.problems.append(f"checkpoint: {exc}")
        return None
    if key is None:
        result.problems.append("no key to check the checkpoint's signature with")
        return checkpoint
    try:
        verify_note(note, key)
        who = "the trusted key" if trusted else "the key the file names (compare its ID"
        tail = ("" if trusted else " with the one the collector published)") + checked_with()
        result.facts.append(f"checkpoint signed by {key.name} {key.id.hex()}: {who}{tail}")
    except CryptoMissing as exc:
        result.unchecked.append(str(exc))
    except NoteError as exc:
        result.problems.append(f"checkpoint: {exc}")
    return checkpoint


def describe_record(record: Mapping[str, object]) -> str:
    """One line a person can read: what was recorded, about whom, when, with what result."""
    ts_ns = record.get("ts_ns")
    when = "an unknown time"
    if isinstance(ts_ns, int):  # timezone.utc, not UTC: verify.py runs on older Pythons too
        moment = datetime.fromtimestamp(ts_ns // 10**9, timezone.utc)  # noqa: UP017
        when = moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    words = (record.get("type"), record.get("target"), record.get("probe"))
    what = " ".join(str(w) for w in words if w)
    if "ok" in record:
        what += " ok" if record["ok"] else f" FAILED ({record.get('error')})"
    return f"{what} at {when}"


def check_inclusion(proof: Mapping[str, object], trusted: VerifierKey | None) -> ProofResult:
    """One record, its chain hash and its audit path to a signed checkpoint."""
    result = ProofResult("inclusion")
    checkpoint = signed_checkpoint(proof.get("checkpoint"), proof.get("key"), trusted, result)
    try:
        seq, payload = proof.get("seq"), proof.get("payload")
        if type(seq) is not int or not 1 <= seq < 2**63 or not isinstance(payload, str):
            raise ValueError("seq or payload is missing")
        prev, stored = _hex(proof.get("prev_hash"), "prev_hash"), _hex(proof.get("hash"), "hash")
        path = _path(proof.get("proof"))
    except ValueError as exc:
        result.problems.append(str(exc))
        return result
    raw = payload.encode("utf-8")
    if chain_hash(prev, seq, raw) != stored:
        result.problems.append(f"seq {seq}: the hash does not match the payload")
    try:
        record = parse_payload(raw)
        result.facts.append(f"seq {seq}: {describe_record(record)}, hash {stored.hex()}")
    except ValueError as exc:
        result.problems.append(f"seq {seq}: {exc}")
    if checkpoint is None:
        return result
    if not verify_inclusion(seq - 1, checkpoint.size, leaf_hash(stored), path, checkpoint.root):
        result.problems.append(
            f"seq {seq} is not in the checkpoint's tree of {checkpoint.size} records"
        )
    else:
        result.facts.append(f"seq {seq} is record {seq} of the {checkpoint.size} signed")
    return result


def check_consistency(proof: Mapping[str, object], trusted: VerifierKey | None) -> ProofResult:
    """Two signed checkpoints and the proof that the later tree extends the earlier one."""
    result = ProofResult("consistency")
    old = signed_checkpoint(proof.get("old"), proof.get("key"), trusted, result)
    new = signed_checkpoint(proof.get("new"), proof.get("key"), trusted, result)
    try:
        path = _path(proof.get("proof"))
    except ValueError as exc:
        result.problems.append(str(exc))
        return result
    if old is None or new is None:
        return result
    if old.origin != new.origin:
        result.problems.append(f"the checkpoints are of two logs ({old.origin}, {new.origin})")
    elif not verify_consistency(old.size, new.size, path, old.root, new.root):
        result.problems.append(
            f"the tree of {new.size} records does not extend the tree of {old.size}"
        )
    else:
        result.facts.append(f"the {new.size} records extend the {old.size} signed earlier")
    return result


def check_proof(proof: object, trusted: VerifierKey | None = None) -> ProofResult:
    """Check a parsed proof file of either kind."""
    if not isinstance(proof, Mapping):
        return ProofResult("unknown", problems=["not a proof file (not a JSON object)"])
    kind = proof.get("format")
    if kind == INCLUSION:
        return check_inclusion(proof, trusted)
    if kind == CONSISTENCY:
        return check_consistency(proof, trusted)
    return ProofResult("unknown", problems=[f"not a slawitness proof file (format {kind!r})"])
