"""The dns probe against a real loopback DNS server (UDP and TCP)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from collector.core.results import ErrorClass, Result
from collector.probes import dns
from collector.probes.dns import DnsSpec
from tests.rig.dns_server import DnsServer
from tests.rig.loopback import closed_port, run_probe


def spec(dns_server: DnsServer | None, **extra: object) -> DnsSpec:
    fields: dict[str, object] = {"name": "ns", "kind": "dns", "timeout": "2s"}
    if dns_server is not None:
        fields.update(server=dns_server.host, port=dns_server.port)
    fields.setdefault("query_name", "www.example.test")
    return DnsSpec.model_validate({**fields, **extra})


def attempt(dns_server: DnsServer | None, **extra: object) -> Result:
    """One attempt; the target host is an address no test server uses, so `server` wins."""
    return run_probe(dns.probe, "127.0.0.9", spec(dns_server, **extra))[0]


@pytest.mark.parametrize(
    ("extra", "complaint"),
    [
        ({"query_type": "NOPE"}, "record type"),
        ({"expect_rcode": "SOMETIMES"}, "rcode"),
        ({"query_name": "a..b"}, "DNS name"),
        ({"transport": "quic"}, "transport"),
        ({"port": 0}, "port"),
        ({"port": True}, "valid integer"),
        ({"server": "bad..server"}, "not an IP address or host name"),
        ({"server": "-oProxy"}, "not an IP address or host name"),
    ],
)
def test_bad_config_is_rejected_at_load(extra: dict[str, object], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        spec(None, **extra)


def test_config_normalises_case() -> None:
    loaded = spec(None, query_type="aaaa", expect_rcode="nxdomain")
    assert (loaded.query_type, loaded.expect_rcode) == ("AAAA", "NXDOMAIN")
    assert loaded.transport == "udp" and loaded.port == 53 and loaded.server is None


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_answer_is_recorded_with_phases(dns_server: DnsServer, transport: str) -> None:
    result = attempt(dns_server, transport=transport, expect_answer="192.0.2.11")
    assert result.ok, result.detail
    assert result.detail["rcode"] == "NOERROR"
    assert result.detail["answers"] == "192.0.2.10,192.0.2.11"
    assert result.detail["address"] == "127.0.0.1"
    phases = result.phases_ns
    assert isinstance(phases, dict)
    expected = ["resolve", "connect", "request"] if transport == "tcp" else ["resolve", "request"]
    assert list(phases) == expected
    assert phases["resolve"] == 0 and phases["request"] > 0
    assert result.latency_ns == phases["request"] + phases.get("connect", 0)


def test_server_defaults_to_the_target_host(dns_server: DnsServer) -> None:
    loaded = DnsSpec.model_validate(
        {"name": "ns", "kind": "dns", "query_name": "www.example.test", "port": dns_server.port}
    )
    result = run_probe(dns.probe, "127.0.0.1", loaded)[0]
    assert result.ok, result.detail
    assert dns_server.queries == 1


def test_aaaa_over_ipv6_loopback() -> None:
    server = DnsServer("::1").start()
    try:
        result = attempt(server, query_name="v6.example.test", query_type="AAAA", ip_version="6")
    finally:
        server.stop()
    assert result.ok, result.detail
    assert result.detail["answers"] == "2001:db8::10"
    assert result.detail["address"] == "::1"


def test_expected_nxdomain_is_ok(dns_server: DnsServer) -> None:
    result = attempt(dns_server, query_name="gone.example.test", expect_rcode="NXDOMAIN")
    assert result.ok
    assert result.detail["answers"] == ""


@pytest.mark.parametrize(
    ("extra", "error", "rcode"),
    [
        ({"query_name": "gone.example.test"}, ErrorClass.DNS, "NXDOMAIN"),
        ({"query_name": "broken.example.test"}, ErrorClass.DNS, "SERVFAIL"),
        ({"query_name": "broken.example.test", "transport": "tcp"}, ErrorClass.DNS, "SERVFAIL"),
        ({"expect_answer": "198.51.100.1"}, ErrorClass.CONTENT, "NOERROR"),
    ],
)
def test_wrong_answers_map_to_error_classes(
    dns_server: DnsServer, extra: dict[str, object], error: ErrorClass, rcode: str
) -> None:
    result = attempt(dns_server, **extra)
    assert result.error is error
    assert result.detail["rcode"] == rcode
    assert result.latency_ns is not None and result.latency_ns > 0


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_silent_server_times_out(dns_server: DnsServer, transport: str) -> None:
    result = attempt(
        dns_server, query_name="silent.example.test", transport=transport, timeout="300ms"
    )
    assert result.error is ErrorClass.TIMEOUT
    assert "rcode" not in result.detail and result.latency_ns is None


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_closed_port_is_refused(transport: str) -> None:
    """UDP too: the probe's socket is connected, so the ICMP port-unreachable is heard."""
    port = closed_port()
    result = attempt(None, server="127.0.0.1", port=port, transport=transport)
    assert result.error is ErrorClass.REFUSED
    assert result.detail["port"] == port


def test_no_route_to_the_server_is_unreachable(unreachable_address: str) -> None:
    result = attempt(None, server=unreachable_address, transport="tcp", timeout="1s")
    assert result.error is ErrorClass.UNREACHABLE


def test_long_answer_lists_are_truncated(dns_server: DnsServer) -> None:
    dns_server.records["many.example.test."] = [f"192.0.2.{i}" for i in range(1, 60)]
    result = attempt(dns_server, query_name="many.example.test", expect_answer="192.0.2.59")
    assert result.ok, result.detail
    answers = str(result.detail["answers"])
    assert len(answers) == dns.MAX_ANSWER_TEXT
    assert answers.startswith("192.0.2.")
