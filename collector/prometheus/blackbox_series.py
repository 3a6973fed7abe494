"""The per-probe series blackbox_exporter defines, read from one probe record.

These series exist so that dashboards and alerts written for blackbox_exporter (Grafana's
dashboard 7587 among them) work unchanged against slawitness. Each keeps blackbox's name,
type (every one is a gauge), extra label (`phase`, `version`) and meaning, as its
prober/http.go, dns.go, utils.go and tls.go define them; `collector.prometheus.metrics` adds the
probe labels (vantage, target, probe, kind, role) and serves them in every mode.

Here live only the series every kind shares (blackbox's utils.go: the address and the name
lookup); each kind's own are read by its module and found through the registry
(`ProbeKind.series`), so a new kind brings its series with it and this module never learns
its name. `collector.probes.series` says when a series is shown, zero or left out.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping

from collector.probes import KINDS
from collector.probes.series import RecordFields, Series, seconds_from_ns, when_known

SHARED_SERIES_NAMES = frozenset(
    {"probe_dns_lookup_time_seconds", "probe_ip_protocol", "probe_ip_addr_hash"}
)
"""The names `_resolved` yields, for a record of any kind."""

SERIES_NAMES = SHARED_SERIES_NAMES.union(*(kind.series.names for kind in KINDS.values()))
"""Every name `probe_series` can yield."""


def fnv1a_32(data: bytes) -> int:
    """32-bit FNV-1a: the (non-cryptographic) hash blackbox_exporter puts in
    `probe_ip_addr_hash` to make a change of address visible; it proves nothing."""
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def _address(detail: Mapping[str, object]) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = detail.get("address")
    if not isinstance(text, str):
        return None
    try:
        return ipaddress.ip_address(text.partition("%")[0])
    except ValueError:
        return None


def _resolved(fields: RecordFields) -> Iterator[Series]:
    """What every kind shares: the address family and hash, and the lookup time."""
    detail = fields.detail
    address = _address(detail)
    if address is not None or "address" not in detail:
        protocol = 0.0 if address is None else float(address.version)
        digest = 0.0 if address is None else float(fnv1a_32(address.packed))
        yield Series("probe_ip_protocol", "IP protocol version of the probe: 4 or 6.", protocol)
        yield Series(
            "probe_ip_addr_hash",
            "FNV-1a hash of the address probed (its bytes): a change shows a new address.",
            digest,
        )
    yield from when_known(
        "probe_dns_lookup_time_seconds",
        "Time resolving the target's name in seconds.",
        seconds_from_ns(fields.phases.get("resolve")),
    )


def probe_series(record: Mapping[str, object]) -> Iterator[Series]:
    """The kind's series for one probe record (probe_success and the timestamps aside); a
    record of a kind not in the registry (an imported one) shows the shared series only."""
    fields = RecordFields.of(record)
    yield from _resolved(fields)
    kind = KINDS.get(str(record.get("kind")))
    if kind is not None:
        yield from kind.series.read(fields)
