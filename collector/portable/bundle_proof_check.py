"""Checking what anchors a bundle's records: a signed checkpoint and inclusion proofs.

A records segment is a chain: it shows no record inside it was changed, but not that the
segment is the history the collector committed to. Beside each `records/<name>.jsonl` the
bundle carries, when the collector had a signing key:

    proofs/<name>/checkpoint.txt   the signed checkpoint (C2SP signed note)
    proofs/<name>/public-key.txt   the verifier key line of the key that signed it
    proofs/<name>/seq-<N>.json     inclusion proofs (slawitness-inclusion-proof/1)
    proofs/<name>/seq-<N>.tlog-proof  the same records as C2SP tlog-proofs against a
                                   cosigned checkpoint (checked by `bundle_witness_check`)

The proof of the segment's last seq anchors the whole segment (the chain links every record
of it to the last one, whose hash is in the signed tree); the others prove the records the
report cites. Each proof is checked with `proof_check` against the bundled key, and must
agree with the bundle itself: its record is the JSONL line of that seq, its checkpoint is
`checkpoint.txt`, and the checkpoint is of the store chain.json names. The bundled key only
shows the bundle is self-consistent: a reader compares its ID with the one the collector
published. Standard library only (signatures: `signature_check`); `verify.py` embeds it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import NamedTuple

from collector.portable.bundle_members import Members
from collector.portable.bundle_witness_check import is_tlog_proof_name
from collector.portable.chain import parse_payload
from collector.portable.proof_check import check_proof, describe_record
from collector.portable.signature_check import checked_with
from collector.portable.signed_note import (
    Checkpoint,
    CryptoMissing,
    NoteError,
    VerifierKey,
    verify_note,
)

PROOFS_PREFIX = "proofs/"
CHECKPOINT_FILE = "checkpoint.txt"
PUBLIC_KEY_FILE = "public-key.txt"
NOT_ANCHORED = "no signed checkpoint: records are chained but not anchored"
_PROOF_FILE = re.compile(r"^seq-([1-9][0-9]*)\.json$")


def proof_folder(base: str) -> str:
    """`proofs/<base>/` for the records file `records/<base>.jsonl`."""
    return f"{PROOFS_PREFIX}{base}/"


def proof_files(members: Members, base: str, problems: list[str]) -> dict[int, str]:
    """The seq of each `proofs/<base>/seq-<N>.json`; any other file there is a problem."""
    folder, found = proof_folder(base), {}
    for name in members.names:
        if not name.startswith(folder) or name[len(folder) :] in (CHECKPOINT_FILE, PUBLIC_KEY_FILE):
            continue
        if is_tlog_proof_name(name[len(folder) :]):
            continue
        match = _PROOF_FILE.match(name[len(folder) :])
        if match is None:
            problems.append(f"{name}: not a proof file name (expected seq-<N>.json)")
        else:
            found[int(match.group(1))] = name
    return found


class AnchorCheck(NamedTuple):
    """How many proofs of a segment passed, and whether a signature could not be checked
    on this machine (CryptoMissing: the reader is told, and must accept it to pass)."""

    passed: int
    signatures_unchecked: bool


def check_anchor(
    members: Members,
    base: str,
    declared: Mapping[str, object],
    proofs: Mapping[int, str],
    rows: Mapping[int, tuple[str, bytes]],
    problems: list[str],
    notes: list[str],
    proven: dict[int, dict[str, object]] | None = None,
) -> AnchorCheck:
    """Check one segment's checkpoint and proofs: how many proofs passed, and whether any
    signature went unchecked.

    `proofs` is `proof_files`' answer, `rows` the JSONL's (hash, payload) for those seqs.
    A proof may be of a record before the segment (an attachment record made long before the
    period): the proof then carries the record alone. Each record proved goes into `proven`.
    A segment with no proofs folder is not a problem (the collector had no key) but a note.
    """
    folder, jsonl = proof_folder(base), f"records/{base}.jsonl"
    if not any(name.startswith(folder) for name in members.names):
        if declared.get("first_seq") is not None:
            notes.append(f"{jsonl}: {NOT_ANCHORED}")
        return AnchorCheck(0, False)
    before = len(problems)
    key = _public_key(members, folder + PUBLIC_KEY_FILE, problems)
    note, checkpoint, unchecked = _checkpoint(
        members, folder + CHECKPOINT_FILE, key, declared, problems, notes
    )
    signed = "said to be signed (not checked here)" if unchecked else "signed"
    if not unchecked:
        signed += checked_with("signature ")
    last = declared.get("last_seq")
    if type(last) is int and last not in proofs:
        problems.append(
            f"{folder}seq-{last}.json: missing, so the segment's last record (and through the"
            " chain the whole segment) is not anchored"
        )
    passed = 0
    for seq, name in sorted(proofs.items()):
        mine = len(problems)
        row = rows.get(seq)
        record, proof_unchecked = _check_proof_file(
            members, name, seq, key, note, row, jsonl, declared, problems, notes
        )
        unchecked = unchecked or proof_unchecked
        if len(problems) == mine and record is not None:
            passed += 1
            if proven is not None:
                proven[seq] = record
            notes.append(f"{name}: seq {seq} proved: {describe_record(record)}")
    if len(problems) == before and key is not None and checkpoint is not None:
        notes.append(
            f"{jsonl}: seq {declared.get('first_seq')}-{last} anchored in a checkpoint of"
            f" {checkpoint.size} records {signed} by key {key.name} {key.id.hex()} (compare"
            " this key ID with the one the collector published)"
        )
    return AnchorCheck(passed, unchecked)


def _public_key(members: Members, name: str, problems: list[str]) -> VerifierKey | None:
    if name not in members.names:
        problems.append(f"{name}: missing, so no signature can be checked")
        return None
    raw = members.read(name, problems)
    if raw is None:
        return None
    try:
        return VerifierKey.parse(raw.decode("utf-8"))
    except (UnicodeDecodeError, NoteError) as exc:
        problems.append(f"{name}: {exc}")
        return None


def _checkpoint(
    members: Members,
    name: str,
    key: VerifierKey | None,
    declared: Mapping[str, object],
    problems: list[str],
    notes: list[str],
) -> tuple[str | None, Checkpoint | None, bool]:
    """The signed note's text and its checkpoint, once its signature and origin check, and
    whether its signature could not be checked here (then a note says why)."""
    if name not in members.names:
        problems.append(f"{name}: missing, so the proofs lead to no signed checkpoint")
        return None, None, False
    raw = members.read(name, problems)
    try:
        note = None if raw is None else raw.decode("utf-8")
    except UnicodeDecodeError:
        problems.append(f"{name}: not UTF-8 text")
        return None, None, False
    if note is None or key is None:
        return note, None, False
    unchecked = False
    try:
        body = verify_note(note, key)
    except CryptoMissing as exc:
        notes.append(str(exc))
        body, unchecked = note.partition("\n\n")[0] + "\n", True
    except NoteError as exc:
        problems.append(f"{name}: {exc}")
        return note, None, False
    try:
        checkpoint = Checkpoint.parse(body)
    except NoteError as exc:
        problems.append(f"{name}: {exc}")
        return note, None, unchecked
    store_id = declared.get("store_id")
    if isinstance(store_id, str) and checkpoint.origin != f"slawitness/{store_id}":
        problems.append(f"{name}: a checkpoint of {checkpoint.origin}, not of store {store_id}")
    return note, checkpoint, unchecked


def _check_proof_file(
    members: Members,
    name: str,
    seq: int,
    key: VerifierKey | None,
    note: str | None,
    row: tuple[str, bytes] | None,
    jsonl: str,
    declared: Mapping[str, object],
    problems: list[str],
    notes: list[str],
) -> tuple[dict[str, object] | None, bool]:
    """One proof: valid on its own, and about this bundle's record and checkpoint; the
    record it proves (when its payload parses), and whether a signature in it could not be
    checked here."""
    raw = members.read(name, problems)
    if raw is None:
        return None, False
    try:
        proof = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        problems.append(f"{name}: not a JSON proof file")
        return None, False
    result = check_proof(proof, key)
    problems.extend(f"{name}: {problem}" for problem in result.problems)
    notes.extend(result.unchecked)
    unchecked = bool(result.unchecked)
    if not isinstance(proof, dict):
        return None, unchecked
    if proof.get("seq") != seq:
        problems.append(f"{name}: holds seq {proof.get('seq')!r}, not {seq}")
    if note is not None and proof.get("checkpoint") != note:
        problems.append(f"{name}: its checkpoint is not the bundle's {CHECKPOINT_FILE}")
    first, last = declared.get("first_seq"), declared.get("last_seq")
    inside = type(first) is int and type(last) is int and first <= seq <= last
    if row is None and inside:
        problems.append(f"{name}: seq {seq} is not in {jsonl}")
    elif row is not None and (
        proof.get("hash") != row[0] or not _same_text(proof.get("payload"), row[1])
    ):
        problems.append(f"{name}: its record differs from seq {seq} in {jsonl}")
    if seq == declared.get("last_seq") and proof.get("hash") != declared.get("last_hash"):
        problems.append(f"{name}: its hash is not the segment's last_hash in records/chain.json")
    try:
        return parse_payload(str(proof.get("payload")).encode("utf-8")), unchecked
    except (ValueError, UnicodeEncodeError):
        return None, unchecked


def _same_text(text: object, payload: bytes) -> bool:
    try:
        return isinstance(text, str) and text.encode("utf-8") == payload
    except UnicodeEncodeError:
        return False
