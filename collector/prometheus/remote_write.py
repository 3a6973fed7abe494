"""Copies the store's probe attempts to Prometheus-compatible stores (remote write 1.0).

A fleet of collectors, each its own vantage, writes into one engine (VictoriaMetrics,
Prometheus with its receiver on, Mimir, Thanos Receive), where dashboards see every vantage
and `report --prometheus` merges them as it merges stores. One probe record becomes one
sample per series (`probe_success`, `probe_duration_seconds` and blackbox_exporter's
per-kind series, the names `/metrics` serves), stamped with the attempt's own time, so the
copy says what the store says, attempt by attempt.

The store is tailed by seq; a receiver's position moves only after it answers 2xx, so a
receiver that is down, slow or restarting loses nothing: the next call sends from the same
seq. A 4xx other than 429 means the receiver refuses these samples (bad auth, a sample too
old for it); it is reported and retried, never skipped, since skipping would lose evidence
from the copy without anyone seeing. protobuf and cramjam are imported on first use, so
a collector without `remote_write` loads neither.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import httpx

from collector.config.model import RemoteWrite
from collector.evidence.store import EvidenceStore
from collector.portable.errors import SlawitnessError
from collector.probes.series import seconds_from_ns
from collector.prometheus.blackbox_series import probe_series
from collector.prometheus.metrics import PROBE_LABELS
from collector.prometheus.remote_write_position import read_positions, write_position

HEADERS = {
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}
RETRY_FIRST_S = 1.0
RETRY_MAX_S = 60.0

Labels = tuple[tuple[str, str], ...]


class RemoteWriteError(SlawitnessError):
    """A receiver did not take a batch; the position stays, the batch goes again later."""


@dataclass(frozen=True)
class Shipped:
    """What one `ship` call did for one receiver."""

    url: str
    samples: int
    position: int
    error: str | None = None


def record_samples(record: Mapping[str, object]) -> Iterator[tuple[Labels, float]]:
    """The (labels, value) of each series one probe record shows, as `/metrics` shows it."""
    base = tuple((name, str(record.get(name) or "")) for name in PROBE_LABELS)
    yield (("__name__", "probe_success"), *base), 1.0 if record.get("ok") else 0.0
    duration = seconds_from_ns(record.get("duration_ns"))
    if duration is not None:
        yield (("__name__", "probe_duration_seconds"), *base), duration
    for series in probe_series(record):
        yield (("__name__", series.name), *base, *series.extra), series.value


def _auth_headers(endpoint: RemoteWrite) -> dict[str, str]:
    if endpoint.bearer_token is not None:
        return {"Authorization": f"Bearer {endpoint.bearer_token.reveal()}"}
    return {}


def _post(client: httpx.Client, endpoint: RemoteWrite, body: bytes) -> None:
    """One WriteRequest, or RemoteWriteError saying why the receiver did not take it."""
    import cramjam

    auth = None
    if endpoint.basic_auth is not None:
        auth = httpx.BasicAuth(endpoint.basic_auth.username, endpoint.basic_auth.password.reveal())
    compressed = bytes(cramjam.snappy.compress_raw(body))
    try:
        response = client.post(
            endpoint.url,
            content=compressed,
            headers={**HEADERS, **_auth_headers(endpoint)},
            auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT,
            timeout=endpoint.timeout,
        )
    except httpx.HTTPError as exc:
        raise RemoteWriteError(f"remote_write {endpoint.url}: {exc or type(exc).__name__}") from exc
    if not 200 <= response.status_code < 300:
        detail = response.text.strip().splitlines()[0][:200] if response.text.strip() else ""
        raise RemoteWriteError(
            f"remote_write {endpoint.url}: HTTP {response.status_code} {detail}".rstrip()
        )


def _batches(
    store: EvidenceStore, after_seq: int, batch: int
) -> Iterator[tuple[int, dict[Labels, list[tuple[int, float]]]]]:
    """(last seq covered, series) of at most `batch` samples each, from `after_seq` on.

    A batch always ends on a record's last sample, so a position never splits a record.
    """
    series: dict[Labels, list[tuple[int, float]]] = {}
    count, last = 0, after_seq
    for stored in store.records(after_seq=after_seq, types=("probe",)):
        ts_ns = stored.record.get("ts_ns")
        if not isinstance(ts_ns, int):
            last = stored.seq
            continue
        for labels, value in record_samples(stored.record):
            series.setdefault(labels, []).append((ts_ns // 1_000_000, value))
            count += 1
        last = stored.seq
        if count >= batch:
            yield last, series
            series, count = {}, 0
    if series or last > after_seq:
        yield last, series


def ship(
    store: EvidenceStore,
    endpoint: RemoteWrite,
    *,
    deadline: float | None = None,
    client: httpx.Client | None = None,
) -> Shipped:
    """Send every probe record past the receiver's position, batch by batch, until done,
    a batch fails, or `deadline` (time.monotonic) passes; the position follows each 2xx."""
    from collector.prometheus.remote_write_proto import write_request

    position = read_positions(store.path).get(endpoint.url, 0)
    sent = 0
    own = client if client is not None else httpx.Client()
    try:
        for last, series in _batches(store, position, endpoint.batch):
            if deadline is not None and time.monotonic() >= deadline:
                break
            if series:
                _post(own, endpoint, write_request(series))
                sent += sum(len(samples) for samples in series.values())
            write_position(store.path, endpoint.url, last)
            position = last
    except RemoteWriteError as exc:
        return Shipped(endpoint.url, sent, position, str(exc))
    finally:
        if client is None:
            own.close()
    return Shipped(endpoint.url, sent, position)


def next_retry(previous_s: float | None) -> float:
    """The wait before the next attempt after a failure: doubling from 1 s up to 60 s."""
    return RETRY_FIRST_S if previous_s is None else min(previous_s * 2, RETRY_MAX_S)
