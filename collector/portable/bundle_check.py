"""Checking an evidence bundle without trusting whoever produced it.

A bundle is attached to a complaint, so its reader is the provider, a lawyer or an
arbitrator with nothing but the zip. This module is what `slawitness verify-bundle` runs,
and it stays in the standard library (plus the stdlib-only record format, Merkle, signed
note and proof modules) so the check works on a machine without pandas, and so the bundle's
own `verify.py`, which embeds these modules, runs the very same checks on the unzipped
folder (`main` is its command line). Nothing is extracted: members are read as streams.

The checks, every problem named with its member:
- `MANIFEST.sha256` (coreutils `sha256sum` format) lists every other member with its
  SHA-256: a listed file that is missing, an unlisted extra member and a changed file are
  each named.
- every `records/*.jsonl` is a contiguous segment of one store's hash chain, described in
  `records/chain.json` (first and last seq, the hash before the first record, the last
  record's hash). Each line is `{"seq", "hash", "payload"}` with the payload exactly as
  hashed; the first seq whose hash, link or position is wrong is named with its file.
- `records/<name>.sqlite`, the segment as an SQLite file, holds exactly the JSONL's rows
  (seq, hash, payload bytes) and names the same store, first seq and hash before it.
- `proofs/<name>/` anchors the segment in a signed checkpoint (`bundle_proof_check`); a
  segment without it is chained but not anchored, which is said, not failed.
- `proofs/<name>/seq-<N>.tlog-proof`, C2SP tlog-proofs against a cosigned checkpoint, held
  to the reader's tlog-policy when `--policy FILE` gives one, and every `cosignature`
  record re-checked over the checkpoint record it names (`bundle_witness_check`).
- `attachments/<sha256>/<name>`, the documents of the complaint file, each hash the name
  says and named by an attachment record the bundle vouches for (`bundle_attachment_check`).

A signature that could not be checked (neither `cryptography` nor the `openssl` command on
the reader's machine) is no problem found, but no check passed either: the verdict fails
unless the reader accepts unchecked signatures explicitly. The formats are specified in
docs/record-format.md.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import sys
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from collector.portable.bundle_attachment_check import check_attachments
from collector.portable.bundle_members import (
    READ_ERRORS,
    FolderMembers,
    Members,
    ZipMembers,
    unsafe_name,
)
from collector.portable.bundle_proof_check import (
    PUBLIC_KEY_FILE,
    check_anchor,
    proof_files,
    proof_folder,
)
from collector.portable.bundle_witness_check import (
    check_cosignature_records,
    check_tlog_proofs,
    tlog_proof_files,
)
from collector.portable.chain import link_problem, parse_payload
from collector.portable.snapshot_check import check_snapshot
from collector.portable.tlog_policy import Policy, PolicyError, parse_policy

MANIFEST = "MANIFEST.sha256"
CHAIN_FILE = "records/chain.json"
RECORDS_PREFIX = "records/"
_MANIFEST_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
ACCEPT_UNCHECKED = "--accept-unchecked-signatures"
POLICY_OPTION = "--policy"
_USAGE = (
    f"usage: python3 verify.py [{ACCEPT_UNCHECKED}] [BUNDLE_DIR | BUNDLE.zip]\n"
    f"       {POLICY_OPTION} FILE: a C2SP tlog-policy whose witness quorum every"
    " proofs/*/seq-<N>.tlog-proof must meet"
)
_WITNESS_RECORD = (b"cosignature", b"checkpoint")
"""What marks a line that may hold a cosignature or checkpoint record (its payload is a JSON
string inside the line, so the record's own quotes are escaped there)."""


@dataclass(frozen=True)
class BundleCheck:
    """The verdict: `ok` when `problems` is empty; how many files, records and proofs were
    checked; `notes` say what was not checked or what a reader should compare (the key);
    `signatures_unchecked` when a signature could not be checked on this machine."""

    ok: bool
    problems: list[str]
    files: int
    records: int
    notes: list[str] = field(default_factory=list)
    proofs: int = 0
    attachments: int = 0
    signatures_unchecked: bool = False
    tlog_proofs: int = 0
    """C2SP tlog-proofs that passed (cosigned checkpoints; `proofs` counts the JSON ones)."""

    def passes(self, accept_unchecked: bool = False) -> bool:
        """No problem found, and every signature checked (or unchecked ones accepted)."""
        return self.ok and (accept_unchecked or not self.signatures_unchecked)


def parse_record_line(line: bytes) -> tuple[int, str, bytes]:
    """seq, hash and the exact payload bytes of one records line, or ValueError."""
    try:
        item = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a JSON line ({exc})") from None
    if not isinstance(item, dict):
        raise ValueError("not a JSON object")
    seq, digest = item.get("seq"), item.get("hash")
    if type(seq) is not int or not isinstance(digest, str):
        raise ValueError("needs an integer seq and a string hash")
    if isinstance(item.get("payload"), str):
        return seq, digest, item["payload"].encode("utf-8")
    if isinstance(item.get("payload_b64"), str):
        try:
            return seq, digest, base64.b64decode(item["payload_b64"], validate=True)
        except binascii.Error as exc:
            raise ValueError(f"payload_b64 is not base64 ({exc})") from None
    raise ValueError("needs a payload string (or payload_b64)")


def check_segment(lines: Iterable[bytes], declared: Mapping[str, object]) -> tuple[int, str | None]:
    """How many records verified, and the first problem (naming its seq) or None.

    `declared` is the file's entry in chain.json. The first record must have seq
    `first_seq` and chain to `prev_hash`; every next one must have the next seq and chain to
    the one before; the last must be `last_seq` with hash `last_hash`, so a line dropped at
    either end is caught as surely as one dropped in the middle.
    """
    first, last = declared.get("first_seq"), declared.get("last_seq")
    prev_hex, last_hash = declared.get("prev_hash"), declared.get("last_hash")
    if first is None:
        for _ in lines:
            return 0, "has records but chain.json declares an empty segment"
        return 0, None
    if type(first) is not int or type(last) is not int or first < 1 or last < first:
        return 0, "chain.json: first_seq/last_seq are not a seq range"
    if not isinstance(prev_hex, str) or not _HEX64.match(prev_hex):
        return 0, f"chain.json: prev_hash (hash of seq {first - 1}) is missing or malformed"
    prev, expected, count = bytes.fromhex(prev_hex), first, 0
    for number, line in enumerate(lines, 1):
        try:
            seq, digest, payload = parse_record_line(line)
        except ValueError as exc:
            return count, f"line {number} (after seq {expected - 1}): {exc}"
        problem = link_problem(prev, expected, seq, payload, digest)
        if problem is not None:
            return count, problem[1]
        try:
            parse_payload(payload)
        except ValueError as exc:
            return count, f"seq {seq}: {exc}"
        prev, expected, count = bytes.fromhex(digest), seq + 1, count + 1
    if expected - 1 != last:
        missing = f"{expected}" if expected == last else f"{expected}-{last}"
        return count, f"seq {missing} missing (chain.json declares the segment ends at {last})"
    if last_hash != prev.hex():
        return count, f"seq {last}: hash differs from the last_hash in chain.json"
    return count, None


def verify_bundle(zip_path: Path, policy: Policy | None = None) -> BundleCheck:
    """Re-check a bundle zip; never raises for bad input."""
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        return BundleCheck(False, [f"{zip_path}: not a readable zip file ({exc})"], 0, 0)
    with archive:
        problems: list[str] = []
        return _check(ZipMembers(archive, problems), problems, policy)


def verify_folder(folder: Path, policy: Policy | None = None) -> BundleCheck:
    """Re-check an unzipped bundle, as its `verify.py` does; never raises for bad input."""
    if not (folder / MANIFEST).is_file():
        why = "no MANIFEST.sha256 in it" if folder.is_dir() else "not a folder"
        return BundleCheck(False, [f"{folder}: not an unzipped bundle ({why})"], 0, 0)
    problems: list[str] = []
    return _check(FolderMembers(folder, problems), problems, policy)


def _check(members: Members, problems: list[str], policy: Policy | None = None) -> BundleCheck:
    notes: list[str] = []
    files = _check_manifest(members, problems)
    vouched: dict[str, dict[str, object]] = {}
    tlog: list[int] = []
    records, proofs, unchecked = _check_records(members, problems, notes, vouched, policy, tlog)
    attachments = check_attachments(members, vouched, problems, notes)
    unique = list(dict.fromkeys(notes))
    return BundleCheck(
        not problems, problems, files, records, unique, proofs, attachments, unchecked, sum(tlog)
    )


def _check_manifest(members: Members, problems: list[str]) -> int:
    """Check every manifest line against its member; returns how many files matched."""
    if MANIFEST not in members.names:
        problems.append(f"{MANIFEST}: missing, so no file can be checked")
        return 0
    raw = members.read(MANIFEST, problems)
    if raw is None:
        return 0
    listed: dict[str, str] = {}
    for number, line in enumerate(raw.decode("utf-8", "replace").split("\n"), 1):
        match = _MANIFEST_LINE.match(line)
        if not line:
            continue
        if match is None or unsafe_name(match.group(2)) is not None:
            problems.append(f"{MANIFEST} line {number}: not a `<sha256>  <path>` line")
        elif match.group(2) in listed or match.group(2) == MANIFEST:
            problems.append(f"{MANIFEST} line {number}: {match.group(2)} listed twice or itself")
        else:
            listed[match.group(2)] = match.group(1).lower()
    matched = 0
    present = set(members.names)
    for name, expected in listed.items():
        if name not in present:
            problems.append(f"{name}: listed in {MANIFEST} but missing from the bundle")
        elif members.sha256(name, problems) not in (expected, None):
            problems.append(f"{name}: changed (SHA-256 differs from {MANIFEST})")
        else:
            matched += 1
    for name in sorted(present - set(listed) - {MANIFEST}):
        problems.append(f"{name}: not listed in {MANIFEST} (added after the bundle was made)")
    return matched


def _check_records(
    members: Members,
    problems: list[str],
    notes: list[str],
    vouched: dict[str, dict[str, object]],
    policy: Policy | None = None,
    tlog_passed: list[int] | None = None,
) -> tuple[int, int, bool]:
    """Check each records file against its chain.json entry, its SQLite snapshot and its
    proofs; returns how many records and proofs verified, and whether a signature could
    not be checked here. The attachment records of the segments and proofs that check out
    go into `vouched`, by the SHA-256 they name."""
    files = [n for n in members.names if n.startswith(RECORDS_PREFIX) and n.endswith(".jsonl")]
    segments = _declared_segments(members, problems)
    if segments is None:
        return 0, 0, False
    total = proved = 0
    unchecked = False
    for name in files:
        declared = segments.get(name)
        if not isinstance(declared, dict):
            problems.append(f"{name}: not described in {CHAIN_FILE}")
            continue
        marked: list[bytes] = []
        try:
            count, problem = check_segment(_marking(members.lines(name), marked), declared)
        except READ_ERRORS as exc:
            count, problem = 0, f"cannot be read ({exc})"
        total += count
        if problem is not None:
            problems.append(f"{name}: {problem}")
        else:
            _vouch(_attachment_records(marked), vouched)
            witnessing = _attachment_records(
                m for m in marked if any(w in m for w in _WITNESS_RECORD)
            )
            unchecked = check_cosignature_records(name, witnessing, problems, notes) or unchecked
        base = name[len(RECORDS_PREFIX) : -len(".jsonl")]
        snapshot = f"{RECORDS_PREFIX}{base}.sqlite"
        check_snapshot(members, snapshot, declared, _records(members, name), problems, notes)
        proofs = proof_files(members, base, problems)
        folder = proof_folder(base)
        tlog = tlog_proof_files(members, folder)
        rows = _rows(members, name, set(proofs) | set(tlog))
        proven: dict[int, dict[str, object]] = {}
        anchor = check_anchor(members, base, declared, proofs, rows, problems, notes, proven)
        proved += anchor.passed
        unchecked = unchecked or anchor.signatures_unchecked
        passed, tlog_unchecked = check_tlog_proofs(
            members, folder, folder + PUBLIC_KEY_FILE, rows, policy, problems, notes
        )
        if tlog_passed is not None:
            tlog_passed.append(passed)
        unchecked = unchecked or tlog_unchecked
        _vouch(proven.items(), vouched)
    for name in sorted(set(segments) - set(files)):
        problems.append(f"{name}: described in {CHAIN_FILE} but missing from the bundle")
    return total, proved, unchecked


def _declared_segments(members: Members, problems: list[str]) -> dict[str, object] | None:
    if CHAIN_FILE not in members.names:
        problems.append(f"{CHAIN_FILE}: missing, so no records file can be checked")
        return None
    raw = members.read(CHAIN_FILE, problems)
    if raw is None:
        return None
    try:
        segments = json.loads(raw.decode("utf-8"))["segments"]
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        problems.append(f"{CHAIN_FILE}: not the expected JSON ({exc!r})")
        return None
    if not isinstance(segments, dict):
        problems.append(f"{CHAIN_FILE}: `segments` is not an object")
        return None
    return segments


def _records(members: Members, name: str) -> Iterator[tuple[int, str, bytes]]:
    """The records file's rows as far as they parse (check_segment names a bad line)."""
    try:
        for line in members.lines(name):
            yield parse_record_line(line)
    except (ValueError, *READ_ERRORS):
        return


def _marking(lines: Iterable[bytes], marked: list[bytes]) -> Iterator[bytes]:
    """The lines, passed on to the chain check; those that may be attachment records are
    kept aside, so the segment is read once."""
    for line in lines:
        if b"attachment" in line or any(w in line for w in _WITNESS_RECORD):
            marked.append(line)
        yield line


def _attachment_records(lines: Iterable[bytes]) -> Iterator[tuple[int, dict[str, object]]]:
    """seq and record of the lines that are attachment records (the chain already checked
    them, so each parses)."""
    for line in lines:
        seq, _, payload = parse_record_line(line)
        yield seq, parse_payload(payload)


def _vouch(
    records: Iterable[tuple[int, dict[str, object]]], vouched: dict[str, dict[str, object]]
) -> None:
    for seq, record in records:
        if record.get("type") == "attachment" and isinstance(record.get("sha256"), str):
            vouched.setdefault(str(record["sha256"]), {**record, "seq": seq})


def _rows(members: Members, name: str, seqs: set[int]) -> dict[int, tuple[str, bytes]]:
    """(hash, payload) of the wanted seqs in a records file."""
    if not seqs:
        return {}
    return {
        seq: (digest, payload) for seq, digest, payload in _records(members, name) if seq in seqs
    }


def main(argv: Sequence[str] | None = None, default: Path | None = None) -> int:
    """The standalone verifier's command line:
    `python3 verify.py [--accept-unchecked-signatures] [BUNDLE_DIR | BUNDLE.zip]`.

    Checks the folder `default` (verify.py's own) or the one given; prints one line per
    finding, then `OK: ...` (exit 0) or `FAILED: ...` (exit 1; also when a signature could
    not be checked and the flag does not accept that).
    """
    args = sys.argv[1:] if argv is None else list(argv)
    accept = ACCEPT_UNCHECKED in args
    args = [arg for arg in args if arg != ACCEPT_UNCHECKED]
    if args and args[0] in ("-h", "--help"):
        print(_USAGE)
        return 0
    policy: Policy | None = None
    if POLICY_OPTION in args:
        at = args.index(POLICY_OPTION)
        if at + 1 >= len(args):
            print(f"verify.py: {POLICY_OPTION} needs a file\n{_USAGE}", file=sys.stderr)
            return 2
        policy_path = Path(args[at + 1])
        del args[at : at + 2]
        try:
            policy = parse_policy(policy_path.read_text("utf-8"), str(policy_path))
        except (OSError, UnicodeDecodeError, PolicyError) as exc:
            print(f"verify.py: {policy_path}: {exc}", file=sys.stderr)
            return 2
    options = [arg for arg in args if arg.startswith("-")]
    if options or len(args) > 1:
        why = f"unknown option {options[0]}" if options else "give one bundle"
        print(f"verify.py: {why}\n{_USAGE}", file=sys.stderr)
        return 2
    where = Path(args[0]) if args else (default or Path.cwd())
    check = verify_bundle(where, policy) if where.is_file() else verify_folder(where, policy)
    for note in check.notes:
        print(f"note: {note}")
    for problem in check.problems:
        print(f"problem: {problem}")
    counts = f"{check.files} files, {check.records} records, {check.proofs} proofs"
    if check.tlog_proofs:
        counts += f", {check.tlog_proofs} tlog-proofs"
    if check.attachments:
        counts += f", {check.attachments} attachments"
    if check.passes(accept):
        unchecked = f"; signatures NOT checked (accepted by {ACCEPT_UNCHECKED})"
        print(f"OK: {where}: {counts} verified{unchecked if check.signatures_unchecked else ''}")
        return 0
    if check.ok:
        print(
            f"FAILED: {where}: signatures not checked: install the Python package cryptography"
            f" or OpenSSL 3, or pass {ACCEPT_UNCHECKED} to accept that ({counts} verified)"
        )
        return 1
    found = f"{len(check.problems)} problem{'s' if len(check.problems) != 1 else ''}"
    print(f"FAILED: {where}: {found} ({counts} verified)")
    return 1
