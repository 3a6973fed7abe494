"""Reading one evidence store for a report: its chain check, samples, notes and events.

A report must not rest on a store it did not check, and checking means decoding every
record; reading the samples means decoding most of them again. So both happen in one
pass: `EvidenceStore.check_range` verifies each row and hands the verified record to a
`SampleColumns` (probe records) or to the list of other records the report cites (notes,
collector events, imports). A big store is split into seq ranges checked in parallel, by
this process and by worker processes; each range starts from the stored hash of the row
before it, and the store's first break is the first range's (every earlier range
verified), worded exactly as the whole-store check words it. Workers start by `spawn`
and import no pandas.

A store that does not verify, or a caller that does not verify (the exporter's live
figures), is read through SQLite's indexes and `json_extract` instead.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from collector.evidence.store import EvidenceStore
from collector.proving.record_dates import DateWatch
from reports.sources.sample_columns import FIELDS, SampleColumns
from reports.sources.store_dates import dates_summary, joined
from reports.worker_pool import worker_pool

RANGE_ROWS = 250_000
"""Smaller stores are checked in this process: starting a worker costs about 0.3 s."""
MAX_WORKERS = 8
OTHER_TYPES = frozenset({"note", "collector"})
"""Record types a report reads besides probes, within its window (imports: always)."""


@dataclass(frozen=True)
class SampleFilter:
    """Which records a report reads: probe records in [since_ns, until_ns), of `hosts` only
    when given, with the configured intervals; notes (of `note_host` only when given) and
    collector events in the same window; every import record. Records dated more than
    `allowance_ns` before those chained ahead of them are counted
    (collector.proving.record_dates)."""

    since_ns: int
    until_ns: int
    hosts: tuple[str, ...] | None
    intervals: Mapping[tuple[str, str], int]
    note_host: str | None = None
    allowance_ns: int = 0


@dataclass
class StoreRead:
    """What a report takes from one store.

    `verification` is the chain check as summary.json lists it (ok, count, head_seq,
    head_hash, first_bad_seq, problem; ok None when not verified; and, verified, `dates`:
    records dated earlier than the store could have taken them); `imports` maps each
    imported file's SHA-256 to its name.
    """

    verification: dict[str, Any]
    parts: list[SampleColumns]
    notes: list[dict[str, object]] = field(default_factory=list)
    events: list[dict[str, object]] = field(default_factory=list)
    imports: dict[str, str] = field(default_factory=dict)


@dataclass
class _Checked:
    """One seq range's check: its first break, samples and other records."""

    first_break: tuple[int, str] | None
    part: SampleColumns
    others: list[dict[str, object]]
    span: tuple[int | None, int | None]
    dates: DateWatch


def read_store(
    store: EvidenceStore, wanted: SampleFilter, *, verify: bool = True, workers: int | None = None
) -> StoreRead:
    """The records `wanted` selects from `store`, checked in the same pass when `verify`.

    `workers` defaults to the CPUs this process may use; with one worker, or a store
    under RANGE_ROWS records a worker, everything runs here. StoreError passes through.
    """
    count, head_seq, head_hash = store.shape()
    shape = {"count": count, "head_seq": head_seq, "head_hash": head_hash}
    if not verify:
        unverified = {"ok": None, **shape, "first_bad_seq": None, "problem": "not verified"}
        return _read_indexed(store, wanted, unverified)
    checked = _check_all(store, head_seq or 0, count, wanted, workers)
    first = next((c.first_break for c in checked if c.first_break is not None), None)
    verification: dict[str, Any] = {
        "ok": first is None,
        **shape,
        "first_bad_seq": first and first[0],
        "problem": first and first[1],
    }
    if first is not None:  # the pass stopped at the break; read everything there is
        return _read_indexed(store, wanted, verification)
    verification["dates"] = dates_summary(joined(store, [(*c.span, c.dates) for c in checked]))
    others = [record for c in checked for record in c.others]
    notes = [r for r in others if r["type"] == "note" and _note_of(r, wanted.note_host)]
    return StoreRead(
        verification,
        [c.part for c in checked],
        notes=notes,
        events=[r for r in others if r["type"] == "collector"],
        imports=_import_names(r for r in others if r["type"] == "import"),
    )


def _note_of(record: Mapping[str, object], host: str | None) -> bool:
    return host is None or record.get("target") == host


def _import_names(records: Iterable[Mapping[str, object]]) -> dict[str, str]:
    return {str(r["file_sha256"]): str(r.get("file_name")) for r in records}


def _read_indexed(
    store: EvidenceStore, wanted: SampleFilter, verification: dict[str, Any]
) -> StoreRead:
    """Without a full pass: SQLite extracts the sample fields through the indexes."""
    part = SampleColumns(wanted.intervals)
    since, until = wanted.since_ns, wanted.until_ns
    for host in [None] if wanted.hosts is None else wanted.hosts:
        part.add_rows(
            store.fields(FIELDS, since_ns=since, until_ns=until, target=host, types=["probe"])
        )
    notes = store.records(since_ns=since, until_ns=until, target=wanted.note_host, types=["note"])
    events = store.records(since_ns=since, until_ns=until, types=["collector"])
    return StoreRead(
        verification,
        [part],
        notes=[r.record for r in notes],
        events=[r.record for r in events],
        imports=_import_names(r.record for r in store.records(types=["import"])),
    )


def _check_all(
    store: EvidenceStore, head_seq: int, count: int, wanted: SampleFilter, workers: int | None
) -> list[_Checked]:
    """Every seq range checked, in seq order: here, or in worker processes."""
    workers = workers or len(os.sched_getaffinity(0))
    ranges = _seq_ranges(head_seq, min(workers, MAX_WORKERS, max(1, count // RANGE_ROWS)))
    if len(ranges) == 1:
        return [_check(store, None, None, wanted)]
    with worker_pool(len(ranges) - 1) as pool:
        jobs = [(store.path, lo, hi, wanted) for lo, hi in ranges[1:]]
        later = pool.map(_check_in_worker, jobs)
        first = _check(store, *ranges[0], wanted)  # this process takes a range too
        return [first, *later]


def _seq_ranges(head_seq: int, parts: int) -> list[tuple[int | None, int | None]]:
    """`parts` consecutive seq ranges; the first and the last are open-ended, so rows
    with odd seqs (below 1, above the head read a moment ago) are still checked."""
    if parts <= 1:
        return [(None, None)]
    cuts = [1 + head_seq * i // parts for i in range(1, parts)]
    return list(zip([None, *cuts], [*cuts, None], strict=True))


def _check_in_worker(job: tuple[str, int | None, int | None, SampleFilter]) -> _Checked:
    path, first_seq, end_seq, wanted = job
    with EvidenceStore.open(path, readonly=True) as store:
        return _check(store, first_seq, end_seq, wanted)


def _check(
    store: EvidenceStore, first_seq: int | None, end_seq: int | None, wanted: SampleFilter
) -> _Checked:
    """Check one seq range and keep the records `wanted` selects."""
    part, others = SampleColumns(wanted.intervals), list[dict[str, Any]]()
    dates = DateWatch(wanted.allowance_ns)
    add, keep = part.add_record, others.append
    since, until = wanted.since_ns, wanted.until_ns
    hosts = None if wanted.hosts is None else frozenset(wanted.hosts)

    def collect(seq: int, record: dict[str, Any]) -> None:
        dates(seq, record)
        rtype, ts = record["type"], record["ts_ns"]
        if rtype == "probe":
            if since <= ts < until and (hosts is None or record.get("target") in hosts):
                add(seq, record)
        elif rtype == "import" or (rtype in OTHER_TYPES and since <= ts < until):
            keep(record)

    with _collector_paused():
        first = store.check_range(first_seq, end_seq, collect)
    return _Checked(first, part, others, (first_seq, end_seq), dates)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic GC off while millions of acyclic dicts pass through: with it on, the
    pass runs two to three times slower for nothing to collect."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
