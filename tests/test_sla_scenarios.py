"""Hand-computed SLA scenarios: each expected figure is worked out in a comment.

October 2026 in UTC has 31 * 86400 = 2,678,400 s. The default terms (tests/sla_scenarios.py)
are 99.9 % uptime, min_duration 5m, tiers below 99.9 -> 10 %, below 99.0 -> 25 %,
below 95.0 -> 100 %, fee 40.00 USD, claim window 30 days.
"""

from __future__ import annotations

import pandas as pd
import pytest

from collector.config.model import Target
from reports.sla.engine import evaluate
from reports.sla.period import NS, month_period, span_period
from tests.sla_scenarios import (
    AFTER,
    BEFORE,
    Moment,
    at,
    combine,
    control_up,
    failing_from,
    make_control,
    make_target,
    outage,
    run_checked,
    samples,
    up,
)

OCT = 2_678_400
M0, M1 = "2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z"


def test_clean_month() -> None:
    frame = combine(up("office", "vps1", "ping"), up("office", "vps1", "web"), control_up())
    s = run_checked(frame).summary
    assert s["period_start"] == M0 and s["period_end"] == M1
    assert s["period_seconds"] == OCT
    assert (s["downtime_seconds"], s["no_data_seconds"], s["maintenance_seconds"]) == (0, 0, 0)
    assert s["uptime_conservative"] == s["uptime_observed"] == 1.0
    assert (s["breached"], s["credit_percent"], s["credit_amount"]) == (False, 0, "0.00")
    assert s["incidents"] == []
    assert s["sla_uptime"] == 0.999 and s["monthly_fee"] == "40.00"
    # 1 November + 30 days.
    assert s["claim_deadline"] == "2026-12-01T00:00:00Z"
    # 3 series x 31 days x 1440 samples a day inside October.
    assert s["samples"] == {
        "total": 133_920, "imported": 0, "imported_files": [], "prometheus": False,
    }  # fmt: skip
    assert s["vantages"] == ["office"] and s["controls_configured"] is True
    assert s["latency"]["by_probe"]["web"] == {
        "p50_s": 0.02, "p95_s": 0.02, "p99_s": 0.02, "samples": 44_640,
    }  # fmt: skip


def test_ten_minute_provider_outage_is_counted_and_credited() -> None:
    frame = combine(
        up("office", "vps1", "ping"),
        outage("office", "vps1", "web", ("2026-10-03T10:00:00Z", "2026-10-03T10:10:00Z")),
        control_up(),
    )
    target = make_target(
        uptime=99.99, credits=[{"below": 99.99, "credit": 10}, {"below": 99.9, "credit": 25}]
    )
    result = run_checked(frame, target)
    s = result.summary
    assert s["downtime_seconds"] == 600
    # 1 - 600 / 2,678,400 = 99.9776 %: under 99.99, not under 99.9 -> 10 % of 40.00.
    assert s["uptime_conservative"] == pytest.approx(1 - 600 / OCT, rel=1e-15)
    assert (s["breached"], s["credit_percent"], s["credit_amount"]) == (True, 10, "4.00")
    # It cites web's first failing sample and web's success at 10:10 that ended it.
    web = frame[frame["probe"] == "web"].set_index("ts_ns")["seq"]
    cited = [int(web[at(t) * NS]) for t in ("2026-10-03T10:00:00Z", "2026-10-03T10:10:00Z")]
    assert s["incidents"] == [
        {
            "start": "2026-10-03T10:00:00Z", "end": "2026-10-03T10:10:00Z",
            "duration_seconds": 600, "counted_seconds": 600, "probes": ["web"],
            "errors": {"timeout": 10}, "attribution": "provider", "counted": True,
            "not_counted_because": None, "vantages": ["office"], "evidence_seqs": cited,
            "evidence_vantages": ["office", "office"],
        }
    ]  # fmt: skip
    day = result.daily.set_index("date").loc["2026-10-03"]
    # 1 - 600 / 86,400 that day.
    assert day["downtime_seconds"] == 600
    assert day["uptime"] == pytest.approx(1 - 600 / 86_400)
    assert list(result.timeline["state"]) == ["up", "provider", "up"]


def test_outage_shorter_than_min_duration_is_listed_but_not_counted() -> None:
    frame = combine(
        outage("office", "vps1", "web", ("2026-10-03T10:00:00Z", "2026-10-03T10:04:00Z")),
        control_up(),
    )
    s = run_checked(frame).summary
    # 4 minutes = 240 s < 300 s.
    (incident,) = s["incidents"]
    assert (incident["duration_seconds"], incident["counted"]) == (240, False)
    assert (incident["counted_seconds"], incident["attribution"]) == (0, "provider")
    assert incident["not_counted_because"] == "too_short"
    assert s["downtime_seconds"] == 0 and s["uptime_conservative"] == 1.0


def test_outage_crossing_the_month_boundary_counts_only_the_inside_part() -> None:
    frame = combine(
        outage("office", "vps1", "web", ("2026-10-31T23:50:00Z", "2026-11-01T00:20:00Z")),
        control_up(),
    )
    # 23:50 -> 00:20 is 1800 s; 600 s of it in October, 1200 s in November.
    for month, inside in (("2026-10", 600), ("2026-11", 1200)):
        s = run_checked(frame, period=month_period(month, "UTC")).summary
        (incident,) = s["incidents"]
        assert incident["start"] == "2026-10-31T23:50:00Z"
        assert incident["end"] == "2026-11-01T00:20:00Z"
        assert incident["duration_seconds"] == 1800
        assert incident["counted_seconds"] == s["downtime_seconds"] == inside


def test_three_day_outage_across_the_boundary_keeps_its_full_extent() -> None:
    frame = combine(
        outage("office", "vps1", "web", ("2026-10-30T00:00:00Z", "2026-11-02T00:00:00Z")),
        samples("office", "vps1", "web", [("2026-11-02T00:00:00Z", "2026-11-05", True)]),
        control_up(),
    )
    s = run_checked(frame).summary
    (incident,) = s["incidents"]
    # 30 Oct 00:00 -> 2 Nov 00:00 = 3 days = 259,200 s; 2 days (172,800 s) in October.
    assert incident["duration_seconds"] == 259_200
    assert s["downtime_seconds"] == 172_800
    # 1 - 172,800 / 2,678,400 = 93.55 % < 95.0 -> 100 % of 40.00.
    assert (s["credit_percent"], s["credit_amount"]) == (100, "40.00")


def test_dst_month_has_745_hours() -> None:
    berlin = month_period("2026-10", "Europe/Berlin")
    frame = combine(
        # 10:00 local on 25 October (CET, after the change) = 09:00Z.
        outage("office", "vps1", "web", ("2026-10-25T09:00:00Z", "2026-10-25T09:10:00Z")),
        control_up(),
    )
    result = run_checked(frame, make_target(timezone="Europe/Berlin"), period=berlin)
    s = result.summary
    # 745 h * 3600 = 2,682,000 s.
    assert s["period_seconds"] == 2_682_000
    assert (s["period_start"], s["period_end"]) == ("2026-09-30T22:00:00Z", "2026-10-31T23:00:00Z")
    assert s["timezone"] == "Europe/Berlin" and s["period_label"] == "2026-10"
    assert s["uptime_conservative"] == pytest.approx(1 - 600 / 2_682_000, rel=1e-15)
    assert s["claim_deadline"] == "2026-11-30T23:00:00Z"
    day = result.daily.set_index("date").loc["2026-10-25"]
    # That local day lasts 25 h = 90,000 s.
    assert day["uptime"] == pytest.approx(1 - 600 / 90_000)
    assert len(result.daily) == 31


def test_maintenance_overlapping_anoutage() -> None:
    frame = combine(
        outage("office", "vps1", "web", ("2026-10-25T03:30:00Z", "2026-10-25T04:10:00Z")),
        control_up(),
    )
    target = make_target(
        maintenance=[{"start": "2026-10-25T02:00:00Z", "end": "2026-10-25T04:00:00Z"}]
    )
    result = run_checked(frame, target)
    s = result.summary
    (incident,) = s["incidents"]
    # 03:30-04:10 = 2400 s: 1800 s inside the window, 600 s after it -> majority maintenance.
    assert (incident["duration_seconds"], incident["attribution"]) == (2400, "maintenance")
    assert (incident["counted"], incident["counted_seconds"]) == (True, 600)
    assert (s["maintenance_seconds"], s["downtime_seconds"]) == (7200, 600)
    # eligible = 2,678,400 - 7,200 = 2,671,200.
    assert s["uptime_conservative"] == pytest.approx(1 - 600 / 2_671_200, rel=1e-15)
    assert list(result.timeline["state"]) == ["up", "maintenance", "provider", "up"]


def test_recurring_cron_maintenance_in_local_time() -> None:
    berlin = month_period("2026-10", "Europe/Berlin")
    frame = combine(
        # Sunday 25th: the window is 03:00-04:00 CET = 02:00-03:00Z -> fully maintenance.
        outage("office", "vps1", "web", ("2026-10-25T02:00:00Z", "2026-10-25T02:30:00Z")),
        # Sunday 11th 02:50-03:20 CEST = 00:50-01:20Z: 10 min before the window, 20 in it.
        outage("office", "vps1", "ping", ("2026-10-11T00:50:00Z", "2026-10-11T01:20:00Z")),
        control_up(),
    )
    target = make_target(
        timezone="Europe/Berlin", maintenance=[{"cron": "0 3 * * 0", "duration": "1h"}]
    )
    s = run_checked(frame, target, period=berlin).summary
    # Four Sundays (4, 11, 18, 25) x 3600 s.
    assert s["maintenance_seconds"] == 14_400
    first, second = s["incidents"]
    assert (first["attribution"], first["counted_seconds"]) == ("maintenance", 600)
    assert (second["attribution"], second["counted_seconds"]) == ("maintenance", 0)
    assert (first["counted"], second["counted"]) == (True, False)
    assert second["not_counted_because"] == "maintenance"
    assert s["downtime_seconds"] == 600


def _target_and_control_fail(*controls_fail: bool) -> pd.DataFrame:
    down = ("2026-10-03T10:00:00Z", "2026-10-03T10:30:00Z")
    frames = [outage("office", "vps1", "ping", down), outage("office", "vps1", "web", down)]
    for i, fails in enumerate(controls_fail):
        name = "resolver" if i == 0 else f"anchor{i}"
        frames.append(
            outage("office", name, "ping", down, role="control")
            if fails
            else up("office", name, "ping", role="control")
        )
    return combine(*frames)


def test_every_control_down_is_local_and_not_counted() -> None:
    s = run_checked(_target_and_control_fail(True)).summary
    (incident,) = s["incidents"]
    # 30 min local outage: long enough, but no provider second, so not counted.
    assert (incident["attribution"], incident["counted_seconds"]) == ("local", 0)
    assert (incident["counted"], incident["not_counted_because"]) == (False, "local")
    assert s["downtime_seconds"] == 0


def test_a_control_probed_later_in_the_minute_still_makes_the_outage_local() -> None:
    # The target fails at 10:00:00; the control is probed at :40 each minute, so its last
    # good sample is 09:59:40 and its first failing one 10:00:40. When it went down in
    # between is unknown, so those 40 s are not counted against the provider.
    down, shift = ("2026-10-03T10:00:00Z", "2026-10-03T10:30:00Z"), 40
    late = [at(BEFORE) + shift, at(down[0]) + shift, at(down[1]) + shift, at(AFTER)]
    control = samples(
        "office", "resolver", "ping",
        [(late[0], late[1], True), (late[1], late[2], False), (late[2], late[3], True)],
        role="control",
    )  # fmt: skip
    frame = combine(
        outage("office", "vps1", "ping", down), outage("office", "vps1", "web", down), control
    )
    s = run_checked(frame).summary
    (incident,) = s["incidents"]
    assert (incident["attribution"], incident["counted_seconds"]) == ("local", 0)
    assert s["downtime_seconds"] == 0


def test_a_control_failing_later_than_the_target_leaves_the_early_minutes_counted() -> None:
    # The control is good at 10:00:40 and fails from 10:01:40 on: before its last good
    # sample the provider alone is to blame: 10:00:00-10:00:40 (40 s) counts, the rest
    # of the incident is local.
    down = ("2026-10-03T10:00:00Z", "2026-10-03T10:30:00Z")
    late = [at(BEFORE) + 40, at(down[0]) + 100, at(down[1]) + 40, at(AFTER)]
    control = samples(
        "office", "resolver", "ping",
        [(late[0], late[1], True), (late[1], late[2], False), (late[2], late[3], True)],
        role="control",
    )  # fmt: skip
    frame = combine(outage("office", "vps1", "web", down), control)
    s = run_checked(frame).summary
    (incident,) = s["incidents"]
    assert (incident["attribution"], incident["counted_seconds"]) == ("local", 40)
    assert (incident["counted"], incident["not_counted_because"]) == (True, None)


def test_one_control_up_means_the_provider_is_to_blame() -> None:
    controls = [make_control(), make_control("anchor1")]
    s = run_checked(_target_and_control_fail(True, False), controls=controls).summary
    (incident,) = s["incidents"]
    assert (incident["attribution"], incident["counted_seconds"]) == ("provider", 1800)
    assert s["downtime_seconds"] == 1800


def test_no_controls_configured_is_flagged() -> None:
    s = run_checked(_target_and_control_fail(True), controls=[]).summary
    # The failing resolver rows are not a configured control, so they are ignored.
    assert (s["controls"], s["controls_configured"]) == ([], False)
    assert s["incidents"][0]["attribution"] == "provider"
    assert s["downtime_seconds"] == 1800
    assert s["samples"]["total"] == 2 * 44_640


@pytest.mark.parametrize(
    ("home_down", "attribution", "downtime", "vantages"),
    [
        (None, "unconfirmed", 0, ["office"]),
        (("2026-10-03T10:00:00Z", "2026-10-03T10:10:00Z"), "provider", 600, ["home", "office"]),
        # office 10:00-10:10, home 10:05-10:15: incident 10:00-10:15; confirmed only
        # 10:05-10:10 (300 s); unconfirmed 600 s wins the attribution.
        (("2026-10-03T10:05:00Z", "2026-10-03T10:15:00Z"), "unconfirmed", 300, ["home", "office"]),
    ],
)
def test_two_vantages_confirming(
    home_down: tuple[str, str] | None, attribution: str, downtime: int, vantages: list[str]
) -> None:
    office = outage("office", "vps1", "web", ("2026-10-03T10:00:00Z", "2026-10-03T10:10:00Z"))
    home = outage("home", "vps1", "web", home_down) if home_down else up("home", "vps1", "web")
    frame = combine(office, home, control_up("office"), control_up("home"))
    s = run_checked(frame, make_target(confirm_vantages=2)).summary
    (incident,) = s["incidents"]
    assert (incident["attribution"], incident["vantages"]) == (attribution, vantages)
    assert incident["counted_seconds"] == s["downtime_seconds"] == downtime
    assert s["vantages"] == ["home", "office"]


def test_collector_off_is_no_data_and_splits_the_uptimes() -> None:
    web = samples(
        "office", "vps1", "web",
        [
            (BEFORE, "2026-10-03T10:00:00Z", True),
            ("2026-10-03T10:00:00Z", "2026-10-03T10:10:00Z", False),
            ("2026-10-03T10:10:00Z", "2026-10-10T00:00:00Z", True),
            ("2026-10-12T00:00:00Z", AFTER, True),
        ],
    )  # fmt: skip
    s = run_checked(combine(web), controls=[]).summary
    # Collector off 10 Oct 00:00 -> 12 Oct 00:00 = 172,800 s.
    assert s["no_data_seconds"] == 172_800
    assert s["uptime_conservative"] == pytest.approx(1 - 600 / OCT, rel=1e-15)
    # observed: 1 - 600 / (2,678,400 - 172,800) = 1 - 600 / 2,505,600.
    assert s["uptime_observed"] == pytest.approx(1 - 600 / 2_505_600, rel=1e-15)
    assert s["uptime_observed"] < s["uptime_conservative"]


def test_a_month_without_any_data_has_no_observed_uptime() -> None:
    frame = samples("office", "vps1", "web", [("2026-12-01", "2026-12-02", True)])
    s = run_checked(frame).summary
    assert (s["no_data_seconds"], s["uptime_observed"], s["uptime_conservative"]) == (
        OCT, None, 1.0
    )  # fmt: skip


@pytest.mark.parametrize(
    ("minutes", "fee", "percent", "amount"),
    [
        # Ten days = 864,000 s; 1 % of it = 8,640 s = 144 min -> exactly 99.0 %: not
        # strictly under 99.0, only under 99.9 -> 10 % of 40 = 4.00.
        (144, "40", 10, "4.00"),
        # 145 min = 8,700 s -> 1 - 8,700 / 864,000 = 98.993 % < 99.0 -> 25 % = 10.00.
        (145, "40", 25, "10.00"),
        # 14 min = 840 s -> 99.903 % -> no tier.
        (14, "40", 0, "0.00"),
        # 0.10 * 25 / 100 = 0.025 -> half-up 0.03 (half-even would say 0.02).
        (145, "0.10", 25, "0.03"),
        # 33.33 * 25 / 100 = 8.3325 -> 8.33.
        (145, "33.33", 25, "8.33"),
    ],
)
def test_credit_tiers_at_the_edges(minutes: int, fee: str, percent: int, amount: str) -> None:
    frame = failing_from(at("2026-10-02T00:00:00Z"), minutes * 60)
    target = make_target(
        uptime=99.0,
        credits=[{"below": 99.9, "credit": 10}, {"below": 99.0, "credit": 25}],
        monthly_fee=fee,
        downtime={"probes": "any", "min_duration": 0},
    )
    s = run_checked(frame, target, period=span_period("2026-10-01", "2026-10-11", "UTC")).summary
    assert s["downtime_seconds"] == minutes * 60
    assert (s["credit_percent"], s["credit_amount"]) == (percent, amount)
    # Exactly 99.0 % against uptime 99.0 is not a breach.
    assert s["breached"] is (minutes > 144)


T10 = at("2026-10-03T10:00:00Z")


@pytest.mark.parametrize(
    ("rule", "ping_fails", "web_fails", "downtime"),
    [
        # ping fails 10:00-10:10, web up.
        ("any", 600, 0, 600),
        ("all", 600, 0, 0),
        (["ping"], 600, 0, 600),
        (["web"], 600, 0, 0),
        # both fail 10:00-10:10, ping on until 10:20.
        ("any", 1200, 600, 1200),
        ("all", 1200, 600, 600),
        (["ping", "web"], 1200, 600, 600),
        (["web"], 1200, 600, 600),
    ],
)
def test_downtime_probes_rule(
    rule: str | list[str], ping_fails: int, web_fails: int, downtime: int
) -> None:
    frame = combine(failing_from(T10, ping_fails, "ping"), failing_from(T10, web_fails, "web"))
    target = make_target(downtime={"probes": rule, "min_duration": "5m"})
    s = run_checked(frame, target, controls=[]).summary
    assert s["downtime_seconds"] == downtime
    assert s["downtime_rule"] == rule
    expected = {"any": ["ping", "web"], "all": ["ping", "web"]}
    if downtime:
        probes = expected.get(rule, rule) if isinstance(rule, str) else rule
        failed = [p for p in probes if (ping_fails if p == "ping" else web_fails)]
        assert s["incidents"][0]["probes"] == failed


def test_all_rule_ignores_a_probe_without_data() -> None:
    # web has no records 10:00-10:10 while ping fails: every probe *with data* fails -> down.
    web = samples("office", "vps1", "web", [(BEFORE, T10, True), (T10 + 600, AFTER, True)])
    frame = combine(failing_from(T10, 600, "ping"), web)
    target = make_target(downtime={"probes": "all", "min_duration": "5m"})
    assert run_checked(frame, target, controls=[]).summary["downtime_seconds"] == 600


def test_jittered_cron_samples_leave_no_gaps() -> None:
    # Every ts starts up to 20 s late: neighbours stay within 1.5 x 60 s, so no gap.
    frame = combine(
        failing_from(T10, 600, "web", jitter_s=20, seed=1),
        up("office", "vps1", "ping", jitter_s=20, seed=2),
    )
    s = run_checked(frame, controls=[]).summary
    assert s["no_data_seconds"] == 0
    (incident,) = s["incidents"]
    # The incident runs from the first late failing ts to the first late good one.
    assert abs(incident["duration_seconds"] - 600) <= 20
    assert abs(at(incident["start"]) - T10) <= 20


def test_samples_further_apart_than_one_and_a_half_intervals_leave_a_gap() -> None:
    # One sample at 10:00 and the next at 10:01:35 (95 s > 90 s): the first covers 60 s.
    frame = combine(
        samples("office", "vps1", "web", [(BEFORE, T10 + 1, True)]),
        samples("office", "vps1", "web", [(T10 + 95, AFTER, True)]),
    )
    s = run_checked(frame, controls=[]).summary
    # The last sample before the gap is at 10:00:00 and covers [10:00:00, 10:01:00);
    # 10:01:00 -> 10:01:35 = 35 s of no data.
    assert s["no_data_seconds"] == 35


def test_incident_whose_records_stop_ends_one_interval_after_the_last_failure() -> None:
    # Everything fails from 20 Oct 10:00; the last records are at 10:09.
    stop = at("2026-10-20T10:10:00Z")
    runs: list[tuple[Moment, Moment, bool]] = [
        (BEFORE, stop - 600, True),
        (stop - 600, stop, False),
    ]
    frame = combine(*(samples("office", "vps1", probe, runs) for probe in ("ping", "web")))
    s = run_checked(frame, controls=[]).summary
    (incident,) = s["incidents"]
    # Last failing ts 10:09:00 + 60 s = 10:10:00.
    assert incident["end"] == "2026-10-20T10:10:00Z"
    assert incident["duration_seconds"] == s["downtime_seconds"] == 600
    # No data from 20 Oct 10:10 to 1 Nov: 13 h 50 min + 11 days = 49,800 + 950,400 s.
    assert s["no_data_seconds"] == 1_000_200
    assert incident["errors"] == {"timeout": 20}


def test_error_classes_are_counted_per_failing_sample() -> None:
    frame = combine(
        failing_from(T10, 600, "web", error="http_status"),
        failing_from(T10 + 120, 300, "ping", error="unreachable"),
    )
    (incident,) = run_checked(frame, controls=[]).summary["incidents"]
    assert incident["errors"] == {"http_status": 10, "unreachable": 5}
    assert incident["probes"] == ["ping", "web"]


def test_latency_and_loss_thresholds() -> None:
    web_slow = samples("office", "vps1", "web", [(T10, T10 + 600, True)], latency_s=2.0)
    web_fast = samples("office", "vps1", "web", [(BEFORE, T10, True), (T10 + 600, AFTER, True)])
    ping_lossy = samples("office", "vps1", "ping", [(T10, T10 + 300, True)], loss_ppm=100_000)
    ping_clean = samples("office", "vps1", "ping", [(BEFORE, T10, True), (T10 + 300, AFTER, True)])
    frame = combine(web_slow, web_fast, ping_lossy, ping_clean)
    target = make_target(latency_threshold="1s", loss_threshold=5)
    result = run_checked(frame, target, controls=[])
    s = result.summary
    # 10 web samples at 2 s, each standing for 60 s; 5 ping samples at 10 % loss.
    assert s["latency"]["above_threshold_seconds"] == 600
    assert s["latency"]["threshold_s"] == 1.0
    assert s["loss"]["above_threshold_seconds"] == 300
    assert s["loss"]["threshold"] == 0.05
    # mean loss: 5 x 0.1 over 44,640 ping samples.
    assert s["loss"]["mean"] == pytest.approx(0.5 / 44_640)
    # 10 of 44,640 web samples at 2 s is under 1 %: p99 stays at 0.02 s.
    assert s["latency"]["by_probe"]["web"]["p99_s"] == pytest.approx(0.02)
    day = result.daily.set_index("date").loc["2026-10-03"]
    assert (day["above_latency_seconds"], day["above_loss_seconds"]) == (600, 300)
    assert day["loss_mean"] == pytest.approx(0.5 / 1440)
    # 1,440 web samples that day, 10 at 2 s: the top 0.7 %; p99 is still 0.02 s, and
    # the day's p50 over web and ping together is 0.02 s.
    assert day["latency_p50_s"] == pytest.approx(0.02)


def test_notes_and_sources_are_reported() -> None:
    frame = combine(
        up("office", "vps1", "web", origin="import:ab12"),
        samples("office", "vps1", "ping", [(M0, "2026-10-02T00:00:00Z", True)]),
        up("office", "other-host", "web"),
    )
    notes = pd.DataFrame(
        {
            "ts_ns": [at("2026-10-03T11:00:00Z") * NS, at("2026-11-03T11:00:00Z") * NS,
                      at("2026-10-04T11:00:00Z") * NS],
            "vantage": ["office"] * 3,
            "target": ["vps1", "vps1", "other-host"],
            "ticket": ["48213", None, None],
            "text": ["opened ticket", "next month", "not ours"],
        }
    )  # fmt: skip
    s = run_checked(frame, controls=[], notes=notes).summary
    assert s["notes"] == [
        {"ts": "2026-10-03T11:00:00Z", "ticket": "48213", "text": "opened ticket"}
    ]
    # 44,640 imported web samples + 1,440 native ping samples; other-host is ignored.
    assert s["samples"] == {
        "total": 46_080, "imported": 44_640, "prometheus": False,
        "imported_files": [{"file_sha256": "ab12", "samples": 44_640}],
    }  # fmt: skip


def test_target_without_sla_terms_is_refused() -> None:
    target = Target.model_validate(
        {"name": "vps1", "host": "192.0.2.1", "probes": [{"name": "p", "kind": "icmp"}]}
    )
    with pytest.raises(ValueError, match="no sla terms"):
        evaluate(up("office", "vps1", "p"), target, [], month_period("2026-10", "UTC"))
