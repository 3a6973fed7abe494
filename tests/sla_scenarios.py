"""Hand-made samples DataFrames and configs for the SLA engine's scenario tests.

A scenario reads like the story it tells: "office sees web fail from 10:00 to 10:10", i.e.
``samples("office", "vps1", "web", [(T0, "10:00", True), ("10:00", "10:10", False), ...])``.
Times are ISO strings (UTC unless they carry an offset) or epoch seconds; a run
(start, end, ok) puts one sample every `interval` seconds in [start, end).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from collector.config.model import Control, Target
from reports.sla.engine import SlaResult, evaluate
from reports.sla.period import Period, month_period

NS = 1_000_000_000
BEFORE, AFTER = "2026-09-30T00:00:00Z", "2026-11-02T00:00:00Z"
"""The default span of a series: October 2026 with a day on either side."""
KIND_OF = {"ping": "icmp", "ssh": "tcp", "dns": "dns"}
Moment = str | int

COLUMNS = [
    "ts_ns", "vantage", "target", "probe", "kind", "role", "ok", "latency_ns", "loss_ppm",
    "error", "interval_ns", "origin", "seq",
]  # fmt: skip


def at(moment: Moment) -> int:
    """Epoch seconds of an ISO string (naive means UTC) or of epoch seconds."""
    if isinstance(moment, int):
        return moment
    parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = datetime.fromisoformat(moment + "+00:00")
    return int(parsed.timestamp())


def samples(
    vantage: str,
    target: str,
    probe: str,
    runs: Sequence[tuple[Moment, Moment, bool]],
    interval: int = 60,
    *,
    role: str = "target",
    error: str = "timeout",
    latency_s: float = 0.02,
    loss_ppm: float | None = None,
    jitter_s: int = 0,
    origin: str = "native",
    seed: int = 0,
) -> pd.DataFrame:
    """One series: a sample every `interval` s over each run; `jitter_s` shifts every ts by
    a deterministic 0..jitter_s seconds, like cron starting late."""
    parts = []
    for start, end, ok in runs:
        ts = np.arange(at(start), at(end), interval, dtype=np.int64)
        parts.append((ts, np.full(ts.size, ok)))
    ts = np.concatenate([p[0] for p in parts]) * NS
    good = np.concatenate([p[1] for p in parts]).astype(bool)
    if jitter_s:
        ts = ts + np.random.default_rng(seed).integers(0, jitter_s * NS, ts.size)
    kind = KIND_OF.get(probe, "http")
    lost = 0.0 if loss_ppm is None else loss_ppm
    return pd.DataFrame(
        {
            "ts_ns": ts,
            "vantage": vantage,
            "target": target,
            "probe": probe,
            "kind": kind,
            "role": role,
            "ok": good,
            "latency_ns": np.where(good, latency_s * NS, np.nan),
            "loss_ppm": np.where(good, lost, 1e6) if kind == "icmp" else np.nan,
            "error": [None if g else error for g in good.tolist()],
            "interval_ns": np.int64(interval * NS),
            "origin": origin,
            "seq": np.int64(-1),
        }
    )[COLUMNS]


def combine(*frames: pd.DataFrame) -> pd.DataFrame:
    """Several series as one samples DataFrame, sorted by ts_ns like reports/sources/stores.py."""
    frame = pd.concat(frames, ignore_index=True).sort_values("ts_ns", kind="stable")
    frame = frame.reset_index(drop=True)
    frame["seq"] = np.arange(1, len(frame) + 1, dtype=np.int64)
    return frame


def _probe(name: str, interval: int) -> dict[str, Any]:
    kind = KIND_OF.get(name, "http")
    spec: dict[str, Any] = {"name": name, "kind": kind, "interval": interval, "timeout": 2}
    if kind == "tcp":
        spec["port"] = 22
    elif kind == "http":
        spec["url"] = "http://127.0.0.1/health"
    elif kind == "dns":
        spec["query_name"] = "example.test"
    return spec


def make_target(
    name: str = "vps1", probes: Sequence[str] = ("ping", "web"), interval: int = 60, **sla: Any
) -> Target:
    """A target whose SLA defaults to a typical VPS SLA (99.9 %, any probe down for 5 min,
    credits of 10, 25 and 100 %); keyword arguments override."""
    terms: dict[str, Any] = {
        "uptime": 99.9,
        "timezone": "UTC",
        "downtime": {"probes": "any", "min_duration": "5m"},
        "credits": [
            {"below": 99.9, "credit": 10},
            {"below": 99.0, "credit": 25},
            {"below": 95.0, "credit": 100},
        ],
        "monthly_fee": 40,
        "currency": "USD",
        "claim_window_days": 30,
    }
    terms.update(sla)
    return Target.model_validate(
        {
            "name": name,
            "host": "192.0.2.10",
            "provider": {"name": "ExampleHost", "account": "C-1234"},
            "probes": [_probe(p, interval) for p in probes],
            "sla": terms,
        }
    )


def make_control(name: str = "resolver", probes: Sequence[str] = ("ping",)) -> Control:
    """A control host with the given probes."""
    return Control.model_validate(
        {"name": name, "host": "192.0.2.53", "probes": [_probe(p, 60) for p in probes]}
    )


def outage(vantage: str, host: str, probe: str, down: tuple[str, str], **kw: Any) -> pd.DataFrame:
    """A series sampled every minute from BEFORE to AFTER, failing over [down)."""
    runs = [(BEFORE, down[0], True), (down[0], down[1], False), (down[1], AFTER, True)]
    return samples(vantage, host, probe, runs, **kw)


def up(vantage: str, host: str, probe: str, **kw: Any) -> pd.DataFrame:
    """A series sampled every minute from BEFORE to AFTER, never failing."""
    return samples(vantage, host, probe, [(BEFORE, AFTER, True)], **kw)


def control_up(vantage: str = "office") -> pd.DataFrame:
    """The default control, answering throughout."""
    return up(vantage, "resolver", "ping", role="control")


def failing_from(start: int, seconds: int, probe: str = "web", **kw: Any) -> pd.DataFrame:
    """office's series of vps1 failing over [start, start + seconds), up around it."""
    runs: list[tuple[Moment, Moment, bool]] = [
        (BEFORE, start, True), (start, start + seconds, False), (start + seconds, AFTER, True),
    ]  # fmt: skip
    return samples("office", "vps1", probe, runs, **kw)


def run_checked(
    frame: pd.DataFrame,
    target: Target | None = None,
    controls: list[Control] | None = None,
    period: Period | None = None,
    **kw: Any,
) -> SlaResult:
    """evaluate() with scenario defaults (make_target(), one control, October 2026 UTC),
    checking that the timeline covers the period exactly and agrees with the summary."""
    result = evaluate(
        frame,
        target or make_target(),
        [make_control()] if controls is None else controls,
        period or month_period("2026-10", "UTC"),
        **kw,
    )
    s, t = result.summary, result.timeline
    assert json.loads(json.dumps(s)) == s  # plain JSON types only (no numpy scalars)
    assert t["start_ns"].iloc[0] == at(s["period_start"]) * NS
    assert t["end_ns"].iloc[-1] == at(s["period_end"]) * NS
    assert (t["start_ns"].iloc[1:].to_numpy() == t["end_ns"].iloc[:-1].to_numpy()).all()
    seconds = ((t["end_ns"] - t["start_ns"]) // NS).groupby(t["state"]).sum()
    assert seconds.sum() == s["period_seconds"]
    assert seconds.get("maintenance", 0) == s["maintenance_seconds"]
    assert seconds.get("no_data", 0) == s["no_data_seconds"]
    assert result.daily["downtime_seconds"].sum() == s["downtime_seconds"]
    return result
