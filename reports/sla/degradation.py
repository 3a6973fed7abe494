"""Degradation apart from downtime: latency and loss statistics, and the daily table.

Only successful attempts of the target enter the latency and loss statistics: a failed
attempt is downtime evidence, and mixing it in would count the same outage twice. Seconds
"above threshold" are seconds covered by a successful sample (any vantage, any probe) whose
latency or loss exceeds the contract's threshold, outside maintenance, like downtime.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from reports.sla.attribution import PreparedSamples, paint_mask
from reports.sla.period import NS, Period, merge_intervals

_QUANTILES = (0.5, 0.95, 0.99)
_DAILY_COLUMNS = [
    "date",
    "uptime",
    "downtime_seconds",
    "latency_p50_s",
    "latency_p95_s",
    "latency_p99_s",
    "loss_mean",
    "above_latency_seconds",
    "above_loss_seconds",
]


@dataclass
class Degradation:
    """The target's successful samples in the period and their above-threshold seconds."""

    ok: pd.DataFrame
    above_latency: np.ndarray
    above_loss: np.ndarray


def measure(
    prepared: PreparedSamples,
    target: str,
    period: Period,
    maintenance: np.ndarray,
    latency_threshold_s: float | None,
    loss_threshold_pct: float | None,
) -> Degradation:
    """Collect the period's successful target samples and paint the above-threshold seconds
    over the period (`maintenance` is the period's maintenance mask)."""
    frame = prepared.frame
    ts = frame["ts_ns"].to_numpy(np.int64)
    in_period = (
        (frame["target"] == target).to_numpy()
        & frame["ok"].to_numpy(bool)
        & (ts >= period.start_ns)
        & (ts < period.end_ns)
    )
    ok = frame.loc[in_period, ["ts_ns", "probe", "latency_ns", "loss_ppm"]]
    rows = prepared.positions(target)
    rows = rows[prepared.code[rows] == 1]
    slow = lossy = rows[:0]
    if latency_threshold_s is not None:
        slow = rows[prepared.column("latency_ns", rows) > latency_threshold_s * NS]
    if loss_threshold_pct is not None:
        lossy = rows[prepared.column("loss_ppm", rows) > loss_threshold_pct * 10_000]
    return Degradation(
        ok,
        _paint_rows(prepared, slow, period) & ~maintenance,
        _paint_rows(prepared, lossy, period) & ~maintenance,
    )


def _paint_rows(prepared: PreparedSamples, rows: np.ndarray, period: Period) -> np.ndarray:
    starts, ends = merge_intervals(prepared.start_s[rows], prepared.end_s[rows])
    return paint_mask(period.seconds, starts - period.start_s, ends - period.start_s)


def _quantiles_s(values: pd.Series) -> dict[str, float | None]:
    if values.empty:
        return {"p50_s": None, "p95_s": None, "p99_s": None}
    p50, p95, p99 = np.quantile(values.to_numpy(np.float64), _QUANTILES) / NS
    return {"p50_s": float(p50), "p95_s": float(p95), "p99_s": float(p99)}


def latency_summary(deg: Degradation, threshold_s: float | None) -> dict[str, Any]:
    """The summary's `latency` block: percentiles per probe and over every probe."""
    timed = deg.ok.dropna(subset=["latency_ns"])
    by_probe = {
        str(probe): {**_quantiles_s(group), "samples": int(group.size)}
        for probe, group in timed.groupby("probe")["latency_ns"]
    }
    return {
        "by_probe": by_probe,
        "overall": {**_quantiles_s(timed["latency_ns"]), "samples": len(timed)},
        "threshold_s": threshold_s,
        "above_threshold_seconds": int(np.count_nonzero(deg.above_latency)),
    }


def loss_summary(deg: Degradation, threshold_pct: float | None) -> dict[str, Any]:
    """The summary's `loss` block: mean loss ratio of successful ICMP attempts."""
    losses = deg.ok["loss_ppm"].dropna()
    return {
        "mean": float(losses.mean() / 1_000_000) if len(losses) else None,
        "threshold": threshold_pct / 100 if threshold_pct is not None else None,
        "above_threshold_seconds": int(np.count_nonzero(deg.above_loss)),
    }


def daily_table(
    period: Period, deg: Degradation, maintenance: np.ndarray, downtime: np.ndarray
) -> pd.DataFrame:
    """One row per local day: that day's conservative uptime, downtime and degradation."""
    days = period.local_days()
    firsts = np.array([first - period.start_s for _, first in days], np.int64)
    lengths = np.diff(np.append(firsts, period.seconds))

    def per_day(mask: np.ndarray) -> np.ndarray:
        ends = np.append(firsts[1:], mask.size)
        pairs = zip(firsts.tolist(), ends.tolist(), strict=True)
        return np.array([np.count_nonzero(mask[a:b]) for a, b in pairs], np.int64)

    down = per_day(downtime)
    eligible = lengths - per_day(maintenance)
    uptime = np.where(eligible > 0, 1 - down / np.maximum(eligible, 1), 1.0)
    table = pd.DataFrame(
        {
            "date": [name for name, _ in days],
            "uptime": uptime,
            "downtime_seconds": down,
            "above_latency_seconds": per_day(deg.above_latency),
            "above_loss_seconds": per_day(deg.above_loss),
        }
    )
    day_of = np.searchsorted((firsts + period.start_s) * NS, deg.ok["ts_ns"].to_numpy(), "right")
    grouped = deg.ok.assign(day=day_of - 1).groupby("day")
    latency = grouped["latency_ns"].quantile(list(_QUANTILES)).unstack()
    for q, name in zip(_QUANTILES, ("p50", "p95", "p99"), strict=True):
        column = latency[q] if q in latency else pd.Series(dtype=float)
        table[f"latency_{name}_s"] = column.reindex(range(len(days))).to_numpy() / NS
    loss = grouped["loss_ppm"].mean().reindex(range(len(days)))
    table["loss_mean"] = loss.to_numpy(np.float64) / 1_000_000
    return table[_DAILY_COLUMNS]
