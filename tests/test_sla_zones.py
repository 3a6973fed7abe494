"""An SLA over several targets (`sla.zones`): two zones, "zone-a" and "zone-b", probed once a
minute through October 2026, judged through the real report path; every figure is worked
out by hand from the outages written into the store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tests.clirun import slawitness
from tests.month_store import write_month

PING = [{"name": "ping", "kind": "icmp", "interval": "60s", "timeout": "2s"}]
OCTOBER = ("2026-09-30T00:00:00", "2026-11-02T00:00:00")
ZONES = ["zone-a", "zone-b"]
ONE_ALONE = ("2026-10-05T10:00:00", "2026-10-05T10:30:00")  # 30 min, zone-a only
BOTH = ("2026-10-12T08:00:00", "2026-10-12T08:25:00")  # 25 min, both zones


def config_text(sla: dict[str, Any], *, names: list[str] | None = None) -> str:
    targets = [{"name": name, "host": f"203.0.113.{10 + i}", "probes": PING}
               for i, name in enumerate(names or ZONES)]  # fmt: skip
    targets[0]["sla"] = sla
    data = {
        "vantage": "office",
        "store": "evidence.db",
        "targets": targets,
        "controls": [{"name": "resolver", "host": "198.51.100.53", "probes": PING}],
    }
    return yaml.safe_dump(data, sort_keys=False)


def report(
    folder: Path,
    sla: dict[str, Any],
    down: dict[str, list[tuple[str, str]]],
    *,
    zone_b_until: str = OCTOBER[1],
) -> dict[str, Any]:
    """summary.json of October for zone-a's SLA; zone-b's records end at `zone_b_until`
    (written into a second store of the same vantage)."""
    (folder / "slawitness.yml").write_text(config_text(sla))
    hosts = [("zone-a", "ping", "icmp", "target"), ("resolver", "ping", "icmp", "control")]
    write_month(folder / "evidence.db", vantage="office", start=OCTOBER[0], end=OCTOBER[1],
                hosts=hosts, down=down)  # fmt: skip
    write_month(folder / "zone-b.db", vantage="office", start=OCTOBER[0], end=zone_b_until,
                hosts=[("zone-b", "ping", "icmp", "target")], down=down)  # fmt: skip
    out = folder / "report"
    done = slawitness("report", "--target", "zone-a", "--period", "2026-10", "--out", str(out),
                      "--format", "json,html,letter", "--store", "evidence.db",
                      "--store", "zone-b.db", cwd=folder, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary: dict[str, Any] = json.loads((out / "summary.json").read_text())
    return summary


def per_target(summary: dict[str, Any]) -> dict[str, tuple[int, int]]:
    rows = summary["zones"]["per_target"]
    return {row["target"]: (row["downtime_seconds"], row["no_data_seconds"]) for row in rows}


def test_one_zone_down_counts_nothing_both_down_count_their_overlap(tmp_path: Path) -> None:
    sla = {"uptime": 99.99, "zones": {"targets": ZONES, "down_when": "all"}}
    down = {"zone-a": [ONE_ALONE, BOTH], "zone-b": [BOTH]}
    summary = report(tmp_path, sla, down)
    # zone-a alone for 30 minutes: the group is up; both for 25 minutes: 1,500 s
    assert summary["downtime_seconds"] == 1_500
    assert summary["breached"] is True  # 1,500 of 2,678,400 s: 99.944 % < 99.99 %
    [incident] = summary["incidents"]
    assert (incident["start"], incident["end"]) == ("2026-10-12T08:00:00Z", "2026-10-12T08:25:00Z")
    assert incident["zones_down"] == ZONES and incident["counted_seconds"] == 1_500
    assert len(incident["evidence_seqs"]) == 4  # each zone's first failure and recovery
    assert summary["zones"]["targets"] == ZONES and summary["zones"]["down_when"] == "all"
    # each member's own downtime: zone-a 55 minutes, zone-b 25, no second without data
    assert per_target(summary) == {"zone-a": (3_300, 0), "zone-b": (1_500, 0)}
    html = (tmp_path / "report/report.en.html").read_text()
    assert "down only while all 2 of zone-a, zone-b are down at once" in html
    letter = (tmp_path / "report/letter.en.md").read_text()
    assert "every instance in 2 zones (zone-a, zone-b) was unreachable at once" in letter


def test_one_zone_down_counts_under_down_when_one(tmp_path: Path) -> None:
    sla = {"uptime": 99.99, "zones": {"targets": ZONES, "down_when": 1}}
    down = {"zone-a": [ONE_ALONE, BOTH], "zone-b": [BOTH]}
    summary = report(tmp_path, sla, down)
    assert summary["downtime_seconds"] == 1_800 + 1_500
    alone, both = summary["incidents"]
    assert alone["zones_down"] == ["zone-a"] and alone["counted_seconds"] == 1_800
    assert both["zones_down"] == ZONES and both["counted_seconds"] == 1_500


def test_a_zone_without_data_leaves_the_group_undecided_until_enough_have_it(
    tmp_path: Path,
) -> None:
    # zone-b's last sample is at 22:59 and covers to 23:00; zone-a is down 23:30-23:55.
    # Under `all`, in 23:00-24:00 zone-a is up or down and zone-b unknown: up
    # while zone-a is up (more than 2 - 2 = 0 members up), no data while it is down (one
    # down, none up): 25 minutes of no data, no downtime.
    sla = {"uptime": 99.9, "zones": {"targets": ZONES}}
    late = ("2026-10-31T23:30:00", "2026-10-31T23:55:00")
    summary = report(tmp_path, sla, {"zone-a": [late]}, zone_b_until="2026-10-31T23:00:00")
    assert summary["downtime_seconds"] == 0 and summary["incidents"] == []
    assert summary["no_data_seconds"] == 1_500
    assert per_target(summary) == {"zone-a": (1_500, 0), "zone-b": (0, 3_600)}


def test_with_one_zone_enough_a_zone_without_data_leaves_up_undecided(tmp_path: Path) -> None:
    # down_when 1: up needs more than 2 - 1 = 1 member up, so the hour zone-b has no data
    # is no data while zone-a is up (35 min) and down while zone-a is down (25 min)
    sla = {"uptime": 99.9, "zones": {"targets": ZONES, "down_when": 1}}
    late = ("2026-10-31T23:30:00", "2026-10-31T23:55:00")
    summary = report(tmp_path, sla, {"zone-a": [late]}, zone_b_until="2026-10-31T23:00:00")
    assert summary["downtime_seconds"] == 1_500
    assert summary["no_data_seconds"] == 35 * 60


def test_a_group_naming_an_unknown_target_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "slawitness.yml"
    config.write_text(config_text({"uptime": 99.9, "zones": {"targets": ["zone-a", "zone-c"]}}))
    done = slawitness("check-config", "--config", str(config))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"{config}: targets[0].sla.zones.targets[1]: no target named 'zone-c'"
        " (targets: zone-a, zone-b)"
    ]
    config.write_text(config_text({"uptime": 99.9, "zones": {"targets": ZONES, "down_when": 3}}))
    done = slawitness("check-config", "--config", str(config))
    assert done.returncode == 2 and "targets[0].sla.zones.down_when: 3 of 2" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_the_aws_preset_counts_the_minutes_every_zone_is_down(tmp_path: Path) -> None:
    # the preset's group is the user's to name: unnamed, the target is judged alone, and
    # check-config --explain says so
    config = tmp_path / "slawitness.yml"
    config.write_text(config_text({"preset": "aws-ec2", "monthly_fee": 40, "currency": "USD"}))
    alone = slawitness("check-config", "--config", str(config), "--explain")
    assert alone.returncode == 0, alone.stderr
    assert "not applied until you name them" in alone.stdout
    # named: whole minutes in which every zone is down count. zone-a's 30 lone minutes count
    # nothing, the 25 shared ones 1,500 s of October's 2,678,400 s: 99.944 %, under
    # 99.99 %: the 10 % tier of 40 USD, 4.00 USD.
    sla = {"preset": "aws-ec2", "monthly_fee": 40, "currency": "USD",
           "zones": {"targets": ZONES}}  # fmt: skip
    summary = report(tmp_path, sla, {"zone-a": [ONE_ALONE, BOTH], "zone-b": [BOTH]})
    assert summary["downtime_seconds"] == 1_500
    assert summary["credit_percent"] == 10 and summary["credit_amount"] == "4.00"
    assert [i["zones_down"] for i in summary["incidents"]] == [ZONES]
    explained = slawitness("check-config", "--config", str(config), "--explain")
    assert explained.returncode == 0, explained.stderr
    assert "down only while all 2 of zone-a, zone-b are down at once" in explained.stdout


def test_a_group_of_the_users_own_must_name_its_targets(tmp_path: Path) -> None:
    config = tmp_path / "slawitness.yml"
    config.write_text(config_text({"uptime": 99.9, "zones": {"down_when": "all"}}))
    done = slawitness("check-config", "--config", str(config))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "targets[0].sla.zones.targets: name at least two targets" in done.stderr
