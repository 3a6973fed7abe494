"""The shape of summary.json: one period's SLA figures, its incidents and what the report adds.

summary.json is what every other output of a report is drawn from (HTML, PDF, CSVs,
letters, the bundle) and what a tribunal reads, so its shape is defined once, here, as
frozen structs: the engine builds `SlaFigures` whole, each `Incident` whole (its path
trace included, when the report found one), and the report builds `ReportSummary` whole
from the figures and its sources. Nothing is filled in after construction, so no reader
can see a half-made summary.

The field order is the key order of summary.json; fields left UNSET (an incident with no
path trace, a report without caveats or timestamps) are left out of it, as they always
were. `summary_document` is the one place a struct becomes the JSON-ready mapping that
summary.json is written from and that the renderers read.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, UnsetType


class Incident(msgspec.Struct, frozen=True, kw_only=True):
    """A run of seconds with the target down from some vantage, meeting the period."""

    start: str
    end: str
    duration_seconds: int
    counted_seconds: int
    probes: list[str]
    errors: dict[str, int]
    attribution: str
    counted: bool
    not_counted_because: str | None
    counted_from: str | UnsetType | None = UNSET
    """Under `downtime.starts_at: ticket`: the first ticket opened during the incident, from
    which its seconds count (None: there was none)."""
    claim_deadline: str | UnsetType | None = UNSET
    """Under a claim window counted from each incident: the last moment this incident may
    be claimed (None: nothing of it counts, so there is nothing to claim)."""
    zones_down: list[str] | UnsetType = UNSET
    """Under `sla.zones`: the group's targets that were down during the incident."""
    vantages: list[str]
    evidence_seqs: list[int]
    evidence_vantages: list[str]
    path: dict[str, Any] | UnsetType = UNSET
    """The first path trace taken during the incident: where the path stopped answering."""


class SlaFigures(msgspec.Struct, frozen=True, kw_only=True):
    """What the SLA engine finds for one target over one period, from its samples alone."""

    target: str
    provider: dict[str, Any]
    period_label: str
    timezone: str
    period_start: str
    period_end: str
    period_seconds: int
    maintenance_seconds: int
    no_data_seconds: int
    downtime_seconds: int
    uptime_observed: float | None
    uptime_conservative: float
    sla_uptime: float
    breached: bool
    credit_percent: int | float
    credit_tier: dict[str, Any] | None
    """The uptime tier claimed (`below`, `credit`), or None when no tier applies."""
    credit_amount: str | None
    """The total owed after every cap: the tier and every remedy below, in `currency`."""
    remedies: list[dict[str, Any]]
    """One entry per remedy earned (reports/sla/credits.py): its kind, the incident it is
    for, the contract's credit in its own unit, the amount and whether a cap cut it."""
    credit_capped: bool
    """Whether a cap (per incident, per period or over all credits) reduced what is owed."""
    claim_requires_ticket: bool
    """Whether the contract owes credits only once the customer asks in a ticket."""
    currency: str | None
    monthly_fee: str | None
    claim_deadline: str | None
    claim_window: dict[str, Any] | UnsetType = UNSET
    """The claim window in full (`days`, `counted_from`, `business_days`), when the config
    gives it so (reports/sla/claim_window.py); absent for `claim_window_days`."""
    maintenance_windows: list[dict[str, Any]] | UnsetType = UNSET
    """With `maintenance_notice`: each one-off window meeting the period, when it was
    announced, its notice and whether it is left out, and why not
    (reports/sla/maintenance_notice.py)."""
    zones: dict[str, Any] | UnsetType = UNSET
    """Under `sla.zones`: the group's `targets`, its `down_when` rule and `per_target`,
    each member's own `downtime_seconds` and `no_data_seconds` (reports/sla/zones.py)."""
    min_duration_seconds: int | float
    downtime_rule: str | list[str]
    confirm_vantages: Any
    controls: list[str]
    controls_configured: bool
    vantages: list[str]
    incidents: list[Incident]
    latency: dict[str, Any]
    loss: dict[str, Any]
    samples: dict[str, Any]
    notes: list[dict[str, Any]]
    generated_at: str
    slawitness_version: str


class ReportSummary(SlaFigures, frozen=True, kw_only=True):
    """summary.json: the figures, and what the report read them from and attached to them."""

    stores: list[dict[str, Any]]
    """Each store's chain verification (empty when the samples came from Prometheus)."""
    caveats: list[str] | UnsetType = UNSET
    timestamps: list[dict[str, Any]] | UnsetType = UNSET
    """The trusted timestamps since the period began (stores only)."""
    trusted_time: list[dict[str, Any]] | UnsetType = UNSET
    """Per store: which authorities stamped which checkpoint since the period began, and
    whether the latest time-stamped checkpoint has `at_least` of them (stores only)."""
    witnessed: list[dict[str, Any]] | UnsetType = UNSET
    """Per store: each checkpoint since the period began that witnesses cosigned, who
    cosigned it and when, and any cosignature it no longer matches (stores only)."""
    complaint_file: dict[str, Any]
    sla_source: dict[str, Any] | None
    provenance: list[dict[str, Any]] | UnsetType = UNSET
    """Per store: the signed checkpoint the period's records are proven against (size,
    root, key, who cosigned it, which authorities time-stamped it) (stores only)."""
    custody: list[dict[str, Any]] | UnsetType = UNSET
    """The custody events of the evidence the report carries: exports, reports, bundles,
    backups, seals, attachments and hand-overs, each a chained record (stores only)."""
    method_statement: dict[str, Any] | UnsetType = UNSET
    """The facts of the statement of method: what was measured, from where, how often and
    with what; how clocks were kept; how records are kept and proven; who held the key."""
    document_signing: dict[str, Any] | UnsetType = UNSET
    """The certificate the PDFs are signed with (its SHA-256 fingerprint and subject) and
    the authorities asked for their document timestamps, or why they are not signed."""


def summary_document(summary: SlaFigures) -> dict[str, Any]:
    """The summary as summary.json holds it: keys in field order, UNSET fields left out."""
    document: dict[str, Any] = msgspec.to_builtins(summary)
    return document


__all__ = ["Incident", "ReportSummary", "SlaFigures", "summary_document"]
