"""The notifications that need the SLA engine: SLA breached this period, claim deadline near.

They come from the same figures as `slawitness status` (and so the month-end report), and
each is due once per target and period: an event whose key is already in the chain's
notification notes is not sent again (retries of failed channels are `collector.alerts.due`').
Only the daemon and `slawitness notify` call this; a cron `probe` round never loads pandas.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from collector.alerts.due import Event, History
from collector.config.model import Config
from collector.core.durations import format_duration
from collector.core.percent import cut_percent
from reports.status import target_status


def period_events(config: Config, store_path: str, history: History, now_ns: int) -> list[Event]:
    """sla_breached (this period's downtime is past its budget) and claim_deadline (a
    breached, unclaimed period whose deadline is within `remind_before`), not yet sent."""
    settings = config.notifications
    if settings is None:
        return []
    now = datetime.fromtimestamp(now_ns / 1e9, UTC)
    events = []
    for target in config.targets:
        if target.sla is None:
            continue
        status = target_status(config, target, [Path(store_path)], now_ns)
        budget = status.budget_left_seconds
        key = f"sla_breached:{target.name}:{status.period}"
        if budget is not None and budget < 0 and key not in history.by_key:
            uptime = cut_percent(status.uptime or 0.0)
            events.append(
                Event(
                    "sla_breached", target.name, key,
                    f"slawitness: {target.name} breached its SLA in {status.period}",
                    f"{target.name} has used up its downtime budget for {status.period}: uptime"
                    f" {uptime} against {target.sla.uptime:g}%, {format_duration(-budget // 1)}"
                    " over. Keep the evidence; claim the credit once the period ends.",
                    {"period": str(status.period)},
                )
            )  # fmt: skip
        for claim in status.open_claims:
            if claim.deadline is None:
                continue
            due = datetime.fromisoformat(claim.deadline.replace("Z", "+00:00"))
            left = (due - now).total_seconds()
            key = f"claim_deadline:{target.name}:{claim.period}"
            if not 0 < left <= settings.remind_before or key in history.by_key:
                continue
            amount = f" ({claim.credit_amount})" if claim.credit_amount else ""
            credit = f"{claim.credit_percent:g}%{amount}"
            if claim.incident_remedies:
                credit = f"{claim.credit_amount} from per-incident remedies"
            ticket = ", to be asked for in a support ticket" if claim.ticket_required else ""
            events.append(
                Event(
                    "claim_deadline", target.name, key,
                    f"slawitness: claim {target.name} {claim.period} by {claim.deadline}",
                    f"{target.name} breached its SLA in {claim.period} (uptime"
                    f" {cut_percent(claim.uptime)}, credit {credit}{ticket}) and"
                    f" no claim is recorded; the claim window closes {claim.deadline}. File"
                    f" it, then: slawitness note add --target {target.name} --claim"
                    f" {claim.period} TEXT",
                    {"period": claim.period, "deadline": claim.deadline},
                )
            )  # fmt: skip
    return events
