"""Path captures when a target fails, against routed namespaces with nftables faults: where
the path stops, on whose side, rate-limited, and a fresh DNS answer."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from collector.config.loader import load_config
from collector.diagnostics import capture as diagnostics
from collector.evidence.store import EvidenceStore
from collector.evidence.store_errors import NotAStore
from tests.clirun import slawitness, write_config
from tests.diagnoses_settled import settled_diagnoses
from tests.rig import rig_unavailable
from tests.rig.dns_server import DnsServer
from tests.rig.routed import RoutedNet


@pytest.fixture(autouse=True)
def _mtr() -> None:
    if shutil.which("mtr") is None:
        rig_unavailable("mtr is not installed (Debian package mtr-tiny)")


def _ping(host: str) -> list[dict]:
    return [{"name": "ping", "kind": "icmp", "count": 1, "interval": "60s", "timeout": "500ms"}]


def _config(folder: Path, net: RoutedNet, **diagnose: object) -> Path:
    path = write_config(
        folder,
        [
            {
                "name": "vps1",
                "host": net.target,
                "probes": _ping(net.target),
                "sla": {"uptime": 99.9, "downtime": {"probes": "any", "min_duration": "0s"}},
            }
        ],
        controls=[{"name": "resolver", "host": net.control, "probes": _ping(net.control)}],
    )
    if diagnose:
        data = yaml.safe_load(path.read_text())
        data["diagnostics"] = diagnose
        path.write_text(yaml.safe_dump(data))
    return path


def _diagnoses(folder: Path, timeout: float = 90) -> list[dict]:
    return settled_diagnoses(folder / "evidence.db", timeout)


def _wait_for_a_diagnosis(folder: Path, timeout: float) -> None:
    """Until the daemon has appended its first diagnosis (written once the trace is over)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with suppress(NotAStore):  # the daemon has made the file but not its schema yet
            if (folder / "evidence.db").exists() and _diagnoses(folder):
                return
        time.sleep(0.2)


def test_a_provider_outage_stops_on_the_provider_side(
    tmp_path: Path, routed_net: RoutedNet
) -> None:
    config = _config(tmp_path, routed_net)
    assert slawitness("probe", "--config", str(config)).returncode == 0
    assert _diagnoses(tmp_path) == [], "nothing failed, nothing traced"
    routed_net.drop_forward("edge", routed_net.target)
    done = slawitness("probe", "--config", str(config))
    assert done.returncode == 0, done.stderr
    [found] = _diagnoses(tmp_path)
    assert found["attempt"]["probe"] == "ping" and found["attempt"]["error"] == "timeout"
    with EvidenceStore.open(tmp_path / "evidence.db", readonly=True) as store:
        attempt = next(store.records(after_seq=found["attempt"]["seq"] - 1, limit=1))
        assert attempt.record["target"] == "vps1" and attempt.record["ok"] is False
        assert store.verify().ok
    paths = {p["to"]: p for p in found["paths"]}
    assert paths["resolver"]["reached"] and not paths["vps1"]["reached"]
    answered = [h[0] for h in paths["vps1"]["hops"] if h[0] is not None]
    assert answered == [routed_net.isp, routed_net.edge], "the provider's edge still answers"
    assert diagnostics.path_verdict(found) == {
        "last_hop": 2, "last_address": routed_net.edge, "hops": 3, "side": "provider",
    }  # fmt: skip
    assert found["dns"] is None, "a literal address is not resolved"


def test_an_upstream_outage_is_named_upstream(tmp_path: Path, routed_net: RoutedNet) -> None:
    config = _config(tmp_path, routed_net)
    routed_net.drop_forward("isp")
    assert slawitness("probe", "--config", str(config)).returncode == 0
    [found] = _diagnoses(tmp_path)
    verdict = diagnostics.path_verdict(found)
    assert verdict is not None and verdict["side"] == "upstream"
    assert verdict["last_address"] == routed_net.isp


def test_a_flapping_host_gets_one_diagnosis_per_interval(
    tmp_path: Path, routed_net: RoutedNet
) -> None:
    config = _config(tmp_path, routed_net, every="10m", count=1)
    routed_net.drop_forward("edge", routed_net.target)
    for _ in range(3):
        assert slawitness("probe", "--config", str(config)).returncode == 0
        _diagnoses(tmp_path)
        routed_net.heal("edge")
        assert slawitness("probe", "--config", str(config)).returncode == 0
        routed_net.drop_forward("edge", routed_net.target)
    assert len(_diagnoses(tmp_path)) == 1, "three failures within 10 minutes: one diagnosis"
    config = _config(tmp_path, routed_net, every="1s", count=1)
    time.sleep(1.1)
    assert slawitness("probe", "--config", str(config)).returncode == 0
    assert len(_diagnoses(tmp_path)) == 2, "still failing after `every`: diagnosed again"


def test_diagnostics_can_be_turned_off(tmp_path: Path, routed_net: RoutedNet) -> None:
    config = _config(tmp_path, routed_net, enabled=False)
    routed_net.drop_forward("edge", routed_net.target)
    assert slawitness("probe", "--config", str(config)).returncode == 0
    assert _diagnoses(tmp_path) == []


def test_a_fresh_resolution_of_the_name(tmp_path: Path, dns_server: DnsServer) -> None:
    config_path = write_config(
        tmp_path,
        [{"name": "web", "host": "www.example.test", "probes": _ping("x")}],
    )
    data = yaml.safe_load(config_path.read_text())
    data["diagnostics"] = {"resolver": f"127.0.0.1:{dns_server.port}"}
    config_path.write_text(yaml.safe_dump(data))
    config = load_config(config_path)
    record = diagnostics.diagnose(config, config.targets[0], {"probe": "ping", "ts_ns": 1}, 7)
    found = record["dns"]
    assert isinstance(found, dict)
    assert sorted(found.pop("addresses")) == ["192.0.2.10", "192.0.2.11"]
    assert found == {
        "name": "www.example.test", "server": f"127.0.0.1:{dns_server.port}",
        "errors": ["AAAA: NoAnswer"],
    }  # fmt: skip
    assert record["attempt"] == {"seq": 7, "probe": "ping", "ts_ns": 1, "error": None}


def test_without_mtr_our_own_traceroute_finds_where_it_stops(
    tmp_path: Path, routed_net: RoutedNet, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path, routed_net, count=1)
    routed_net.drop_forward("edge", routed_net.target)
    monkeypatch.setenv("PATH", "/nonexistent")  # no mtr to be found
    done = slawitness("probe", "--config", str(config), timeout=120)
    assert done.returncode == 0, done.stderr
    [found] = _diagnoses(tmp_path)
    paths = {p["to"]: p for p in found["paths"]}
    assert {p["tool"] for p in paths.values()} == {"traceroute"}
    assert paths["resolver"]["reached"] and not paths["vps1"]["reached"]
    assert [h[0] for h in paths["vps1"]["hops"]][:3] == [routed_net.isp, routed_net.edge, None]
    assert diagnostics.path_verdict(found) == {
        "last_hop": 2, "last_address": routed_net.edge, "hops": len(paths["vps1"]["hops"]),
        "side": "provider",
    }  # fmt: skip


def test_the_report_shows_where_the_path_stopped(tmp_path: Path, routed_net: RoutedNet) -> None:
    config = _config(tmp_path, routed_net)
    assert slawitness("probe", "--config", str(config)).returncode == 0
    routed_net.drop_forward("edge", routed_net.target)
    assert slawitness("probe", "--config", str(config)).returncode == 0
    assert _diagnoses(tmp_path), "traced while the path was still broken"
    routed_net.heal("edge")
    assert slawitness("probe", "--config", str(config)).returncode == 0
    now = datetime.now(UTC)
    out = tmp_path / "report"
    done = slawitness(
        "report", "--config", str(config), "--target", "vps1",
        "--from", (now - timedelta(hours=1)).isoformat(), "--to", now.isoformat(),
        "--format", "json,html", "--lang", "en,zh", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    [incident] = json.loads((out / "summary.json").read_text())["incidents"]
    assert incident["path"] == {
        "last_hop": 2, "last_address": routed_net.edge, "hops": 3, "side": "provider",
    }  # fmt: skip
    html = (out / "report.en.html").read_text()
    assert f"stopped after hop 2 ({routed_net.edge}) of 3" in html
    assert "the provider&#39;s side" in html or "the provider's side" in html
    assert "服务商一侧" in (out / "report.zh.html").read_text()


def test_the_daemon_traces_without_holding_up_its_probes(
    tmp_path: Path, routed_net: RoutedNet
) -> None:
    config = _config(tmp_path, routed_net, count=5)  # a trace of a few seconds
    data = yaml.safe_load(config.read_text())
    for host in (*data["targets"], *data["controls"]):
        host["probes"][0]["interval"] = "1s"
    config.write_text(yaml.safe_dump(data))
    routed_net.drop_forward("edge", routed_net.target)
    child = subprocess.Popen(
        [sys.executable, "-m", "cli", "run", "--config", str(config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_for_a_diagnosis(tmp_path, timeout=60)
    finally:
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    with EvidenceStore.open(tmp_path / "evidence.db", readonly=True) as store:
        assert store.verify().ok
        [found] = [r.record for r in store.records(types=["diagnosis"])]
        traced_from = found["ts_ns"]
        traced_until = traced_from + found["took_ms"] * 1_000_000
        assert found["took_ms"] >= 1000, "the trace took seconds"
        meanwhile = [
            r
            for r in store.records(types=["probe"], target="resolver")
            if traced_from < r.record["ts_ns"] < traced_until
        ]
    assert diagnostics.path_verdict(found)["side"] == "provider"  # type: ignore[index]
    assert len(meanwhile) >= 1, "the control was probed while the target was being traced"
