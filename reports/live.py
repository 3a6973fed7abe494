"""The current period's SLA figures for the exporter, from the same engine as the reports.

`serve` and `run --listen` expose uptime, objective, downtime and error budget per target so
a dashboard and the month-end report can never disagree. The figures are recomputed in a
background thread every `refresh_s` seconds, never per scrape; each refresh reads only the
records newer than the last one it read and re-evaluates the period in memory, with the notes
and attached correspondence the report reads too (`reports.sla_inputs`).

Beyond uptime and budget they carry what the contract's remedies give so far: the credit
owed (after caps, in the fee's currency), how many remedies were earned, and the claim
deadline the period's open claim must be filed by. Past periods' open claims are
`slawitness status`'s business and its claim-deadline notification's, not the exporter's:
re-judging a year of months every minute would cost more than it tells.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from collector.config.model import Config, Target
from collector.prometheus.metrics import SlaGauge
from reports.sla.period import Period, month_period
from reports.sla_inputs import evaluate_with_contacts, zone_members
from reports.sources.stores import SourceError, load_store_samples

MARGIN_NS = 86_400 * 1_000_000_000


def current_period(terms_timezone: str, now_ns: int) -> Period:
    """The calendar month, in the SLA's time zone, that `now_ns` falls in."""
    local = datetime.fromtimestamp(now_ns / 1e9, tz=UTC).astimezone(ZoneInfo(terms_timezone))
    return month_period(f"{local.year:04d}-{local.month:02d}", terms_timezone)


class _TargetFeed:
    """One target's samples for its current period, extended on every refresh."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.period: Period | None = None
        self.samples = pd.DataFrame()
        self.notes = pd.DataFrame()
        self.loaded_until_ns = 0

    def extend(self, config: Config, stores: Sequence[Path], now_ns: int) -> None:
        assert self.target.sla is not None
        period = current_period(self.target.sla.timezone, now_ns)
        if self.period != period:  # a new month: start over
            self.period, self.samples, self.notes = period, pd.DataFrame(), pd.DataFrame()
            self.loaded_until_ns = period.start_ns - MARGIN_NS
        until = now_ns + 1
        try:
            data = load_store_samples(
                stores,
                config,
                self.loaded_until_ns,
                until,
                target=self.target.name,
                members=zone_members(self.target),
                verify=False,
            )  # the chain is the report's business; re-verifying every minute is wasted work
        except SourceError:
            return  # nothing new in this slice
        self.samples = _joined(self.samples, data.samples)
        self.notes = _joined(self.notes, data.notes)  # tickets, under `starts_at: ticket`
        self.loaded_until_ns = until

    def gauge(self, config: Config, stores: Sequence[Path], now_ns: int) -> SlaGauge | None:
        if self.samples.empty or self.period is None or self.target.sla is None:
            return None
        notes = None if self.notes.empty else self.notes
        summary = evaluate_with_contacts(
            self.samples, notes, config, self.target, stores, self.period, now_ns=now_ns
        ).summary
        owed = summary["credit_amount"]
        eligible = summary["period_seconds"] - summary["maintenance_seconds"]
        objective = Fraction(str(self.target.sla.uptime)) / 100
        allowed = float(eligible * (1 - objective))
        return SlaGauge(
            target=self.target.name,
            uptime_ratio=float(summary["uptime_conservative"]),
            objective_ratio=float(objective),
            downtime_seconds=float(summary["downtime_seconds"]),
            budget_remaining_seconds=allowed - float(summary["downtime_seconds"]),
            credit_owed=None if owed is None else float(owed),
            currency=str(summary.get("currency") or ""),
            remedies=len(summary["remedies"]),
            claim_deadline_seconds=open_claim_deadline(summary, now_ns),
        )


def _joined(held: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    frames = [f for f in (held, new) if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def open_claim_deadline(summary: dict[str, Any], now_ns: int) -> float | None:
    """When the period's claim must be filed by (epoch seconds): only once there is
    something to claim (a breach or a remedy earned) and while the deadline is ahead."""
    deadline = summary.get("claim_deadline")
    if not deadline or not (summary["breached"] or summary["remedies"]):
        return None
    due = datetime.fromisoformat(str(deadline).replace("Z", "+00:00")).timestamp()
    return due if due * 1e9 >= now_ns else None


class LiveSla:
    """Keeps every SLA target's current-period figures fresh in a background thread."""

    def __init__(self, config: Config, stores: Sequence[Path], refresh_s: float = 60.0) -> None:
        self._config = config
        self._stores = list(stores)
        self._refresh_s = refresh_s
        self._feeds = [_TargetFeed(t) for t in config.targets if t.sla is not None]
        self._gauges: list[SlaGauge] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def refresh(self, now_ns: int | None = None) -> None:
        """Read what is new and re-evaluate every target's period."""
        now = now_ns if now_ns is not None else time.time_ns()
        gauges = []
        for feed in self._feeds:
            feed.extend(self._config, self._stores, now)
            gauge = feed.gauge(self._config, self._stores, now)
            if gauge is not None:
                gauges.append(gauge)
        with self._lock:
            self._gauges = gauges

    def gauges(self) -> list[SlaGauge]:
        """The figures of the last refresh (empty until the first one finishes)."""
        with self._lock:
            return list(self._gauges)

    def start(self) -> None:
        """Refresh now and then every `refresh_s` seconds until `stop()`."""
        if not self._feeds:
            return
        self._thread = threading.Thread(target=self._loop, name="sla-figures", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh()
            except Exception as exc:  # a bad refresh must not stop the exporter
                print(f"slawitness: SLA figures not refreshed: {exc}", flush=True)
            self._stop.wait(self._refresh_s)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
