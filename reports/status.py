"""`slawitness status`: where each target stands now, and which claims are still open.

The user's questions, in the order they come: is it down right now, since when; how much of
this month's error budget is left; what did I tell support; and is there a breached month
whose claim deadline I am about to miss. The figures come from the same engine as the
month-end report, with the same notes, tickets and attached correspondence
(`reports.sla_inputs`), so the two never disagree, over the current and the claimable months.

An open claim names what the contract grants in the contract's units (hours of service, a
percent of the fee, a multiple of the charges) and the deadline its claim window sets: the
period's end plus the window, or with `counted_from: incident` the earliest incident whose
own deadline has not passed, and then only the remedies still claimable.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from collector.alerts.due import deciding_probes, is_down, latest_probe_records
from collector.config.model import Config, Target
from collector.config.sla_terms import ClaimWindow
from collector.documents.attachments import ATTACHMENT, DOCUMENT_KINDS
from collector.evidence.record_views import NoteView
from collector.evidence.store import EvidenceStore
from reports.live import MARGIN_NS, current_period
from reports.sla.claim_window import deadline_after
from reports.sla.credits import plain
from reports.sla.engine import SlaResult
from reports.sla.period import Period, month_period
from reports.sla_inputs import evaluate_with_contacts, zone_members
from reports.sources.stores import SourceError, load_store_samples

STALE_INTERVALS = 3
"""A probe whose latest record is older than this many intervals is not known to be up."""
INCIDENT_KEYS = (
    "start", "end", "duration_seconds", "counted_seconds", "counted", "not_counted_because",
    "attribution", "probes",
)  # fmt: skip
"""What a status says of each incident: when, how much of it counts and why, and who is to
blame (the report keeps the rest: errors, vantages, every evidence seq, the path)."""


def _incident(incident: dict[str, Any]) -> dict[str, Any]:
    """An incident as `status` shows it; `evidence` is its first and last evidence seq,
    what a status page proves (empty when it has none)."""
    seqs = list(incident.get("evidence_seqs") or [])
    return {
        **{key: incident.get(key) for key in INCIDENT_KEYS},
        "evidence": [min(seqs), max(seqs)] if seqs else [],
    }


@dataclass
class OpenClaim:
    """A breached period whose claim window is still open and no claim is recorded."""

    period: str
    uptime: float
    credit_percent: float
    credit_amount: str | None
    deadline: str | None
    """None when the SLA names no claim window (`claim_window_days` or `claim_window`);
    with `counted_from: incident`, the earliest incident deadline still open."""
    days_left: int | None
    incident_remedies: int = 0
    """How many remedies beyond the uptime tier (per incident, compensation, hourly) the
    period earned: with any, `credit_amount` is their total, not a tier's percent."""
    ticket_required: bool = False
    """The SLA owes the credit only once it is asked for in a support ticket."""
    granted: list[str] = field(default_factory=list)
    """What the contract grants, in its units, summed by kind of remedy (`48 hours of
    service`, `10% of the fee`): what the claim asks for."""
    claimable_amount: str | None = None
    """The amount of the remedies still claimable, in `currency` (less than
    `credit_amount` once some incidents' own deadlines have passed)."""
    currency: str | None = None
    deadline_basis: str | None = None
    """How the deadline is counted: `30 business days from each incident`."""
    remedies: list[dict[str, Any]] = field(default_factory=list)
    """The remedies still claimable, as summary.json lists them."""


@dataclass
class TargetStatus:
    name: str
    state: str
    """UP, DOWN, STALE (no recent record) or UNKNOWN (never probed)."""
    probes: dict[str, str] = field(default_factory=dict)
    down_since: str | None = None
    period: str | None = None
    uptime: float | None = None
    objective: float | None = None
    budget_left_seconds: float | None = None
    notes: list[dict[str, Any]] = field(default_factory=list)
    open_claims: list[OpenClaim] = field(default_factory=list)
    documents: dict[str, int] = field(default_factory=dict)
    """Attached documents by kind (`slawitness attach`): the complaint file so far."""
    incidents: list[dict[str, Any]] = field(default_factory=list)
    """The period's incidents so far, as summary.json lists them (`INCIDENT_KEYS`)."""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


Latest = dict[str, dict[str, object]]
"""Probe name -> its latest record."""


def _fresh(target: Target, latest: Latest, now_ns: int) -> Latest:
    """The latest records recent enough to say anything about now."""
    intervals = {spec.name: spec.interval for spec in target.probes}
    return {
        name: record for name, record in latest.items()
        if isinstance(ts := record.get("ts_ns"), int)
        and now_ns - ts <= STALE_INTERVALS * intervals[name] * 1e9
    }  # fmt: skip


def _results(target: Target, latest: Latest, fresh: Latest) -> dict[str, str]:
    """Each probe's latest result as a word, `stale` when too old to say."""
    return {
        spec.name: "stale" if spec.name not in fresh else
        "ok" if fresh[spec.name].get("ok") else f"failed ({fresh[spec.name].get('error')})"
        for spec in target.probes if spec.name in latest
    }  # fmt: skip


def _state(target: Target, latest: Latest, fresh: Latest) -> str:
    """DOWN by the target's downtime rule (the one notifications use) over fresh records."""
    if not latest:
        return "UNKNOWN"
    if is_down(target, fresh):
        return "DOWN"
    names, _ = deciding_probes(target)
    return "STALE" if any(n not in fresh for n in names) else "UP"


def _evaluate(
    config: Config, target: Target, stores: Sequence[Path], period: Period, now: int
) -> SlaResult | None:
    """The period's figures so far (None without samples); the chain is verify's business."""
    try:
        data = load_store_samples(
            stores, config, period.start_ns - MARGIN_NS, min(period.end_ns, now) + MARGIN_NS,
            target=target.name, members=zone_members(target), verify=False,
        )  # fmt: skip
    except SourceError:
        return None
    return evaluate_with_contacts(
        data.samples, data.notes, config, target, stores, period, now_ns=now
    )


def _claims(store: EvidenceStore, target: str) -> set[str]:
    """The periods a claim is recorded for (`slawitness note add --claim PERIOD`)."""
    notes = [NoteView.of(row.record) for row in store.records(target=target, types=["note"])]
    return {str(note.claim) for note in notes if note.claim}


def _documents(store: EvidenceStore, target: str) -> dict[str, int]:
    """How many distinct files of each kind are attached to the target."""
    held = {
        (str(row.record.get("kind")), str(row.record.get("sha256")))
        for row in store.records(target=target, types=[ATTACHMENT])
    }
    counts = Counter(kind for kind, _ in held)
    return {kind: counts[kind] for kind in DOCUMENT_KINDS if counts[kind]}


def target_status(
    config: Config, target: Target, stores: Sequence[Path], now_ns: int
) -> TargetStatus:
    with EvidenceStore.open(stores[0], readonly=True) as store:
        latest = latest_probe_records(store, target, config.vantage)
        claimed = _claims(store, target.name)
        documents = _documents(store, target.name)
    fresh = _fresh(target, latest, now_ns)
    status = TargetStatus(
        target.name,
        _state(target, latest, fresh),
        _results(target, latest, fresh),
        documents=documents,
    )
    if target.sla is None:
        return status
    period = current_period(target.sla.timezone, now_ns)
    result = _evaluate(config, target, stores, period, now_ns)
    objective = Fraction(str(target.sla.uptime)) / 100
    status.period, status.objective = period.label, float(objective)
    if result is not None:
        summary = result.summary
        eligible = summary["period_seconds"] - summary["maintenance_seconds"]
        status.uptime = float(summary["uptime_conservative"])
        status.budget_left_seconds = float(eligible * (1 - objective)) - float(
            summary["downtime_seconds"]
        )
        if status.state == "DOWN" and summary["incidents"]:
            status.down_since = summary["incidents"][-1]["start"]
        status.notes = list(summary.get("notes") or [])
        status.incidents = [_incident(incident) for incident in summary["incidents"]]
    status.open_claims = _open_claims(config, target, stores, period, now_ns, claimed)
    return status


def _open_claims(
    config: Config, target: Target, stores: Sequence[Path], current: Period, now: int,
    claimed: set[str],
) -> list[OpenClaim]:  # fmt: skip
    """Breached past months whose claim window has not run out and no claim is recorded."""
    assert target.sla is not None
    found = []
    window = target.sla.claim_terms
    month = datetime.fromtimestamp(current.start_ns / 1e9, UTC) + timedelta(days=15)
    for _ in range(12 if window is not None else 1):  # no window: the month just ended
        month = (month.replace(day=1) - timedelta(days=1)).replace(day=15)
        period = month_period(f"{month.year:04d}-{month.month:02d}", target.sla.timezone)
        if window is not None:
            # an incident may run past the period's end: its own deadline a day later
            slack = 86_400 if window.counted_from == "incident" else 0
            if deadline_after(period.end_s + slack, window, target.sla.timezone) < now // 10**9:
                break
        if period.label in claimed:
            continue
        result = _evaluate(config, target, stores, period, now)
        claim = None if result is None else _open_claim(period.label, result.summary, window, now)
        if claim is not None:
            found.append(claim)
    return found


def _open_claim(
    label: str, summary: dict[str, Any], window: ClaimWindow | None, now: int
) -> OpenClaim | None:
    """The period's claim if it earned anything and its deadline is still ahead."""
    incident_remedies = sum(1 for r in summary["remedies"] if r["kind"] != "tier")
    if not (summary["breached"] or incident_remedies):
        return None
    deadline = summary.get("claim_deadline")
    left = None
    remedies = list(summary["remedies"])
    if deadline:
        due = datetime.fromisoformat(str(deadline).replace("Z", "+00:00"))
        if due.timestamp() < now / 1e9 and window is not None:
            return None  # every deadline has passed (per incident: the latest one)
        left = (due - datetime.fromtimestamp(now / 1e9, UTC)).days
        if window is not None and window.counted_from == "incident":
            remedies = _still_claimable(summary, now)
    currency = summary.get("currency")
    return OpenClaim(
        label, float(summary["uptime_conservative"]), float(summary["credit_percent"]),
        summary.get("credit_amount"), deadline, left, incident_remedies,
        bool(summary["claim_requires_ticket"]), granted_words(remedies),
        _total(remedies) if summary.get("credit_amount") is not None else None,
        currency, None if window is None else basis_words(window), remedies,
    )  # fmt: skip


def _still_claimable(summary: dict[str, Any], now: int) -> list[dict[str, Any]]:
    """The remedies of incidents whose own deadline is still ahead (a tier, which belongs
    to no incident, stays while any deadline does)."""
    open_starts = {
        str(i["start"]) for i in summary["incidents"]
        if i.get("claim_deadline") and _epoch(str(i["claim_deadline"])) >= now / 1e9
    }  # fmt: skip
    return [
        r for r in summary["remedies"]
        if (r["incident_start"] in open_starts) or (r["incident_start"] is None and open_starts)
    ]  # fmt: skip


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _total(remedies: Sequence[dict[str, Any]]) -> str:
    return str(sum((Decimal(str(r["amount"] or 0)) for r in remedies), Decimal("0.00")))


_UNIT_WORDS = {
    ("tier", "percent"): "{credit}% of the fee",
    ("incident", "percent"): "{credit}% of the fee",
    ("incident", "service_hours"): "{credit} hours of service",
    ("hourly", "service_hours"): "{credit} h at the hourly rate",
    ("compensation", "currency"): "{credit} in compensation",
}
"""A remedy kind's grant as the contract words it (the report's remedies table says the
same, reports/templates/report_text.credits.yml)."""


def granted_words(remedies: Sequence[dict[str, Any]]) -> list[str]:
    """The remedies summed by kind and unit, each in its unit: `36 hours of service`."""
    sums: dict[tuple[str, str], Decimal] = {}
    for remedy in remedies:
        key = (str(remedy["kind"]), str(remedy["unit"]))
        sums[key] = sums.get(key, Decimal(0)) + Decimal(str(remedy["credit"]))
    return [
        _UNIT_WORDS.get(key, "{credit} " + key[1]).format(credit=plain(total))
        for key, total in sums.items()
    ]


def basis_words(window: ClaimWindow) -> str:
    """How the claim window counts: `30 business days from each incident`."""
    kind = "business days" if window.business_days else "days"
    start = "each incident" if window.counted_from == "incident" else "the period's end"
    return f"{window.days} {kind} from {start}"


def statuses(config: Config, stores: Sequence[Path], now_ns: int) -> list[TargetStatus]:
    return [target_status(config, t, stores, now_ns) for t in config.targets]
