"""The per-probe series blackbox_exporter defines, read from one probe record.

These series exist so that dashboards and alerts written for blackbox_exporter (Grafana's
dashboard 7587 among them) work unchanged against slawitness. Each keeps blackbox's name,
type (every one is a gauge), extra label (`phase`, `version`) and meaning, as its
prober/http.go, dns.go, utils.go and tls.go define them; `collector.prometheus.metrics` adds the
probe labels (vantage, target, probe, kind, role) and serves them in every mode.

A series never says more than the record does. Where no response came, blackbox shows
zeros (no response has no length, no TLS, no records), and so does every record we ever
stored, so those zeros are shown for old records too. Where a response came but the
record was written before the probe kept the `detail` key a series needs, the series is
left out rather than guessed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

HTTP_PHASES = ("resolve", "connect", "tls", "processing", "transfer")
DNS_PHASES = ("resolve", "connect", "request")

TLS_VERSION_NAMES = {
    "TLSv1": "TLS 1.0",
    "TLSv1.1": "TLS 1.1",
    "TLSv1.2": "TLS 1.2",
    "TLSv1.3": "TLS 1.3",
}
"""OpenSSL's names for the protocol versions (kept in `detail.tls_version`), as blackbox
writes them in `probe_tls_version_info{version}`; any other is `unknown`, as there."""

SERIES_NAMES = frozenset(
    {
        "probe_dns_lookup_time_seconds",
        "probe_ip_protocol",
        "probe_ip_addr_hash",
        "probe_http_status_code",
        "probe_http_duration_seconds",
        "probe_http_version",
        "probe_http_ssl",
        "probe_http_content_length",
        "probe_http_uncompressed_body_length",
        "probe_http_redirects",
        "probe_failed_due_to_regex",
        "probe_ssl_earliest_cert_expiry",
        "probe_ssl_last_chain_expiry_timestamp_seconds",
        "probe_tls_version_info",
        "probe_icmp_duration_seconds",
        "slawitness_probe_loss_ratio",
        "probe_dns_duration_seconds",
        "probe_dns_query_succeeded",
        "probe_dns_answer_rrs",
        "probe_dns_authority_rrs",
        "probe_dns_additional_rrs",
        "probe_dns_serial",
    }
)
"""Every name `probe_series` can yield."""


@dataclass(frozen=True)
class Series:
    """One gauge sample of a probe, before the probe's own labels are added."""

    name: str
    doc: str
    value: float
    extra: tuple[tuple[str, str], ...] = ()
    """Labels beyond the probe's, e.g. (("phase", "tls"),)."""


def _number(value: object) -> float | None:
    """An integer `detail` value as a float; None for anything else (text, bool, a
    number too large for a float, as an imported record may hold)."""
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) >= 2**63:
        return None
    return float(value)


def seconds_from_ns(value: object) -> float | None:
    """An integer ns `detail` or record value in seconds; None as for `_number`."""
    number = _number(value)
    return None if number is None else number / 1e9


def _optional(
    name: str, doc: str, value: float | None, extra: tuple[tuple[str, str], ...] = ()
) -> Iterator[Series]:
    """The series when the record gives its value; none when it does not (see above)."""
    if value is not None:
        yield Series(name, doc, value, extra)


def _counts(
    table: tuple[tuple[str, str, str], ...], detail: Mapping[str, object], answered: bool
) -> Iterator[Series]:
    """One series per (name, `detail` key, doc) row: the key's number when a response came,
    blackbox's 0 when none did, none when an old record answered without the key."""
    for name, key, doc in table:
        yield from _optional(name, doc, _number(detail.get(key)) if answered else 0.0)


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


def _resolved(detail: Mapping[str, object], phases: Mapping[str, object]) -> Iterator[Series]:
    """What every kind shares: the address family and hash, and the lookup time."""
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
    yield from _optional(
        "probe_dns_lookup_time_seconds",
        "Time resolving the target's name in seconds.",
        seconds_from_ns(phases.get("resolve")),
    )


def _phases(
    name: str, doc: str, phases: Mapping[str, object], names: tuple[str, ...]
) -> Iterator[Series]:
    for phase in names:
        yield Series(name, doc, seconds_from_ns(phases.get(phase, 0)) or 0.0, (("phase", phase),))


def _http_version(text: object) -> float:
    """`HTTP/1.1` -> 1.1, `HTTP/2` -> 2.0; 0 when unreadable (blackbox's value then)."""
    try:
        return float(str(text).removeprefix("HTTP/"))
    except ValueError:
        return 0.0


def _http(
    detail: Mapping[str, object], phases: Mapping[str, object], error: object
) -> Iterator[Series]:
    status = _number(detail.get("status"))
    answered = status is not None
    yield Series("probe_http_status_code", "Response HTTP status code (0: none).", status or 0.0)
    yield from _phases(
        "probe_http_duration_seconds",
        "Duration of the HTTP request by phase, summed over redirects.",
        phases,
        HTTP_PHASES,
    )
    yield Series(
        "probe_http_version",
        "HTTP version of the final response (1.1, 2; 0: no response).",
        _http_version(detail.get("http_version")) if answered else 0.0,
    )
    yield from _counts(_HTTP_LENGTHS, detail, answered)
    yield Series(
        "probe_http_redirects", "Redirects followed.", _number(detail.get("redirects")) or 0.0
    )
    tls = detail.get("tls")
    if isinstance(tls, bool) or not answered:
        yield Series(
            "probe_http_ssl",
            "Whether the final response came over TLS.",
            1.0 if tls is True else 0.0,
        )
    mismatch = detail.get("body_mismatch")
    if isinstance(mismatch, bool) or error != "content":
        yield Series(
            "probe_failed_due_to_regex",
            "Whether the body lacked expect_body or did not match expect_body_regex.",
            1.0 if mismatch is True else 0.0,
        )
    yield from _tls(detail)


_HTTP_LENGTHS = (
    ("probe_http_content_length", "content_length",
     "Content-Length of the final response in bytes (-1: none sent; 0: no response)."),
    ("probe_http_uncompressed_body_length", "body_bytes",
     "Bytes of the final response's body read, decompressed (at most max_body_bytes)."),
)  # fmt: skip


def _tls(detail: Mapping[str, object]) -> Iterator[Series]:
    yield from _optional(
        "probe_ssl_earliest_cert_expiry",
        "Earliest expiry among the certificates the server sent, unix seconds.",
        seconds_from_ns(detail.get("certs_not_after_ns", detail.get("cert_not_after_ns"))),
    )
    yield from _optional(
        "probe_ssl_last_chain_expiry_timestamp_seconds",
        "Earliest expiry in the verified certificate chain, unix seconds.",
        seconds_from_ns(detail.get("chain_not_after_ns")),
    )
    version = detail.get("tls_version")
    if detail.get("tls") is True and isinstance(version, str):
        yield Series(
            "probe_tls_version_info",
            "The TLS version of the final response.",
            1.0,
            (("version", TLS_VERSION_NAMES.get(version, "unknown")),),
        )


_DNS_COUNTS = (
    ("probe_dns_answer_rrs", "answer_rrs", "Records in the answer section."),
    ("probe_dns_authority_rrs", "authority_rrs", "Records in the authority section."),
    ("probe_dns_additional_rrs", "additional_rrs", "Records in the additional section."),
)


def _dns(detail: Mapping[str, object], phases: Mapping[str, object]) -> Iterator[Series]:
    yield from _phases(
        "probe_dns_duration_seconds", "DNS probe duration by phase.", phases, DNS_PHASES
    )
    answered = isinstance(detail.get("rcode"), str)
    yield Series(
        "probe_dns_query_succeeded",
        "Whether the DNS server answered (whatever its rcode).",
        1.0 if answered else 0.0,
    )
    yield from _counts(_DNS_COUNTS, detail, answered)
    if "soa_serial" in detail:
        yield Series(
            "probe_dns_serial",
            "Serial of the zone's SOA record (SOA questions only; 0: none in the answer).",
            _number(detail["soa_serial"]) or 0.0,
        )


def _icmp(record: Mapping[str, object]) -> Iterator[Series]:
    """Only blackbox's `rtt` phase: the probe does not time a `resolve` or `setup` phase
    of its own (the lookup is `probe_dns_lookup_time_seconds`)."""
    yield from _optional(
        "probe_icmp_duration_seconds",
        "ICMP round trip (phase rtt only: the median of the attempt's echoes).",
        seconds_from_ns(record.get("latency_ns")),
        (("phase", "rtt"),),
    )
    loss = _number(record.get("loss_ppm"))
    yield from _optional(
        "slawitness_probe_loss_ratio",
        "Share of echoes lost in the latest attempt.",
        None if loss is None else loss / 1e6,
    )


def probe_series(record: Mapping[str, object]) -> Iterator[Series]:
    """The kind's series for one probe record (probe_success and the timestamps aside)."""
    raw_detail, raw_phases = record.get("detail"), record.get("phases_ns")
    detail: Mapping[str, object] = raw_detail if isinstance(raw_detail, dict) else {}
    phases: Mapping[str, object] = raw_phases if isinstance(raw_phases, dict) else {}
    yield from _resolved(detail, phases)
    kind = record.get("kind")
    if kind == "http":
        yield from _http(detail, phases, record.get("error"))
    elif kind == "dns":
        yield from _dns(detail, phases)
    elif kind == "icmp":
        yield from _icmp(record)
