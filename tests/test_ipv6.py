"""Every probe kind over IPv6, through the real CLI, against the namespace host's IPv6 address.

The servers (HTTP/TCP and DNS) are built inside the namespace (`open_inside`), bound to `::`
so one server answers on both of the host's addresses; each record must say which address
and which family (`detail.ip_version`) the attempt used. A dual-stack name is resolved by the
rig's DNS server acting as the system resolver, which the CLI child sees through a private
mount namespace: no system file is changed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.clirun import slawitness, write_config
from tests.rig import rig_unavailable
from tests.rig.dns_server import DnsServer
from tests.rig.loopback import HttpFaultServer
from tests.rig.netns import (
    NetnsHost,
    apply_rules,
    drop_echo_requests,
    open_inside,
    reject_tcp,
    reject_unreachable,
)

DUAL = "dual.example.test"
KINDS = ("icmp", "tcp", "http", "dns")


@dataclass(frozen=True)
class V6Host:
    """The namespace host with an HTTP server (also the TCP target) and a DNS server on
    port 53, both listening on all of its addresses."""

    netns: NetnsHost
    address6: str
    http: HttpFaultServer
    dns: DnsServer


@pytest.fixture
def v6_host(netns_host: NetnsHost) -> Iterator[V6Host]:
    assert netns_host.address6 is not None, "the rig gives every namespace host an IPv6 address"
    http = open_inside(netns_host, lambda: HttpFaultServer("::")).start()
    dns = open_inside(netns_host, lambda: DnsServer("::", 53)).start()
    dns.records[f"{DUAL}."] = [netns_host.address, netns_host.address6]
    try:
        yield V6Host(netns_host, netns_host.address6, http, dns)
    finally:
        dns.stop()
        http.stop()


def probe_specs(host: V6Host, url_host: str, **extra: object) -> list[dict]:
    """One probe of each kind, named after its kind, all with `extra` (e.g. ip_version)."""
    common = {"interval": "10s", "timeout": "1s", **extra}
    return [
        {"name": "icmp", "kind": "icmp", "count": 2, "spacing": "50ms", **common},
        {"name": "tcp", "kind": "tcp", "port": host.http.port, **common},
        {"name": "http", "kind": "http", "url": f"http://{url_host}:{host.http.port}/ok", **common},
        {
            "name": "dns",
            "kind": "dns",
            "query_name": DUAL,
            "query_type": "AAAA",
            "expect_answer": host.address6,
            **common,
        },
    ]


def probe_round(folder: Path, target_host: str, probes: list[dict], *wrap: str) -> dict:
    """One `slawitness probe` round (under `wrap`, a command prefix), then the exported
    probe records by probe name."""
    config = write_config(folder, [{"name": "vps6", "host": target_host, "probes": probes}])
    if wrap:
        command = [*wrap, sys.executable, "-m", "cli", "probe", "--config", str(config)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    else:
        done = slawitness("probe", "--config", str(config))
    assert done.returncode == 0, done.stdout + done.stderr
    exported = slawitness("export", "--config", str(config), "--format", "jsonl", "--type", "probe")
    assert exported.returncode == 0, exported.stderr
    records = [json.loads(line) for line in exported.stdout.splitlines()]
    assert len(records) == len(probes)
    return {record["probe"]: record for record in records}


@pytest.mark.parametrize("ip_version", ["auto", "6"])
def test_every_kind_is_up_over_ipv6_and_records_family_6(
    tmp_path: Path, v6_host: V6Host, ip_version: str
) -> None:
    url_host = f"[{v6_host.address6}]"
    records = probe_round(
        tmp_path, v6_host.address6, probe_specs(v6_host, url_host, ip_version=ip_version)
    )
    for kind in KINDS:
        record = records[kind]
        assert record["ok"] is True, record
        assert record["error"] is None and record["kind"] == kind
        assert record["detail"]["address"] == v6_host.address6
        assert record["detail"]["ip_version"] == 6
    assert isinstance(records["icmp"]["phases_ns"], list) and records["icmp"]["loss_ppm"] == 0
    assert records["http"]["detail"]["status"] == 200
    assert records["dns"]["detail"]["answers"] == v6_host.address6
    assert v6_host.http.wait_connections(2) >= 2  # the tcp and the http probe reached it
    assert v6_host.dns.queries >= 1


def test_ipv4_twin_of_the_same_host_records_family_4(tmp_path: Path, v6_host: V6Host) -> None:
    """The same servers over the host's IPv4 address: the family is what was used."""
    address = v6_host.netns.address
    records = probe_round(tmp_path, address, probe_specs(v6_host, address))
    for kind in KINDS:
        assert records[kind]["ok"] is True, records[kind]
        assert records[kind]["detail"]["address"] == address
        assert records[kind]["detail"]["ip_version"] == 4


def test_failures_over_ipv6_keep_their_error_class_and_family(
    tmp_path: Path, v6_host: V6Host
) -> None:
    """Kernel-made outages on the IPv6 address only; every record still says family 6."""
    netns, address6, port = v6_host.netns, v6_host.address6, v6_host.http.port
    drop_echo_requests(netns, [address6])
    apply_rules(
        netns,
        [
            f"ip6 daddr {address6} tcp dport {port} drop",
            f"ip6 daddr {address6} udp dport 53 drop",
        ],
    )
    reject_tcp(netns, 9)
    common = {"interval": "10s", "timeout": "1s"}
    probes = [
        {"name": "ping", "kind": "icmp", "count": 2, "spacing": "50ms", **common},
        {"name": "closed", "kind": "tcp", "port": 9, **common},
        {"name": "nothing", "kind": "tcp", "port": 10, **common},
        {"name": "silent", "kind": "tcp", "port": port, **common},
        {"name": "web", "kind": "http", "url": f"http://[{address6}]:{port}/ok", **common},
        {"name": "dns", "kind": "dns", "query_name": DUAL, **common},
        {"name": "dns-closed", "kind": "dns", "query_name": DUAL, "port": 5353, **common},
    ]
    records = probe_round(tmp_path, address6, probes)
    expected = {
        "ping": "timeout",
        "closed": "refused",
        "nothing": "refused",
        "silent": "timeout",
        "web": "timeout",
        "dns": "timeout",
        "dns-closed": "refused",
    }
    assert {name: r["error"] for name, r in records.items()} == expected
    for record in records.values():
        assert record["ok"] is False
        assert record["detail"]["address"] == address6
        assert record["detail"]["ip_version"] == 6
    assert records["ping"]["phases_ns"] == [None, None]
    assert records["ping"]["loss_ppm"] == 1_000_000


def test_icmp_unreachable_over_ipv6(tmp_path: Path, v6_host: V6Host) -> None:
    reject_unreachable(v6_host.netns, [v6_host.address6], "admin-prohibited")
    ping = {"name": "ping", "kind": "icmp", "count": 1, "interval": "10s", "timeout": "1s"}
    record = probe_round(tmp_path, v6_host.address6, [ping])["ping"]
    assert record["error"] == "unreachable"
    assert record["detail"]["ip_version"] == 6


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("ip_version", "wrong_family"), [("4", "v6"), ("6", "v4")])
def test_a_literal_of_the_other_family_is_a_dns_failure(
    tmp_path: Path, v6_host: V6Host, kind: str, ip_version: str, wrong_family: str
) -> None:
    """`ip_version: 4` with an IPv6-only literal (and 6 with an IPv4 one) is a valid config
    that can never be probed as asked: each attempt fails as `dns`, saying why, and nothing
    is sent over the other family."""
    literal = v6_host.address6 if wrong_family == "v6" else v6_host.netns.address
    url_host = f"[{literal}]" if wrong_family == "v6" else literal
    [spec] = [s for s in probe_specs(v6_host, url_host, ip_version=ip_version) if s["name"] == kind]
    record = probe_round(tmp_path, literal, [spec])[kind]
    assert record["ok"] is False and record["error"] == "dns"
    assert record["detail"]["message"] == f"{literal} is not an IPv{ip_version} address"
    assert "address" not in record["detail"] and "ip_version" not in record["detail"]
    assert v6_host.http.connections == 0 and v6_host.dns.queries == 0


@pytest.fixture
def rig_resolver(tmp_path: Path, v6_host: V6Host) -> list[str]:
    """A command prefix under which the system resolver asks the rig's DNS server.

    The child gets a private mount namespace in which a resolv.conf naming the namespace
    host's IPv6 address is bind-mounted over /etc/resolv.conf; the real file, and every
    other process, never see it.
    """
    unshare = shutil.which("unshare")
    if unshare is None:
        rig_unavailable("unshare(1) not found")
    resolv = tmp_path / "resolv.conf"
    resolv.write_text(f"nameserver {v6_host.address6}\noptions timeout:1 attempts:2\n")
    prefix = [unshare, "--mount", "sh", "-c", 'mount --bind "$0" /etc/resolv.conf && exec "$@"']
    check = subprocess.run(
        [*prefix, str(resolv), "getent", "ahosts", DUAL],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if check.returncode != 0 or v6_host.address6 not in check.stdout:
        rig_unavailable(f"private resolv.conf not usable: {check.stderr.strip() or check.stdout}")
    return [*prefix, str(resolv)]


@pytest.mark.parametrize("ip_version", ["4", "6", "auto"])
def test_a_dual_stack_name_records_the_family_used(
    tmp_path: Path, v6_host: V6Host, rig_resolver: list[str], ip_version: str
) -> None:
    """A name with both A and AAAA: `4` and `6` pick their family, `auto` the system's
    preferred one; every kind records the address it went to and that address's family."""
    by_family = {4: v6_host.netns.address, 6: v6_host.address6}
    specs = probe_specs(v6_host, DUAL, ip_version=ip_version)
    dns_spec = next(s for s in specs if s["kind"] == "dns")
    dns_spec["server"] = DUAL  # the DNS probe's server is the dual-stack name too
    records = probe_round(tmp_path, DUAL, specs, *rig_resolver)
    families = set()
    for kind in KINDS:
        record = records[kind]
        assert record["ok"] is True, record
        family = record["detail"]["ip_version"]
        assert record["detail"]["address"] == by_family[family]
        assert record["phases_ns"] is None or kind == "icmp" or record["phases_ns"]["resolve"] > 0
        families.add(family)
    if ip_version == "auto":
        assert len(families) == 1  # one resolver, one preference, for every kind
    else:
        assert families == {int(ip_version)}
