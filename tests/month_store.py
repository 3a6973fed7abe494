"""A month of one-minute records written straight into a store, with outages where we say."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from collector.core.results import ErrorClass, Result
from collector.evidence.records import ProbeIdentity, Stamp, note_record, probe_record
from collector.evidence.store import EvidenceStore

MINUTE_NS = 60 * 1_000_000_000


def ns(text: str) -> int:
    """Nanoseconds of an ISO 8601 UTC time."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * 1_000_000_000


def write_month(
    store_path: Path,
    *,
    vantage: str,
    start: str,
    end: str,
    hosts: Iterable[tuple[str, str, str, str]],
    down: dict[str, list[tuple[str, str]]],
    notes: Iterable[tuple[str, str, str, str]] = (),
) -> int:
    """One attempt a minute from `start` to `end` for each (target, probe, kind, role).

    `down` maps a host name to its (from, to) outages, during which its probes fail with a
    timeout. Returns how many records were written.
    """
    hosts = list(hosts)
    windows = {name: [(ns(a), ns(b)) for a, b in spans] for name, spans in down.items()}
    records: list[dict[str, object]] = []
    for ts in range(ns(start), ns(end), MINUTE_NS):
        for target, probe, kind, role in hosts:
            failing = any(a <= ts < b for a, b in windows.get(target, []))
            result = (
                Result.failure(ErrorClass.TIMEOUT, "no answer")
                if failing
                else Result(ok=True, latency_ns=12_000_000 + (ts // MINUTE_NS) % 7 * 100_000)
            )
            identity = ProbeIdentity(vantage, target, probe, kind, role)
            records.append(probe_record(identity, Stamp(ts, ts, "boot"), result, 20_000_000))
    for when, target, ticket, text in notes:
        records.append(note_record(Stamp(ns(when), 0, "boot"), vantage, target, text, ticket))
    records.sort(key=lambda r: int(r["ts_ns"]))  # type: ignore[call-overload]
    with EvidenceStore.open(store_path, create=True) as store:
        for first in range(0, len(records), 5000):
            store.append(records[first : first + 5000])
    return len(records)
