"""What the probes keep for blackbox_exporter's series, and how a record becomes them.

The probes run against the loopback rig (HTTPS with a trustme CA, chunked bodies,
redirects between a plain and a TLS server, a DNS server with a SOA zone); the records'
`detail` must carry what each blackbox series needs. Then a table of records, old and new,
answered and not, and with imported junk, checks the series `collector.prometheus.blackbox_series`
makes of them: a value where the record says it, blackbox's zero where no response came,
nothing where an old record does not say.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Mapping

import pytest

from collector.core.results import ErrorClass, Result
from collector.probes import dns, http
from collector.probes.dns import DnsSpec
from collector.probes.http import HttpSpec
from collector.prometheus.blackbox_series import SERIES_NAMES, fnv1a_32, probe_series
from collector.prometheus.metrics import METRIC_NAMES, PROBE_LABELS, Snapshot, metric_families
from tests.rig.dns_server import DnsServer
from tests.rig.loopback import HttpFaultServer, run_probe
from tests.rig.servers import ServerFactory, TlsFiles

Values = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def http_attempt(url: str, **extra: object) -> Result:
    spec = HttpSpec.model_validate(
        {"name": "web", "kind": "http", "url": url, "timeout": "2s", **extra}
    )
    return run_probe(http.probe, "ignored.example", spec)[0]


def dns_attempt(server: DnsServer, **extra: object) -> Result:
    fields = {"name": "ns", "kind": "dns", "timeout": "2s", "query_name": "www.example.test"}
    spec = DnsSpec.model_validate({**fields, "server": server.host, "port": server.port, **extra})
    return run_probe(dns.probe, "127.0.0.9", spec)[0]


def ns(when: object) -> int:
    return int(when.timestamp()) * 1_000_000_000  # type: ignore[attr-defined]


def series(record: Mapping[str, object]) -> Values:
    return {(s.name, s.extra): s.value for s in probe_series(record)}


def as_record(kind: str, result: Result) -> dict[str, object]:
    return {
        "type": "probe",
        "kind": kind,
        "ok": result.ok,
        "error": None if result.error is None else str(result.error),
        "phases_ns": result.phases_ns,
        "detail": result.detail,
        "latency_ns": result.latency_ns,
    }


# --- what the http probe keeps --------------------------------------------------------


def test_https_keeps_version_tls_lengths_and_both_expiries(
    https_server: HttpFaultServer, tls_files: TlsFiles
) -> None:
    result = http_attempt(https_server.url("/ok"), tls_ca=str(tls_files.ca_path))
    assert result.ok, result.detail
    leaf = ns(tls_files.valid_not_after)
    assert result.detail["http_version"] == "HTTP/1.1"
    assert result.detail["tls"] is True
    assert result.detail["tls_version"] in ("TLSv1.2", "TLSv1.3")
    assert result.detail["certs_not_after_ns"] == leaf  # the server sends its leaf only
    assert result.detail["chain_not_after_ns"] == leaf  # the CA (valid to 3000) outlives it
    assert result.detail["content_length"] == 2 and result.detail["body_bytes"] == 2
    assert result.detail["body_mismatch"] is False
    values = series(as_record("http", result))
    assert values[("probe_http_ssl", ())] == 1.0
    assert values[("probe_http_version", ())] == 1.1
    assert values[("probe_ssl_earliest_cert_expiry", ())] == leaf / 1e9
    assert values[("probe_ssl_last_chain_expiry_timestamp_seconds", ())] == leaf / 1e9
    version = "TLS 1.3" if result.detail["tls_version"] == "TLSv1.3" else "TLS 1.2"
    assert values[("probe_tls_version_info", (("version", version),))] == 1.0


@pytest.mark.parametrize("mode", [{"tls_verify": False}, {"tls_pin_sha256": "pin"}])
def test_an_unverified_chain_has_no_chain_expiry(
    http_servers: ServerFactory, tls_files: TlsFiles, mode: dict[str, object]
) -> None:
    server = http_servers(ssl_context=tls_files.self_signed)
    if "tls_pin_sha256" in mode:
        mode = {"tls_pin_sha256": hashlib.sha256(tls_files.self_signed_der).hexdigest()}
    result = http_attempt(server.url("/ok"), **mode)
    assert result.ok, result.detail
    assert result.detail["tls"] is True and "certs_not_after_ns" in result.detail
    assert "chain_not_after_ns" not in result.detail
    assert "probe_ssl_last_chain_expiry_timestamp_seconds" not in {
        name for name, _ in series(as_record("http", result))
    }


def test_plain_http_is_not_tls(http_server: HttpFaultServer) -> None:
    result = http_attempt(http_server.url("/ok"))
    assert result.detail["tls"] is False
    assert not {"tls_version", "certs_not_after_ns", "chain_not_after_ns"} & set(result.detail)
    values = series(as_record("http", result))
    assert values[("probe_http_ssl", ())] == 0.0
    assert not any(name == "probe_tls_version_info" for name, _ in values)


def test_a_handshake_without_a_response_keeps_no_tls_facts(
    http_servers: ServerFactory, tls_files: TlsFiles
) -> None:
    """A pin mismatch stops the attempt after the handshake: no response, so no TLS keys."""
    server = http_servers(ssl_context=tls_files.self_signed)
    result = http_attempt(server.url("/ok"), tls_pin_sha256="0" * 64)
    assert result.error is ErrorClass.TLS
    assert not {"tls", "tls_version", "cert_not_after_ns", "certs_not_after_ns"} & set(
        result.detail
    )
    values = series(as_record("http", result))
    assert values[("probe_http_ssl", ())] == 0.0
    assert "probe_ssl_earliest_cert_expiry" not in {name for name, _ in values}


def test_a_chunked_body_has_no_content_length_but_a_body_length(
    http_server: HttpFaultServer,
) -> None:
    result = http_attempt(http_server.url("/stream/40000"))
    assert result.ok, result.detail
    assert (result.detail["content_length"], result.detail["body_bytes"]) == (-1, 40000)
    values = series(as_record("http", result))
    assert values[("probe_http_content_length", ())] == -1.0
    assert values[("probe_http_uncompressed_body_length", ())] == 40000.0


def test_a_body_over_the_limit_counts_what_was_read_and_is_no_regex_failure(
    http_server: HttpFaultServer,
) -> None:
    result = http_attempt(http_server.url("/stream/50000"), max_body_bytes=1000)
    assert result.error is ErrorClass.CONTENT
    assert result.detail["body_bytes"] == 1000 and result.detail["body_mismatch"] is False
    assert series(as_record("http", result))[("probe_failed_due_to_regex", ())] == 0.0


@pytest.mark.parametrize("check", [{"expect_body": "nope"}, {"expect_body_regex": "^n.pe$"}])
def test_a_body_that_does_not_match_is_a_regex_failure(
    http_server: HttpFaultServer, check: dict[str, str]
) -> None:
    result = http_attempt(http_server.url("/ok"), **check)
    assert result.error is ErrorClass.CONTENT
    assert result.detail["body_mismatch"] is True
    assert series(as_record("http", result))[("probe_failed_due_to_regex", ())] == 1.0


def test_the_final_hop_decides_tls_and_lengths(
    http_server: HttpFaultServer, https_server: HttpFaultServer, tls_files: TlsFiles
) -> None:
    """http -> https: TLS at the end; https -> http: the first hop's TLS keys are gone."""
    to_tls = http_attempt(
        http_server.url(f"/redirect?to={https_server.url('/big/7')}"),
        follow_redirects=True,
        tls_ca=str(tls_files.ca_path),
    )
    assert to_tls.ok, to_tls.detail
    assert to_tls.detail["redirects"] == 1 and to_tls.detail["tls"] is True
    assert to_tls.detail["content_length"] == 7
    from_tls = http_attempt(
        https_server.url(f"/redirect?to={http_server.url('/ok')}"),
        follow_redirects=True,
        tls_ca=str(tls_files.ca_path),
    )
    assert from_tls.ok, from_tls.detail
    assert from_tls.detail["tls"] is False
    assert not {"tls_version", "certs_not_after_ns", "cert_not_after_ns"} & set(from_tls.detail)
    values = series(as_record("http", from_tls))
    assert values[("probe_http_redirects", ())] == 1.0
    assert values[("probe_http_ssl", ())] == 0.0


# --- what the dns probe keeps ---------------------------------------------------------


def test_dns_keeps_section_counts(dns_server: DnsServer) -> None:
    result = dns_attempt(dns_server)
    assert result.ok, result.detail
    counts = {k: result.detail[k] for k in ("answer_rrs", "authority_rrs", "additional_rrs")}
    assert counts == {"answer_rrs": 2, "authority_rrs": 0, "additional_rrs": 0}
    assert "soa_serial" not in result.detail
    values = series(as_record("dns", result))
    assert values[("probe_dns_answer_rrs", ())] == 2.0
    assert values[("probe_dns_query_succeeded", ())] == 1.0
    assert not any(name == "probe_dns_serial" for name, _ in values)


@pytest.mark.parametrize(
    ("name", "serial"), [("example.test", 2026120401), ("www.example.test", None)]
)
def test_a_soa_question_keeps_the_serial(
    dns_server: DnsServer, name: str, serial: int | None
) -> None:
    result = dns_attempt(dns_server, query_name=name, query_type="SOA")
    assert result.ok, result.detail
    assert result.detail["soa_serial"] == serial
    assert series(as_record("dns", result))[("probe_dns_serial", ())] == float(serial or 0)


def test_a_bad_rcode_still_answered(dns_server: DnsServer) -> None:
    result = dns_attempt(dns_server, query_name="nothing.example.test")
    assert result.error is ErrorClass.DNS and result.detail["rcode"] == "NXDOMAIN"
    assert series(as_record("dns", result))[("probe_dns_query_succeeded", ())] == 1.0


# --- records to series ----------------------------------------------------------------

NEW_HTTPS = {
    "status": 200,
    "http_version": "HTTP/2",
    "address": "2001:db8::1",
    "content_length": 12,
    "body_bytes": 40,
    "tls": True,
    "tls_version": "TLSv1.2",
    "cert_not_after_ns": 2_000_000_000 * 10**9,
    "certs_not_after_ns": 1_900_000_000 * 10**9,
    "chain_not_after_ns": 1_800_000_000 * 10**9,
    "body_mismatch": False,
    "redirects": 2,
}
OLD_HTTPS = {"status": 200, "http_version": "HTTP/1.1", "address": "192.0.2.1",
             "cert_not_after_ns": 2_000_000_000 * 10**9, "tls_verify": "verify"}  # fmt: skip
UNANSWERED = {"message": "no answer", "tls": False, "body_mismatch": False}
OLD_UNANSWERED = {"message": "no answer from the resolver"}


@pytest.mark.parametrize(
    ("kind", "error", "detail", "expected", "absent"),
    [
        (
            "http",
            None,
            NEW_HTTPS,
            {"probe_http_version": 2.0, "probe_http_ssl": 1.0, "probe_http_content_length": 12,
             "probe_http_uncompressed_body_length": 40, "probe_http_redirects": 2,
             "probe_failed_due_to_regex": 0, "probe_ip_protocol": 6,
             "probe_ssl_earliest_cert_expiry": 1_900_000_000,
             "probe_ssl_last_chain_expiry_timestamp_seconds": 1_800_000_000},
            set(),
        ),
        (  # written before the probe kept TLS, lengths and the body check: left out
            "http",
            None,
            OLD_HTTPS,
            {"probe_http_version": 1.1, "probe_http_redirects": 0, "probe_ip_protocol": 4,
             "probe_ssl_earliest_cert_expiry": 2_000_000_000, "probe_failed_due_to_regex": 0},
            {"probe_http_ssl", "probe_http_content_length", "probe_tls_version_info",
             "probe_http_uncompressed_body_length",
             "probe_ssl_last_chain_expiry_timestamp_seconds"},
        ),
        (  # an old content failure may or may not have been the regex: not said
            "http", "content", OLD_HTTPS, {"probe_http_version": 1.1},
            {"probe_failed_due_to_regex"},
        ),
        (  # no response, new or old record: blackbox's zeros
            "http", "timeout", UNANSWERED,
            {"probe_http_version": 0, "probe_http_ssl": 0, "probe_http_content_length": 0,
             "probe_http_uncompressed_body_length": 0, "probe_http_status_code": 0,
             "probe_ip_protocol": 0, "probe_ip_addr_hash": 0},
            {"probe_ssl_earliest_cert_expiry", "probe_tls_version_info"},
        ),
        (
            "http", "dns", OLD_UNANSWERED,
            {"probe_http_version": 0, "probe_http_ssl": 0, "probe_http_content_length": 0},
            set(),
        ),
        (
            "dns", None,
            {"rcode": "NOERROR", "address": "127.0.0.1", "answer_rrs": 3, "authority_rrs": 1,
             "additional_rrs": 2, "soa_serial": 7},
            {"probe_dns_query_succeeded": 1, "probe_dns_answer_rrs": 3,
             "probe_dns_authority_rrs": 1, "probe_dns_additional_rrs": 2, "probe_dns_serial": 7},
            set(),
        ),
        (  # an old answered record: counts unknown, left out
            "dns", None, {"rcode": "NOERROR", "answers": "192.0.2.1"},
            {"probe_dns_query_succeeded": 1},
            {"probe_dns_answer_rrs", "probe_dns_serial"},
        ),
        (
            "dns", "timeout", {"address": "127.0.0.1"},
            {"probe_dns_query_succeeded": 0, "probe_dns_answer_rrs": 0,
             "probe_dns_additional_rrs": 0},
            {"probe_dns_serial"},
        ),
        (  # imported junk: nothing raises, nothing made up
            "http", None,
            {"status": 10**30, "address": "not-an-ip", "content_length": "12", "tls": "yes",
             "body_bytes": True, "certs_not_after_ns": 10**400},
            {"probe_http_status_code": 0},
            {"probe_ip_protocol", "probe_ip_addr_hash", "probe_ssl_earliest_cert_expiry"},
        ),
    ],
)  # fmt: skip
def test_records_become_blackbox_series(
    kind: str,
    error: str | None,
    detail: dict[str, object],
    expected: dict[str, float],
    absent: set[str],
) -> None:
    record = {"type": "probe", "kind": kind, "ok": error is None, "error": error,
              "detail": detail, "phases_ns": {"resolve": 1000}}  # fmt: skip
    values = {name: value for (name, extra), value in series(record).items() if not extra}
    for name, value in expected.items():
        assert values.get(name) == pytest.approx(value), name
    assert not absent & {name for name, _ in series(record)}


def test_every_phase_is_shown_even_when_the_attempt_stopped_early() -> None:
    record = {"kind": "http", "detail": {}, "phases_ns": {"resolve": 5, "connect": 7}}
    phases = {dict(extra)["phase"]: value for (name, extra), value in series(record).items()
              if name == "probe_http_duration_seconds"}  # fmt: skip
    assert phases == {"resolve": 5e-9, "connect": 7e-9, "tls": 0.0, "processing": 0.0,
                      "transfer": 0.0}  # fmt: skip


@pytest.mark.parametrize(
    ("data", "digest"),
    [(b"", 0x811C9DC5), (b"a", 0xE40C292C), (b"foobar", 0xBF9CF968)],
)
def test_fnv1a_32_matches_the_published_vectors(data: bytes, digest: int) -> None:
    assert fnv1a_32(data) == digest


def test_the_address_hash_is_taken_over_the_address_bytes() -> None:
    """127.0.0.1 hashes to what blackbox_exporter 0.23 showed for it (4 bytes, not text)."""
    assert fnv1a_32(ipaddress.ip_address("127.0.0.1").packed) == 3668918509
    record = {"kind": "tcp", "detail": {"address": "fe80::1%eth0"}}
    assert series(record)[("probe_ip_addr_hash", ())] == float(
        fnv1a_32(ipaddress.ip_address("fe80::1").packed)
    )


def test_every_series_carries_the_probe_labels_and_is_a_named_gauge() -> None:
    record = {"type": "probe", "kind": "http", "vantage": "v", "target": "t", "probe": "p",
              "role": "target", "ok": True, "detail": NEW_HTTPS, "phases_ns": {}}  # fmt: skip
    families = list(metric_families(Snapshot(vantage="v", samples=[record])))
    seen = set()
    for family in families:
        assert family.name in METRIC_NAMES
        for sample in family.samples:
            assert set(PROBE_LABELS) <= set(sample.labels) or not sample.name.startswith("probe_")
            seen.add(sample.name)
    assert {name for name in SERIES_NAMES if name.startswith("probe_http")} <= seen


FULL_RECORDS = {
    "http": {"detail": NEW_HTTPS},
    "dns": {"detail": {"rcode": "NOERROR", "address": "127.0.0.1", "answer_rrs": 1,
                       "authority_rrs": 0, "additional_rrs": 0, "soa_serial": 7}},
    "icmp": {"detail": {"address": "127.0.0.1"}, "latency_ns": 2_000_000, "loss_ppm": 0},
}  # fmt: skip
"""A record of each kind with every key its series read."""


def test_series_names_lists_exactly_what_the_kinds_yield() -> None:
    """SERIES_NAMES is what the exporter and the deploy files are checked against, so a
    name a kind yields but the list lacks would be served undeclared."""
    yielded: dict[str, set[str]] = {}
    for kind, fields in FULL_RECORDS.items():
        record = {"type": "probe", "kind": kind, "ok": True, "phases_ns": {"resolve": 1000}}
        yielded[kind] = {name for name, _ in series({**record, **fields})}
        assert yielded[kind] <= SERIES_NAMES, (kind, yielded[kind] - SERIES_NAMES)
    assert {"probe_dns_serial", "probe_dns_answer_rrs"} <= yielded["dns"]
    assert {"probe_icmp_duration_seconds", "slawitness_probe_loss_ratio"} <= yielded["icmp"]
    assert set().union(*yielded.values()) == SERIES_NAMES
