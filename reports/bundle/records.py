"""The records that go into a bundle: each store's contiguous chain segment, staged to files.

From each store, the records the figures depend on are those of the target and its controls
plus those without a target (collector start/stop/heartbeat/round, checkpoints) and imports,
with `window_start_ns <= ts_ns < window_end_ns`, and the `import` record of every file that
records in the window came from (written when the file was imported, often later). Records
of other targets are not needed, but a chain segment with holes cannot be checked, so the
bundle carries every record from the first to the last needed seq, whatever its target:
they are the user's own evidence. A segment can be cut at a seq (`limits`), so that it ends
inside the tree a checkpoint signed.

Each store gives two members: `records/<name>.jsonl`, one `{"seq", "hash", "payload"}` line
per record with the payload exactly as stored and hashed, and `records/<name>.sqlite`, the
same rows in an SQLite file (`reports.bundle.snapshot`). `records/chain.json` describes every
segment (docs/record-format.md specifies it); the report's letters cite its SHA-256, which
pins every segment's last hash and through the chain every record in it. It names each
store by its file name and vantage only: the bundle goes to the provider, and the folders of
the collecting machine are none of the reader's business (nor needed for any check).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import apsw

from collector.evidence.store import EvidenceStore
from collector.evidence.store_errors import StoreError
from collector.portable.bundle_check import check_segment
from collector.portable.chain import GENESIS
from reports.bundle.errors import BundleError
from reports.bundle.snapshot import write_snapshot
from reports.sources.evidence_view import EvidenceView

_NEEDED_TYPES = ("collector", "import")
"""Record types needed whatever their target. An import record is also needed, whatever its
time, when records in the window came from the file it describes."""
_NO_LIMIT = 2**63 - 1


@dataclass(frozen=True)
class SegmentInfo:
    """One store's exported chain segment and its check (seqs None when nothing matched)."""

    member: str
    store: str
    first_seq: int | None
    last_seq: int | None
    records: int
    ok: bool
    problem: str | None


@dataclass(frozen=True)
class StagedRecords:
    """The stores' record segments, written to a staging folder before the report is made,
    so the report's letters can cite `records/chain.json`, which pins every segment's last
    hash and through the chain every record in it."""

    members: dict[str, Path]
    chain: dict[str, dict[str, object]]
    segments: list[SegmentInfo]

    @property
    def chain_bytes(self) -> bytes:
        return json_bytes({"format": 1, "segments": self.chain})

    @property
    def chain_sha256(self) -> str:
        return hashlib.sha256(self.chain_bytes).hexdigest()


def stage_records(
    staging: Path,
    stores: Sequence[Path],
    hosts: Sequence[str],
    window_start_ns: int,
    window_end_ns: int,
    *,
    limits: Sequence[int | None] = (),
    evidence: EvidenceView | None = None,
) -> StagedRecords:
    """Export each store's contiguous segment covering `hosts` in the window into `staging`,
    as JSON lines and as an SQLite snapshot; `limits[i]`, when given, is the last seq store
    i's segment may hold. `evidence`, when given, is the bundle's open view of the stores."""
    members: dict[str, Path] = {}
    chain: dict[str, dict[str, object]] = {}
    segments: list[SegmentInfo] = []
    taken: dict[str, Path | bytes] = {}
    for index, store in enumerate(stores):
        limit = limits[index] if index < len(limits) else None
        staged = staging / f"records-{index}.jsonl"
        snapshot = staging / f"records-{index}.sqlite"
        entry, vantage = _export_segment(
            store, staged, snapshot, list(hosts), (window_start_ns, window_end_ns), limit,
            evidence,
        )  # fmt: skip
        member = _records_member(vantage or store.stem, taken)
        taken[member] = staged
        members[member] = staged
        members[snapshot_member(member)] = snapshot
        chain[member] = entry
        segments.append(_checked(member, store, entry, staged))
    return StagedRecords(members, chain, segments)


def segment_name(member: str) -> str:
    """`office` for `records/office.jsonl`: the name its snapshot and proofs go under."""
    return member.removeprefix("records/").removesuffix(".jsonl")


def snapshot_member(member: str) -> str:
    return f"records/{segment_name(member)}.sqlite"


def _snapshot(opened: EvidenceStore, out: Path, entry: dict[str, object]) -> None:
    first, last = entry["first_seq"], entry["last_seq"]
    try:
        write_snapshot(
            opened, out, first if isinstance(first, int) else None,
            last if isinstance(last, int) else None,
        )  # fmt: skip
    except (apsw.Error, ValueError) as exc:
        raise BundleError(f"{opened.path}: cannot write the SQLite snapshot ({exc})") from None


def _records_member(base: str, taken: dict[str, Path | bytes]) -> str:
    """`records/<base>.jsonl`, made safe and unique (two stores of one vantage get -2)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", base).strip(".") or "store"
    name, n = f"records/{safe}.jsonl", 1
    while name in taken:
        n += 1
        name = f"records/{safe}-{n}.jsonl"
    return name


def _export_segment(
    store: Path,
    out: Path,
    snapshot: Path,
    hosts: list[str],
    window: tuple[int, int],
    limit: int | None,
    evidence: EvidenceView | None,
) -> tuple[dict[str, object], str | None]:
    """Write the store's contiguous segment to `out` and `snapshot`, in one read snapshot
    of the store; its chain.json entry and its vantage. The payloads go exactly as they
    were hashed (records kept in blocks as decoded, byte for byte)."""
    with contextlib.ExitStack() as stack:
        if evidence is not None:
            opened = evidence.store(store)
        else:
            opened = stack.enter_context(EvidenceStore.open(store, readonly=True))
        with opened.read_snapshot():
            store_id = opened.meta().get("store_id")
            entry, vantage = _export_rows(opened, out, hosts, window, limit)
            _snapshot(opened, snapshot, entry)
    return {"store": store.name, "vantage": vantage, "store_id": store_id, **entry}, vantage


def _export_rows(
    opened: EvidenceStore,
    out: Path,
    hosts: list[str],
    window: tuple[int, int],
    limit: int | None,
) -> tuple[dict[str, object], str | None]:
    start_ns, end_ns = window
    top = _NO_LIMIT if limit is None else limit
    wanted, first, last = set(hosts), None, None
    vantages, origins = set(), set()
    names = ("target", "type", "origin", "vantage")
    for seq, target, rtype, origin, vantage in opened.fields(
        names, since_ns=start_ns, until_ns=end_ns
    ):
        if seq > top or not (target is None or target in wanted or rtype in _NEEDED_TYPES):
            continue
        first, last = seq if first is None else first, seq
        vantages.add(vantage)
        if isinstance(origin, str) and origin.startswith("import:"):
            origins.add(origin[len("import:") :])
    for seq, sha256 in opened.fields(["file_sha256"], types=["import"]):
        if seq <= top and sha256 in origins:
            first = seq if first is None else min(first, seq)
            last = seq if last is None else max(last, seq)
    if first is None or last is None:
        out.write_bytes(b"")
        empty = {"first_seq": None, "last_seq": None, "prev_hash": None, "last_hash": None}
        return {**empty, "records": 0}, None
    prev = GENESIS.hex() if first == 1 else _stored_hash(opened, first - 1)
    count, last_hash = 0, None
    with out.open("wb") as stream:
        for seq, _, _, _, payload, digest in opened.stored_rows(first, last):
            stream.write(_record_line(seq, digest, payload))
            count, last_hash = count + 1, str(digest)
    entry = {
        "first_seq": first,
        "last_seq": last,
        "prev_hash": prev,
        "last_hash": last_hash,
        "records": count,
    }
    named = {v for v in vantages if isinstance(v, str)}
    return entry, named.pop() if len(named) == 1 else None


def _stored_hash(opened: EvidenceStore, seq: int) -> str | None:
    try:
        return opened.raw(seq)[1]
    except StoreError:
        return None


def _record_line(seq: int, digest: object, payload: object) -> bytes:
    """One records line; a payload that is not UTF-8 (a damaged store) goes as base64."""
    raw = payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)  # type: ignore[call-overload]
    line: dict[str, object] = {"seq": seq, "hash": str(digest)}
    try:
        line["payload"] = raw.decode("utf-8")
    except UnicodeDecodeError:
        line["payload_b64"] = base64.b64encode(raw).decode("ascii")
    return json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def _checked(member: str, store: Path, entry: dict[str, object], staged: Path) -> SegmentInfo:
    """Run the verifier's own segment check on what is about to be bundled."""
    with staged.open("rb") as stream:
        count, problem = check_segment((line.rstrip(b"\n") for line in stream), entry)
    first, last = entry["first_seq"], entry["last_seq"]
    return SegmentInfo(
        member,
        os.fspath(store),
        first if isinstance(first, int) else None,
        last if isinstance(last, int) else None,
        count,
        problem is None,
        problem,
    )


def json_bytes(value: object) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()
