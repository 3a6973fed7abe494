"""A secret in the config never leaves it: not in records, logs, metrics, reports or bundles.

The test plants two unique secrets (an API token header from the environment and a basic
auth password from a file), proves the probed server really received them, then runs every
verb that writes something and scans every byte it wrote: stdout and stderr, the store and
its WAL, exports, /metrics and /probe answers, every report file and every member of the
bundle, decompressed.
"""

from __future__ import annotations

import base64
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.clirun import slawitness
from tests.rig.loopback import HttpFaultServer

TOKEN = f"tok-{uuid.uuid4().hex}"
PASSWORD = f"pw-{uuid.uuid4().hex}"
BASIC = base64.b64encode(f"prober:{PASSWORD}".encode()).decode()
PLANTED = (TOKEN, PASSWORD, BASIC)


def leaks(data: bytes) -> list[str]:
    """Which planted secrets (in any of their forms) appear in `data`."""
    return [secret for secret in PLANTED if secret.encode() in data]


def scan_tree(folder: Path, skip: set[Path]) -> dict[str, list[str]]:
    """Every file under `folder` (zip members opened) that holds a planted secret."""
    found: dict[str, list[str]] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p not in skip):
        data = path.read_bytes()
        if leaks(data):
            found[str(path)] = leaks(data)
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as bundle:
                for member in bundle.namelist():
                    if leaks(bundle.read(member)):
                        found[f"{path}!{member}"] = leaks(bundle.read(member))
    return found


def test_planted_secrets_appear_in_no_output(
    tmp_path: Path, http_server: HttpFaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    http_server.expect_auth = ("prober", PASSWORD)
    secret_file = tmp_path / "secrets" / "password"
    secret_file.parent.mkdir()
    secret_file.write_text(PASSWORD + "\n")
    config = tmp_path / "slawitness.yml"
    config.write_text(yaml.safe_dump({
        "vantage": "office", "store": "evidence.db",
        "targets": [{
            "name": "vps1", "host": "127.0.0.1",
            "probes": [{"name": "web", "kind": "http", "url": http_server.url("/auth"),
                        "interval": "2s", "timeout": "1s",
                        "headers": {"X-Api-Token": "${SLAWITNESS_TEST_TOKEN}"},
                        "basic_auth": {"username": "prober",
                                       "password": {"file": str(secret_file)}}}],
            "sla": {"uptime": 99.9, "credits": [{"below": 99.9, "credit": 10}],
                    "monthly_fee": 40, "currency": "USD"},
        }],
    }))  # fmt: skip
    monkeypatch.setenv("SLAWITNESS_TEST_TOKEN", TOKEN)
    outputs: list[bytes] = []
    for _ in range(3):
        done = slawitness("--log-level", "debug", "probe", "--config", str(config))
        assert done.returncode == 0, done.stderr
        outputs += [done.stdout.encode(), done.stderr.encode()]
    port = _free_port()
    daemon = subprocess.Popen(
        [sys.executable, "-m", "collector", "--log-level", "debug", "run", "--config",
         str(config), "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        outputs.append(_get(f"http://127.0.0.1:{port}/metrics"))
        outputs.append(_get(f"http://127.0.0.1:{port}/probe?target=vps1&probe=web"))
    finally:
        daemon.send_signal(signal.SIGTERM)
        out, err = daemon.communicate(timeout=30)
        outputs += [out, err]
    start = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86400))
    end = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86400))
    for argv in (
        ["export", "--format", "jsonl"],
        ["export", "--format", "csv"],
        ["verify"],
        ["check-config"],
        ["report", "--target", "vps1", "--from", start, "--to", end,
         "--out", str(tmp_path / "report")],
        ["bundle", "--target", "vps1", "--from", start, "--to", end,
         "--out", str(tmp_path / "bundle.zip")],
    ):  # fmt: skip
        done = slawitness("--log-level", "debug", *argv, "--config", str(config), timeout=180)
        assert done.returncode == 0, (argv, done.stderr)
        outputs += [done.stdout.encode(), done.stderr.encode()]
    seen = [r for r in http_server.requests if r.path.startswith("/auth")]
    assert seen, "the probe never reached the server"
    assert all(r.headers.get("x-api-token") == TOKEN for r in seen)
    assert all(r.headers.get("authorization") == f"Basic {BASIC}" for r in seen)
    assert [leaks(output) for output in outputs if leaks(output)] == []
    assert scan_tree(tmp_path, skip={config, secret_file}) == {}
    assert (tmp_path / "bundle.zip").stat().st_size > 0 and (tmp_path / "report").is_dir()


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str, attempts: int = 100) -> bytes:
    """GET `url`, waiting for the daemon to start listening."""
    for _ in range(attempts):
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return bytes(response.read())
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never answered")
