"""Where a snapshot comes from: the daemon's memory, the store, or the last cron round.

Three sources, one shape (`Snapshot`), so `/metrics`, `slawitness serve` and the textfile
can never disagree about what a series means. None of them scans history per scrape: the
daemon keeps the latest records in memory, the store follower reads only records appended
since its last look, and the textfile adds one round to the counts of the previous file.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from collector.config.model import Config
from collector.core.bounded_read import DOCUMENT_LIMIT, read_text_bounded
from collector.evidence.store import EvidenceStore
from collector.prometheus.metrics import (
    PROBE_LABELS,
    CheckpointState,
    CountKey,
    SlaGauge,
    Snapshot,
    StoreState,
    checkpoint_state,
    count_key,
)

SlaSource = Callable[[], Sequence[SlaGauge]]
"""The current-period SLA figures (from `reports.live`, in the daemon and `serve` only)."""


def _no_sla() -> Sequence[SlaGauge]:
    return ()


_SCAN_PER_TARGET = 2000
"""Newest records of a target read at start-up to find each probe's latest attempt."""


class LiveState:
    """The daemon's view, updated as attempts finish and batches land; safe across threads.

    It is the daemon's `collector.running.observer.RunObserver`: the daemon tells it what it
    saw without knowing that Prometheus listens."""

    def __init__(self, config: Config, store: StoreState, sla: SlaSource = _no_sla) -> None:
        self._lock = threading.Lock()
        self._sla = sla
        self._vantage = config.vantage
        self._intervals = config.intervals()
        self._latest: dict[tuple[str, str], Mapping[str, object]] = {}
        self._counts: Counter[CountKey] = Counter()
        self._store = store

    def observe(self, record: Mapping[str, object]) -> None:
        """A probe record the collector just produced."""
        with self._lock:
            self._latest[(str(record["target"]), str(record["probe"]))] = record
            self._counts[count_key(record)] += 1

    def appended(self, head_seq: int, head_ts_ns: int) -> None:
        """A batch is durable; the head moved."""
        with self._lock:
            self._store = dataclasses.replace(
                self._store, head_seq=head_seq, head_ts_ns=head_ts_ns, append_ok=True
            )

    def append_failed(self) -> None:
        """A batch could not be stored (it is kept and retried)."""
        with self._lock:
            self._store = dataclasses.replace(self._store, append_ok=False)

    def checkpointed(self, size: int, ts_ns: int, root_hex: str, origin: str) -> None:
        """A checkpoint was signed and stored."""
        checkpoint = CheckpointState(size, ts_ns, root_hex, origin)
        with self._lock:
            self._store = dataclasses.replace(self._store, checkpoint=checkpoint)

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(
                vantage=self._vantage,
                samples=list(self._latest.values()),
                intervals=self._intervals,
                counts=dict(self._counts),
                store=self._store,
                collector_up=True,
                sla=self._sla(),
            )


def store_state(store: EvidenceStore, append_ok: bool | None = None) -> StoreState:
    """The store's head: its seq (= record count) and time, and its latest checkpoint."""
    head = store.head()
    if head is None:
        return StoreState(None, None, append_ok)
    [row] = list(store.records(after_seq=head.seq - 1, limit=1))
    ts = row.record.get("ts_ns")
    latest = store.latest("checkpoint")
    checkpoint = None if latest is None else checkpoint_state(latest.record)
    return StoreState(head.seq, ts if isinstance(ts, int) else None, append_ok, checkpoint)


class StoreFollower:
    """`slawitness serve`: the series of a store that cron rounds write, read incrementally."""

    def __init__(self, config: Config, store: EvidenceStore, sla: SlaSource = _no_sla) -> None:
        self._lock = threading.Lock()
        self._sla = sla
        self._config = config
        self._store = store
        self._intervals = config.intervals()
        self._max_interval = max(self._intervals.values(), default=60.0)
        self._latest: dict[tuple[str, str], Mapping[str, object]] = {}
        self._counts: Counter[CountKey] = Counter()
        state = store_state(store)
        self._head_seq, self._head_ts = state.head_seq or 0, state.head_ts_ns
        self._checkpoint = state.checkpoint
        for host in config.hosts():
            self._load_latest(host.name, {spec.name for spec in host.probes})

    def _load_latest(self, target: str, probes: set[str]) -> None:
        """Each probe's newest record, from the target's newest records (index order)."""
        missing = set(probes)
        rows = self._store.records(
            target=target, types=["probe"], newest_first=True, limit=_SCAN_PER_TARGET
        )
        for row in rows:
            name = str(row.record.get("probe"))
            if name in missing and row.seq <= self._head_seq:
                self._latest[(target, name)] = row.record
                missing.discard(name)
                if not missing:
                    break

    def _follow(self) -> None:
        """Take in the records appended since the last look."""
        for row in self._store.records(after_seq=self._head_seq):
            record = row.record
            self._head_seq = row.seq
            ts = record.get("ts_ns")
            self._head_ts = ts if isinstance(ts, int) else self._head_ts
            key = (str(record.get("target")), str(record.get("probe")))
            self._checkpoint = checkpoint_state(record) or self._checkpoint
            if record.get("type") == "probe" and key in self._intervals:
                self._latest[key] = record
                self._counts[count_key(record)] += 1

    def snapshot(self) -> Snapshot:
        with self._lock:
            self._follow()
            fresh = (
                self._head_ts is not None
                and time.time_ns() - self._head_ts < 3 * self._max_interval * 1e9
            )
            return Snapshot(
                vantage=self._config.vantage,
                samples=list(self._latest.values()),
                intervals=self._intervals,
                counts=dict(self._counts),
                store=StoreState(self._head_seq or None, self._head_ts, None, self._checkpoint),
                collector_up=fresh,
                sla=self._sla(),
            )


def previous_counts(path: Path) -> Counter[CountKey]:
    """The probe counters of the textfile a previous round wrote (none if absent or unreadable).

    A textfile is rewritten every round; carrying its counts forward keeps
    `slawitness_probes_total` a counter across cron runs.
    """
    counts: Counter[CountKey] = Counter()
    try:
        text = read_text_bounded(path, DOCUMENT_LIMIT)
        families = list(text_string_to_metric_families(text))
    except (OSError, UnicodeDecodeError, ValueError):
        return counts
    for family in families:
        for sample in family.samples:
            if sample.name == "slawitness_probes_total":
                labels = sample.labels
                key = tuple(labels.get(n, "") for n in (*PROBE_LABELS, "result", "error"))
                counts[key] = int(sample.value)  # type: ignore[index]
    return counts


def round_snapshot(
    config: Config,
    records: Iterable[Mapping[str, object]],
    previous: Counter[CountKey],
    store: StoreState,
) -> Snapshot:
    """A cron round's series: its records, the running counts, the store after the append."""
    samples = [r for r in records if r.get("type") == "probe"]
    counts = Counter(previous)
    for record in samples:
        counts[count_key(record)] += 1
    return Snapshot(
        vantage=config.vantage,
        samples=samples,
        intervals=config.intervals(),
        counts=dict(counts),
        store=store,
        collector_up=True,
    )
