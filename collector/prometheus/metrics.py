"""Results as Prometheus metric families: the one translation every exposition mode shares.

The daemon's `/metrics`, `slawitness serve` over the store, the cron textfile and the
blackbox-style `/probe` all hand a `Snapshot` to `metric_families`; only where the snapshot
comes from differs. Names and meanings follow blackbox_exporter where a peer exists (the
per-kind ones are read from a record by the kind's own module, through
`collector.prometheus.blackbox_series`), so its dashboards and alerts keep working; the rest
are `slawitness_*`. Every per-probe series is labelled by vantage, target, probe, kind and
role.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from collector import __version__
from collector.probes.series import seconds_from_ns
from collector.prometheus.blackbox_series import SERIES_NAMES, probe_series

PROBE_LABELS = ("vantage", "target", "probe", "kind", "role")
ERROR_NONE = "none"

METRIC_NAMES = SERIES_NAMES | frozenset(
    {
        "probe_success",
        "probe_duration_seconds",
        "slawitness_probes_total",
        "slawitness_last_probe_timestamp_seconds",
        "slawitness_probe_interval_seconds",
        "slawitness_store_records",
        "slawitness_store_head_seq",
        "slawitness_store_head_timestamp_seconds",
        "slawitness_store_append_ok",
        "slawitness_checkpoint_size",
        "slawitness_checkpoint_timestamp_seconds",
        "slawitness_checkpoint_info",
        "slawitness_collector_up",
        "slawitness_build_info",
        "slawitness_sla_uptime_ratio",
        "slawitness_sla_objective_ratio",
        "slawitness_sla_downtime_seconds",
        "slawitness_sla_error_budget_remaining_seconds",
        "slawitness_sla_credit_owed",
        "slawitness_sla_remedies",
        "slawitness_sla_claim_deadline_timestamp_seconds",
    }
)
"""Every series name the exporter can serve; the deploy files are checked against it."""

ProbeKey = tuple[str, str, str, str, str]
"""(vantage, target, probe, kind, role): one probe's label values."""

CountKey = tuple[str, str, str, str, str, str, str]
"""A probe's label values plus result and error: one `slawitness_probes_total` series."""


@dataclass(frozen=True)
class CheckpointState:
    """The latest signed checkpoint: scraped, it becomes a copy of the history's shape
    (size, time and root) on a Prometheus server the collector's owner may not control."""

    size: int
    ts_ns: int
    root_hex: str
    origin: str


def checkpoint_state(record: Mapping[str, object]) -> CheckpointState | None:
    """The exporter's view of a stored `checkpoint` record (None for any other record)."""
    size, ts_ns, root = record.get("size"), record.get("ts_ns"), record.get("root")
    note = record.get("note")
    if record.get("type") != "checkpoint" or not isinstance(note, str):
        return None
    if not (isinstance(size, int) and isinstance(ts_ns, int) and isinstance(root, str)):
        return None
    return CheckpointState(size, ts_ns, root, note.partition("\n")[0])


@dataclass(frozen=True)
class StoreState:
    """The evidence store as the exporter sees it. Seqs have no gaps, so head seq = count."""

    head_seq: int | None
    head_ts_ns: int | None
    append_ok: bool | None = None
    """Whether the last append succeeded; unknown (None) to a reader of someone else's store."""
    checkpoint: CheckpointState | None = None
    """The latest checkpoint, None before the first."""


@dataclass(frozen=True)
class SlaGauge:
    """One target's current-period figures, computed by the SLA engine of `reports/`."""

    target: str
    uptime_ratio: float
    objective_ratio: float
    downtime_seconds: float
    budget_remaining_seconds: float
    credit_owed: float | None = None
    """The credit owed so far, after every cap, in `currency`; None without a monthly fee
    (no amount can be known, so no series is shown rather than a 0 that says none is owed)."""
    currency: str = ""
    remedies: int = 0
    """How many remedies (an uptime tier, a credit per incident, compensation, hourly
    credit) the period has earned so far."""
    claim_deadline_seconds: float | None = None
    """When the period's open claim must be filed by; None with nothing to claim yet, no
    claim window in the SLA, or the deadline passed."""


@dataclass(frozen=True)
class Snapshot:
    """Everything one exposition shows: the latest record of each probe and some totals."""

    vantage: str
    samples: list[Mapping[str, object]]
    intervals: Mapping[tuple[str, str], float] = field(default_factory=dict)
    counts: Mapping[CountKey, int] = field(default_factory=dict)
    store: StoreState | None = None
    collector_up: bool | None = None
    sla: Sequence[SlaGauge] = ()


def probe_key(record: Mapping[str, object]) -> ProbeKey:
    """A probe record's label values."""
    return tuple(str(record.get(name) or "") for name in PROBE_LABELS)  # type: ignore[return-value]


def count_key(record: Mapping[str, object]) -> CountKey:
    """The `slawitness_probes_total` series a probe record counts towards."""
    result = "success" if record.get("ok") else "failure"
    return (*probe_key(record), result, str(record.get("error") or ERROR_NONE))


class _Families:
    """Metric families created on first use, so a snapshot without http shows no http series."""

    def __init__(self) -> None:
        self._families: dict[str, Metric] = {}
        self._gauges: dict[str, GaugeMetricFamily] = {}

    def gauge(self, name: str, doc: str, labels: Iterable[str] = PROBE_LABELS) -> GaugeMetricFamily:
        if name not in self._gauges:
            self._gauges[name] = GaugeMetricFamily(name, doc, labels=list(labels))
            self._families[name] = self._gauges[name]
        return self._gauges[name]

    def counter(self, name: str, doc: str, labels: Iterable[str]) -> CounterMetricFamily:
        family = CounterMetricFamily(name, doc, labels=list(labels))
        self._families[name] = family
        return family

    def __iter__(self) -> Iterator[Metric]:
        return iter(self._families.values())


def _add_sample(families: _Families, record: Mapping[str, object], interval: float | None) -> None:
    """The series of one probe's latest record."""
    labels = list(probe_key(record))
    families.gauge("probe_success", "Whether the probe succeeded.").add_metric(
        labels, 1.0 if record.get("ok") else 0.0
    )
    duration = seconds_from_ns(record.get("duration_ns"))
    if duration is not None:
        families.gauge(
            "probe_duration_seconds", "How long the whole attempt took in seconds."
        ).add_metric(labels, duration)
    stamp = seconds_from_ns(record.get("ts_ns"))
    if stamp is not None:
        families.gauge(
            "slawitness_last_probe_timestamp_seconds", "When the latest attempt started."
        ).add_metric(labels, stamp)
    if interval is not None:
        families.gauge(
            "slawitness_probe_interval_seconds", "The probe's configured interval."
        ).add_metric(labels, interval)
    for series in probe_series(record):
        names = [name for name, _ in series.extra]
        values = [value for _, value in series.extra]
        families.gauge(series.name, series.doc, [*PROBE_LABELS, *names]).add_metric(
            [*labels, *values], series.value
        )


def metric_families(snapshot: Snapshot) -> Iterator[Metric]:
    """Fresh metric families for one scrape, /probe answer or textfile."""
    families = _Families()
    for record in snapshot.samples:
        key = (str(record.get("target")), str(record.get("probe")))
        _add_sample(families, record, snapshot.intervals.get(key))
    if snapshot.counts:
        family = families.counter(
            "slawitness_probes",
            "Probe attempts by result and error class.",
            [*PROBE_LABELS, "result", "error"],
        )
        for count_labels, count in sorted(snapshot.counts.items()):
            family.add_metric(list(count_labels), float(count))
    vantage = [snapshot.vantage]
    if snapshot.store is not None:
        _add_store(families, vantage, snapshot.store)
    if snapshot.collector_up is not None:
        families.gauge(
            "slawitness_collector_up", "Whether the collector is running.", ["vantage"]
        ).add_metric(vantage, 1.0 if snapshot.collector_up else 0.0)
    for gauge in snapshot.sla:
        _add_sla(families, [snapshot.vantage, gauge.target], gauge)
    families.gauge("slawitness_build_info", "slawitness version.", ["version"]).add_metric(
        [__version__], 1.0
    )
    yield from families


_SLA_SERIES = (
    ("slawitness_sla_uptime_ratio", "uptime_ratio",
     "Conservative uptime of the current SLA period so far (no data counted as up)."),
    ("slawitness_sla_objective_ratio", "objective_ratio", "The SLA's promised uptime."),
    ("slawitness_sla_downtime_seconds", "downtime_seconds",
     "Downtime counted against the provider in the current SLA period."),
    ("slawitness_sla_error_budget_remaining_seconds", "budget_remaining_seconds",
     "Downtime the SLA still allows this period (negative: breached)."),
)  # fmt: skip


def _add_sla(families: _Families, labels: list[str], gauge: SlaGauge) -> None:
    for name, attribute, doc in _SLA_SERIES:
        families.gauge(name, doc, ["vantage", "target"]).add_metric(
            labels, float(getattr(gauge, attribute))
        )
    if gauge.credit_owed is not None:
        families.gauge(
            "slawitness_sla_credit_owed",
            "Credit the SLA owes for the current period so far, after its caps, in currency.",
            ["vantage", "target", "currency"],
        ).add_metric([*labels, gauge.currency], gauge.credit_owed)
    families.gauge(
        "slawitness_sla_remedies",
        "Remedies (uptime tier, per incident, compensation, hourly) earned this period so far.",
        ["vantage", "target"],
    ).add_metric(labels, float(gauge.remedies))
    if gauge.claim_deadline_seconds is not None:
        families.gauge(
            "slawitness_sla_claim_deadline_timestamp_seconds",
            "When the current period's open claim must be filed by (earliest still open).",
            ["vantage", "target"],
        ).add_metric(labels, gauge.claim_deadline_seconds)


def _add_store(families: _Families, vantage: list[str], store: StoreState) -> None:
    head = float(store.head_seq or 0)
    families.gauge(
        "slawitness_store_records", "Records in the evidence store.", ["vantage"]
    ).add_metric(vantage, head)
    families.gauge(
        "slawitness_store_head_seq", "Seq of the chain's head record.", ["vantage"]
    ).add_metric(vantage, head)
    stamp = seconds_from_ns(store.head_ts_ns)
    if stamp is not None:
        families.gauge(
            "slawitness_store_head_timestamp_seconds", "Time of the head record.", ["vantage"]
        ).add_metric(vantage, stamp)
    if store.append_ok is not None:
        families.gauge(
            "slawitness_store_append_ok", "Whether the last append succeeded.", ["vantage"]
        ).add_metric(vantage, 1.0 if store.append_ok else 0.0)
    if store.checkpoint is not None:
        _add_checkpoint(families, vantage, store.checkpoint)


def _add_checkpoint(families: _Families, vantage: list[str], checkpoint: CheckpointState) -> None:
    families.gauge(
        "slawitness_checkpoint_size",
        "Records covered by the latest signed checkpoint.",
        ["vantage"],
    ).add_metric(vantage, float(checkpoint.size))
    families.gauge(
        "slawitness_checkpoint_timestamp_seconds",
        "When the latest checkpoint was signed.",
        ["vantage"],
    ).add_metric(vantage, checkpoint.ts_ns / 1e9)
    families.gauge(
        "slawitness_checkpoint_info",
        "The latest checkpoint's Merkle root (one series per checkpoint, hourly by default).",
        ["vantage", "origin", "size", "root"],
    ).add_metric([*vantage, checkpoint.origin, str(checkpoint.size), checkpoint.root_hex], 1.0)
