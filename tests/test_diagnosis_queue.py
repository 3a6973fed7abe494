"""The diagnosis queue at scale, against a namespace answering on 201 addresses with a silent
subset: a budget that runs out leaves "not traced" records, overlapping cron rounds never
trace one target twice, a daemon stopped with a long queue cuts it short in one go, and the
new keys' mistakes are one line. Counts and records only, never timings."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from collector.evidence.store import EvidenceStore
from tests.clirun import slawitness, slawitness_process, write_config
from tests.rig import rig_unavailable
from tests.rig.netns import NetnsHost, drop_echo_requests

SILENT = 40


@pytest.fixture(autouse=True)
def _mtr() -> None:
    if shutil.which("mtr") is None:
        rig_unavailable("mtr is not installed (Debian package mtr-tiny)")


def _config(folder: Path, host: NetnsHost, interval: str = "60s", **diagnose: object) -> Path:
    targets = [
        {
            "name": f"t{index}",
            "host": address,
            "probes": [
                {
                    "name": "ping",
                    "kind": "icmp",
                    "count": 1,
                    "interval": interval,
                    "timeout": "500ms",
                }
            ],
            **({"sla": {"uptime": 99.9}} if index % 2 else {}),
        }
        for index, address in enumerate(host.addresses)
    ]
    path = write_config(folder, targets)
    data = yaml.safe_load(path.read_text())
    data["diagnostics"] = {"every": "10m", "count": 1, **diagnose}
    path.write_text(yaml.safe_dump(data))
    return path


def _silent(host: NetnsHost) -> list[str]:
    silent = list(host.addresses[-SILENT:])
    drop_echo_requests(host, silent)
    return silent


def _records(folder: Path, rtype: str) -> list[tuple[int, dict]]:
    with EvidenceStore.open(folder / "evidence.db", readonly=True) as store:
        return [(r.seq, r.record) for r in store.records(types=[rtype])]


def _all_answered(folder: Path, timeout: float = 120) -> tuple[list, list]:
    """The claims and the diagnoses, once every claim has its diagnosis record."""
    deadline = time.monotonic() + timeout
    while True:
        claims, found = _records(folder, "diagnosis_due"), _records(folder, "diagnosis")
        if len(found) >= len(claims) or time.monotonic() > deadline:
            return claims, [record for _, record in found]
        time.sleep(0.3)


def _names(host: NetnsHost, addresses: list[str]) -> set[str]:
    return {f"t{host.addresses.index(a)}" for a in addresses}


def test_a_budget_that_runs_out_leaves_not_traced_records(
    tmp_path: Path, netns_host_200: NetnsHost
) -> None:
    silent = _names(netns_host_200, _silent(netns_host_200))
    config = _config(tmp_path, netns_host_200, concurrency=2, budget="2s")
    done = slawitness("probe", "--config", str(config), timeout=120)
    assert done.returncode == 0, done.stderr
    claims, found = _all_answered(tmp_path)
    assert {r["target"] for _, r in claims} == silent, "every silent target, nothing else"
    assert sorted(r["due_seq"] for r in found) == [seq for seq, _ in claims], "one record each"
    statuses = Counter(r["status"] for r in found)
    assert statuses["not traced"] > 0 and statuses["not traced"] + statuses["cut short"] < SILENT
    for record in found:
        claim = dict(claims)[record["due_seq"]]
        assert (
            record["attempt"]["seq"] == claim["attempt_seq"] and record["target"] == claim["target"]
        )
        if record["status"] == "not traced":
            assert record["reason"] == "budget" and record["paths"] == []
    traced = [r for r in found if r["status"] == "traced"]
    sla_first = [int(r["target"][1:]) % 2 for r in sorted(traced, key=lambda r: r["ts_ns"])]
    assert sla_first[:2] == [1, 1], "targets with SLA terms are traced first"
    with EvidenceStore.open(tmp_path / "evidence.db", readonly=True) as store:
        assert store.verify().ok


def test_overlapping_cron_rounds_never_trace_a_target_twice(
    tmp_path: Path, netns_host_200: NetnsHost
) -> None:
    silent = _names(netns_host_200, _silent(netns_host_200))
    config = _config(tmp_path, netns_host_200, concurrency=4, budget="60s")
    slawitness("probe", "--config", str(config), timeout=120)  # the store exists
    _all_answered(tmp_path)
    assert {r["target"] for _, r in _records(tmp_path, "diagnosis_due")} == silent
    config = _config(tmp_path, netns_host_200, concurrency=4, budget="60s", every="1s")
    time.sleep(1.1)  # due again: two rounds at once now race for the same targets
    with ThreadPoolExecutor(2) as pool:
        rounds = list(pool.map(lambda _: slawitness_process("probe", "--config", str(config),
                                                            timeout=120), range(2)))  # fmt: skip
    assert [r.returncode for r in rounds] == [0, 0], [r.stderr for r in rounds]
    claims, found = _all_answered(tmp_path)
    per_target = Counter(r["target"] for _, r in claims)
    assert set(per_target) == silent and set(per_target.values()) == {2}, "once per round pair"
    assert len(found) == len(claims) == 2 * SILENT
    traced = Counter(r["target"] for r in found if r["status"] != "not traced")
    assert max(traced.values()) <= 2


def test_a_daemon_stopped_with_a_long_queue_cuts_it_short(
    tmp_path: Path, netns_host_200: NetnsHost
) -> None:
    _silent(netns_host_200)
    config = _config(tmp_path, netns_host_200, interval="2s", concurrency=1, count=5)
    child = subprocess.Popen(
        [sys.executable, "-m", "cli", "run", "--config", str(config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if (tmp_path / "evidence.db").exists():
                claims = _records(tmp_path, "diagnosis_due")
                if len(claims) >= SILENT // 2 and _records(tmp_path, "diagnosis") == []:
                    break
            time.sleep(0.3)
    finally:
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    claims, found = _records(tmp_path, "diagnosis_due"), _records(tmp_path, "diagnosis")
    assert len(claims) >= SILENT // 2, "the queue was long"
    assert sorted(r["due_seq"] for _, r in found) == [seq for seq, _ in claims]
    statuses = Counter((r["status"], r["reason"]) for _, r in found)
    assert statuses[("cut short", "stopping")] == 1, statuses
    assert statuses[("not traced", "stopping")] == len(claims) - 1 - statuses[("traced", None)]
    [stop_seq] = [seq for seq, r in _records(tmp_path, "collector") if r["event"] == "stop"]
    assert stop_seq > max(seq for seq, _ in found), "the stop record comes after them"
    with EvidenceStore.open(tmp_path / "evidence.db", readonly=True) as store:
        assert store.verify().ok


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("concurrency", 0, "diagnostics.concurrency"),
        ("concurrency", "many", "diagnostics.concurrency"),
        ("budget", "0s", "diagnostics.budget"),
        ("budget", "soon", "diagnostics.budget"),
    ],
)
def test_a_mistake_in_the_new_keys_is_one_line(
    tmp_path: Path, key: str, value: object, says: str
) -> None:
    ping = {"name": "ping", "kind": "icmp", "count": 1, "interval": "60s", "timeout": "1s"}
    path = write_config(tmp_path, [{"name": "a", "host": "127.0.0.1", "probes": [ping]}])
    data = yaml.safe_load(path.read_text())
    data["diagnostics"] = {key: value}
    path.write_text(yaml.safe_dump(data))
    done = slawitness("check-config", "--config", str(path))
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert says in line and "Traceback" not in done.stderr
