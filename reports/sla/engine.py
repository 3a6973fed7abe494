"""The SLA engine: samples + the contract's terms -> downtime, uptime, credit, incidents.

`evaluate` is a pure function over the samples DataFrame (reports/sources/stores.py). It paints the
period second by second (reports/sla/attribution.py), extending the window past the period's
edges until the incidents crossing them are whole, cuts incidents out of it
(reports/sla/incidents.py), and does the contract's arithmetic exactly: uptime comparisons use
fractions, so 99.0 % is never "just under" 99.0 because of a float, and money is a Decimal
rounded half-up to cents (every credit remedy, in reports/sla/credits.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

import msgspec
import numpy as np
import pandas as pd
from msgspec import UNSET

from collector import __version__
from collector.config.model import Control, Target
from collector.config.sla_terms import SlaTerms
from reports.sla.attribution import (
    MAINTENANCE,
    NO_DATA,
    PROVIDER,
    Observation,
    PreparedSamples,
    observe,
    prepare_samples,
    state_runs,
)
from reports.sla.claim_window import incident_deadlines, period_deadline
from reports.sla.credits import as_written, credits_owed, exact_percent, to_cents
from reports.sla.degradation import daily_table, latency_summary, loss_summary, measure
from reports.sla.granules import apply_granules
from reports.sla.incidents import find_incidents, iso_second
from reports.sla.maintenance_notice import notice_judgements
from reports.sla.period import NS, Period, maintenance_windows
from reports.sla.summary import SlaFigures, summary_document
from reports.sla.tickets import count_from_tickets, ticket_seconds
from reports.sla.zones import (
    Member,
    ZoneObservation,
    group_members,
    members_down,
    merged_incidents,
    needed,
    observe_zones,
    zones_document,
)

_FIRST_MARGIN_S = 86_400


@dataclass(frozen=True)
class SlaResult:
    """figures: what summary.json holds before the report adds its sources; timeline:
    contiguous runs of states covering the period; daily: one row per local day."""

    figures: SlaFigures
    timeline: pd.DataFrame
    daily: pd.DataFrame

    @property
    def summary(self) -> dict[str, Any]:
        """The figures as summary.json holds them (the live view and status read this)."""
        return summary_document(self.figures)


def _observe_whole(
    prepared: PreparedSamples,
    target: Target,
    terms: SlaTerms,
    controls: list[str],
    period: Period,
    counted_windows: frozenset[int] = frozenset(),
    members: Sequence[Member] = (),
) -> tuple[Observation, ZoneObservation | None]:
    """Observe the period plus margins, doubling a margin while a down run touches its edge
    and samples exist beyond it, so that edge-crossing incidents keep their full extent.
    With `members` (a zone group), the group's combined window and each member's."""
    rule = terms.downtime.probes
    first, last = prepared.span
    left = right = _FIRST_MARGIN_S
    while True:
        w0 = max(period.start_s - left, min(period.start_s, first))
        w1 = min(period.end_s + right, max(period.end_s, last))
        windows = maintenance_windows(terms, w0, w1, counted_windows)
        zones = None
        if terms.zones is not None and members:
            zones = observe_zones(prepared, members, needed(terms.zones), controls=controls,
                                  confirm_vantages=terms.confirm_vantages, windows=windows,
                                  w0=w0, w1=w1)  # fmt: skip
            obs = zones.combined
        else:
            obs = observe(
                prepared,
                target=target.name,
                probes=rule if isinstance(rule, list) else None,
                rule_any=rule == "any",
                controls=controls,
                confirm_vantages=terms.confirm_vantages,
                windows=windows,
                w0=w0,
                w1=w1,
            )
        grow_left = bool(obs.down_any[0]) and w0 > first
        grow_right = bool(obs.down_any[-1]) and w1 < last
        if not (grow_left or grow_right):
            return obs, zones
        left, right = left * (2 if grow_left else 1), right * (2 if grow_right else 1)


def _in_period(frame: pd.DataFrame, period: Period) -> np.ndarray:
    ts = frame["ts_ns"].to_numpy(np.int64)
    return (ts >= period.start_ns) & (ts < period.end_ns)


def _sources(frame: pd.DataFrame, inside: np.ndarray) -> dict[str, Any]:
    """Where the period's samples came from (counted per distinct origin, not per row)."""
    origins = pd.Series(frame["origin"].to_numpy()[inside]).value_counts()
    files = [
        {"file_sha256": str(o)[len("import:") :], "samples": int(n)}
        for o, n in sorted(origins.items(), key=lambda item: str(item[0]))
        if str(o).startswith("import:")
    ]
    return {
        "total": int(inside.sum()),
        "imported": int(sum(n for o, n in origins.items() if str(o).startswith("import:"))),
        "imported_files": files,
        "prometheus": "prometheus" in origins.index,
    }


def _notes(notes: pd.DataFrame | None, target: str, period: Period) -> list[dict[str, Any]]:
    if notes is None or notes.empty:
        return []
    mine = notes[notes["target"] == target]
    mine = mine[_in_period(mine, period)].sort_values("ts_ns")
    return [
        {"ts": iso_second(int(ts) // NS), "ticket": ticket, "text": text}
        for ts, ticket, text in zip(mine["ts_ns"], mine["ticket"], mine["text"], strict=True)
    ]


def evaluate(
    samples: pd.DataFrame,
    target: Target,
    controls: list[Control],
    period: Period,
    *,
    notes: pd.DataFrame | None = None,
    messages: Sequence[Mapping[str, Any]] = (),
    documents: Mapping[str, datetime] | None = None,
    generated_at: datetime | None = None,
    targets: Sequence[Target] = (),
) -> SlaResult:
    """Judge one target's samples against its SLA terms over one period.

    `messages` are the attached correspondence's messages as the complaint file's timeline
    words them (a customer's first message is a ticket under `downtime.starts_at: ticket`);
    `documents` the attached files' dates by SHA-256 (a maintenance window's
    `announcement`); `targets` the config's targets, whose own downtime rules the members
    of a zone group (`sla.zones`) are judged by (reports/sla/zones.py)."""
    terms = target.sla
    if terms is None:
        raise ValueError(f"target {target.name!r} has no sla terms to evaluate")
    control_names = [c.name for c in controls]
    members = [] if terms.zones is None else group_members(terms.zones, targets)
    hosts = [target.name, *(m.name for m in members), *control_names]
    prepared = prepare_samples(samples, list(dict.fromkeys(hosts)))
    windows_judged, counted_windows = notice_judgements(terms, documents or {}, period)
    obs, zones = _observe_whole(
        prepared, target, terms, control_names, period, counted_windows, members
    )
    rule = terms.downtime.probes
    if terms.downtime.granule is not None:
        granule = int(terms.downtime.granule)
        obs = apply_granules(obs, granule, terms.downtime.granule_down_when, period.start_s)
    incidents = find_incidents(
        obs,
        prepared,
        target=target.name,
        probes=rule if isinstance(rule, list) else None,
        period_s=(period.start_s, period.end_s),
        min_duration=terms.downtime.min_duration,
    )
    if zones is not None:
        span = (period.start_s, period.end_s)
        per_member = {
            m.name: find_incidents(obs, prepared, target=m.name, probes=m.probes,
                                   period_s=span, min_duration=terms.downtime.min_duration)
            for m in members
        }  # fmt: skip
        incidents = merged_incidents(per_member, members_down(zones, incidents, obs))
    if terms.downtime.starts_at == "ticket":
        tickets = ticket_seconds(notes, messages, target.name)
        incidents = count_from_tickets(incidents, obs, tickets, (period.start_s, period.end_s))
    now_s = int((generated_at or datetime.now(UTC)).timestamp())
    claim = terms.claim_terms
    per_incident: list[str | None] = []
    if claim is not None and claim.counted_from == "incident":
        per_incident = incident_deadlines(incidents.listed, claim, terms.timezone)
        listed = [
            msgspec.structs.replace(incident, claim_deadline=deadline)
            for incident, deadline in zip(incidents.listed, per_incident, strict=True)
        ]
        incidents = replace(incidents, listed=listed)
    a, b = period.start_s - obs.w0, period.end_s - obs.w0
    state = obs.state[a:b]
    maintenance = obs.maintenance[a:b]
    downtime_mask = (state == PROVIDER) & incidents.counted_mask(obs.state.size)[a:b]
    maintenance_s = int(np.count_nonzero(state == MAINTENANCE))
    no_data_s = int(np.count_nonzero(state == NO_DATA))
    downtime_s = sum(i.counted_seconds for i in incidents.listed)
    eligible = period.seconds - maintenance_s
    conservative = Fraction(eligible - downtime_s, eligible) if eligible else Fraction(1)
    observed_base = eligible - no_data_s
    observed = 1 - Fraction(downtime_s, observed_base) if observed_base else None
    owed = credits_owed(terms, conservative, incidents.listed, period.seconds)
    deg = measure(
        prepared, target.name, period, maintenance, terms.latency_threshold, terms.loss_threshold
    )
    frame = prepared.frame
    inside = _in_period(frame, period)
    seen_from = frame["vantage"].to_numpy()[inside & (frame["target"] == target.name).to_numpy()]
    claim_deadline = period_deadline(claim, period.end_s, terms.timezone, per_incident, now_s)
    figures = SlaFigures(
        target=target.name,
        provider=target.provider.model_dump(),
        period_label=period.label,
        timezone=period.timezone,
        period_start=iso_second(period.start_s),
        period_end=iso_second(period.end_s),
        period_seconds=period.seconds,
        maintenance_seconds=maintenance_s,
        no_data_seconds=no_data_s,
        downtime_seconds=downtime_s,
        uptime_observed=float(observed) if observed is not None else None,
        uptime_conservative=float(conservative),
        sla_uptime=float(exact_percent(terms.uptime) / 100),
        breached=conservative < exact_percent(terms.uptime) / 100,
        credit_percent=owed.credit_percent,
        credit_tier=owed.credit_tier,
        credit_amount=owed.credit_amount,
        remedies=[remedy.document() for remedy in owed.remedies],
        credit_capped=owed.credit_capped,
        claim_requires_ticket=terms.claim_requires_ticket,
        currency=terms.currency,
        monthly_fee=(str(to_cents(terms.monthly_fee)) if terms.monthly_fee is not None else None),
        claim_deadline=claim_deadline,
        claim_window=(
            UNSET if terms.claim_window is None else terms.claim_window.model_dump(mode="json")
        ),
        maintenance_windows=UNSET if terms.maintenance_notice is None else windows_judged,
        zones=(
            UNSET
            if zones is None or terms.zones is None
            else zones_document(terms.zones, zones, (period.start_s, period.end_s))
        ),
        min_duration_seconds=as_written(terms.downtime.min_duration),
        downtime_rule=rule if isinstance(rule, str) else list(rule),
        confirm_vantages=terms.confirm_vantages,
        controls=control_names,
        controls_configured=bool(control_names),
        vantages=sorted(str(v) for v in pd.unique(seen_from)),
        incidents=incidents.listed,
        latency=latency_summary(deg, terms.latency_threshold),
        loss=loss_summary(deg, terms.loss_threshold),
        samples=_sources(frame, inside),
        notes=_notes(notes, target.name, period),
        generated_at=iso_second(now_s),
        slawitness_version=__version__,
    )
    return SlaResult(
        figures,
        state_runs(state, period.start_s),
        daily_table(period, deg, maintenance, downtime_mask),
    )
