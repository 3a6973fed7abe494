"""Grafana dashboard 7587 ("Prometheus Blackbox Exporter") works on slawitness's series.

A real Prometheus scrapes `slawitness serve` and the daemon over a store of https (trustme
certificate on loopback) and dns records made by the real probes, and every panel's PromQL
returns data, with the values the panels show. Then our series for the same https and dns
targets are held against a real blackbox_exporter's: every probe_* name it emits is one we
serve (or one we say we do not), with its type, its labels plus ours, and for everything
but timings its value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from collector.prometheus.metrics import METRIC_NAMES, PROBE_LABELS
from tests.clirun import slawitness, write_config
from tests.exporter_process import exporter
from tests.rig.blackbox import Family, blackbox_exporter, families
from tests.rig.dns_server import DnsServer
from tests.rig.loopback import HttpFaultServer
from tests.rig.prometheus import PrometheusFactory, Samples, sample_values
from tests.rig.servers import TlsFiles

PANELS = {
    "Global Probe Duration": 'probe_duration_seconds{instance=~"$target"}',
    "Status": 'probe_success{instance=~"$target"}',
    "HTTP Duration": 'probe_http_duration_seconds{instance=~"$target"}',
    "Probe Duration": 'probe_duration_seconds{instance=~"$target"}',
    "HTTP Status Code": 'probe_http_status_code{instance=~"$target"}',
    "HTTP Version": 'probe_http_version{instance=~"$target"}',
    "SSL": 'probe_http_ssl{instance=~"$target"}',
    "SSL Expiry": 'probe_ssl_earliest_cert_expiry{instance=~"$target"} - time()',
    "Average Probe Duration": 'avg(probe_duration_seconds{instance=~"$target"})',
    "Average DNS Lookup": 'avg(probe_dns_lookup_time_seconds{instance=~"$target"})',
}
"""The PromQL of dashboard 7587's panels; `$target` is `label_values(probe_success, instance)`."""

NOT_SERVED = {
    "probe_ssl_last_chain_info": "certificate subject, issuer and SANs as labels: a series "
    "per certificate, and 7587 does not use it",
    "probe_http_last_modified_timestamp_seconds": "only when the server sends Last-Modified",
    'probe_icmp_duration_seconds{phase="resolve"|"setup"}': "the icmp probe times no phase "
    "but the echoes (rtt); its lookup is probe_dns_lookup_time_seconds",
}
"""blackbox_exporter series slawitness does not serve, and why."""

TIMINGS = {
    "probe_duration_seconds",
    "probe_dns_lookup_time_seconds",
    "probe_http_duration_seconds",
    "probe_dns_duration_seconds",
}
"""Series whose values differ between two probes of the same server; only their type and
labels are compared."""


@pytest.fixture
def config(
    tmp_path: Path, https_server: HttpFaultServer, tls_files: TlsFiles, dns_server: DnsServer
) -> Path:
    """One target with an https probe, an A and a SOA question; every 2 s."""
    every = {"interval": "2s", "timeout": "1s"}
    dns_probe = {"kind": "dns", "port": dns_server.port, **every}
    probes = [
        {"name": "web", "kind": "http", "url": https_server.url("/ok"),
         "tls_ca": str(tls_files.ca_path), **every},
        {"name": "dns", "query_name": "www.example.test", **dns_probe},
        {"name": "soa", "query_name": "example.test", "query_type": "SOA", **dns_probe},
    ]  # fmt: skip
    return write_config(tmp_path, [{"name": "vps1", "host": "127.0.0.1", "probes": probes}])


def _job(name: str, url: str) -> dict[str, Any]:
    return {"job_name": name, "static_configs": [{"targets": [url.split("//")[1]]}]}


def _has_data(result: Samples) -> bool:
    return len(result) > 0


def test_dashboard_7587_panels_show_data_from_serve_and_the_daemon(
    config: Path, prometheus_factory: PrometheusFactory, tmp_path: Path
) -> None:
    textfile = tmp_path / "slawitness.prom"
    done = slawitness("probe", "--config", str(config), "--textfile", str(textfile))
    assert done.returncode == 0, done.stderr
    written = families(textfile.read_text(encoding="utf-8"))
    assert {"probe_http_version", "probe_http_ssl", "probe_dns_answer_rrs"} <= set(written)

    with exporter("serve", config) as serve_url, exporter("run", config) as daemon_url:
        prom = prometheus_factory([_job("serve", serve_url), _job("daemon", daemon_url)])
        prom.wait_for("count by (instance) (probe_success)", lambda r: len(r) == 2)
        instances = {s["metric"]["instance"] for s in prom.query("probe_success")}
        for instance in sorted(instances):
            shown = {
                title: prom.wait_for(expr.replace("$target", instance), _has_data)
                for title, expr in PANELS.items()
            }
            assert sample_values(shown["HTTP Version"]) == [1.1]
            assert sample_values(shown["SSL"]) == [1.0]
            assert sample_values(shown["HTTP Status Code"]) == [200.0]
            assert sorted(sample_values(shown["Status"])) == [1.0, 1.0, 1.0]
            phases = {s["metric"]["phase"] for s in shown["HTTP Duration"]}
            assert phases == {"resolve", "connect", "tls", "processing", "transfer"}
            days = sample_values(shown["SSL Expiry"])[0] / 86400  # the rig's cert: 30 days
            assert 29 < days <= 30
            by_phase = prom.query(
                f'sum by (phase) (probe_http_duration_seconds{{instance="{instance}"}})'
            )
            assert len(by_phase) == 5
            serial = prom.query(f'probe_dns_serial{{instance="{instance}",probe="soa"}}')
            assert sample_values(serial) == [2026120401.0]


def _by_extra_labels(family: Family) -> dict[tuple[tuple[str, str], ...], float]:
    """{labels other than the probe's: value}, so samples compare in any order."""
    return {
        tuple(sorted((k, v) for k, v in labels.items() if k not in PROBE_LABELS)): value
        for labels, value in family.samples
    }


def _compare(theirs: dict[str, Family], ours: dict[str, Family], where: str) -> set[str]:
    """Assert that ours serves what theirs does (see the module docstring); the names."""
    names = {name for name in theirs if name.startswith("probe_")} - set(NOT_SERVED)
    assert names <= METRIC_NAMES, (
        f"{where}: blackbox series we do not serve: {names - METRIC_NAMES}"
    )
    missing = names - set(ours)
    assert not missing, f"{where}: served by blackbox, missing from ours: {sorted(missing)}"
    for name in sorted(names):
        mine, original = ours[name], theirs[name]
        assert mine.type == original.type == "gauge", f"{where}: {name} types differ"
        wanted = {frozenset(labels) | set(PROBE_LABELS) for labels, _ in original.samples}
        assert {frozenset(labels) for labels, _ in mine.samples} == wanted, f"{where}: {name}"
        ours_by, theirs_by = _by_extra_labels(mine), _by_extra_labels(original)
        assert set(ours_by) == set(theirs_by), f"{where}: {name}: {ours_by} vs {theirs_by}"
        if name not in TIMINGS:
            assert ours_by == theirs_by, f"{where}: {name}: ours {ours_by}, blackbox {theirs_by}"
    return names


def _ours(url: str, probe: str) -> dict[str, Family]:
    """Our `/probe` answer for vps1's probe (it runs the probe now and stores the record)."""
    response = httpx.get(f"{url}/probe", params={"target": "vps1", "probe": probe}, timeout=15)
    assert response.status_code == 200, response.text
    return families(response.text)


def test_our_series_match_blackbox_exporters_for_the_same_servers(
    config: Path,
    tmp_path: Path,
    https_server: HttpFaultServer,
    tls_files: TlsFiles,
    dns_server: DnsServer,
) -> None:
    dns_module = {"preferred_ip_protocol": "ip4", "query_name": "www.example.test"}
    modules = {
        "https": {"prober": "http", "timeout": "2s",
                  "http": {"preferred_ip_protocol": "ip4",
                           "tls_config": {"ca_file": str(tls_files.ca_path)}}},
        "dns": {"prober": "dns", "timeout": "2s", "dns": {**dns_module, "query_type": "A"}},
        "soa": {"prober": "dns", "timeout": "2s",
                "dns": {**dns_module, "query_name": "example.test", "query_type": "SOA"}},
    }  # fmt: skip
    dns_target = f"127.0.0.1:{dns_server.port}"
    with blackbox_exporter(tmp_path, modules) as original, exporter("serve", config) as url:
        http_names = _compare(
            original.probe("https", https_server.url("/ok")), _ours(url, "web"), "https"
        )
        dns_names = _compare(original.probe("dns", dns_target), _ours(url, "dns"), "dns")
        soa_names = _compare(original.probe("soa", dns_target), _ours(url, "soa"), "soa")
    claimed = {
        "probe_http_version", "probe_http_ssl", "probe_http_content_length",
        "probe_http_uncompressed_body_length", "probe_http_redirects",
        "probe_failed_due_to_regex", "probe_tls_version_info",
        "probe_ssl_last_chain_expiry_timestamp_seconds", "probe_ssl_earliest_cert_expiry",
        "probe_ip_protocol", "probe_ip_addr_hash", "probe_dns_lookup_time_seconds",
        "probe_http_status_code", "probe_http_duration_seconds",
    }  # fmt: skip
    assert claimed <= http_names
    assert {"probe_dns_answer_rrs", "probe_dns_authority_rrs", "probe_dns_additional_rrs",
            "probe_dns_query_succeeded", "probe_dns_duration_seconds"} <= dns_names  # fmt: skip
    assert soa_names - dns_names == {"probe_dns_serial"}
