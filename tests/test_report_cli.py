"""`slawitness report`, `bundle` and `verify-bundle` end to end over a month of records."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.clirun import slawitness
from tests.month_store import write_month

CONFIG = {
    "vantage": "office",
    "store": "evidence.db",
    "targets": [
        {
            "name": "vps1",
            "host": "203.0.113.10",
            "provider": {
                "name": "ExampleHost",
                "account": "C-1234",
                "contact": "support@example.com",
                "country": "US",
            },
            "probes": [
                {"name": "ping", "kind": "icmp", "interval": "60s", "timeout": "2s"},
                {"name": "web", "kind": "tcp", "port": 443, "interval": "60s", "timeout": "5s"},
            ],
            "sla": {
                "uptime": 99.9,
                "timezone": "UTC",
                "downtime": {"probes": "any", "min_duration": "5m"},
                "maintenance": [{"start": "2026-10-25T02:00:00Z", "end": "2026-10-25T04:00:00Z"}],
                "credits": [{"below": 99.9, "credit": 10}, {"below": 99.0, "credit": 25}],
                "monthly_fee": 40,
                "currency": "USD",
                "claim_window_days": 30,
            },
        }
    ],
    "controls": [
        {
            "name": "resolver",
            "host": "198.51.100.53",
            "probes": [{"name": "ping", "kind": "icmp", "interval": "60s", "timeout": "2s"}],
        }
    ],
}


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """October 2026: a 4 h provider outage, a 20 min local one, a 3 min blip, one ticket."""
    folder = tmp_path_factory.mktemp("month")
    (folder / "slawitness.yml").write_text(yaml.safe_dump(CONFIG))
    write_month(
        folder / "evidence.db",
        vantage="office",
        start="2026-09-30T00:00:00",
        end="2026-11-02T00:00:00",
        hosts=[
            ("vps1", "ping", "icmp", "target"),
            ("vps1", "web", "tcp", "target"),
            ("resolver", "ping", "icmp", "control"),
        ],
        down={
            "vps1": [
                ("2026-10-05T10:00:00", "2026-10-05T14:00:00"),
                ("2026-10-07T03:00:00", "2026-10-07T03:20:00"),
                ("2026-10-09T00:00:00", "2026-10-09T00:03:00"),
            ],
            "resolver": [("2026-10-07T03:00:00", "2026-10-07T03:20:00")],
        },
        notes=[("2026-10-05T10:30:00", "vps1", "48213", "Reported the outage to support")],
    )
    return folder


def test_report_figures_match_the_hand_computation(month: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    done = slawitness(
        "report",
        "--target",
        "vps1",
        "--period",
        "2026-10",
        "--out",
        str(out),
        "--format",
        "json,html,csv,letter",
        cwd=month,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "summary.json").read_text())
    # October: 31 days = 2,678,400 s; maintenance 2 h = 7,200 s; eligible 2,671,200 s.
    assert summary["period_start"] == "2026-10-01T00:00:00Z"
    assert summary["period_end"] == "2026-11-01T00:00:00Z"
    assert summary["period_seconds"] == 2_678_400
    assert summary["maintenance_seconds"] == 7_200
    assert summary["no_data_seconds"] == 0
    # Only the 4 h provider outage counts: the 20 min one had every control down too
    # (local) and the 3 min one is shorter than min_duration.
    assert summary["downtime_seconds"] == 14_400
    assert summary["uptime_conservative"] == pytest.approx(1 - 14_400 / 2_671_200)
    assert summary["uptime_observed"] == pytest.approx(1 - 14_400 / 2_671_200)
    assert summary["sla_uptime"] == pytest.approx(0.999)
    assert summary["breached"] is True
    # 99.460% is under 99.9 but not under 99.0: the 10 % tier of 40 USD.
    assert summary["credit_percent"] == 10 and summary["credit_amount"] == "4.00"
    assert summary["claim_deadline"] == "2026-12-01T00:00:00Z"
    incidents = {i["start"]: i for i in summary["incidents"]}
    assert incidents["2026-10-05T10:00:00Z"]["end"] == "2026-10-05T14:00:00Z"
    assert incidents["2026-10-05T10:00:00Z"]["attribution"] == "provider"
    assert incidents["2026-10-05T10:00:00Z"]["counted_seconds"] == 14_400
    assert incidents["2026-10-07T03:00:00Z"]["attribution"] == "local"
    assert incidents["2026-10-07T03:00:00Z"]["counted_seconds"] == 0
    assert incidents["2026-10-07T03:00:00Z"]["counted"] is False
    assert incidents["2026-10-07T03:00:00Z"]["not_counted_because"] == "local"
    assert incidents["2026-10-09T00:00:00Z"]["counted"] is False
    assert incidents["2026-10-09T00:00:00Z"]["not_counted_because"] == "too_short"
    assert "3 incidents, 1 counted (1 too short, 1 your network);" in done.stdout
    rows = (out / "incidents.csv").read_text().splitlines()
    assert [row.split(",")[5] for row in rows] == ["not_counted_because", "", "local", "too_short"]
    assert summary["stores"][0]["ok"] is True
    letter = (out / "letter.en.md").read_text()
    assert "4.00" in letter and "48213" in letter and "2026-12-01" in letter
    html = (out / "report.en.html").read_text()
    assert "99.460%" in html and "ExampleHost" in html  # 99.46092...%, cut, not rounded
    assert "4.00 USD" in done.stdout and "BREACHED" in done.stdout


def test_bundle_verifies_and_names_tampering(month: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "b.zip"
    done = slawitness(
        "bundle",
        "--target",
        "vps1",
        "--period",
        "2026-10",
        "--out",
        str(bundle),
        "--lang",
        "en",
        cwd=month,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    checked = slawitness("verify-bundle", str(bundle))
    assert checked.returncode == 0 and "ok" in checked.stdout, checked.stdout
    with zipfile.ZipFile(bundle) as original:
        names = original.namelist()
        assert "report/summary.json" in names and "MANIFEST.sha256" in names
        summary = json.loads(original.read("report/summary.json"))
        letter = original.read("report/letter.en.md").decode()
        chain = original.read("records/chain.json")
        import hashlib

        assert hashlib.sha256(chain).hexdigest() in letter
        tampered = tmp_path / "t.zip"
        with zipfile.ZipFile(tampered, "w") as copy:
            for name in names:
                data = original.read(name)
                if name == "report/summary.json":
                    data = data.replace(b'"credit_amount": "4.00"', b'"credit_amount": "40.00"')
                copy.writestr(name, data)
    assert summary["credit_amount"] == "4.00"
    bad = slawitness("verify-bundle", str(tampered))
    assert bad.returncode == 1 and "report/summary.json" in bad.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--target", "nope", "--period", "2026-10"], 4, "no target named 'nope'"),
        (["--target", "vps1"], 2, "missing option: --period"),
        (["--target", "vps1", "--period", "2026-13"], 2, "invalid value for '--period'"),
        (["--target", "vps1", "--period", "2026-10", "--format", "docx"], 2, "--format"),
        (["--target", "vps1", "--period", "2026-10", "--store", "missing.db"], 4, "missing.db"),
    ],
)
def test_report_mistakes_are_one_line(
    month: Path, args: list[str], code: int, message: str
) -> None:
    done = slawitness("report", *args, cwd=month, timeout=120)
    assert done.returncode == code, done.stderr
    assert message in done.stderr and done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr
