"""Hand-made engine output for the report tests: a month with five incidents of every kind.

The figures are worked out by hand from the contract (reports contract section 3), so the
report tests do not depend on the SLA engine: October 2026 in UTC, 129.50 USD a month, SLA
99.9 %, one provider outage of 3 h, one crossing the period start, a short one that does not
count, a local one (controls down) and one inside a maintenance window; two hours of no data.
Names and notes carry markup so escaping is tested too.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

PERIOD_START = datetime(2026, 10, 1, tzinfo=UTC)
PERIOD_END = datetime(2026, 11, 1, tzinfo=UTC)
MINUTE_NS = 60 * 10**9


def iso(moment: datetime) -> str:
    """UTC ISO 8601 with Z, as summary.json writes times."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def at(day: int, hour: int, minute: int = 0, month: int = 10) -> datetime:
    """A UTC moment in autumn 2026."""
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def ns(moment: datetime) -> int:
    """UTC epoch nanoseconds."""
    return int(moment.timestamp()) * 10**9


# (start, end, attribution, not_counted_because, counted_seconds, probes, errors)
INCIDENTS: list[tuple[datetime, datetime, str, str | None, int, list[str], dict[str, int]]] = [
    (at(30, 23, 50, month=9), at(1, 0, 10), "provider", None, 600, ["web"], {"timeout": 20}),
    (
        at(3, 10),
        at(3, 13),
        "provider",
        None,
        10800,
        ["ping", "web"],
        {"timeout": 300, "unreachable": 60},
    ),
    (at(10, 5), at(10, 5, 2), "provider", "too_short", 0, ["web"], {"http_status": 2}),
    (at(15, 20), at(15, 20, 20), "local", "local", 0, ["ping", "web"], {"unreachable": 40}),
    (at(25, 2, 30), at(25, 3), "maintenance", "maintenance", 0, ["web"], {"refused": 30}),
]
NO_DATA = (at(20, 12), at(20, 14))
MAINTENANCE = (at(25, 2), at(25, 4))


def make_summary(**changes: Any) -> dict[str, Any]:
    """summary.json for the month, as the engine and the report verb would write it."""
    incidents = [
        {
            "start": iso(s),
            "end": iso(e),
            "duration_seconds": int((e - s).total_seconds()),
            "counted_seconds": cs,
            "probes": probes,
            "errors": errors,
            "attribution": attr,
            "counted": reason is None,
            "not_counted_because": reason,
            "vantages": ["office"],
        }
        for s, e, attr, reason, cs, probes, errors in INCIDENTS
    ]
    summary: dict[str, Any] = {
        "target": "vps1",
        "provider": {
            "name": "Example<Host> & Co",
            "account": "C-1234",
            "contact": "support@example.com",
            "country": "US",
        },
        "period_label": "2026-10",
        "timezone": "UTC",
        "period_start": iso(PERIOD_START),
        "period_end": iso(PERIOD_END),
        "period_seconds": 2678400,
        "maintenance_seconds": 7200,
        "no_data_seconds": 7200,
        "downtime_seconds": 11400,
        "uptime_observed": 1 - 11400 / (2671200 - 7200),
        "uptime_conservative": 1 - 11400 / 2671200,
        "sla_uptime": 0.999,
        "breached": True,
        "credit_percent": 10,
        "credit_amount": "12.95",
        "currency": "USD",
        "monthly_fee": "129.50",
        "claim_deadline": "2026-12-01T00:00:00Z",
        "min_duration_seconds": 300,
        "downtime_rule": "any",
        "confirm_vantages": 1,
        "controls": ["resolver"],
        "controls_configured": True,
        "vantages": ["office"],
        "incidents": incidents,
        "latency": {
            "by_probe": {
                "ping": {"p50_s": 0.0412, "p95_s": 0.0533, "p99_s": 0.0871, "samples": 44400},
                "web": {"p50_s": 0.1204, "p95_s": 0.2511, "p99_s": 0.4132, "samples": 44400},
            },
            "threshold_s": 0.3,
            "above_threshold_seconds": 1320,
        },
        "loss": {"mean": 0.0042, "threshold": 0.05, "above_threshold_seconds": 180},
        "samples": {
            "total": 133200,
            "imported": 1440,
            "imported_files": [
                {"file_sha256": "ab" * 32, "samples": 1440, "file_name": "old-monitor.jsonl"}
            ],
            "prometheus": False,
        },
        "notes": [
            {
                "ts": "2026-10-03T10:20:00Z",
                "ticket": "48213",
                "text": "Opened ticket: host unreachable <script>alert(1)</script>",
            },
            {
                "ts": "2026-10-03T13:05:00Z",
                "ticket": None,
                "text": "Support says a switch failed in rack B4.",
            },
        ],
        "stores": [
            {
                "path": "/var/lib/slawitness/evidence.db",
                "ok": True,
                "count": 135000,
                "head_seq": 135000,
                "head_hash": "3f" * 32,
                "first_bad_seq": None,
                "problem": None,
            }
        ],
        "caveats": [],
        "generated_at": "2026-11-01T08:00:00Z",
        "slawitness_version": "0.1.0",
    }
    summary.update(copy.deepcopy(changes))
    return summary


def make_timeline() -> pd.DataFrame:
    """The engine's runs for the month: contiguous, covering it exactly."""
    marks: list[tuple[datetime, datetime, str]] = []
    for start, end, attr, *_ in INCIDENTS:
        if attr != "maintenance":
            marks.append((max(start, PERIOD_START), end, attr))
    marks += [(NO_DATA[0], NO_DATA[1], "no_data"), (MAINTENANCE[0], MAINTENANCE[1], "maintenance")]
    marks.sort()
    rows, cursor = [], PERIOD_START
    for start, end, state in marks:
        if start > cursor:
            rows.append((ns(cursor), ns(start), "up"))
        rows.append((ns(start), ns(end), state))
        cursor = end
    rows.append((ns(cursor), ns(PERIOD_END), "up"))
    return pd.DataFrame(rows, columns=["start_ns", "end_ns", "state"])


def make_daily() -> pd.DataFrame:
    """One row per day: the counted provider seconds that fall on it."""
    rows = []
    day = PERIOD_START
    while day < PERIOD_END:
        nxt = day + timedelta(days=1)
        down = sum(
            int((min(e, nxt) - max(s, day, PERIOD_START)).total_seconds())
            for s, e, attr, reason, *_ in INCIDENTS
            if attr == "provider" and reason is None and s < nxt and e > day
        )
        maint = 7200 if day.day == 25 else 0
        rows.append(
            {
                "date": day.strftime("%Y-%m-%d"),
                "uptime": 1 - down / (86400 - maint),
                "downtime_seconds": down,
                "latency_p50_s": 0.12,
                "latency_p95_s": 0.25,
                "latency_p99_s": 0.41,
                "loss_mean": 0.004,
                "above_latency_seconds": 60 if day.day == 3 else 0,
                "above_loss_seconds": 0,
            }
        )
        day = nxt
    return pd.DataFrame(rows)


def make_samples(days: int = 31, step_ns: int = MINUTE_NS) -> pd.DataFrame:
    """One-minute samples of vps1 (ping, web) and the resolver control, failing on cue."""
    start = ns(PERIOD_START)
    ts = np.arange(start, start + days * 86_400 * 10**9, step_ns, dtype=np.int64)
    gap = (ts >= ns(NO_DATA[0])) & (ts < ns(NO_DATA[1]))
    ts = ts[~gap]
    rng = np.random.default_rng(7)
    frames = []
    local = (ts >= ns(at(15, 20))) & (ts < ns(at(15, 20, 20)))
    for probe, kind, role, target, base in [
        ("ping", "icmp", "target", "vps1", 0.04),
        ("web", "http", "target", "vps1", 0.12),
        ("ping", "icmp", "control", "resolver", 0.01),
    ]:
        failing = local.copy()
        if role == "target":
            for s, e, _attr, _c, _cs, probes, _err in INCIDENTS:
                if probe in probes:
                    failing |= (ts >= ns(s)) & (ts < ns(e))
        latency = base * (1 + rng.gamma(2.0, 0.15, ts.size)) * 1e9
        latency[(ts >= ns(at(7, 9))) & (ts < ns(at(7, 9, 30)))] *= 4
        frames.append(
            pd.DataFrame(
                {
                    "ts_ns": ts,
                    "vantage": "office",
                    "target": target,
                    "probe": probe,
                    "kind": kind,
                    "role": role,
                    "ok": ~failing,
                    "latency_ns": np.where(failing, np.nan, latency),
                    "loss_ppm": (
                        np.where(failing, 1_000_000.0, 0.0)
                        if kind == "icmp"
                        else np.full(ts.size, np.nan)
                    ),
                    "error": pd.Series(
                        ["timeout" if bad else None for bad in failing], dtype=object
                    ),
                    "interval_ns": step_ns,
                    "origin": "native",
                    "seq": np.int64(0),
                }
            )
        )
    samples = pd.concat(frames).sort_values("ts_ns", kind="stable").reset_index(drop=True)
    samples["seq"] = np.arange(1, len(samples) + 1, dtype=np.int64)
    return samples
