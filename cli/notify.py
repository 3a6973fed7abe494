"""`slawitness notify`: send the notifications that are due now (a daily cron line).

A cron `probe` round already sends incident opened and closed; this verb adds the ones that
need the SLA engine (SLA breached this period, claim deadline approaching), which the daemon
sends by itself. Each is sent once per target and period, whatever how often this runs.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from cli.base import EXIT_USAGE, config_option, fail, load, say, store_option
from collector.alerts.due import Event, History
from collector.alerts.notify import check_all
from collector.config.model import Config
from collector.evidence.store import EvidenceStore


def period_events(config: Config, store_path: str, history: History, now_ns: int) -> list[Event]:
    """The SLA figures' notifications, from the report engine: loaded on the first look, so
    pandas stays out of every process that never looks (a cron `probe` round)."""
    from reports.period_alerts import period_events as from_the_sla_engine

    return from_the_sla_engine(config, store_path, history, now_ns)


@click.command("notify")
@config_option
@store_option
def notify(config_path: Path, store_path: Path | None) -> None:
    """Send the notifications due now: incidents, SLA breached this period, claim deadlines."""
    config = load(config_path, store_path)
    if config.notifications is None:
        fail(f"{config_path}: notifications: not configured, nothing to send", EXIT_USAGE)
    with EvidenceStore.open(config.store) as store:
        notes = check_all(config, store, time.time_ns(), period_events)
    for note in notes:
        failed = note["failed"]
        where = f"; failed: {', '.join(map(str, failed))}" if failed else ""  # type: ignore[call-overload]
        say(f"{note['notify']} {note['target']}: sent to {len(note['sent'])} channel(s){where}")  # type: ignore[arg-type]
    if not notes:
        say("no notifications due")
