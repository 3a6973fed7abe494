"""Checking an evidence bundle without trusting whoever produced it.

A bundle is attached to a complaint, so its reader is the provider, a lawyer or an
arbitrator with nothing but the zip. This module is what `slawitness verify-bundle` runs,
and it stays in the standard library (plus `collector.chain`, the record format itself) so
the check works on a machine without pandas and can be re-implemented from the bundle's
README alone. It never extracts anything to disk: members are read in memory, and a name
that is absolute or climbs out with `..` is a problem, not a path.

Two checks, every problem named:
- `MANIFEST.sha256` (coreutils `sha256sum` format) lists every other member with its
  SHA-256: a listed file that is missing, an unlisted extra member and a changed file are
  each named.
- every `records/*.jsonl` is a contiguous segment of one store's hash chain, described in
  `records/chain.json` (first and last seq, the hash before the first record, the last
  record's hash). Each line is `{"seq", "hash", "payload"}` with the payload exactly as
  hashed; the first seq whose hash, link or position is wrong is named with its file.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from collector.chain import link_problem, parse_payload

MANIFEST = "MANIFEST.sha256"
CHAIN_FILE = "records/chain.json"
RECORDS_PREFIX = "records/"
_MANIFEST_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_READ_ERRORS = (
    zipfile.BadZipFile, zlib.error, OSError, RuntimeError, NotImplementedError, EOFError
)  # fmt: skip
"""What reading one damaged, encrypted or oddly compressed member can raise."""


@dataclass(frozen=True)
class BundleCheck:
    """The verdict: `ok` when `problems` is empty; how many files and records were checked."""

    ok: bool
    problems: list[str]
    files: int
    records: int


def unsafe_name(name: str) -> str | None:
    """Why a member name could escape an extraction folder (or confuse sha256sum), or None."""
    if not name or "\\" in name or "\n" in name or "\r" in name or "\0" in name:
        return "contains a backslash, a line break or a NUL"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "is an absolute path"
    if any(part in ("", ".", "..") for part in name.rstrip("/").split("/")):
        return "has an empty, '.' or '..' path component"
    return None


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


def verify_bundle(zip_path: Path) -> BundleCheck:
    """Re-check a bundle's manifest and every records segment; never raises for bad input."""
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        return BundleCheck(False, [f"{zip_path}: not a readable zip file ({exc})"], 0, 0)
    with archive:
        problems: list[str] = []
        members = _members(archive, problems)
        files = _check_manifest(archive, members, problems)
        records = _check_records(archive, members, problems)
    return BundleCheck(not problems, problems, files, records)


def _members(archive: zipfile.ZipFile, problems: list[str]) -> dict[str, zipfile.ZipInfo]:
    """The bundle's file members by name; unsafe and duplicated names become problems."""
    members: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        why = unsafe_name(info.filename)
        if why is not None:
            problems.append(f"{info.filename!r}: unsafe member name ({why})")
        elif info.filename in members:
            problems.append(f"{info.filename}: appears twice in the zip")
        elif not info.is_dir():
            members[info.filename] = info
    return members


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, problems: list[str]) -> bytes | None:
    try:
        return archive.read(info)
    except _READ_ERRORS as exc:
        problems.append(f"{info.filename}: cannot be read from the zip ({exc})")
        return None


def _check_manifest(
    archive: zipfile.ZipFile, members: Mapping[str, zipfile.ZipInfo], problems: list[str]
) -> int:
    """Check every manifest line against its member; returns how many files matched."""
    if MANIFEST not in members:
        problems.append(f"{MANIFEST}: missing, so no file can be checked")
        return 0
    raw = _read(archive, members[MANIFEST], problems)
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
    for name, expected in listed.items():
        if name not in members:
            problems.append(f"{name}: listed in {MANIFEST} but missing from the bundle")
        elif _sha256(archive, members[name], problems) not in (expected, None):
            problems.append(f"{name}: changed (SHA-256 differs from {MANIFEST})")
        else:
            matched += 1
    for name in sorted(set(members) - set(listed) - {MANIFEST}):
        problems.append(f"{name}: not listed in {MANIFEST} (added after the bundle was made)")
    return matched


def _sha256(archive: zipfile.ZipFile, info: zipfile.ZipInfo, problems: list[str]) -> str | None:
    digest = hashlib.sha256()
    try:
        with archive.open(info) as stream:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                digest.update(chunk)
    except _READ_ERRORS as exc:
        problems.append(f"{info.filename}: cannot be read from the zip ({exc})")
        return None
    return digest.hexdigest()


def _check_records(
    archive: zipfile.ZipFile, members: Mapping[str, zipfile.ZipInfo], problems: list[str]
) -> int:
    """Check each records file against its chain.json entry; returns records verified."""
    files = sorted(n for n in members if n.startswith(RECORDS_PREFIX) and n.endswith(".jsonl"))
    segments = _declared_segments(archive, members, problems)
    if segments is None:
        return 0
    total = 0
    for name in files:
        declared = segments.get(name)
        if not isinstance(declared, dict):
            problems.append(f"{name}: not described in {CHAIN_FILE}")
            continue
        try:
            with archive.open(members[name]) as stream:
                count, problem = check_segment(_lines(stream), declared)
        except _READ_ERRORS as exc:
            count, problem = 0, f"cannot be read from the zip ({exc})"
        total += count
        if problem is not None:
            problems.append(f"{name}: {problem}")
    for name in sorted(set(segments) - set(files)):
        problems.append(f"{name}: described in {CHAIN_FILE} but missing from the bundle")
    return total


def _declared_segments(
    archive: zipfile.ZipFile, members: Mapping[str, zipfile.ZipInfo], problems: list[str]
) -> dict[str, object] | None:
    if CHAIN_FILE not in members:
        problems.append(f"{CHAIN_FILE}: missing, so no records file can be checked")
        return None
    raw = _read(archive, members[CHAIN_FILE], problems)
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


def _lines(stream: IO[bytes]) -> Iterable[bytes]:
    """Lines split at b"\\n" only: a payload may hold U+2028, which str.splitlines splits at."""
    for line in stream:
        yield line.rstrip(b"\n")
