"""Trusted timestamps of checkpoints against a local `openssl ts` authority: queued before
the network, kept through outages and crashes, never in the way of probing."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from collector.config.model import Timestamping
from collector.evidence.store import EvidenceStore
from collector.proving import checkpoints, timestamping
from tests.clirun import slawitness, write_config
from tests.rig.loopback import TcpListener
from tests.rig.stores import fill
from tests.rig.tsa import LocalTsa


def _config(folder: Path, port: int, tsa: LocalTsa, **stamping: object) -> Path:
    path = write_config(
        folder,
        [
            {
                "name": "vps1",
                "host": "127.0.0.1",
                "probes": [
                    {"name": "ssh", "kind": "tcp", "port": port, "interval": "2s", "timeout": "1s"}
                ],
                "sla": {
                    "uptime": 99.9,
                    "credits": [{"below": 99.9, "credit": 10}],
                    "monthly_fee": 5,
                    "currency": "USD",
                },
            }
        ],
    )
    (folder / "tsa-roots.pem").write_bytes(tsa.roots_pem)
    data = yaml.safe_load(path.read_text())
    data["checkpoints"] = {
        "every": "1h",
        "timestamping": {"url": tsa.url, "roots": "tsa-roots.pem", "timeout": "2s", **stamping},
    }
    path.write_text(yaml.safe_dump(data))
    assert slawitness("init", "--config", str(path), "--key-only").returncode == 0
    return path


def _types(path: Path) -> list[tuple[int, str]]:
    with EvidenceStore.open(path, readonly=True) as store:
        return [(r.seq, str(r.record["type"])) for r in store.records()]


def test_a_cron_round_stamps_its_checkpoint(
    tmp_path: Path, tcp_listener: TcpListener, local_tsa: LocalTsa
) -> None:
    config = _config(tmp_path, tcp_listener.port, local_tsa)
    done = slawitness("probe", "--config", str(config))
    assert done.returncode == 0, done.stderr
    kinds = [t for _, t in _types(tmp_path / "evidence.db")]
    assert kinds[-3:] == ["checkpoint", "timestamp_request", "timestamp"]
    assert local_tsa.requests == 1
    again = slawitness("probe", "--config", str(config))
    assert again.returncode == 0 and local_tsa.requests == 1, "one a day, not one a round"
    verify = slawitness("verify", "--config", str(config))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "timestamp seq" in verify.stdout
    assert "chain checked against the TSA roots" in verify.stdout


def test_a_tsa_sending_its_chain_out_of_der_order_stamps_and_openssl_agrees(
    tmp_path: Path, tcp_listener: TcpListener, chained_tsa: LocalTsa
) -> None:
    """The answer is stored as the TSA sent it (not the sorted copy read to check it), and
    `openssl ts -verify` accepts the stored bytes for the stored checkpoint note."""
    config = _config(tmp_path, tcp_listener.port, chained_tsa)
    done = slawitness("probe", "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert "slawitness timestamp:" not in done.stderr, done.stderr
    with EvidenceStore.open(tmp_path / "evidence.db", readonly=True) as store:
        [request] = store.records(types=["timestamp_request"])
        [answer] = store.records(types=["timestamp"])
        seq = int(str(request.record["checkpoint_seq"]))
        [checkpoint] = store.records(after_seq=seq - 1, limit=1)
    assert answer.record["verified_with_roots"] is True
    stored = base64.b64decode(str(answer.record["response"]))
    sent = max(chained_tsa.folder.glob("reply-*.tsr"), key=lambda p: int(p.stem.split("-")[1]))
    assert stored == sent.read_bytes(), "stored as the TSA sent it"
    (tmp_path / "note").write_text(str(checkpoint.record["note"]), encoding="utf-8")
    (tmp_path / "stored.tsr").write_bytes(stored)
    checked = subprocess.run(
        ["openssl", "ts", "-verify", "-data", str(tmp_path / "note"), "-in",
         str(tmp_path / "stored.tsr"), "-CAfile", str(tmp_path / "tsa-roots.pem")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert checked.returncode == 0 and "Verification: OK" in checked.stdout, checked.stderr
    verify = slawitness("verify", "--config", str(config))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "chain checked against the TSA roots" in verify.stdout


def test_an_outage_queues_the_request_and_a_later_round_sends_it(
    tmp_path: Path,
    tcp_listener: TcpListener,
    local_tsa: LocalTsa,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = _config(tmp_path, tcp_listener.port, local_tsa)
    local_tsa.stop()
    down = slawitness("probe", "--config", str(config))
    assert down.returncode == 0, "a TSA outage is not the round's failure"
    assert "cannot connect" in down.stderr and local_tsa.url in down.stderr
    types = _types(tmp_path / "evidence.db")
    request = next(seq for seq, t in types if t == "timestamp_request")
    failed = next(seq for seq, t in types if t == "timestamp_failed")
    assert request < failed, "the request was stored before anything was sent"
    assert any(t == "probe" for _, t in types), "the round's probes are stored"
    local_tsa.start()
    monkeypatch.setattr(timestamping, "RETRY_S", 0.0)
    settings = Timestamping(url=local_tsa.url, timeout=2.0)
    with EvidenceStore.open(tmp_path / "evidence.db") as store:
        outcome = timestamping.step(store, settings, "v")
        assert outcome.stored == "timestamp" and outcome.request_seq == request
        [answer] = store.records(types=["timestamp"])
        assert answer.record["request_seq"] == request, "the queued request, not a new one"


def test_a_pending_request_waits_before_it_is_sent_again(
    tmp_path: Path, local_tsa: LocalTsa
) -> None:
    key = checkpoints.create_key(tmp_path / "k.key", "test")
    settings = Timestamping(url=local_tsa.url, timeout=2.0)
    with EvidenceStore.create(tmp_path / "evidence.db") as store:
        fill(store, 4)
        checkpoints.write(store, key, "v")
        local_tsa.fail_with(503)
        first = timestamping.step(store, settings, "v")
        assert first.stored == "timestamp_failed" and "503" in first.message
        assert timestamping.step(store, settings, "v").message == "waiting to retry"
        assert local_tsa.requests == 1


def test_a_crash_while_the_tsa_hangs_keeps_the_request(
    tmp_path: Path, tcp_listener: TcpListener, local_tsa: LocalTsa
) -> None:
    """SIGKILL during the exchange: the request is already durable, and it is the one sent
    (same bytes, same nonce) once the TSA answers again."""
    config = _config(tmp_path, tcp_listener.port, local_tsa, timeout="30s")
    local_tsa.delay = 20.0
    child = subprocess.Popen(
        [sys.executable, "-m", "cli", "probe", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    store_path = tmp_path / "evidence.db"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and local_tsa.requests == 0:
        time.sleep(0.05)
    assert local_tsa.requests == 1, "the request reached the TSA"
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    local_tsa.delay = 0.0
    with EvidenceStore.open(store_path) as store:
        assert store.verify().ok
        [request] = store.records(types=["timestamp_request"])
        assert not list(store.records(types=["timestamp", "timestamp_failed"]))
        settings = Timestamping(url=local_tsa.url, timeout=5.0)
        assert timestamping.step(store, settings, "v").stored == "timestamp"
        [answer] = store.records(types=["timestamp"])
        assert answer.record["request_seq"] == request.seq
        assert base64.b64decode(str(request.record["request"]))


def test_the_daemon_keeps_probing_while_the_tsa_hangs(
    tmp_path: Path, tcp_listener: TcpListener, local_tsa: LocalTsa
) -> None:
    config = _config(tmp_path, tcp_listener.port, local_tsa, timeout="8s")
    local_tsa.delay = 600.0  # never answers within the test; cut short by its reset
    child = subprocess.Popen(
        [sys.executable, "-m", "cli", "run", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and local_tsa.requests == 0:
            time.sleep(0.05)
        assert local_tsa.requests == 1
        time.sleep(5)  # the TSA holds the request all along
        with EvidenceStore.open(tmp_path / "evidence.db", readonly=True) as store:
            probes = [r for r in store.records(types=["probe"])]
            answered = list(store.records(types=["timestamp"]))
        assert not answered
        assert len(probes) >= 3, "probes every 2 s went on while the TSA held the request"
    finally:
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=30)
    assert child.returncode == 0, err


def test_the_report_lists_the_timestamps(
    tmp_path: Path, tcp_listener: TcpListener, local_tsa: LocalTsa
) -> None:
    config = _config(tmp_path, tcp_listener.port, local_tsa)
    assert slawitness("probe", "--config", str(config)).returncode == 0
    now = datetime.now(UTC)
    span = [(now - timedelta(hours=1)).isoformat(), (now + timedelta(minutes=1)).isoformat()]
    out = tmp_path / "report"
    done = slawitness(
        "report", "--config", str(config), "--target", "vps1", "--from", span[0],
        "--to", span[1], "--format", "json,html", "--lang", "en,zh", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "summary.json").read_text())
    [stamp] = summary["timestamps"]
    assert stamp["problem"] is None and stamp["roots_checked"] is True
    assert stamp["size"] > 0 and "TSA" in (stamp["tsa"] or "") + stamp["url"]
    assert datetime.fromisoformat(stamp["gen_time"]) - now < timedelta(minutes=1)
    html = (out / "report.en.html").read_text()
    assert "Trusted timestamps" in html and "checked against the authority" in html
    assert "可信时间戳" in (out / "report.zh.html").read_text()
