"""The exporter's SLA series and `status` follow the contract's terms as the report does.

A real Prometheus server scrapes `slawitness serve` over a store with a 12-minute outage
under Vultr-like credits per incident, and reads the hand-computed credit (promtool lints the
same exposition); `status` and the
report agree on an SLA whose downtime starts at the ticket, the ticket being a customer's
e-mail attached with `slawitness attach`.
"""

from __future__ import annotations

import calendar
import copy
import json
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

from cli.status import _lines
from collector.config.loader import load_config
from reports.status import statuses
from tests.clirun import slawitness
from tests.exporter_process import clock_at, exporter
from tests.month_store import write_month
from tests.rig.prometheus import PrometheusServer, sample_values
from tests.test_exporter import promtool_check_metrics
from tests.test_report_cli import CONFIG
from tests.test_sla_remedies import VULTR_BUCKETS

HOSTS = [("vps1", "ping", "icmp", "target"), ("resolver", "ping", "icmp", "control")]


def _config(folder: Path, sla: dict[str, Any]) -> Path:
    config = copy.deepcopy(CONFIG)
    config["targets"][0]["sla"] = sla
    path = folder / "slawitness.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:00")


def test_prometheus_reads_the_credit_owed_for_a_vultr_like_outage(
    tmp_path: Path, prometheus_factory: Any
) -> None:
    """12 minutes down an hour ago: Vultr's 10-59 minute bucket, 24 hours of service at
    24 USD a month, so 24 x 24 / (the month's hours) USD; the claim is due 30 days after
    the incident ends. The exporter judges its own current month, so its clock is fixed
    in October 2026, whatever today is."""
    now = datetime(2026, 10, 15, 12, 0, tzinfo=UTC)
    start = now - timedelta(hours=3)
    outage = now - timedelta(hours=1)
    config = _config(tmp_path, {
        "uptime": 100, "timezone": "UTC", "monthly_fee": 24, "currency": "USD",
        "downtime": {"probes": "any", "min_duration": "5m"},
        "incident_credits": {"unit": "service_hours", "buckets": VULTR_BUCKETS},
        "claim_requires_ticket": True,
        "claim_window": {"days": 30, "counted_from": "incident"},
    })  # fmt: skip
    write_month(
        tmp_path / "evidence.db", vantage="office", start=_iso(start),
        end=_iso(now + timedelta(minutes=1)), hosts=HOSTS,
        down={"vps1": [(_iso(outage), _iso(outage + timedelta(minutes=12)))]},
    )  # fmt: skip
    hours = calendar.monthrange(outage.year, outage.month)[1] * 24
    owed = (Decimal(24) * 24 / hours).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    due = (outage + timedelta(minutes=12, days=30)).timestamp()
    with exporter("serve", config, env=clock_at(now.strftime("%Y-%m-%d %H:%M:%S"))) as url:
        job = {"job_name": "slawitness", "static_configs": [{"targets": [url.split("//")[1]]}]}
        server: PrometheusServer = prometheus_factory([job])
        [credit] = server.wait_for(
            'slawitness_sla_credit_owed{target="vps1"}', lambda r: len(r) == 1
        )
        assert credit["metric"]["currency"] == "USD" and credit["metric"]["vantage"] == "office"
        assert Decimal(credit["value"][1]) == owed
        remedies = server.query('slawitness_sla_remedies{target="vps1"}')
        assert sample_values(remedies) == [1.0]
        deadline = server.query('slawitness_sla_claim_deadline_timestamp_seconds{target="vps1"}')
        assert sample_values(deadline) == [due]
        downtime = server.query('slawitness_sla_downtime_seconds{target="vps1"}')
        assert sample_values(downtime) == [720.0]
        checked = promtool_check_metrics(httpx.get(url + "/metrics").text)
        assert checked.returncode == 0 and checked.stdout + checked.stderr == "", checked


# October 2026 (31 days, 2,678,400 s): down Saturday the 10th 10:00-12:00, the customer's
# e-mail to support at 10:40. From the ticket on: 80 minutes, 4,800 s; uptime
# 1 - 4800/2678400 = 99.8208 % < 99.9 %, so the 10 % tier: 4.00 USD of 40. 30 business days
# from the incident's end (Saturday 12:00): six whole weeks, Friday 20 November 12:00.
TICKET_START = {
    "uptime": 99.9, "timezone": "UTC", "monthly_fee": 40, "currency": "USD",
    "downtime": {"probes": "any", "min_duration": "5m", "starts_at": "ticket"},
    "credits": [{"below": 99.9, "credit": 10}],
    "claim_window": {"days": 30, "counted_from": "incident", "business_days": True},
}  # fmt: skip


def _ticket_store(folder: Path) -> Path:
    config = _config(folder, TICKET_START)
    write_month(
        folder / "evidence.db", vantage="office", start="2026-10-09T00:00:00",
        end="2026-10-12T00:00:00", hosts=HOSTS,
        down={"vps1": [("2026-10-10T10:00:00", "2026-10-10T12:00:00")]},
    )  # fmt: skip
    mail = EmailMessage()
    mail["From"] = "ops@customer.example"
    mail["To"] = "support@example.com"  # the provider's contact
    mail["Subject"] = "vps1 unreachable"
    mail["Date"] = format_datetime(datetime(2026, 10, 10, 10, 40, tzinfo=UTC))
    mail["Message-ID"] = "<ticket-1@customer.example>"
    mail.set_content("vps1 has not answered since 10:00 UTC. Please look into it.")
    (folder / "ticket.eml").write_bytes(bytes(mail))
    done = slawitness("attach", "--config", str(config), "--target", "vps1",
                      "--kind", "correspondence", str(folder / "ticket.eml"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    return config


def _ns(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp()) * 10**9


def test_status_and_the_report_count_from_the_attached_e_mail(tmp_path: Path) -> None:
    config_path = _ticket_store(tmp_path)
    done = slawitness("report", "--target", "vps1", "--period", "2026-10", "--format", "json",
                      "--out", str(tmp_path / "r"), cwd=tmp_path, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    [incident] = summary["incidents"]
    assert incident["counted_seconds"] == 4_800 == summary["downtime_seconds"]
    assert incident["counted_from"] == "2026-10-10T10:40:00Z"
    assert summary["credit_amount"] == "4.00"
    config = load_config(config_path)
    # during the month: the same uptime and the budget it leaves
    [during] = statuses(config, [config.store], _ns("2026-10-12T00:00:00+00:00"))
    assert during.period == "2026-10"
    assert during.uptime == summary["uptime_conservative"] == 1 - 4_800 / 2_678_400
    assert during.budget_left_seconds is not None
    assert round(during.budget_left_seconds, 6) == round(2_678_400 * 0.001 - 4_800, 6)
    # after it: the open claim, in the contract's units, due on the incident's own deadline
    [after] = statuses(config, [config.store], _ns("2026-11-02T00:00:00+00:00"))
    [claim] = after.open_claims
    assert claim.period == "2026-10" and claim.deadline == "2026-11-20T12:00:00Z"
    assert incident["claim_deadline"] == claim.deadline
    assert claim.days_left == 18 and claim.deadline_basis == "30 business days from each incident"
    assert (claim.credit_amount, claim.granted, claim.claimable_amount) == (
        "4.00",
        ["10% of the fee"],
        "4.00",
    )
    line = next(x for x in _lines(after.as_json(), 0) if "OPEN CLAIM" in x)
    assert (
        "credit 10% = 4.00; claim by 2026-11-20T12:00:00Z (18 days left; 30 business days" in line
    )
    # once the deadline has passed, nothing is reminded
    [late] = statuses(config, [config.store], _ns("2026-11-21T00:00:00+00:00"))
    assert late.open_claims == []


def test_status_names_the_remedies_still_claimable_in_their_units(tmp_path: Path) -> None:
    """Two Vultr-like incidents a week apart, each with 14 days to claim from its end: after
    the first's deadline only the second's 48 hours of service are still claimable."""
    config_path = _config(tmp_path, {
        "uptime": 100, "timezone": "UTC", "monthly_fee": 24, "currency": "USD",
        "downtime": {"probes": "any", "min_duration": "5m"},
        "incident_credits": {"unit": "service_hours", "buckets": VULTR_BUCKETS},
        "claim_window": {"days": 14, "counted_from": "incident"},
    })  # fmt: skip
    write_month(
        tmp_path / "evidence.db", vantage="office", start="2026-10-19T00:00:00",
        end="2026-10-31T00:00:00", hosts=HOSTS,
        down={"vps1": [("2026-10-20T10:00:00", "2026-10-20T10:30:00"),
                       ("2026-10-27T10:00:00", "2026-10-27T11:30:00")]},
    )  # fmt: skip
    config = load_config(config_path)
    # 24 and 48 hours of service at 24 USD / 744 h: 0.77 and 1.55 USD
    [both] = statuses(config, [config.store], _ns("2026-11-01T00:00:00+00:00"))
    [claim] = both.open_claims
    assert claim.granted == ["72 hours of service"] and claim.claimable_amount == "2.32"
    assert claim.deadline == "2026-11-03T10:30:00Z" and claim.credit_amount == "2.32"
    [later] = statuses(config, [config.store], _ns("2026-11-04T00:00:00+00:00"))
    [claim] = later.open_claims
    assert claim.granted == ["48 hours of service"] and claim.claimable_amount == "1.55"
    assert claim.deadline == "2026-11-10T11:30:00Z" and claim.credit_amount == "2.32"
    line = next(x for x in _lines(later.as_json(), 0) if "OPEN CLAIM" in x)
    assert "credit 48 hours of service (1.55 USD) from 1 remedy; claim by 2026-11-10" in line
