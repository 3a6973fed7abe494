"""Signed checkpoints of the store: the Merkle root of every record so far, signed.

A checkpoint commits to the store's whole history up to its size. Copies that leave the
machine (a Prometheus server scraping the metrics, a bundle sent to the provider, an RFC 3161
timestamp) make a later rewrite, truncation or fork of that history provable. Each checkpoint
is also appended to the chain as a `checkpoint` record holding the signed note and the tree's
frontier, so the next one hashes only the records written since (appending never rehashes
the store) and the store keeps its own signed history.

The signing key is a C2SP note key in a 0600 file that `slawitness init` creates; its public
half (`.pub`, a verifier key line) is what a third party checks against.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from collector.core.key_files import create_key_file, read_key_file
from collector.core.key_files import public_key_path as public_key_path  # the verbs' name for it
from collector.evidence.records import Stamp
from collector.evidence.store import EvidenceStore
from collector.evidence.store_errors import StoreCorrupt
from collector.portable.errors import UsageError
from collector.portable.merkle import Frontier, leaf_hash
from collector.portable.signed_note import Checkpoint, NoteError, SigningKey, VerifierKey

CHECKPOINT = "checkpoint"
"""The record type of a stored checkpoint."""
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
"""The signed `time` extension line of every checkpoint: `time 2026-10-03T04:05:06Z`, UTC,
to the second (what `write` signs and `signed_time_ns` reads)."""


class SigningKeyError(UsageError):
    """The signing key file is missing, unreadable or malformed (one line naming it)."""


def origin(store: EvidenceStore) -> str:
    """The log's name in every checkpoint: unique per store, so two are never confused."""
    return f"slawitness/{store.meta()['store_id']}"


def create_key(key_path: Path, name: str) -> SigningKey:
    """A fresh Ed25519 key at `key_path` (0600, never overwritten) and its `.pub` beside it."""
    key = SigningKey(name, os.urandom(32))
    create_key_file(key_path, key.encode(), key.verifier().encode(), "signing key", SigningKeyError)
    return key


def load_key(key_path: Path) -> SigningKey:
    """The signing key at `key_path`, refusing one that others can read."""
    hint = "slawitness init --key-only"
    text = read_key_file(key_path, "signing key", hint, SigningKeyError)
    try:
        return SigningKey.parse(text)
    except NoteError as exc:
        raise SigningKeyError(f"{key_path}: {exc}") from None


@dataclass(frozen=True)
class StoredCheckpoint:
    """A checkpoint as the store holds it: where it was appended and what it signed."""

    seq: int
    ts_ns: int
    checkpoint: Checkpoint
    note: str
    frontier: Frontier
    key: VerifierKey


def from_record(seq: int, record: dict[str, object]) -> StoredCheckpoint:
    """A checkpoint record read back; ValueError naming its seq when it is malformed (the
    signature is not checked here: see collector.proving.checkpoint_signatures)."""
    note, frontier, key, ts_ns = (
        record.get("note"),
        record.get("frontier"),
        record.get("key"),
        record.get("ts_ns"),
    )
    try:
        if not (isinstance(note, str) and isinstance(key, str) and isinstance(frontier, list)):
            raise NoteError("fields missing")
        text = note.partition("\n\n")[0] + "\n"
        checkpoint = Checkpoint.parse(text)
        hashes = [bytes.fromhex(str(h)) for h in frontier]
        tree = Frontier(checkpoint.size, hashes)
        verifier = VerifierKey.parse(key)
    except (NoteError, ValueError) as exc:
        raise ValueError(f"checkpoint record seq {seq} is malformed ({exc})") from None
    if tree.root() != checkpoint.root or not isinstance(ts_ns, int):
        raise ValueError(f"checkpoint record seq {seq}: its frontier and root disagree")
    return StoredCheckpoint(seq, ts_ns, checkpoint, note, tree, verifier)


def latest(store: EvidenceStore) -> StoredCheckpoint | None:
    """The newest checkpoint the store holds, or None before the first."""
    found = store.latest(CHECKPOINT)
    if found is None:
        return None
    try:
        return from_record(found.seq, found.record)
    except ValueError as exc:
        raise StoreCorrupt(store.path, str(exc)) from None


def stored(store: EvidenceStore) -> list[StoredCheckpoint]:
    """Every checkpoint the store holds, oldest first."""
    found = []
    for item in store.records(types=[CHECKPOINT]):
        try:
            found.append(from_record(item.seq, item.record))
        except ValueError as exc:
            raise StoreCorrupt(store.path, str(exc)) from None
    return found


def record_hashes(store: EvidenceStore, after: int, upto: int) -> Iterator[bytes]:
    """The chain hashes of seq after+1..upto, in order (the log's entries, what `publish`
    serves); StoreCorrupt on a gap or a bad hash."""
    expected = after + 1
    for seq, digest in store.hashes(after, upto):
        if seq != expected:
            break
        try:
            yield bytes.fromhex(digest)
        except ValueError:
            raise StoreCorrupt(store.path, f"seq {seq} has a malformed hash") from None
        expected += 1
    if expected != upto + 1:
        raise StoreCorrupt(store.path, f"seq {expected} missing; run slawitness verify")


def leaf_hashes(store: EvidenceStore, after: int, upto: int) -> Iterator[bytes]:
    """The Merkle leaves of seq after+1..upto, in order; StoreCorrupt on a gap or a bad hash."""
    return (leaf_hash(digest) for digest in record_hashes(store, after, upto))


def extend(frontier: Frontier, store: EvidenceStore, size: int) -> Frontier:
    """`frontier` grown with the records after it up to `size`, or StoreCorrupt on a gap."""
    grown = Frontier(frontier.size, frontier.hashes)
    for leaf in leaf_hashes(store, frontier.size, size):
        grown.append(leaf)
    return grown


def is_due(store: EvidenceStore, every_s: float, now_ns: int) -> bool:
    """Whether a cron round should write a checkpoint (none yet, or the last is old)."""
    last = store.latest(CHECKPOINT)
    if last is None:
        return store.head() is not None
    ts_ns = last.record.get("ts_ns")
    return not isinstance(ts_ns, int) or now_ns - ts_ns >= every_s * 1e9


def write(
    store: EvidenceStore, key: SigningKey, vantage: str, stamp: Stamp | None = None
) -> StoredCheckpoint:
    """Sign the tree of every record stored now and append it as a `checkpoint` record,
    dated `stamp` (now; a test's store of fixed dates gives its own)."""
    previous = latest(store)
    frontier = Frontier() if previous is None else previous.frontier
    head = store.head()
    size = 0 if head is None else head.seq
    grown = extend(frontier, store, size)
    stamp = stamp or Stamp.now()
    when = datetime.fromtimestamp(stamp.ts_ns // 10**9, UTC).strftime(TIME_FORMAT)
    checkpoint = Checkpoint(origin(store), size, grown.root(), (f"time {when}",))
    note = key.sign(checkpoint.text())
    record = {
        "type": CHECKPOINT,
        **stamp.fields(),
        "vantage": vantage,
        "target": None,
        "size": size,
        "root": checkpoint.root.hex(),
        "frontier": [h.hex() for h in grown.hashes],
        "note": note,
        "key": key.verifier().encode(),
    }
    appended = store.append([record])[0]
    return StoredCheckpoint(appended.seq, stamp.ts_ns, checkpoint, note, grown, key.verifier())


def signed_time_ns(checkpoint: Checkpoint) -> int | None:
    """When `checkpoint` says it was signed (its `time` line), in ns; None when it has no
    such line or one not in TIME_FORMAT."""
    value = checkpoint.extension("time")
    try:
        when = datetime.strptime(value or "", TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None
    return int(when.timestamp()) * 10**9
