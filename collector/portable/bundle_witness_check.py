"""Checking what witnesses vouch for in a bundle: tlog-proof files and cosignature records.

Two things a key holder cannot fake once a witness cosigned a checkpoint:

- `proofs/<name>/seq-<N>.tlog-proof` (C2SP tlog-proof) proves record N against a cosigned
  checkpoint. Each is checked against the bundle's own record of that seq, the bundled log
  key and, when the reader gives a tlog-policy (`verify.py --policy FILE`), the quorum of
  witnesses the reader trusts: without a policy its cosignatures are listed, not required.
- every `cosignature` record among the bundle's records is checked again over the
  `checkpoint` record it names. A history rewritten and re-signed by the key holder after a
  witness cosigned it still chains, but the cosignature no longer verifies over the
  rewritten checkpoint: that is named as a rewrite.

Standard library only (signatures: `signature_check`); verify.py embeds this module.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping

from collector.portable.bundle_members import Members
from collector.portable.cosignature import CosignerKey, check_cosignature
from collector.portable.signed_note import CryptoMissing, NoteError, VerifierKey, split_note
from collector.portable.tlog_policy import Policy
from collector.portable.tlog_proof import (
    TLOG_PROOF_SUFFIX,
    TlogProof,
    check_tlog_proof,
    utc_text,
)

_TLOG_PROOF_FILE = re.compile(r"^seq-([1-9][0-9]*)\.tlog-proof$")
REWRITTEN = "REWRITTEN after it was witnessed"


def tlog_proof_files(members: Members, folder: str) -> dict[int, str]:
    """The seq of each `<folder>seq-<N>.tlog-proof`."""
    found = {}
    for name in members.names:
        match = _TLOG_PROOF_FILE.match(name[len(folder) :]) if name.startswith(folder) else None
        if match is not None:
            found[int(match.group(1))] = name
    return found


def is_tlog_proof_name(file_name: str) -> bool:
    return file_name.endswith(TLOG_PROOF_SUFFIX) and bool(_TLOG_PROOF_FILE.match(file_name))


def _bundled_key(members: Members, name: str) -> VerifierKey | None:
    """The bundled log key; a missing or bad one is named by the anchor check already."""
    raw = members.read(name, []) if name in members.names else None
    try:
        return VerifierKey.parse(raw.decode("utf-8")) if raw is not None else None
    except (UnicodeDecodeError, NoteError):
        return None


def check_tlog_proofs(
    members: Members,
    folder: str,
    key_file: str,
    rows: Mapping[int, tuple[str, bytes]],
    policy: Policy | None,
    problems: list[str],
    notes: list[str],
) -> tuple[int, bool]:
    """Check each tlog-proof of one segment: how many passed, and whether a signature could
    not be checked here."""
    found = tlog_proof_files(members, folder)
    if policy is not None and not found and any(n.startswith(folder) for n in members.names):
        problems.append(f"{folder}: no tlog-proof file, so no record meets the policy")
    key = _bundled_key(members, key_file)
    passed, unchecked = 0, False
    for seq, name in sorted(found.items()):
        raw = members.read(name, problems)
        try:
            text = raw.decode("utf-8") if raw is not None else None
        except UnicodeDecodeError:
            text = None
        if text is None:
            problems.append(f"{name}: not UTF-8 text")
            continue
        row = rows.get(seq)
        record_hash = (
            bytes.fromhex(row[0]) if row is not None else _proved_hash(members, folder, seq)
        )
        check = check_tlog_proof(text, key, policy, record_hash)
        result = check.result
        index = _index_of(text)
        if index is not None and index + 1 != seq:
            result.problems.append(f"holds seq {index + 1}, not {seq}")
        problems.extend(f"{name}: {p}" for p in result.problems)
        notes.extend(result.unchecked)
        unchecked = unchecked or bool(result.unchecked)
        if record_hash is None:
            problems.append(f"{name}: seq {seq} is neither among the bundle's records nor proved")
        elif result.ok:
            passed += 1
            cosigned = [f for f in result.facts if f.startswith(("cosigned", "cosignature"))]
            notes.append(f"{name}: seq {seq} proved" + "".join(f"; {f}" for f in cosigned))
    return passed, unchecked


def _proved_hash(members: Members, folder: str, seq: int) -> bytes | None:
    """The record hash of the JSON proof beside a tlog-proof, for a record outside the
    records segments (an attached document's record, proved on its own): that proof's
    payload and hash are checked by the proof check, so the tlog-proof is held to them."""
    name = f"{folder}seq-{seq}.json"
    raw = members.read(name, []) if name in members.names else None
    try:
        proof = json.loads(raw) if raw is not None else None
        return bytes.fromhex(proof["hash"]) if isinstance(proof, dict) else None
    except (ValueError, KeyError, TypeError):
        return None


def _index_of(text: str) -> int | None:
    try:
        return TlogProof.parse(text).index
    except NoteError:
        return None


def check_cosignature_records(
    jsonl: str,
    records: Iterable[tuple[int, dict[str, object]]],
    problems: list[str],
    notes: list[str],
) -> bool:
    """Check every cosignature record over the checkpoint record it names; whether a
    signature could not be checked here."""
    listed = list(records)
    notes_by_seq = {
        seq: r["note"]
        for seq, r in listed
        if r.get("type") == "checkpoint" and isinstance(r.get("note"), str)
    }
    unchecked = False
    for seq, record in listed:
        if record.get("type") != "cosignature":
            continue
        target, witness = record.get("checkpoint_seq"), record.get("witness")
        note = notes_by_seq.get(target) if type(target) is int else None
        if note is None:
            notes.append(
                f"{jsonl}: seq {seq}: a cosignature of checkpoint seq {target!r}, whose"
                " record is not in the bundle, so it is not checked here"
            )
            continue
        try:
            key = CosignerKey.parse(str(record.get("key")))
            text, _ = split_note(str(note))
            _, [signature] = split_note(text + "\n" + str(record.get("line")) + "\n")
            cosignature = check_cosignature(text, signature, key)
        except CryptoMissing as exc:
            notes.append(str(exc))
            unchecked = True
            continue
        except (NoteError, ValueError):
            problems.append(
                f"{jsonl}: checkpoint seq {target}: the cosignature by witness {witness}"
                f" does not verify over it: {REWRITTEN}"
            )
            continue
        notes.append(
            f"{jsonl}: checkpoint seq {target} cosigned by witness {cosignature.key.name}"
            f" at {utc_text(cosignature.timestamp)}"
        )
    return unchecked
