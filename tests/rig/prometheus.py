"""A real Prometheus server on loopback, for tests of what Prometheus makes of our series.

A pytest plugin (listed in tests/conftest.py). `start_prometheus` runs Debian's
`/usr/bin/prometheus` on a free loopback port with its storage in the given work directory
and returns once `/-/ready` answers (well under a second; the first scrape of a new target
comes about 5 s later, Prometheus's target-discovery update period).
`PrometheusServer.wait_for` polls an instant query until a predicate holds, and when it
does not, fails with the last result and every target's scrape health and last error (a
scrape that fails shows there, not in the query). The `prometheus_factory` fixture starts
as many servers as a test needs and stops them all at teardown. Prometheus only ever
scrapes the targets the test gives it.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
import yaml

from tests.rig import rig_unavailable

PROMETHEUS = Path("/usr/bin/prometheus")
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0

Samples = list[dict[str, Any]]
"""An instant query's result: [{"metric": {...labels}, "value": [ts, "value"]}, ...]."""


class PrometheusUnavailable(RuntimeError):
    """The Prometheus binary is not installed here."""


class PrometheusStartError(AssertionError):
    """Prometheus did not become ready; the message carries its log tail."""


class PrometheusQueryError(AssertionError):
    """The HTTP API answered with an error status (bad expression, timeout)."""


def free_port(host: str = "127.0.0.1") -> int:
    """A loopback port nothing listens on right now: bound to 0, read, released."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
    return port


def sample_values(result: Samples) -> list[float]:
    """The values of an instant vector, in result order, so predicates read simply."""
    return [float(sample["value"][1]) for sample in result]


@dataclass
class PrometheusServer:
    """A running Prometheus: its URL, its process and where it logs."""

    url: str
    process: subprocess.Popen[bytes]
    workdir: Path
    log_path: Path
    _log: IO[bytes] | None = field(default=None, repr=False)

    def _api(self, path: str, params: dict[str, str] | None = None) -> Any:
        """GET an /api/v1 endpoint and return its `data`; raise on an error status."""
        response = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10.0)
        try:
            body = response.json()
        except ValueError as exc:
            raise PrometheusQueryError(
                f"/api/v1/{path}: HTTP {response.status_code}, not JSON: {response.text[:200]}"
            ) from exc
        if body.get("status") != "success":
            raise PrometheusQueryError(
                f"/api/v1/{path} {params or ''}: {body.get('errorType')}: {body.get('error')}"
            )
        return body["data"]

    def query(self, expr: str) -> Samples:
        """An instant query; scalars and strings come back as one label-less sample."""
        data = self._api("query", {"query": expr})
        if data["resultType"] in ("vector", "matrix"):
            return list(data["result"])
        return [{"metric": {}, "value": data["result"]}]

    def targets(self) -> list[dict[str, Any]]:
        """The active scrape targets with their `health`, `lastError` and `scrapeUrl`."""
        return list(self._api("targets")["activeTargets"])

    def alerts(self) -> list[dict[str, Any]]:
        """Alerts currently pending or firing, from the loaded rule files."""
        return list(self._api("alerts")["alerts"])

    def wait_for(
        self, expr: str, predicate: Callable[[Samples], bool], timeout: float = 30.0
    ) -> Samples:
        """Poll `expr` until `predicate(result)` holds; fail with what Prometheus saw.

        Scrapes happen on Prometheus's schedule, so a test waits for the state it expects
        instead of sleeping; when the wait runs out the message says why (a target down
        and its last error, or the last value seen).
        """
        deadline = time.monotonic() + timeout
        last: Samples = []
        while True:
            last = self.query(expr)
            if predicate(last):
                return last
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"after {timeout:g} s, {expr!r} still does not satisfy the predicate;\n"
                    f"last result: {last!r}\ntargets:\n{self.describe_targets()}"
                )
            time.sleep(0.2)

    def reload(self) -> None:
        """Re-read the config and rule files (needs `enable_lifecycle`)."""
        response = httpx.post(f"{self.url}/-/reload", timeout=10.0)
        if response.status_code != 200:
            raise PrometheusQueryError(f"/-/reload: HTTP {response.status_code}: {response.text}")

    def describe_targets(self) -> str:
        """One line per target: pool, URL, health, last error (the scrape diagnostic)."""
        try:
            found = self.targets()
        except (httpx.HTTPError, PrometheusQueryError) as exc:
            return f"  (targets unavailable: {exc})"
        if not found:
            return "  (no active targets)"
        return "\n".join(
            f"  {t.get('scrapePool')} {t.get('scrapeUrl')}: health={t.get('health')}"
            f" lastError={t.get('lastError')!r} lastScrape={t.get('lastScrape')}"
            for t in found
        )

    def log_tail(self, lines: int = 30) -> str:
        """The end of the server's log, for failure messages."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty log)"

    def stop(self) -> None:
        """Terminate, wait, kill after STOP_TIMEOUT_S; idempotent."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


def write_config(
    path: Path,
    scrape_configs: list[dict[str, Any]],
    scrape_interval: str,
    rule_files: Sequence[Path],
) -> None:
    """prometheus.yml; rules are evaluated as often as targets are scraped."""
    config: dict[str, Any] = {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
        "scrape_configs": scrape_configs,
    }
    if rule_files:
        config["rule_files"] = [str(Path(p).resolve()) for p in rule_files]
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def start_prometheus(
    workdir: Path,
    scrape_configs: list[dict[str, Any]],
    scrape_interval: str = "1s",
    rule_files: Sequence[Path] = (),
    enable_lifecycle: bool = False,
) -> PrometheusServer:
    """Start Prometheus on a free loopback port and return once `/-/ready` answers 200."""
    if not os.access(PROMETHEUS, os.X_OK):
        raise PrometheusUnavailable(f"{PROMETHEUS} is not installed (Debian package prometheus)")
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "prometheus.yml"
    write_config(config_path, scrape_configs, scrape_interval, rule_files)
    port = free_port()
    argv = [
        str(PROMETHEUS),
        f"--config.file={config_path}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    if enable_lifecycle:
        argv.append("--web.enable-lifecycle")
    log_path = workdir / "prometheus.log"
    log = log_path.open("wb")
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    server = PrometheusServer(f"http://127.0.0.1:{port}", process, workdir, log_path, log)
    try:
        _wait_ready(server)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_ready(server: PrometheusServer) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    status = "no answer"
    while time.monotonic() < deadline:
        code = server.process.poll()
        if code is not None:
            raise PrometheusStartError(
                f"prometheus exited with status {code} before it was ready;"
                f" log tail:\n{server.log_tail()}"
            )
        with contextlib.suppress(httpx.HTTPError):
            response = httpx.get(f"{server.url}/-/ready", timeout=2.0)
            if response.status_code == 200:
                return
            status = f"HTTP {response.status_code}"
        time.sleep(0.1)
    raise PrometheusStartError(
        f"prometheus at {server.url} not ready after {READY_TIMEOUT_S:g} s ({status});"
        f" log tail:\n{server.log_tail()}"
    )


PrometheusFactory = Callable[..., PrometheusServer]
"""`start(scrape_configs, scrape_interval="1s", rule_files=(), enable_lifecycle=False)`."""


@pytest.fixture
def prometheus_factory(tmp_path: Path) -> Iterator[PrometheusFactory]:
    """Start Prometheus servers (each in its own directory); all are stopped at teardown."""
    started: list[PrometheusServer] = []

    def start(
        scrape_configs: list[dict[str, Any]],
        scrape_interval: str = "1s",
        rule_files: Sequence[Path] = (),
        enable_lifecycle: bool = False,
    ) -> PrometheusServer:
        workdir = tmp_path / f"prometheus-{len(started)}"
        try:
            server = start_prometheus(
                workdir, scrape_configs, scrape_interval, rule_files, enable_lifecycle
            )
        except PrometheusUnavailable as exc:
            rig_unavailable(str(exc))
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
