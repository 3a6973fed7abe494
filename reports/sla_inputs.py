"""The period judged on everything the report judges it on, for the live figures and status.

The engine reads more than samples: the notes (a ticket under `downtime.starts_at: ticket`),
the attached correspondence (a customer's first message is a ticket too) and the attached
files' dates (a maintenance window's `announcement`, checked against `maintenance_notice`).
A caller that passed only the samples would count a ticket-start outage from its first
second and exclude a window announced too late, so the exporter and `status` would show
figures the month-end report then contradicts. Both call `evaluate_with_contacts`, which
gathers those inputs the way the report does (`complaint_file.support_contacts`).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from collector.config.model import Config, Target
from reports.complaint_file import support_contacts
from reports.sla.engine import SlaResult, evaluate
from reports.sla.period import Period
from reports.sources.evidence_view import EvidenceView


def evaluate_with_contacts(
    samples: pd.DataFrame,
    notes: pd.DataFrame | None,
    config: Config,
    target: Target,
    stores: Sequence[Path],
    period: Period,
    *,
    now_ns: int | None = None,
    evidence: EvidenceView | None = None,
) -> SlaResult:
    """The period's figures from `samples` and `notes` with the attachments of `stores`
    read as the report reads them. `now_ns` is when the figures are for: a per-incident
    claim deadline is the earliest still open then. `evidence` keeps the stores open for a
    caller that reads them again; without it they are opened and closed here."""
    with ExitStack() as held_open:
        view = evidence or held_open.enter_context(EvidenceView())
        present = [path for path in stores if Path(path).is_file()]
        messages, documents = support_contacts(present, target, view)
    at = None if now_ns is None else datetime.fromtimestamp(now_ns // 10**9, UTC)
    return evaluate(
        samples,
        target,
        config.controls,
        period,
        notes=notes,
        messages=messages,
        documents=documents,
        generated_at=at,
        targets=config.targets,
    )


def zone_members(target: Target) -> list[str]:
    """The other targets of the target's zone group (`sla.zones`), whose samples are read
    with its own: the group is down only when enough of them are."""
    zones = None if target.sla is None else target.sla.zones
    return [] if zones is None else [name for name in zones.targets if name != target.name]


__all__ = ["evaluate_with_contacts", "zone_members"]
