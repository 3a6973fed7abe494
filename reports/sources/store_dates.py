"""The date check of a store read for a report, joined from the seq ranges checked apart.

The report's store scan checks a big store in seq ranges, each in its own process, each
with its own `collector.proving.record_dates.DateWatch` that knows nothing of the ranges before it.
Joined in seq order, a range's records are held against the dates of every range before it
too: when the earliest record a range let pass is dated too early for them, that range is
checked again here, starting from their mark. That happens only in a store that holds such
records, so an honest store is read once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from collector.evidence.store import EvidenceStore
from collector.proving.record_dates import KEPT_RUNS, DateWatch


def joined(
    store: EvidenceStore, parts: Sequence[tuple[int | None, int | None, DateWatch]]
) -> DateWatch:
    """One watch over every range (first_seq, end_seq, its watch), in seq order."""
    total = parts[0][2]
    for first_seq, end_seq, watch in parts[1:]:
        if _missed(total, watch):
            watch = _again(store, total, first_seq, end_seq)
        total.runs = (total.runs + watch.runs)[:KEPT_RUNS]
        total.backdated += watch.backdated
        total.set_back += watch.set_back
        total.imported += watch.imported
        if watch.mark is not None and (total.mark is None or watch.mark.ts_ns > total.mark.ts_ns):
            total.mark = watch.mark
        total.signed = watch.signed or total.signed
    return total


def _missed(before: DateWatch, watch: DateWatch) -> bool:
    """Whether the ranges before flag a record this range let pass."""
    if watch.lowest_clear is None:
        return False
    ts = watch.lowest_clear + before.allowance_ns
    return any(m is not None and ts < m.ts_ns for m in (before.mark, before.signed))


def _again(
    store: EvidenceStore, before: DateWatch, first_seq: int | None, end_seq: int | None
) -> DateWatch:
    """The range checked again from the mark of the ranges before it."""
    watch = DateWatch(before.allowance_ns, mark=before.mark, signed=before.signed)
    after = None if first_seq is None else first_seq - 1
    for item in store.records(after_seq=after):
        if end_seq is not None and item.seq >= end_seq:
            break
        watch(item.seq, item.record)
    return watch


def dates_summary(watch: DateWatch) -> dict[str, Any]:
    """What summary.json says of the store's dates: records dated earlier than the store
    could have taken them (each run named by seq), records a clock set back dated early,
    and how many imported records keep the dates of their files."""
    return {
        "backdated": watch.backdated,
        "backdated_runs": watch.lines(),
        "clock_set_back": watch.set_back,
        "imported_records": watch.imported,
    }
