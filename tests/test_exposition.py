"""The exporter's own exposition writer against prometheus_client's, byte for byte.

`collector.prometheus.exposition` writes what prometheus_client would for the families the
exporter serves; these tests hold it to that over every family `metric_families` makes,
hostile label values, every float worth a special case, and the Accept headers real
scrapers send, and check that whatever it does not write still comes from the library.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector, CollectorRegistry

from collector.prometheus.exposition import render
from collector.prometheus.metrics import (
    METRIC_NAMES,
    CheckpointState,
    SlaGauge,
    Snapshot,
    StoreState,
    metric_families,
)

ACCEPTS = [
    "",
    "*/*",
    "text/plain",
    "text/plain;version=0.0.4",
    # Prometheus 2.x
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    # Prometheus 3.x
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,"
    "application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;"
    "escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1",
    "application/openmetrics-text",
    "application/openmetrics-text;version=1.0.0;escaping=underscores",
    "application/openmetrics-text;version=1.0.0;escaping=dots",
    "application/openmetrics-text;version=1.0.0;escaping=values",
    "text/plain;version=1.0.0;escaping=allow-utf-8",
    "text/plain;version=1.0.0;escaping=dots",
]

HTTPS_DETAIL = {
    "status": 200, "http_version": "HTTP/2", "address": "2001:db8::1", "content_length": 12,
    "body_bytes": 40, "tls": True, "tls_version": "TLSv1.3",
    "certs_not_after_ns": 1_900_000_000 * 10**9, "chain_not_after_ns": 1_800_000_000 * 10**9,
    "body_mismatch": False, "redirects": 2,
}  # fmt: skip
DNS_DETAIL = {"rcode": "NOERROR", "address": "127.0.0.1", "answer_rrs": 3, "authority_rrs": 1,
              "additional_rrs": 2, "soa_serial": 7}  # fmt: skip

label_text = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"]) | st.sampled_from('\\"\n{}=,'),
    min_size=1,
    max_size=12,
)
values = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**20), 10**20)


def _library(snapshot: Snapshot, accept: str) -> tuple[bytes, str]:
    """What prometheus_client writes for the same families."""
    encoder, content_type = choose_encoder(accept)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(*metric_families(snapshot)))
    return encoder(registry), content_type


def _record(kind: str, target: str, probe: str, ok: bool, duration: float, detail: dict) -> dict:
    return {
        "type": "probe", "ts_ns": 1_790_000_000 * 10**9, "vantage": "v", "target": target,
        "probe": probe, "kind": kind, "role": "target", "ok": ok,
        "error": None if ok else "timeout", "duration_ns": duration, "detail": detail,
        "phases_ns": {"resolve": 1000, "connect": 2000} if kind == "http" else None,
        "latency_ns": 3000, "loss_ppm": 0,
    }  # fmt: skip


@st.composite
def snapshots(draw: st.DrawFn) -> Snapshot:
    target, probe, vantage = draw(label_text), draw(label_text), draw(label_text)
    value = draw(values)
    samples: list[Mapping[str, object]] = [
        _record("http", target, probe, draw(st.booleans()), value, HTTPS_DETAIL),
        _record("dns", target, "dns", True, 5e6, DNS_DETAIL),
        _record("icmp", draw(label_text), "ping", False, 1e9, {"message": draw(label_text)}),
    ]
    counts = {(vantage, target, probe, "http", "target", "failure", draw(label_text)): 3}
    checkpoint = CheckpointState(12, 1_790_000_000 * 10**9, "ab" * 32, draw(label_text))
    sla = SlaGauge(target, 0.999, 0.9995, draw(values), -5.0, 12.5, draw(label_text), 2, 1.8e9)
    return Snapshot(
        vantage,
        samples,
        intervals={(target, probe): 60.0},
        counts=counts,
        store=StoreState(42, 1_790_000_000 * 10**9, True, checkpoint),
        collector_up=draw(st.booleans()),
        sla=[sla, SlaGauge(draw(label_text), 1.0, 0.99, 0.0, 60.0)],
    )


@settings(max_examples=60, deadline=None)
@given(snapshot=snapshots(), accept=st.sampled_from(ACCEPTS))
def test_every_family_renders_as_prometheus_client_renders_it(
    snapshot: Snapshot, accept: str
) -> None:
    assert render(metric_families(snapshot), accept) == _library(snapshot, accept)


@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize(
    "value", [0.0, -0.0, 1.0, 0.1, 1e-300, 1e300, 2**63, math.inf, -math.inf, math.nan]
)
def test_special_values_render_alike(accept: str, value: float) -> None:
    snapshot = Snapshot("v", [_record("http", "vps1", "web", True, value, HTTPS_DETAIL)])
    assert render(metric_families(snapshot), accept) == _library(snapshot, accept)


def test_every_name_the_exporter_serves_is_a_legacy_name() -> None:
    """The writer copies names as they are; any escaping scheme leaves a legacy one alone
    (`dots` aside, which goes to prometheus_client)."""
    legacy_metric, legacy_label = (
        re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*"),
        re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*"),
    )
    snapshot = Snapshot("v", [_record("http", "t", "p", True, 1.0, HTTPS_DETAIL)])
    families = list(metric_families(snapshot))
    assert {family.name for family in families} <= METRIC_NAMES | {"slawitness_build_info"}
    for name in METRIC_NAMES:
        assert legacy_metric.fullmatch(name), name
    for family in families:
        for sample in family.samples:
            assert all(legacy_label.fullmatch(label) for label in sample.labels), sample


def test_what_the_writer_does_not_handle_comes_from_the_library() -> None:
    info = InfoMetricFamily("slawitness_test", "An info family.", value={"a": 'q"\n'})
    stamped = GaugeMetricFamily("slawitness_stamped", "A sample with a timestamp.")
    stamped.add_metric([], 1.0, timestamp=1_790_000_000.5)
    for accept in ACCEPTS:
        encoder, content_type = choose_encoder(accept)
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Fixed(info, stamped))
        assert render([info, stamped], accept) == (encoder(registry), content_type)


class _Fixed(Collector):
    """Families already built, as a registry takes them."""

    def __init__(self, *families: Metric) -> None:
        self._families = families

    def collect(self) -> list[Metric]:
        return list(self._families)
