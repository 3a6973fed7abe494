"""The tcp probe against real loopback listeners and kernel-made faults."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from collector.core.results import ErrorClass, Result
from collector.probes import tcp
from collector.probes.net.resolve import ResolveError, resolve
from collector.probes.tcp import TcpSpec
from tests.rig.loopback import FullListener, TcpListener, closed_port, run_probe


def spec(port: int, **extra: object) -> TcpSpec:
    return TcpSpec.model_validate({"name": "t", "kind": "tcp", "port": port, **extra})


def attempt(host: str, port: int, **extra: object) -> Result:
    return run_probe(tcp.probe, host, spec(port, **extra))[0]


@pytest.mark.parametrize("port", [0, -1, 65536])
def test_port_out_of_range_is_a_config_error(port: int) -> None:
    with pytest.raises(ValidationError, match="port"):
        spec(port)


def test_kind_must_be_tcp() -> None:
    with pytest.raises(ValidationError, match="kind"):
        TcpSpec.model_validate({"name": "t", "kind": "http", "port": 22})


def test_connect_succeeds_and_is_timed(tcp_listener: TcpListener) -> None:
    result = attempt("127.0.0.1", tcp_listener.port)
    assert result.ok and result.error is None
    assert result.detail == {"port": tcp_listener.port, "address": "127.0.0.1", "ip_version": 4}
    assert isinstance(result.phases_ns, dict)
    assert result.phases_ns["resolve"] == 0  # an address is not resolved
    assert result.phases_ns["connect"] > 0
    assert result.latency_ns == result.phases_ns["connect"]


def test_every_attempt_opens_its_own_connection(tcp_listener: TcpListener) -> None:
    results = run_probe(tcp.probe, "127.0.0.1", spec(tcp_listener.port), times=3)
    assert all(r.ok for r in results)
    assert tcp_listener.wait_connections(3) == 3
    assert tcp_listener.wait_connections(4, timeout=0.2) == 3


def test_host_name_is_resolved_from_the_hosts_file(tcp_listener: TcpListener) -> None:
    result = attempt("localhost", tcp_listener.port, ip_version="4")
    assert result.ok
    assert result.detail["address"] == "127.0.0.1"
    assert isinstance(result.phases_ns, dict) and result.phases_ns["resolve"] > 0


def test_ipv6_loopback() -> None:
    listener = TcpListener("::1").start()
    try:
        result = attempt("::1", listener.port, ip_version="6")
        assert listener.wait_connections(1) == 1
    finally:
        listener.stop()
    assert result.ok
    assert result.detail["address"] == "::1"


def test_closed_port_is_refused() -> None:
    result = attempt("127.0.0.1", closed_port())
    assert result.error is ErrorClass.REFUSED
    assert not result.ok and result.latency_ns is None
    assert result.detail["address"] == "127.0.0.1"


def test_closed_port_on_ipv6_is_refused() -> None:
    assert attempt("::1", closed_port("::1")).error is ErrorClass.REFUSED


def test_full_accept_queue_times_out(full_listener: FullListener) -> None:
    result = attempt("127.0.0.1", full_listener.port, timeout="300ms")
    assert result.error is ErrorClass.TIMEOUT
    assert "300ms" in str(result.detail["message"]) or "0.3s" in str(result.detail["message"])
    assert isinstance(result.phases_ns, dict) and "connect" not in result.phases_ns


def test_no_route_is_unreachable(unreachable_address: str) -> None:
    result = attempt(unreachable_address, 80)
    assert result.error is ErrorClass.UNREACHABLE
    assert result.detail["address"] == unreachable_address


@pytest.mark.parametrize(
    ("host", "ip_version"),
    [
        ("bad..host", "auto"),
        ("-leading-dash.example", "auto"),
        ("a" * 64 + ".example", "auto"),
        ("with space.example", "auto"),
        ("127.0.0.1", "6"),
        ("::1", "4"),
    ],
)
def test_names_that_cannot_resolve_are_dns_errors(host: str, ip_version: str) -> None:
    result = attempt(host, 22, ip_version=ip_version)
    assert result.error is ErrorClass.DNS
    assert "address" not in result.detail


def test_link_local_without_interface_is_other() -> None:
    """fe80::/10 needs a zone (`%eth0`); without one the kernel refuses locally (EINVAL)."""
    result = attempt("fe80::1", 22)
    assert result.error is ErrorClass.OTHER
    assert result.detail["message"]


def test_resolve_keeps_literals_and_rejects_bad_names() -> None:
    import asyncio

    resolved = asyncio.run(resolve("[::1]", "auto", 1.0))
    assert (resolved.address, resolved.duration_ns) == ("::1", 0)
    with pytest.raises(ResolveError):
        asyncio.run(resolve("bad..host", "auto", 1.0))
    with pytest.raises(ValueError, match="ip_version"):
        asyncio.run(resolve("::1", "7", 1.0))
