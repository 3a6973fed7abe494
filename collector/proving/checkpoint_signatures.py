"""Does every checkpoint the store holds carry a good signature, and are there enough of them?

The store's own checkpoint records are what `verify` holds its records against, so they are
worth only what their signatures are worth: someone without the key can edit records,
re-chain, recompute each checkpoint record's root and frontier and keep the old signature
line, and the tree would match again. So each record's signed note is checked against the
store's public key (the `.pub` beside the config's key, or `--key`), and the note must say
what the record claims (size, root, this store's origin). Without a key from outside, the
key the records name is used, and they must all name the same one.

A store whose config signs checkpoints (its key exists) but that holds none, or whose last
one is more than STALE_INTERVALS checkpoint intervals older than its newest record, has had
its checkpoints removed, or its history since the last one is signed by nothing: named.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from collector.core.durations import format_duration
from collector.evidence.store import EvidenceStore
from collector.portable.signed_note import NoteError, VerifierKey, verify_note
from collector.proving import checkpoints
from collector.proving.record_dates import Mark, spell_lag

STALE_INTERVALS = 3
"""A store may run this many checkpoint intervals past its last checkpoint, no more."""


@dataclass
class CheckpointAudit:
    """The store's checkpoint records, each held against the key.

    `verified` are the well-formed ones whose signature verified (what the store's records
    may be held against); `problems` name the others by seq, one line each.
    """

    verified: list[checkpoints.StoredCheckpoint] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    newest: checkpoints.StoredCheckpoint | None = None
    """The last well-formed checkpoint by seq, signature good or not."""

    @property
    def seen(self) -> int:
        """Every checkpoint record, good or not: each is verified or named once."""
        return len(self.verified) + len(self.problems)


def audit(
    store: EvidenceStore,
    key: VerifierKey | None,
    records: Iterable[tuple[int, dict[str, object]]] | None = None,
) -> CheckpointAudit:
    """Check each stored checkpoint's note against `key` (None: the key the records name).

    `records` are the store's checkpoint records as (seq, record), oldest first, when the
    caller has them already (verify's chain pass keeps them); else they are read here."""
    if records is None:
        records = ((i.seq, i.record) for i in store.records(types=[checkpoints.CHECKPOINT]))
    found = CheckpointAudit()
    mine = checkpoints.origin(store)
    named: tuple[int, VerifierKey] | None = None
    for seq, record in records:
        try:
            stored = checkpoints.from_record(seq, record)
        except ValueError as exc:
            found.problems.append(f"{exc}: FORGED or damaged")
            continue
        found.newest = stored
        if key is None and named is not None and stored.key != named[1]:
            found.problems.append(
                f"checkpoint seq {seq} names key {stored.key.encode()}, seq {named[0]}"
                f" named {named[1].encode()}: the store's checkpoints are not all by one key"
            )
            continue
        if named is None:
            named = (seq, stored.key)
        problem = _problem(stored, record, mine, key or stored.key)
        if problem is None:
            found.verified.append(stored)
        else:
            found.problems.append(f"checkpoint seq {seq}: {problem}")
    return found


def _problem(
    stored: checkpoints.StoredCheckpoint, record: dict[str, object], mine: str, key: VerifierKey
) -> str | None:
    """What is wrong with one well-formed checkpoint record, or None. The signed text is
    the checkpoint the record reads: both are the note up to its one blank line."""
    tree = stored.checkpoint
    try:
        verify_note(stored.note, key)
    except NoteError as exc:
        other = "" if stored.key == key else f" (the record names key {stored.key.encode()})"
        return f"{exc}{other}: FORGED, or changed after it was signed"
    if record.get("size") != tree.size or record.get("root") != tree.root.hex():
        return (
            f"the record claims {record.get('size')} records with root {record.get('root')};"
            f" its signed note says {tree.size} with root {tree.root.hex()}: FORGED"
        )
    if tree.origin != mine:
        return f"signed for another store ({tree.origin}; this one is {mine})"
    return None


def coverage_problem(
    found: CheckpointAudit,
    count: int,
    head_seq: int | None,
    newest_ns: int | None,
    signed: Mark | None,
    every_s: float,
) -> str | None:
    """A store signed less than its config asks (`every_s`), in one line; None when it is.

    `signed` is the time the latest checkpoint signed, as the date check saw it; the newest
    checkpoint is held to it when it is that one, else to the date of its record."""
    every = format_duration(every_s)
    if found.seen == 0:
        if not count:
            return None
        return (
            f"no checkpoint in {count} records, but the config signs one every {every}:"
            " the store was never signed, or its checkpoints are gone"
        )
    last = found.newest
    if last is None or newest_ns is None or head_seq is None:
        return None
    signed_ns = signed.ts_ns if signed is not None and signed.seq == last.seq else last.ts_ns
    lag = newest_ns - signed_ns
    if lag <= STALE_INTERVALS * every_s * 1e9:
        return None
    return (
        f"the last checkpoint (seq {last.seq}) is {spell_lag(lag)} older than the newest record"
        f" (the config signs one every {every}): seq {last.seq + 1}-{head_seq} are signed by"
        " no checkpoint"
    )
