"""One pass over an evidence store that verifies its chain and reads the report's samples.

A report must not rest on a store it did not check, and checking means decoding every
record; reading the samples means decoding most of them again. So both happen in one
pass: `EvidenceStore.check_range` verifies each row and hands the verified record to a
`SampleColumns`. A big store is split into seq ranges checked by worker processes in
parallel; each range starts from the stored hash of the row before it, and the store's
first break is the first range's (every earlier range verified), worded exactly as the
whole-store check words it. Workers start by `spawn` and import no pandas.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

from collector.store import EvidenceStore
from reports.sample_columns import SampleColumns

RANGE_ROWS = 250_000
"""Smaller stores are checked in this process: starting a worker costs about 0.3 s."""
MAX_WORKERS = 8


@dataclass(frozen=True)
class SampleFilter:
    """Which verified records become samples: probe records in [since_ns, until_ns),
    of `hosts` only when given, with the configured intervals."""

    since_ns: int
    until_ns: int
    hosts: tuple[str, ...] | None
    intervals: Mapping[tuple[str, str], int]


@dataclass
class ScanResult:
    """The chain check (as `EvidenceStore.verify` reports it) and the samples, one part
    per seq range in seq order. `first_break` is (seq, problem) or None."""

    count: int
    head_seq: int | None
    head_hash: str | None
    first_break: tuple[int, str] | None
    parts: list[SampleColumns]


def scan_store(
    store: EvidenceStore, wanted: SampleFilter, *, workers: int | None = None
) -> ScanResult:
    """Verify `store` and collect the samples `wanted` selects, in one pass.

    `workers` defaults to the CPUs this process may use; with one worker, or a store
    under RANGE_ROWS records a worker, everything runs here.
    """
    count, head_seq, head_hash = store.shape()
    workers = workers or len(os.sched_getaffinity(0))
    ranges = _seq_ranges(head_seq or 0, min(workers, MAX_WORKERS, max(1, count // RANGE_ROWS)))
    if len(ranges) == 1:
        first, part = _check(store, None, None, wanted)
        return ScanResult(count, head_seq, head_hash, first, [part])
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=len(ranges), mp_context=context) as pool:
        results = list(
            pool.map(_check_in_worker, [(store.path, lo, hi, wanted) for lo, hi in ranges])
        )
    first = next((problem for problem, _ in results if problem is not None), None)
    return ScanResult(count, head_seq, head_hash, first, [part for _, part in results])


def _seq_ranges(head_seq: int, parts: int) -> list[tuple[int | None, int | None]]:
    """`parts` consecutive seq ranges; the first and the last are open-ended, so rows
    with odd seqs (below 1, above the head read a moment ago) are still checked."""
    if parts <= 1:
        return [(None, None)]
    cuts = [1 + head_seq * i // parts for i in range(1, parts)]
    return list(zip([None, *cuts], [*cuts, None], strict=True))


def _check_in_worker(
    job: tuple[str, int | None, int | None, SampleFilter],
) -> tuple[tuple[int, str] | None, SampleColumns]:
    path, first_seq, end_seq, wanted = job
    with EvidenceStore.open(path, readonly=True) as store:
        return _check(store, first_seq, end_seq, wanted)


def _check(
    store: EvidenceStore, first_seq: int | None, end_seq: int | None, wanted: SampleFilter
) -> tuple[tuple[int, str] | None, SampleColumns]:
    """Check one seq range and collect its samples."""
    part = SampleColumns(wanted.intervals)
    add, since, until = part.add_record, wanted.since_ns, wanted.until_ns
    hosts = None if wanted.hosts is None else frozenset(wanted.hosts)

    def collect(seq: int, record: dict[str, object]) -> None:
        ts = record["ts_ns"]
        if (
            record["type"] == "probe"
            and since <= ts < until  # type: ignore[operator]
            and (hosts is None or record.get("target") in hosts)
        ):
            add(seq, record)

    with _collector_paused():
        first = store.check_range(first_seq, end_seq, collect)
    return first, part


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
