"""Notifications through apprise to a real local SMTP server and a local webhook receiver.

Cron rounds run through the real `slawitness` command against a TCP port on loopback that
the test opens and closes; the SLA-engine notifications run through `slawitness notify`
over a store written a minute at a time. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiosmtpd.controller import Controller

from collector.evidence.store import EvidenceStore
from tests.clirun import slawitness, write_config
from tests.month_store import write_month
from tests.rig.loopback import closed_port

HOOK_TOKEN = "hook-token-5f2e9c"
"""The secret part of the webhook URL: it must never reach a record or a log line."""


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content.decode("utf-8", "replace"))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, _Mailbox]]:
    """A real SMTP server on loopback (aiosmtpd), and what it received."""
    box = _Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=closed_port())
    controller.start()
    try:
        yield controller.port, box
    finally:
        controller.stop()


class _Hooks(ThreadingHTTPServer):
    daemon_threads = True
    received: list[tuple[str, dict[str, Any]]]


class _HookHandler(BaseHTTPRequestHandler):
    server: _Hooks

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.server.received.append((self.path, json.loads(self.rfile.read(length))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[_Hooks]:
    """A local webhook receiver that keeps every JSON body posted to it."""
    server = _Hooks(("127.0.0.1", 0), _HookHandler)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


class _Port:
    """A TCP port on loopback that the test opens (target up) and closes (target down)."""

    def __init__(self) -> None:
        self.port = closed_port()
        self._sock: socket.socket | None = None

    def open(self) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(64)  # the kernel completes handshakes without accept()
        self._sock = sock

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _config(folder: Path, port: int, urls: list[str], **extra: Any) -> Path:
    target = {
        "name": "vps1",
        "host": "127.0.0.1",
        "probes": [{"name": "ssh", "kind": "tcp", "port": port, "interval": "60s",
                    "timeout": "1s"}],
    }  # fmt: skip
    path = write_config(folder, [target])
    data = yaml.safe_load(path.read_text())
    data["notifications"] = {"urls": urls, **extra}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _mailto(port: int) -> str:
    return f"mailto://127.0.0.1:{port}?from=witness@example.org&to=me@example.org&mode=insecure"


def _records(store: Path, rtype: str) -> list[dict[str, Any]]:
    with EvidenceStore.open(store, readonly=True) as opened:
        return [row.record for row in opened.records(types=[rtype])]


def _notes(store: Path) -> list[dict[str, Any]]:
    return [n for n in _records(store, "note") if n.get("notify")]


def _round(config: Path) -> None:
    done = slawitness("probe", "--config", str(config))
    assert done.returncode == 0, done.stderr


def test_incident_opened_then_closed_by_mail_and_webhook_once_each(
    tmp_path: Path, smtp: tuple[int, _Mailbox], webhook: _Hooks, monkeypatch: pytest.MonkeyPatch
) -> None:
    smtp_port, mailbox = smtp
    hook_url = f"json://127.0.0.1:{webhook.server_address[1]}/hook/{HOOK_TOKEN}"
    monkeypatch.setenv("SLAW_TEST_HOOK", hook_url)
    target = _Port()
    config = _config(tmp_path, target.port, [_mailto(smtp_port), "${SLAW_TEST_HOOK}"])
    store = tmp_path / "evidence.db"

    target.open()
    _round(config)
    assert _notes(store) == [] and mailbox.messages == [] and webhook.received == []

    target.close()
    _round(config)
    _round(config)  # still down: nothing new
    [opened] = _notes(store)
    assert opened["notify"] == "incident_opened" and opened["target"] == "vps1"
    assert opened["sent"] == ["urls[0] (mailto)", "urls[1] (json)"] and opened["failed"] == []
    assert opened["key"] == f"incident_opened:vps1:{opened['since_ns']}"
    assert len(mailbox.messages) == 1 and len(webhook.received) == 1
    assert "Subject: slawitness: vps1 is DOWN" in mailbox.messages[0]
    assert "vps1 is down since" in mailbox.messages[0]
    path, body = webhook.received[0]
    assert path == f"/hook/{HOOK_TOKEN}"
    assert body["title"] == "slawitness: vps1 is DOWN" and "ssh refused" in body["message"]

    time.sleep(1.1)  # a duration of whole seconds
    target.open()
    try:
        _round(config)
        _round(config)  # still up: nothing new
    finally:
        target.close()
    opened_again, closed = _notes(store)
    assert opened_again == opened
    assert closed["notify"] == "incident_closed" and closed["since_ns"] == opened["since_ns"]
    assert closed["duration_s"] >= 1
    assert closed["duration_s"] == (closed["up_ns"] - closed["since_ns"]) // 1_000_000_000
    assert len(mailbox.messages) == 2 and len(webhook.received) == 2
    assert "the incident lasted" in webhook.received[1][1]["message"]
    assert webhook.received[1][1]["title"] == "slawitness: vps1 is UP again"

    verified = slawitness("verify", "--config", str(config))
    assert verified.returncode == 0, verified.stderr
    exported = slawitness("export", "--config", str(config))
    assert exported.returncode == 0
    assert HOOK_TOKEN not in exported.stdout and str(smtp_port) not in exported.stdout


def test_dead_channels_never_block_the_round_and_retry_a_bounded_number_of_times(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLAW_TEST_HOOK", f"json://127.0.0.1:{closed_port()}/dead/{HOOK_TOKEN}")
    config = _config(tmp_path, closed_port(), [_mailto(closed_port()), "${SLAW_TEST_HOOK}"])
    store = tmp_path / "evidence.db"
    outputs = []
    for _ in range(4):
        done = slawitness("probe", "--config", str(config))
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout + done.stderr)
    assert "urls[1] (json) failed" in outputs[0] and "urls[0] (mailto) failed" in outputs[0]
    assert all(HOOK_TOKEN not in text for text in outputs)
    assert "notification" not in outputs[3]  # three attempts, then quiet: no retry storm
    assert len([r for r in _records(store, "probe")]) == 4
    notes = _notes(store)
    assert len(notes) == 3 and {n["key"] for n in notes} == {notes[0]["key"]}
    assert all(n["sent"] == [] for n in notes)
    assert notes[0]["failed"] == ["urls[0] (mailto)", "urls[1] (json)"]
    exported = slawitness("export", "--config", str(config))
    assert HOOK_TOKEN not in exported.stdout


class _HangingHandler(BaseHTTPRequestHandler):
    released = threading.Event()
    """Set only after the round has returned: until then the channel never answers."""

    def do_POST(self) -> None:
        self.released.wait(120)

    def log_message(self, *args: object) -> None:
        pass


def test_a_hanging_channel_costs_the_round_its_timeout_only(tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HangingHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"json://127.0.0.1:{server.server_address[1]}/slow"
        config = _config(tmp_path, closed_port(), [url], timeout="1s")
        # the channel answers only once the round is over: the round ends at all only
        # because the timeout gave the channel up (slawitness() fails after 60 s)
        done = slawitness("probe", "--config", str(config))
    finally:
        _HangingHandler.released.set()
        server.shutdown()
        server.server_close()
    assert done.returncode == 0, done.stderr
    assert "urls[0] (json) failed" in done.stderr
    [note] = _notes(tmp_path / "evidence.db")
    assert note["failed"] == ["urls[0] (json)"]


def _month(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _span(start: datetime, hours: float) -> tuple[str, str]:
    return _month(start), _month(start + timedelta(hours=hours))


def test_sla_breached_and_claim_deadline_are_sent_once_per_period(
    tmp_path: Path, webhook: _Hooks
) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0, tzinfo=None)
    this_month = now.replace(day=1, hour=0, minute=0)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    if now - this_month < timedelta(hours=3):
        pytest.skip("the month has only just begun: no breach of it to see yet")
    write_month(
        tmp_path / "evidence.db",
        vantage="test-vantage",
        start=_month(last_month),
        end=_month(now - timedelta(minutes=1)),
        hosts=[("vps1", "ssh", "tcp", "target")],
        down={"vps1": [_span(last_month + timedelta(days=2), hours=3),
                       _span(this_month + timedelta(minutes=30), hours=1.5)]},
    )  # fmt: skip
    hook = f"json://127.0.0.1:{webhook.server_address[1]}/hook/{HOOK_TOKEN}"
    config = _config(tmp_path, closed_port(), [hook])
    data = yaml.safe_load(config.read_text())
    # the claim window closes four days from now: inside the default `remind_before` (7d)
    data["targets"][0]["sla"] = {
        "uptime": 99.9, "credits": [{"below": 99.9, "credit": 10}], "monthly_fee": 40,
        "currency": "USD", "claim_window_days": (now - this_month).days + 4,
    }  # fmt: skip
    config.write_text(yaml.safe_dump(data, sort_keys=False))

    first = slawitness("notify", "--config", str(config), timeout=180)
    assert first.returncode == 0, first.stderr
    assert "sla_breached vps1: sent to 1 channel(s)" in first.stdout
    assert "claim_deadline vps1: sent to 1 channel(s)" in first.stdout
    titles = sorted(body["title"] for _, body in webhook.received)
    assert titles[0].startswith(f"slawitness: claim vps1 {last_month:%Y-%m} by ")
    assert titles[1] == f"slawitness: vps1 breached its SLA in {this_month:%Y-%m}"
    claim = next(b for _, b in webhook.received if "claim" in b["title"])
    assert "credit 10% (4.00)" in claim["message"]
    assert f"--claim {last_month:%Y-%m}" in claim["message"]

    second = slawitness("notify", "--config", str(config), timeout=180)
    assert second.returncode == 0, second.stderr
    assert "no notifications due" in second.stdout
    assert len(webhook.received) == 2
    notes = _notes(tmp_path / "evidence.db")
    assert sorted(n["notify"] for n in notes) == ["claim_deadline", "sla_breached"]
    assert {n["period"] for n in notes} == {f"{last_month:%Y-%m}", f"{this_month:%Y-%m}"}


def test_notify_without_notifications_configured_is_a_usage_error(tmp_path: Path) -> None:
    config = write_config(tmp_path, [{"name": "vps1", "host": "127.0.0.1", "probes": [
        {"name": "ssh", "kind": "tcp", "port": 22}]}])  # fmt: skip
    done = slawitness("notify", "--config", str(config))
    assert done.returncode == 2
    assert "notifications: not configured" in done.stderr


def test_a_round_without_notifications_writes_no_notes(tmp_path: Path) -> None:
    config = write_config(tmp_path, [{"name": "vps1", "host": "127.0.0.1", "probes": [
        {"name": "ssh", "kind": "tcp", "port": closed_port(), "timeout": "1s"}]}])  # fmt: skip
    _round(config)
    assert _notes(tmp_path / "evidence.db") == []


def _wait(condition: Any, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_the_daemon_sends_opened_and_closed_once_from_a_worker_thread(
    tmp_path: Path, webhook: _Hooks
) -> None:
    target = _Port()
    hook = f"json://127.0.0.1:{webhook.server_address[1]}/hook"
    config = _config(tmp_path, target.port, [hook])
    data = yaml.safe_load(config.read_text())
    data["targets"][0]["probes"][0].update(interval="1s", timeout="500ms")
    data["targets"][0]["sla"] = {"uptime": 99.0}  # the hourly SLA look runs too: no breach
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    child = subprocess.Popen(
        [sys.executable, "-m", "cli", "run", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        opened = _wait(lambda: len(webhook.received) >= 1)
        time.sleep(2)  # more failing batches: still one message
        still_one = len(webhook.received) == 1
        target.open()
        closed = _wait(lambda: len(webhook.received) >= 2)
        time.sleep(2)
    finally:
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=60)
        target.close()
    assert child.returncode == 0, err
    assert opened and still_one and closed, err
    assert [body["title"] for _, body in webhook.received] == [
        "slawitness: vps1 is DOWN",
        "slawitness: vps1 is UP again",
    ]
    notes = _notes(tmp_path / "evidence.db")
    assert [n["notify"] for n in notes] == ["incident_opened", "incident_closed"]
    assert notes[1]["duration_s"] >= 2
