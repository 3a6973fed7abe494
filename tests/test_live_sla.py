"""The exporter's SLA series come from the report engine and agree with the report."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml

from collector.config.loader import load_config
from reports.live import LiveSla
from tests.clirun import slawitness
from tests.exporter_process import exporter, parse_metrics, value
from tests.month_store import write_month
from tests.test_report_cli import CONFIG


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:00")


@pytest.fixture
def recent(tmp_path: Path) -> tuple[Path, str]:
    """Three hours of records up to now, with a 12 minute provider outage an hour ago."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = max(now - timedelta(hours=3), now.replace(day=1, hour=0, minute=0))
    outage = max(now - timedelta(hours=1), start + timedelta(minutes=5))
    (tmp_path / "slawitness.yml").write_text(yaml.safe_dump(CONFIG))
    write_month(
        tmp_path / "evidence.db",
        vantage="office",
        start=_iso(start),
        end=_iso(now + timedelta(minutes=1)),
        hosts=[("vps1", "ping", "icmp", "target"), ("resolver", "ping", "icmp", "control")],
        down={"vps1": [(_iso(outage), _iso(outage + timedelta(minutes=12)))]},
    )
    return tmp_path, now.strftime("%Y-%m")


def test_live_figures_equal_the_report_of_the_month(recent: tuple[Path, str]) -> None:
    folder, month = recent
    config = load_config(folder / "slawitness.yml")
    live = LiveSla(config, [config.store])
    live.refresh()
    [gauge] = live.gauges()
    done = slawitness(
        "report",
        "--target",
        "vps1",
        "--period",
        month,
        "--format",
        "json",
        "--out",
        str(folder / "r"),
        cwd=folder,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads((folder / "r" / "summary.json").read_text())
    assert summary["downtime_seconds"] == 720 == gauge.downtime_seconds
    assert gauge.uptime_ratio == pytest.approx(summary["uptime_conservative"])
    assert gauge.objective_ratio == pytest.approx(0.999)
    eligible = summary["period_seconds"] - summary["maintenance_seconds"]
    assert gauge.budget_remaining_seconds == pytest.approx(eligible * 0.001 - 720)


def test_serve_exposes_the_sla_series(recent: tuple[Path, str]) -> None:
    folder, _ = recent
    with exporter("serve", folder / "slawitness.yml") as url:
        samples: dict = {}
        for _ in range(200):
            samples = parse_metrics(httpx.get(url + "/metrics").text)
            if any(name == "slawitness_sla_downtime_seconds" for name, _ in samples):
                break
            time.sleep(0.1)
        assert value(samples, "slawitness_sla_downtime_seconds", target="vps1") == 720.0
        assert value(samples, "slawitness_sla_objective_ratio", target="vps1") == 0.999
        assert 0.99 < value(samples, "slawitness_sla_uptime_ratio", target="vps1") < 1.0
        assert value(samples, "slawitness_sla_error_budget_remaining_seconds", target="vps1") > 0
