"""C2SP tlog-proof files: one record, its audit path, and the cosigned checkpoint, offline.

A reader who has a record and this file needs nothing from us to know the record is in a
history the collector signed and that witnesses saw: the file is the C2SP text format, so
any tlog tooling reads it, and a policy of the reader's own (tlog-policy: which witnesses
count, how many) decides whether the cosignatures suffice. The format (tlog-proof.md):

    c2sp.org/tlog-proof@v1
    extra <base64>              optional, opaque, never trusted
    index <zero-based index>
    <base64 hash>               zero or more, the leaf's sibling first
                                an empty line
    <the checkpoint verbatim, with its signature and cosignature lines>

Our leaves are the records' 32-byte chain hashes (leaf = SHA-256(0x00 || hash)). `extra`
holds what recomputes that hash from the record: base64 of `{"payload": ..., "prev_hash":
...}` (compact JSON, keys sorted), so hash = SHA-256(prev_hash || index+1 as 8 bytes
big-endian || payload). The extra is checked, never trusted: the hash it gives must be the
record's (when the reader holds it) and must lead to the signed root.

Standard library only: verify.py embeds this module (signatures: `signature_check`).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from collector.portable.chain import chain_hash, parse_payload
from collector.portable.cosignature import Cosignature, cosignatures_in
from collector.portable.merkle import leaf_hash, verify_inclusion
from collector.portable.proof_check import ProofResult, describe_record, signed_checkpoint
from collector.portable.signed_note import NoteError, VerifierKey, split_note
from collector.portable.tlog_policy import Policy

TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"
TLOG_PROOF_SUFFIX = ".tlog-proof"
_INDEX = re.compile(r"index (0|[1-9][0-9]{0,18})")


class TlogProofError(NoteError):
    """A file that is not a tlog-proof as C2SP writes it (one line saying where)."""


@dataclass(frozen=True)
class TlogProof:
    """The parts of a tlog-proof file; `note` is the checkpoint with all its signatures."""

    index: int
    proof: tuple[bytes, ...]
    note: str
    extra: bytes | None = None

    def encode(self) -> str:
        lines = [TLOG_PROOF_HEADER]
        if self.extra is not None:
            lines.append(f"extra {base64.b64encode(self.extra).decode()}")
        lines.append(f"index {self.index}")
        lines += [base64.b64encode(h).decode() for h in self.proof]
        return "\n".join(lines) + "\n\n" + self.note

    @classmethod
    def parse(cls, text: str) -> TlogProof:
        head, sep, note = text.partition("\n\n")
        lines = head.split("\n")
        if lines[0] != TLOG_PROOF_HEADER:
            raise TlogProofError(f"not a tlog-proof (the first line is not {TLOG_PROOF_HEADER})")
        if not sep:
            raise TlogProofError("not a tlog-proof (no empty line before the checkpoint)")
        rest, extra = lines[1:], None
        if rest and rest[0].startswith("extra "):
            extra = _base64(rest[0].removeprefix("extra "), "the extra line")
            rest = rest[1:]
        match = _INDEX.fullmatch(rest[0]) if rest else None
        if match is None:
            raise TlogProofError("not a tlog-proof (no `index N` line where it belongs)")
        hashes = []
        for number, line in enumerate(rest[1:], start=1):
            digest = _base64(line, f"inclusion proof line {number}")
            if len(digest) != 32:
                raise TlogProofError(f"inclusion proof line {number} is not a SHA-256 hash")
            hashes.append(digest)
        try:
            split_note(note)
        except NoteError as exc:
            raise TlogProofError(f"its checkpoint: {exc}") from None
        return cls(int(match.group(1)), tuple(hashes), note, extra)


def _base64(text: str, what: str) -> bytes:
    """Strict standard base64: only the one encoding of the bytes is accepted."""
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error:
        raw = None
    if raw is None or base64.b64encode(raw).decode() != text:
        raise TlogProofError(f"{what} is not standard base64")
    return raw


def record_extra(prev_hash: bytes, payload: bytes) -> bytes:
    """The extra data that lets a reader recompute a record's chain hash."""
    body = {"payload": payload.decode("utf-8"), "prev_hash": prev_hash.hex()}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def hash_from_extra(extra: bytes, index: int) -> tuple[bytes, dict[str, object]]:
    """The chain hash of record index+1 that `extra` describes, and the record; ValueError
    when extra is not what `record_extra` writes or the payload is not canonical."""
    try:
        body = json.loads(extra.decode("utf-8"))
        payload, prev = body["payload"].encode("utf-8"), bytes.fromhex(body["prev_hash"])
    except (UnicodeError, ValueError, KeyError, TypeError, AttributeError):
        raise ValueError("extra is not {payload, prev_hash} JSON") from None
    if len(prev) != 32 or record_extra(prev, payload) != extra:
        raise ValueError("extra is not {payload, prev_hash} JSON as slawitness writes it")
    return chain_hash(prev, index + 1, payload), parse_payload(payload)


def utc_text(timestamp: int) -> str:
    # timezone.utc, not UTC: verify.py runs on older Pythons too
    moment = datetime.fromtimestamp(timestamp, timezone.utc)  # noqa: UP017
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass
class TlogProofCheck:
    """What a tlog-proof shows, and who cosigned its checkpoint (checked against a policy)."""

    result: ProofResult
    cosigned: list[Cosignature]
    record: dict[str, object] | None = None


def check_tlog_proof(
    text: str,
    log_key: VerifierKey | None,
    policy: Policy | None = None,
    record_hash: bytes | None = None,
) -> TlogProofCheck:
    """Check a tlog-proof: its form, the record hash its extra gives (against `record_hash`
    when the reader holds the record), the path to the root, the log's signature (`log_key`,
    else the policy's `log` lines) and, with a policy, the cosignatures against its quorum."""
    result = ProofResult("tlog-proof")
    check = TlogProofCheck(result, [])
    try:
        proof = TlogProof.parse(text)
    except TlogProofError as exc:
        result.problems.append(str(exc))
        return check
    key = log_key or _policy_log(proof.note, policy)
    checkpoint = signed_checkpoint(proof.note, None, key, result)
    seq = proof.index + 1
    leaf = _leaf_data(proof, record_hash, check)
    if checkpoint is None or leaf is None:
        return check
    if not verify_inclusion(
        proof.index, checkpoint.size, leaf_hash(leaf), proof.proof, checkpoint.root
    ):
        result.problems.append(
            f"seq {seq} is not in the checkpoint's tree of {checkpoint.size} records"
        )
    else:
        result.facts.append(f"seq {seq} is record {seq} of the {checkpoint.size} signed")
    if policy is None:
        result.facts += _unchecked_cosignatures(proof.note, key)
        return check
    check.cosigned, problems = cosignatures_in(proof.note, list(policy.witnesses.values()))
    result.problems += [f"checkpoint of {checkpoint.size} records: {p}" for p in problems]
    result.facts += [
        f"cosigned by witness {c.key.name} at {utc_text(c.timestamp)}" for c in check.cosigned
    ]
    names = {c.key.name for c in check.cosigned}
    if not policy.satisfied(names):
        who = ", ".join(sorted(names)) or "no trusted witness"
        result.problems.append(
            f"the checkpoint of {checkpoint.size} records does not meet the policy's quorum"
            f" ({policy.describe()}): cosigned by {who}"
        )
    return check


def _policy_log(note: str, policy: Policy | None) -> VerifierKey | None:
    """The policy's log key that signed `note` (by name and key ID), else its first."""
    if policy is None or not policy.logs:
        return None
    _, signatures = split_note(note)
    for log in policy.logs:
        if any(s.name == log.name and s.key_id == log.id for s in signatures):
            return log
    return policy.logs[0]


def _leaf_data(proof: TlogProof, record_hash: bytes | None, check: TlogProofCheck) -> bytes | None:
    """The record's chain hash: from extra (checked against `record_hash` when given)."""
    result, seq = check.result, proof.index + 1
    if proof.extra is None:
        if record_hash is None:
            result.problems.append(f"seq {seq}: no extra line and no record to prove")
        return record_hash
    try:
        digest, check.record = hash_from_extra(proof.extra, proof.index)
    except ValueError as exc:
        result.problems.append(f"seq {seq}: {exc}")
        return None
    if record_hash is not None and digest != record_hash:
        result.problems.append(f"seq {seq}: the extra line does not give the record's hash")
        return None
    result.facts.append(f"seq {seq}: {describe_record(check.record)}, hash {digest.hex()}")
    return digest


def _unchecked_cosignatures(note: str, log_key: VerifierKey | None) -> list[str]:
    """One line per cosignature-shaped signature line, unchecked: no policy names its key."""
    _, signatures = split_note(note)
    found = []
    for s in signatures:
        if log_key is not None and s.name == log_key.name and s.key_id == log_key.id:
            continue
        if len(s.signature) == 72:
            when = utc_text(min(int.from_bytes(s.signature[:8], "big"), 2**40))
            found.append(
                f"cosignature line by {s.name} ({s.key_id.hex()}) dated {when}: not checked"
                " (no policy names its key)"
            )
    return found
