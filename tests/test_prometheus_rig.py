"""The Prometheus rig itself, against a tiny exporter made with prometheus_client.

The exporter tests of the product lean on this rig to tell "Prometheus did not get our
series" from "our series are wrong", so the rig's own waiting, diagnostics and plumbing
are checked here against an exporter nobody doubts.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from wsgiref.simple_server import WSGIServer

import httpx
import pytest
from prometheus_client import CollectorRegistry, Gauge, start_http_server

from tests.rig.loopback import closed_port
from tests.rig.prometheus import (
    PrometheusFactory,
    PrometheusQueryError,
    PrometheusStartError,
    free_port,
    sample_values,
    start_prometheus,
)


@dataclass
class TinyExporter:
    """A prometheus_client HTTP server on loopback with one gauge."""

    gauge: Gauge
    server: WSGIServer

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server_port}"


@pytest.fixture
def tiny_exporter() -> Iterator[TinyExporter]:
    """A fresh registry (never the global one) served on a loopback port of its own."""
    registry = CollectorRegistry()
    gauge = Gauge("rig_gauge", "A value the test sets.", registry=registry)
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    yield TinyExporter(gauge, server)
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def job(name: str, *addresses: str) -> dict[str, object]:
    return {"job_name": name, "static_configs": [{"targets": list(addresses)}]}


def test_wait_for_sees_the_gauge_and_its_changes(
    prometheus_factory: PrometheusFactory, tiny_exporter: TinyExporter
) -> None:
    tiny_exporter.gauge.set(42)
    prom = prometheus_factory([job("tiny", tiny_exporter.address)])
    result = prom.wait_for('rig_gauge{job="tiny"}', lambda r: sample_values(r) == [42.0])
    assert result[0]["metric"]["instance"] == tiny_exporter.address
    tiny_exporter.gauge.set(7.5)
    prom.wait_for('rig_gauge{job="tiny"}', lambda r: sample_values(r) == [7.5])
    assert sample_values(prom.query('up{job="tiny"}')) == [1.0]
    (target,) = prom.targets()
    assert target["health"] == "up"
    assert target["lastError"] == ""


def test_a_missing_target_shows_as_down_with_its_error(
    prometheus_factory: PrometheusFactory, tiny_exporter: TinyExporter
) -> None:
    nowhere = f"127.0.0.1:{closed_port()}"
    prom = prometheus_factory([job("tiny", tiny_exporter.address), job("nowhere", nowhere)])
    prom.wait_for('up{job="nowhere"}', lambda r: sample_values(r) == [0.0])
    prom.wait_for('up{job="tiny"}', lambda r: sample_values(r) == [1.0])
    health = {t["labels"]["job"]: t for t in prom.targets()}
    assert health["nowhere"]["health"] == "down"
    assert "refused" in health["nowhere"]["lastError"]
    assert health["tiny"]["health"] == "up"


def test_a_wait_that_runs_out_names_the_last_result_and_each_targets_health(
    prometheus_factory: PrometheusFactory, tiny_exporter: TinyExporter
) -> None:
    nowhere = f"127.0.0.1:{closed_port()}"
    tiny_exporter.gauge.set(1)
    prom = prometheus_factory([job("tiny", tiny_exporter.address), job("nowhere", nowhere)])
    prom.wait_for("up", lambda r: len(r) == 2)
    with pytest.raises(AssertionError) as failure:
        prom.wait_for("rig_gauge", lambda r: sample_values(r) == [2.0], timeout=1.5)
    message = str(failure.value)
    assert "'rig_gauge'" in message
    assert "'value': [" in message and "'1'" in message  # the last result, as Prometheus sent it
    assert f"http://{nowhere}/metrics: health=down" in message
    assert "connection refused" in message
    assert f"http://{tiny_exporter.address}/metrics: health=up" in message


def test_a_bad_expression_raises_with_prometheus_own_error(
    prometheus_factory: PrometheusFactory,
) -> None:
    prom = prometheus_factory([])
    with pytest.raises(PrometheusQueryError, match="bad_data"):
        prom.query("rate(up[")
    assert prom.query("1 + 1")[0]["value"][1] == "2"  # a scalar is one label-less sample


def test_rule_files_are_loaded_and_evaluated(
    prometheus_factory: PrometheusFactory, tiny_exporter: TinyExporter, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(
        "groups:\n"
        "  - name: rig\n"
        "    rules:\n"
        "      - record: rig:gauge:doubled\n"
        "        expr: rig_gauge * 2\n"
        "      - alert: RigGaugeHigh\n"
        "        expr: rig_gauge > 10\n",
        encoding="utf-8",
    )
    tiny_exporter.gauge.set(21)
    prom = prometheus_factory([job("tiny", tiny_exporter.address)], rule_files=[rules])
    prom.wait_for("rig:gauge:doubled", lambda r: sample_values(r) == [42.0])
    firing = [a for a in prom.alerts() if a["labels"]["alertname"] == "RigGaugeHigh"]
    assert [a["state"] for a in firing] == ["firing"]


def test_an_invalid_config_fails_fast_with_the_log_tail(tmp_path: Path) -> None:
    with pytest.raises(PrometheusStartError) as failure:
        start_prometheus(tmp_path, [{"job_name": "x", "no_such_key": 1}])
    message = str(failure.value)
    assert "exited with status" in message
    assert "no_such_key" in message


def test_stop_ends_the_process_and_frees_the_port(tmp_path: Path) -> None:
    prom = start_prometheus(tmp_path, [])
    try:
        assert prom.query("vector(3)")[0]["value"][1] == "3"
    finally:
        prom.stop()
    assert prom.process.returncode is not None
    prom.stop()  # idempotent
    with pytest.raises(httpx.ConnectError):
        prom.query("vector(1)")


def test_free_port_is_free_on_loopback() -> None:
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))  # would raise EADDRINUSE if someone listened
        assert sock.getsockname() == ("127.0.0.1", port)
