"""A fleet of three collectors, each in its own network namespace with its own vantage,
store and config, probing one TCP listener and remote-writing to one VictoriaMetrics.
nftables in the namespaces make one vantage see an outage alone and two see another. With
`confirm_vantages: 2`, `report --prometheus` must give the same uptime, incidents and
credits as `report --store a --store b --store c`: the engine's copy is a faithful one."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from collector.config.model import RemoteWrite
from collector.core.results import ErrorClass, Result
from collector.evidence.records import ProbeIdentity, Stamp, probe_record
from collector.evidence.store import EvidenceStore
from collector.prometheus.remote_write import ship
from tests.clirun import slawitness
from tests.rig import rig_unavailable
from tests.rig.netns import (
    NetnsHost,
    RigError,
    apply_rules,
    build_netns_host,
    clear_rules,
    destroy_netns_host,
)
from tests.rig.prometheus import free_port

VANTAGES = ("alpha", "beta", "gamma")
INTERVAL_S = 3
DOWN = {2: {"alpha"}, 3: {"alpha"}, 5: {"alpha", "beta"}, 6: {"alpha", "beta"}}
"""Round -> the vantages that cannot reach the target in it: alpha alone, then two."""
ROUNDS = 8
NS = 1_000_000_000


@pytest.fixture
def hosts() -> Iterator[list[NetnsHost]]:
    if shutil.which("victoria-metrics") is None:
        pytest.skip("victoria-metrics is not installed")
    built: list[NetnsHost] = []
    try:
        for _ in VANTAGES:
            built.append(build_netns_host(ipv6=False))
    except (RigError, OSError) as exc:
        for host in built:
            destroy_netns_host(host)
        rig_unavailable(str(exc))
    yield built
    for host in built:
        destroy_netns_host(host)


@contextlib.contextmanager
def _listener() -> Iterator[int]:
    """A TCP listener on every address of ours, so each namespace reaches it by its link."""
    server = socket.create_server(("0.0.0.0", 0), backlog=64)
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                connection, _ = server.accept()
                connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        server.close()


@contextlib.contextmanager
def _victoria_metrics(workdir: Path) -> Iterator[str]:
    port = free_port()
    argv = ["victoria-metrics", f"-httpListenAddr=:{port}",
            f"-storageDataPath={workdir / 'vm'}", "-loggerLevel=ERROR",
            "-search.latencyOffset=0s", "-retentionPeriod=100y"]  # fmt: skip
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, cwd=workdir)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError("victoria-metrics never became ready")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def _config(folder: Path, vantage: str, address: str, port: int, write_url: str) -> Path:
    folder.mkdir()
    probe = {"name": "port", "kind": "tcp", "port": port,
             "interval": f"{INTERVAL_S}s", "timeout": "1s"}  # fmt: skip
    sla = {
        "uptime": 99.9,
        "confirm_vantages": 2,
        "downtime": {"probes": "any", "min_duration": "0s"},
        "credits": [{"below": 99.9, "credit": 10}, {"below": 99, "credit": 25}],
        "monthly_fee": 20,
        "currency": "EUR",
    }
    data = {
        "vantage": vantage,
        "store": "evidence.db",
        "targets": [{"name": "vps1", "host": address, "probes": [probe], "sla": sla}],
        "diagnostics": {"enabled": False},
        "remote_write": [{"url": write_url}],
    }
    path = folder / "slawitness.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _round(hosts: list[NetnsHost], configs: list[Path]) -> None:
    """One cron round of every vantage at once, each inside its namespace."""
    started = [
        subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                host.namespace,
                sys.executable,
                "-m",
                "cli",
                "probe",
                "--config",
                str(config),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for host, config in zip(hosts, configs, strict=True)
    ]
    for process in started:
        _, err = process.communicate(timeout=30)
        assert process.returncode == 0, err


def _iso(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / 1e9, UTC).isoformat()


def _summary(*args: str, out: Path) -> dict[str, Any]:
    done = slawitness("report", *args, "--out", str(out), "--format", "json", "--lang", "en")
    assert done.returncode == 0, done.stderr
    return json.loads((out / "summary.json").read_text(encoding="utf-8"))


def _assert_same_figures(fleet: dict[str, Any], merged: dict[str, Any]) -> None:
    """Uptime, credits, remedies and every incident as the engine and the stores give them."""
    figures = ["period_start", "period_end", "period_seconds", "no_data_seconds",
               "downtime_seconds", "uptime_observed", "uptime_conservative", "breached",
               "credit_percent", "credit_tier", "credit_amount", "remedies",
               "vantages"]  # fmt: skip
    assert {k: fleet[k] for k in figures} == {k: merged[k] for k in figures}
    assert merged["confirm_vantages"] == fleet["confirm_vantages"] == 2
    # Error classes and store seqs are not copied to the engine (docs/fleet.md says so).
    copied = ["start", "end", "duration_seconds", "counted_seconds", "probes", "attribution",
              "counted", "not_counted_because", "vantages"]  # fmt: skip
    incidents = [[{k: i[k] for k in copied} for i in s["incidents"]] for s in (fleet, merged)]
    assert incidents[0] == incidents[1]


def test_fleet_report_from_the_engine_equals_the_merged_stores(
    tmp_path: Path, hosts: list[NetnsHost]
) -> None:
    with _listener() as port, _victoria_metrics(tmp_path) as engine:
        vm_port = int(engine.rsplit(":", 1)[1])
        configs = [
            _config(
                tmp_path / vantage,
                vantage,
                host.local_address,
                port,
                f"http://{host.local_address}:{vm_port}/api/v1/write",
            )
            for vantage, host in zip(VANTAGES, hosts, strict=True)
        ]
        for index in range(ROUNDS):
            tick = time.monotonic()
            for vantage, host in zip(VANTAGES, hosts, strict=True):
                clear_rules(host)
                if vantage in DOWN.get(index, set()):
                    apply_rules(host, [f"ip saddr {host.local_address} tcp sport {port} drop"])
            _round(hosts, configs)
            time.sleep(max(0.0, INTERVAL_S - (time.monotonic() - tick)))
        httpx.get(f"{engine}/internal/force_flush", timeout=10)

        stamps: list[int] = []
        for config in configs:
            with EvidenceStore.open(config.parent / "evidence.db", readonly=True) as store:
                probes = [r.record for r in store.records(types=["probe"])]
            assert [p["ok"] for p in probes] == [
                config.parent.name not in DOWN.get(i, set()) for i in range(ROUNDS)
            ]
            stamps += [int(p["ts_ns"]) for p in probes]
        minute = 60 * 1_000_000_000
        since = min(stamps) // minute * minute
        until = (max(stamps) // minute + 2) * minute
        period = ["--target", "vps1", "--from", _iso(since), "--to", _iso(until)]
        fleet = _summary(
            "--config", str(configs[0]), *period, "--prometheus", engine, out=tmp_path / "fleet"
        )
    stores = [arg for config in configs for arg in ("--store", str(config.parent / "evidence.db"))]
    merged = _summary("--config", str(configs[0]), *period, *stores, out=tmp_path / "merged")

    _assert_same_figures(fleet, merged)
    assert [
        (i["attribution"], i["vantages"], i["counted_seconds"] > 0) for i in merged["incidents"]
    ] == [
        ("unconfirmed", ["alpha"], False),
        ("provider", ["alpha", "beta"], True),
    ]
    assert merged["downtime_seconds"] > 0 and merged["credit_percent"] is not None


def test_whole_milliseconds_round_to_the_same_seconds(tmp_path: Path) -> None:
    """Remote write keeps whole milliseconds (floor), the store nanoseconds; the engine
    rounds each stamp half up to a whole second, and x.5 s is a whole millisecond, so the
    floor never moves a sample to another second. Stamps a nanosecond either side of the
    half and whole seconds, at fixed past dates, give the same report both ways."""
    if shutil.which("victoria-metrics") is None:
        pytest.skip("victoria-metrics is not installed")
    t0 = 1_790_000_000 * NS
    offsets = [NS // 2 - 1, NS // 2, NS // 2 + 999_999, NS - 1, 1]
    down = {"alpha": range(10, 21), "beta": range(16, 31)}
    with _victoria_metrics(tmp_path) as engine:
        configs = []
        for vantage in VANTAGES[:2]:
            config = _config(tmp_path / vantage, vantage, "127.0.0.1", 22, f"{engine}/api/v1/write")
            identity = ProbeIdentity(vantage, "vps1", "port", "tcp", "target")
            records = [
                probe_record(
                    identity,
                    Stamp(t0 + i * INTERVAL_S * NS + offsets[i % len(offsets)], 0),
                    Result.failure(ErrorClass.TIMEOUT, "no answer")
                    if i in down[vantage]
                    else Result(ok=True, latency_ns=1_000_000),
                    1_000_000,
                )
                for i in range(60)
            ]
            with EvidenceStore.create(config.parent / "evidence.db") as store:
                store.append(records)
                assert ship(store, RemoteWrite(url=f"{engine}/api/v1/write")).error is None
            configs.append(config)
        httpx.get(f"{engine}/internal/force_flush", timeout=10)
        period = ["--target", "vps1", "--from", _iso(t0 - 60 * NS), "--to", _iso(t0 + 600 * NS)]
        fleet = _summary(
            "--config", str(configs[0]), *period, "--prometheus", engine, out=tmp_path / "fleet"
        )
    stores = [arg for config in configs for arg in ("--store", str(config.parent / "evidence.db"))]
    merged = _summary("--config", str(configs[0]), *period, *stores, out=tmp_path / "merged")
    _assert_same_figures(fleet, merged)
    # One incident from alpha's first failure (30 s in) to beta's next success, 93.5 s in
    # (rounded half up to 94), of which the 15 s both vantages saw count.
    assert [(i["start"], i["end"], i["counted_seconds"]) for i in merged["incidents"]] == [
        (_iso_z(t0 + 30 * NS), _iso_z(t0 + 94 * NS), 15)
    ]


def _iso_z(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns // NS, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
