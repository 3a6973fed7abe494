"""Credit remedies beyond the uptime tiers, with figures worked out by hand.

Every scenario goes through the engine's entry point (`evaluate`) with samples every minute,
so an outage of N minutes is N * 60 counted seconds. October 2026 has 31 days: 744 hours,
2 678 400 seconds. A fee of 744 makes one hour of service worth exactly 1.00 and one second
of charges 1/3600. Amounts are rounded half-up to cents once per remedy; the total is the
sum of the listed amounts.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from collector.config.loader import ConfigError, load_config
from reports.render.html import render_html
from reports.render.letters import render_letter
from reports.sla.period import month_period, span_period
from tests.clirun import slawitness, write_config
from tests.month_store import write_month
from tests.sla_scenarios import (
    AFTER,
    BEFORE,
    at,
    combine,
    control_up,
    make_target,
    run_checked,
    samples,
)

VULTR_BUCKETS = [
    {"at_least": "0s", "credit": 12},
    {"at_least": "10m", "credit": 24},
    {"at_least": "60m", "credit": 48},
    {"at_least": "120m", "credit": 120},
    {"at_least": "240m", "credit": 240},
    {"at_least": "420m", "credit": 672},
]
NO_TIERS: dict[str, Any] = {
    "uptime": 100,
    "credits": [],
    "downtime": {"probes": "any", "min_duration": "0s"},
}


def outages(starts_and_minutes: list[tuple[str, int]]) -> pd.DataFrame:
    """office's web failing for each (start, minutes), up around them, with the control up."""
    runs: list[tuple[str | int, str | int, bool]] = []
    cursor: str | int = BEFORE
    for start, minutes in starts_and_minutes:
        runs += [(cursor, start, True), (start, at(start) + minutes * 60, False)]
        cursor = at(start) + minutes * 60
    runs.append((cursor, AFTER, True))
    return combine(samples("office", "vps1", "web", runs), control_up())


def day(n: int) -> str:
    return f"2026-10-{n:02d}T10:00:00Z"


def amounts(summary: dict[str, Any], kind: str) -> list[str]:
    return [r["amount"] for r in summary["remedies"] if r["kind"] == kind]


def total_of(summary: dict[str, Any]) -> Decimal:
    return sum((Decimal(r["amount"]) for r in summary["remedies"]), Decimal(0))


VULTR_CASES = [
    # (outage minutes, hours of service earned, amount at 24 USD / 744 h)
    (5, "12", "0.39"),
    (10, "24", "0.77"),
    (59, "24", "0.77"),
    (60, "48", "1.55"),
    (119, "48", "1.55"),
    (120, "120", "3.87"),
    (239, "120", "3.87"),
    (240, "240", "7.74"),
    (419, "240", "7.74"),
    (420, "672", "21.68"),
]


def vultr_target(**changes: Any) -> Any:
    terms = {
        **NO_TIERS,
        "monthly_fee": 24,
        "incident_credits": {"unit": "service_hours", "buckets": VULTR_BUCKETS},
        "claim_requires_ticket": True,
    }
    return make_target(**{**terms, **changes})


def test_vultr_each_outage_earns_its_bucket() -> None:
    frame = outages([(day(n + 1), minutes) for n, (minutes, _, _) in enumerate(VULTR_CASES)])
    s = run_checked(frame, vultr_target()).summary
    remedies = s["remedies"]
    assert [(r["duration_seconds"], r["credit"], r["amount"]) for r in remedies] == [
        (minutes * 60, hours, amount) for minutes, hours, amount in VULTR_CASES
    ]
    assert {(r["kind"], r["unit"], r["capped"]) for r in remedies} == {
        ("incident", "service_hours", False)
    }
    assert [r["incident_start"] for r in remedies] == [day(n) for n in range(1, 11)]
    # 0.39 + 2 x 0.77 + 2 x 1.55 + 2 x 3.87 + 2 x 7.74 + 21.68
    assert s["credit_amount"] == "49.93" == str(total_of(s))
    assert (s["credit_percent"], s["credit_tier"], s["credit_capped"]) == (0, None, False)
    assert s["breached"] is True and s["claim_requires_ticket"] is True


def test_a_service_hour_is_worth_the_fee_over_the_hours_of_the_period() -> None:
    """November has 30 days: 12 hours of 24 USD / 720 h is 0.40, not October's 0.39."""
    frame = outages([("2026-11-01T10:00:00Z", 5)])
    november = run_checked(frame, vultr_target(), period=month_period("2026-11", "UTC"))
    assert amounts(november.summary, "incident") == ["0.40"]


def test_percent_buckets_are_a_percent_of_the_fee() -> None:
    table = {
        "unit": "percent",
        "buckets": [{"at_least": "0s", "credit": 5}, {"at_least": "1h", "credit": 10}],
    }
    frame = outages([(day(2), 30), (day(3), 90)])
    s = run_checked(frame, vultr_target(monthly_fee=40, incident_credits=table)).summary
    assert [(r["credit"], r["unit"], r["amount"]) for r in s["remedies"]] == [
        ("5", "percent", "2.00"),
        ("10", "percent", "4.00"),
    ]
    assert s["credit_amount"] == "6.00"


def upcloud_target(**changes: Any) -> Any:
    """50 times the charges for each interruption of 5 minutes or more, at most 20 % of the
    fee per interruption and 30 % per month; 744 USD a month is 1 USD per hour of charges."""
    rule = {
        "multiple": 50,
        "at_least": "5m",
        "cap_per_incident_percent": 20,
        "cap_per_period_percent": 30,
    }
    return make_target(**{**NO_TIERS, "monthly_fee": 744, "compensation": rule, **changes})


def test_upcloud_fifty_times_the_charges_capped_per_incident_and_per_month() -> None:
    frame = outages([(day(2), 4), (day(3), 30), (day(4), 190), (day(5), 60)])
    s = run_checked(frame, upcloud_target()).summary
    rows = [(r["duration_seconds"], r["credit"], r["amount"], r["capped"]) for r in s["remedies"]]
    assert rows == [
        # 4 min is under 5 min: nothing. 30 min = 0.50 of charges x 50 = 25.00.
        (1800, "25.00", "25.00", False),
        # 3 h 10 min = 3.1666... x 50 = 158.33, capped at 20 % of 744 = 148.80.
        (11400, "158.33", "148.80", True),
        # 1 h = 50.00, but the month's cap of 30 % = 223.20 leaves 223.20 - 173.80 = 49.40.
        (3600, "50.00", "49.40", True),
    ]
    assert {r["multiple"] for r in s["remedies"]} == {"50"}
    assert s["credit_amount"] == "223.20" and s["credit_capped"] is True


def test_compensation_without_caps_is_the_whole_multiple() -> None:
    rule = {"multiple": 10, "at_least": "0s"}
    s = run_checked(outages([(day(2), 190)]), upcloud_target(compensation=rule)).summary
    assert amounts(s, "compensation") == ["31.67"]  # 10 x 3.1666...
    assert s["credit_capped"] is False


def test_digitalocean_hourly_credit_rounds_each_incident_up() -> None:
    """730 USD a month at the default rate of fee / 730 h is 1.00 an hour."""
    frame = outages([(day(2), 9), (day(3), 61), (day(4), 120)])
    s = run_checked(frame, make_target(**NO_TIERS, monthly_fee=730, hourly_credit={})).summary
    assert [(r["credit"], r["unit"], r["amount"]) for r in s["remedies"]] == [
        ("1", "service_hours", "1.00"),
        ("2", "service_hours", "2.00"),
        ("2", "service_hours", "2.00"),
    ]
    assert s["credit_amount"] == "5.00"


def test_hourly_credit_at_a_stated_rate_and_granule() -> None:
    rule = {"round_up_to": "30m", "rate": "0.05"}
    frame = outages([(day(2), 31)])
    s = run_checked(frame, make_target(**NO_TIERS, monthly_fee=24, hourly_credit=rule)).summary
    assert [(r["credit"], r["amount"]) for r in s["remedies"]] == [("1", "0.05")]


def test_an_overall_cap_holds_over_the_tier_and_the_remedies() -> None:
    """One hour down: uptime 99.866 % is under the 99.9 % tier (10 % of 40 = 4.00); the
    hourly credit at 10.00 an hour adds 10.00; the 25 % cap (10.00) leaves it 6.00."""
    target = make_target(hourly_credit={"rate": 10}, credit_cap_percent=25)
    s = run_checked(outages([(day(2), 60)]), target).summary
    assert [(r["kind"], r["credit"], r["amount"], r["capped"]) for r in s["remedies"]] == [
        ("tier", "10", "4.00", False),
        ("hourly", "1", "6.00", True),
    ]
    assert (s["credit_amount"], s["credit_capped"], s["credit_percent"]) == ("10.00", True, 10)


def test_a_tier_only_sla_keeps_its_figures_and_lists_its_tier() -> None:
    s = run_checked(outages([(day(2), 60)]), make_target()).summary
    assert (s["credit_percent"], s["credit_amount"]) == (10, "4.00")
    assert s["credit_tier"] == {"below": 99.9, "credit": 10}
    assert s["remedies"] == [
        {
            "kind": "tier",
            "incident_start": None,
            "duration_seconds": None,
            "credit": "10",
            "unit": "percent",
            "amount": "4.00",
            "capped": False,
            "multiple": None,
        }
    ]
    assert s["credit_capped"] is False and s["claim_requires_ticket"] is False


def test_incidents_not_counted_earn_nothing() -> None:
    """A 3-minute outage under a 5-minute minimum is listed but earns no bucket."""
    target = vultr_target(downtime={"probes": "any", "min_duration": "5m"})
    s = run_checked(outages([(day(2), 3)]), target).summary
    assert s["incidents"][0]["not_counted_because"] == "too_short"
    assert (s["remedies"], s["credit_amount"]) == ([], "0.00")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_letter_asks_for_each_remedy_in_the_contracts_units(lang: str) -> None:
    frame = outages([(day(3), 9), (day(4), 190)])
    rule = {"multiple": 50, "at_least": "5m", "cap_per_incident_percent": 20}
    target = vultr_target(monthly_fee=744, compensation=rule)
    letter = render_letter(run_checked(frame, target).summary, lang, summary_sha256="5a" * 32)
    if lang == "en":
        wanted = [
            "12 hours of service credit for the outage of 2026-10-03 (9 min): **12.00 USD**",
            "50 times the charges for 3 h 10 min (the outage of 2026-10-04) = 158.33 USD,"
            " capped by the SLA at **148.80 USD**",
            "**288.30 USD** in all, after the caps the SLA sets",  # 12 + 7.50 + 120 + 148.80
            "this letter\nis that ticket",
            "Subject:** SLA credit claim",
        ]
    else:
        wanted = ["12 小时服务时长赔偿：**12.00 USD**", "的 50 倍", "本函即为申请这些赔偿的工单"]
    for needle in wanted:
        assert needle in letter, needle


def test_the_report_shows_the_total_and_a_row_per_remedy() -> None:
    result = run_checked(outages([(day(2), 30), (day(3), 190)]), upcloud_target())
    html = render_html(result.summary, {}, result.daily, "en")
    assert "173.80 USD in all, the remedies listed below (after the caps the SLA sets)" in html
    table = html.split("<h3>Credits earned</h3>", 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") == 3
    assert "50 times the charges for the downtime" in table and "148.80 USD" in table


def buckets(*steps: tuple[str, int]) -> list[dict[str, Any]]:
    return [{"at_least": at_least, "credit": credit} for at_least, credit in steps]


def compensation(**rule: Any) -> dict[str, Any]:
    return {"compensation": {"multiple": 50, **rule}}


BAD_TERMS = [
    (
        {
            "incident_credits": {
                "unit": "service_hours",
                "buckets": buckets(("0s", 24), ("10m", 12)),
            }
        },
        "a longer 'at_least' may not earn a smaller 'credit'",
    ),
    (
        {
            "incident_credits": {
                "unit": "service_hours",
                "buckets": buckets(("10m", 12), ("600s", 24)),
            }
        },
        "two buckets share the same 'at_least'",
    ),
    (
        {"incident_credits": {"unit": "percent", "buckets": buckets(("0s", 150))}},
        "in percent may be at most 100",
    ),
    (compensation(cap_per_incident_percent=101), "less than or equal to 100"),
    (
        compensation(cap_per_incident_percent=60, cap_per_period_percent=50),
        "may not exceed cap_per_period_percent",
    ),
    (compensation(multiple=0), "greater than 0"),
    ({"credit_cap_percent": 0}, "greater than 0"),
    ({"hourly_credit": {"round_up_to": "0s"}}, "greater than 0"),
    (
        {"hourly_credit": {}, "monthly_fee": None, "currency": None},
        "monthly_fee: needed to compute the credits",
    ),
]


@pytest.mark.parametrize(("terms", "message"), BAD_TERMS)
def test_inconsistent_remedies_are_refused_at_load(terms: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        make_target(**{**NO_TIERS, **terms})


def test_check_config_names_the_key_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "slawitness.yml"
    config.write_text(
        "vantage: office\nstore: evidence.db\ntargets:\n"
        "  - name: vps1\n    host: 192.0.2.10\n"
        "    provider: {name: ExampleHost, account: C-1}\n"
        "    probes: [{name: web, kind: tcp, port: 22}]\n"
        "    sla: {uptime: 100, compensation: {multiple: 50}}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    lines = list(caught.value.stderr_lines())
    assert any("monthly_fee: needed to compute the credits" in line for line in lines), lines
    assert all("\n" not in line for line in lines)


def test_status_reminds_that_the_credit_must_be_asked_for_in_a_ticket(tmp_path: Path) -> None:
    """A two-hour outage last month under a 100 % SLA with per-incident credits: status
    names the remedy's total and that the contract wants a ticket (the month is whichever
    came before today, so only the wording is asserted, not the month's hours)."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    last_month = (now.replace(day=1) - timedelta(days=1)).replace(day=1, hour=0, minute=0)
    outage = last_month + timedelta(days=3)
    stamp = "%Y-%m-%dT%H:%M:%S"
    write_month(
        tmp_path / "evidence.db", vantage="office",
        start=last_month.strftime(stamp), end=(now + timedelta(minutes=1)).strftime(stamp),
        hosts=[("vps1", "web", "http", "target")],
        down={"vps1": [(outage.strftime(stamp), (outage + timedelta(hours=2)).strftime(stamp))]},
    )  # fmt: skip
    sla = {
        "uptime": 100, "monthly_fee": 24, "currency": "USD", "claim_requires_ticket": True,
        "incident_credits": {"unit": "service_hours", "buckets": VULTR_BUCKETS},
        "claim_window_days": 45,
    }  # fmt: skip
    probe = {"name": "web", "kind": "http", "url": "http://127.0.0.1:9/", "timeout": "5s"}
    config = write_config(
        tmp_path, [{"name": "vps1", "host": "127.0.0.1", "probes": [probe], "sla": sla}],
        vantage="office",
    )  # fmt: skip
    done = slawitness("status", "--config", str(config))
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if "OPEN CLAIM" in x)
    assert f"OPEN CLAIM {last_month:%Y-%m}" in line
    assert "from 1 remedy; ask for it in a support ticket; claim by" in line
    [item] = json.loads(slawitness("status", "--config", str(config), "--json").stdout)
    [claim] = item["open_claims"]
    assert (claim["incident_remedies"], claim["ticket_required"]) == (1, True)
    assert claim["credit_percent"] == 0 and Decimal(claim["credit_amount"]) > 0


# Invariants over random terms and outages in a four-hour period (hours: 4).
PERIOD = span_period("2026-10-03T00:00:00+00:00", "2026-10-03T04:00:00+00:00", "UTC")
SLOTS = [at("2026-10-03T00:10:00Z") + n * 4800 for n in range(3)]  # 80 minutes apart


def monotone_table(steps: list[tuple[int, int]]) -> list[dict[str, Any]]:
    """Random (minutes, credit) pairs as a valid table: both sorted, so credits never fall."""
    minutes, credits = sorted(m for m, _ in steps), sorted(c for _, c in steps)
    return [{"at_least": f"{m}m", "credit": c} for m, c in zip(minutes, credits, strict=True)]


bucket_tables = st.lists(
    st.tuples(st.integers(0, 70), st.integers(1, 50)),
    min_size=1,
    max_size=4,
    unique_by=lambda step: step[0],
).map(monotone_table)
caps = st.none() | st.integers(1, 100)
remedy_terms = st.fixed_dictionaries(
    {
        "incident_credits": st.none() | st.builds(
            lambda unit, buckets: {"unit": unit, "buckets": buckets},
            st.sampled_from(["service_hours", "percent"]), bucket_tables,
        ),
        "compensation": st.none() | st.builds(
            lambda multiple, at_least, per_incident, per_period: {
                "multiple": multiple, "at_least": f"{at_least}m",
                "cap_per_incident_percent": per_incident and min(per_incident, per_period or 100),
                "cap_per_period_percent": per_period,
            },
            st.integers(1, 100), st.integers(0, 20), caps, caps,
        ),
        "hourly_credit": st.none() | st.builds(
            lambda minutes, rate: {"round_up_to": f"{minutes}m", "rate": rate},
            st.integers(1, 90), st.none() | st.integers(1, 20),
        ),
        "credit_cap_percent": caps,
    }
)  # fmt: skip


def evaluated(terms: dict[str, Any], minutes: list[int]) -> dict[str, Any]:
    runs: list[tuple[int, int, bool]] = []
    cursor = SLOTS[0] - 3600
    for start, length in zip(SLOTS, minutes, strict=False):
        if length:
            runs += [(cursor, start, True), (start, start + length * 60, False)]
            cursor = start + length * 60
    runs.append((cursor, PERIOD.end_s + 3600, True))
    frame = combine(samples("office", "vps1", "web", runs), control_up())
    target = make_target(**{**NO_TIERS, "monthly_fee": 100, **terms})
    return run_checked(frame, target, period=PERIOD).summary


@settings(max_examples=40, deadline=None)
@given(remedy_terms, st.lists(st.integers(0, 60), min_size=1, max_size=3), st.data())
def test_credits_never_decrease_as_an_outage_grows(
    terms: dict[str, Any], minutes: list[int], data: st.DataObject
) -> None:
    which = data.draw(st.integers(0, len(minutes) - 1))
    longer = list(minutes)
    longer[which] += data.draw(st.integers(1, 75 - minutes[which]))
    before, after = evaluated(terms, minutes), evaluated(terms, longer)
    assert Decimal(after["credit_amount"]) >= Decimal(before["credit_amount"])


@settings(max_examples=40, deadline=None)
@given(remedy_terms, st.lists(st.integers(0, 75), min_size=1, max_size=3))
def test_every_cap_holds_and_the_total_is_the_sum_of_the_remedies(
    terms: dict[str, Any], minutes: list[int]
) -> None:
    s = evaluated(terms, minutes)
    assert Decimal(s["credit_amount"]) == total_of(s)
    assert s["credit_capped"] == any(r["capped"] for r in s["remedies"])
    fee = Decimal(100)
    compensation = [Decimal(r["amount"]) for r in s["remedies"] if r["kind"] == "compensation"]
    rule = terms["compensation"] or {}
    if rule.get("cap_per_incident_percent"):
        assert all(a <= fee * rule["cap_per_incident_percent"] / 100 for a in compensation)
    if rule.get("cap_per_period_percent"):
        assert sum(compensation) <= fee * rule["cap_per_period_percent"] / 100
    if terms["credit_cap_percent"]:
        assert total_of(s) <= fee * terms["credit_cap_percent"] / 100
    counted = sum(1 for i in s["incidents"] if i["counted"])
    per_kind = {kind: sum(1 for r in s["remedies"] if r["kind"] == kind) for kind in ("hourly",)}
    assert per_kind["hourly"] == (counted if terms["hourly_credit"] else 0)
