"""`slawitness status`: where each target stands now, and which claims are still open.

The user's questions, in the order they come: is it down right now, since when; how much of
this month's error budget is left; what did I tell support; and is there a breached month
whose claim deadline I am about to miss. The figures come from the same engine as the
month-end report (so the two never disagree), over the current and the claimable months.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

from collector.config import Config, Target
from collector.store import EvidenceStore
from reports.live import MARGIN_NS, current_period
from reports.period import Period, month_period
from reports.sla import SlaResult, evaluate
from reports.sources import SourceError, load_store_samples

STALE_INTERVALS = 3
"""A probe whose latest record is older than this many intervals is not known to be up."""


@dataclass
class OpenClaim:
    """A breached period whose claim window is still open and no claim is recorded."""

    period: str
    uptime: float
    credit_percent: float
    credit_amount: str | None
    deadline: str | None
    """None when the SLA names no claim window (`claim_window_days`)."""
    days_left: int | None


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

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _latest(store: EvidenceStore, target: Target, now_ns: int) -> dict[str, str]:
    """Each probe's latest result, or `stale` when it is too old to say."""
    wanted = {spec.name: spec.interval for spec in target.probes}
    found: dict[str, str] = {}
    rows = store.records(target=target.name, types=["probe"], newest_first=True, limit=2000)
    for row in rows:
        name = str(row.record.get("probe"))
        if name not in wanted or name in found:
            continue
        ts_ns = row.record.get("ts_ns")
        age = now_ns - ts_ns if isinstance(ts_ns, int) else None
        if age is None or age > STALE_INTERVALS * wanted[name] * 1e9:
            found[name] = "stale"
        else:
            found[name] = "ok" if row.record.get("ok") else f"failed ({row.record.get('error')})"
        if len(found) == len(wanted):
            break
    return found


def _state(target: Target, probes: dict[str, str]) -> str:
    if not probes:
        return "UNKNOWN"
    rule = target.sla.downtime.probes if target.sla is not None else "any"
    names = [p.name for p in target.probes] if isinstance(rule, str) else list(rule)
    failing = [n for n in names if probes.get(n, "").startswith("failed")]
    if (rule == "all" and failing and len(failing) == len(names)) or (rule != "all" and failing):
        return "DOWN"
    return "STALE" if any(probes.get(n) in (None, "stale") for n in names) else "UP"


def _evaluate(
    config: Config, target: Target, stores: Sequence[Path], period: Period, now: int
) -> SlaResult | None:
    """The period's figures so far (None without samples); the chain is verify's business."""
    try:
        data = load_store_samples(
            stores, config, period.start_ns - MARGIN_NS, min(period.end_ns, now) + MARGIN_NS,
            target=target.name, verify=False,
        )  # fmt: skip
    except SourceError:
        return None
    return evaluate(data.samples, target, config.controls, period, notes=data.notes)


def _claims(store: EvidenceStore, target: str) -> set[str]:
    """The periods a claim is recorded for (`slawitness note add --claim PERIOD`)."""
    return {
        str(row.record["claim"])
        for row in store.records(target=target, types=["note"])
        if row.record.get("claim")
    }


def target_status(
    config: Config, target: Target, stores: Sequence[Path], now_ns: int
) -> TargetStatus:
    with EvidenceStore.open(stores[0], readonly=True) as store:
        probes = _latest(store, target, now_ns)
        claimed = _claims(store, target.name)
    status = TargetStatus(target.name, _state(target, probes), probes)
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
    status.open_claims = _open_claims(config, target, stores, period, now_ns, claimed)
    return status


def _open_claims(
    config: Config, target: Target, stores: Sequence[Path], current: Period, now: int,
    claimed: set[str],
) -> list[OpenClaim]:  # fmt: skip
    """Breached past months whose claim window has not run out and no claim is recorded."""
    assert target.sla is not None
    found = []
    days = target.sla.claim_window_days
    window = timedelta(days=days if days is not None else 0)
    month = datetime.fromtimestamp(current.start_ns / 1e9, UTC) + timedelta(days=15)
    for _ in range(12 if days is not None else 1):  # no window: the month just ended
        month = (month.replace(day=1) - timedelta(days=1)).replace(day=15)
        period = month_period(f"{month.year:04d}-{month.month:02d}", target.sla.timezone)
        end = datetime.fromtimestamp(period.end_ns / 1e9, UTC)
        if days is not None and end + window < datetime.fromtimestamp(now / 1e9, UTC):
            break
        if period.label in claimed:
            continue
        result = _evaluate(config, target, stores, period, now)
        if result is None or not result.summary["breached"]:
            continue
        summary = result.summary
        deadline = summary.get("claim_deadline")
        left = None
        if deadline:
            due = datetime.fromisoformat(str(deadline).replace("Z", "+00:00"))
            left = (due - datetime.fromtimestamp(now / 1e9, UTC)).days
        found.append(
            OpenClaim(
                period.label, float(summary["uptime_conservative"]),
                float(summary["credit_percent"]), summary.get("credit_amount"), deadline, left,
            )
        )  # fmt: skip
    return found


def statuses(config: Config, stores: Sequence[Path], now_ns: int) -> list[TargetStatus]:
    return [target_status(config, t, stores, now_ns) for t in config.targets]
