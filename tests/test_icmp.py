"""The ICMP probe and its engine against a real namespace host, broken with nftables."""

from __future__ import annotations

import asyncio
import json
import socket
import statistics
import struct
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ping3 import checksum
from pydantic import ValidationError

from collector.core.results import ErrorClass, Result
from collector.probes.base import ProbeEnv
from collector.probes.icmp import IcmpSpec, probe
from collector.probes.net.icmp_engine import EchoStatus, IcmpEngine
from collector.probes.net.icmp_packets import (
    MessageKind,
    build_echo_request,
    parse_icmp4,
    parse_icmp6,
    parse_ipv4_datagram,
)
from tests.rig.netns import (
    NetnsHost,
    drop_echo_requests,
    drop_share,
    ns_exec,
    reject_unreachable,
)


def spec(**keys: object) -> IcmpSpec:
    """An icmp spec with short timeouts, so silent hosts do not slow the suite."""
    return IcmpSpec.model_validate({"name": "ping", "kind": "icmp", "timeout": 1, **keys})


async def probe_once(host: str, icmp_spec: IcmpSpec) -> Result:
    env = ProbeEnv()
    try:
        return await probe(host, icmp_spec, env)
    finally:
        await env.aclose()


def test_answering_host_is_up_with_every_rtt(netns_host: NetnsHost) -> None:
    result = asyncio.run(probe_once(netns_host.address, spec(count=4, spacing=0.05)))
    assert result.ok and result.error is None
    assert isinstance(result.phases_ns, list) and len(result.phases_ns) == 4
    rtts = [rtt for rtt in result.phases_ns if rtt is not None]
    assert len(rtts) == 4 and all(rtt > 0 for rtt in rtts)
    assert result.loss_ppm == 0
    assert result.latency_ns == int(statistics.median(rtts))
    assert result.detail == {"address": netns_host.address, "ip_version": 4}


def test_dropped_echoes_are_a_timeout(netns_host: NetnsHost) -> None:
    drop_echo_requests(netns_host, [netns_host.address])
    result = asyncio.run(probe_once(netns_host.address, spec(count=2, spacing=0.05)))
    assert not result.ok
    assert result.error is ErrorClass.TIMEOUT
    assert result.loss_ppm == 1_000_000
    assert result.phases_ns == [None, None]
    assert result.detail["address"] == netns_host.address


def test_partial_loss_is_measured(netns_host: NetnsHost) -> None:
    # 50 echoes each dropped with p=1/2: all or none lost has probability 2**-49 < 1e-9.
    drop_share(netns_host, 50)
    result = asyncio.run(probe_once(netns_host.address, spec(count=50, spacing=0.01)))
    assert result.ok
    assert result.loss_ppm is not None and 0 < result.loss_ppm < 1_000_000
    assert isinstance(result.phases_ns, list)
    lost = sum(rtt is None for rtt in result.phases_ns)
    assert result.loss_ppm == lost * 1_000_000 // 50


@pytest.mark.parametrize(
    ("kind", "code_name"),
    [
        ("host-unreachable", "destination_host_unreachable"),
        ("admin-prohibited", "communication_administratively_prohibited"),
    ],
)
def test_icmp_unreachable_is_unreachable(netns_host: NetnsHost, kind: str, code_name: str) -> None:
    reject_unreachable(netns_host, [netns_host.address], kind)
    result = asyncio.run(probe_once(netns_host.address, spec(count=2, spacing=0.05)))
    assert result.error is ErrorClass.UNREACHABLE
    assert code_name in str(result.detail["message"])
    assert result.loss_ppm == 1_000_000


def test_ipv6_echo(netns_host: NetnsHost) -> None:
    assert netns_host.address6 is not None
    up = asyncio.run(probe_once(netns_host.address6, spec(count=2, spacing=0.05)))
    assert up.ok and up.loss_ppm == 0 and up.detail["address"] == netns_host.address6
    drop_echo_requests(netns_host, [netns_host.address6])
    down = asyncio.run(probe_once(netns_host.address6, spec(count=2, spacing=0.05, ip_version="6")))
    assert down.error is ErrorClass.TIMEOUT


def test_ipv6_unreachable(netns_host: NetnsHost) -> None:
    assert netns_host.address6 is not None
    reject_unreachable(netns_host, [netns_host.address6], "admin-prohibited")
    result = asyncio.run(probe_once(netns_host.address6, spec(count=1)))
    assert result.error is ErrorClass.UNREACHABLE
    assert "prohibited" in str(result.detail["message"])


def test_two_hundred_targets_concurrently_half_silent(netns_host_200: NetnsHost) -> None:
    """ping3's failure mode: a silent host must never take an answering host's reply, and
    an unreachable error for one target must never fail another target's echo."""
    targets = list(netns_host_200.extra_addresses)
    silent, unreachable = set(targets[::2]), set(targets[1::4])
    drop_echo_requests(netns_host_200, silent)
    reject_unreachable(netns_host_200, unreachable)

    async def round_() -> dict[str, Result]:
        env = ProbeEnv()
        try:
            results = await asyncio.gather(
                *(probe(t, spec(count=3, spacing=0.05), env) for t in targets)
            )
        finally:
            await env.aclose()
        return dict(zip(targets, results, strict=True))

    results = asyncio.run(round_())
    wrongly_up = sorted(t for t in silent | unreachable if results[t].ok)
    wrongly_down = sorted(t for t in targets if t not in silent | unreachable and not results[t].ok)
    assert wrongly_up == [] and wrongly_down == []
    assert all(results[t].error is ErrorClass.TIMEOUT for t in silent)
    assert all(results[t].error is ErrorClass.UNREACHABLE for t in unreachable)
    assert all(results[t].loss_ppm == 0 for t in targets if t not in silent | unreachable)


_DATAGRAM_ROUND = textwrap.dedent("""
    import asyncio, json, socket, sys
    sys.path.insert(0, sys.argv[1])
    from collector.probes.net.icmp_engine import IcmpEngine

    async def main(targets):
        engines = {f: await IcmpEngine.start(f) for f in (socket.AF_INET, socket.AF_INET6)}
        pick = lambda t: engines[socket.AF_INET6 if ":" in t else socket.AF_INET]
        outcomes = await asyncio.gather(*(pick(t).echo(t, 1.0) for t in targets))
        print(json.dumps({"datagram": [e.datagram for e in engines.values()],
                          "status": [o.status.value for o in outcomes]}))
        for engine in engines.values():
            await engine.aclose()

    asyncio.run(main(sys.argv[2:]))
""")


def test_unprivileged_datagram_sockets(netns_host: NetnsHost) -> None:
    """The datagram ICMP socket path, run inside the namespace where ping_group_range is
    opened (a per-namespace setting): replies, silence and errors from the error queue,
    and an error for one echo must not fail the next echo's send."""
    assert netns_host.address6 is not None
    ns_exec(netns_host, "sysctl", "-qw", "net.ipv4.ping_group_range=0 0")
    drop_echo_requests(netns_host, ["127.0.0.2"])
    reject_unreachable(
        netns_host, ["127.0.0.3", netns_host.address6], "admin-prohibited", echo_only=True
    )
    targets = ["127.0.0.2", "127.0.0.3", netns_host.address, netns_host.address6, "::1"]
    repo = str(Path(__file__).resolve().parent.parent)
    seen = json.loads(ns_exec(netns_host, sys.executable, "-c", _DATAGRAM_ROUND, repo, *targets))
    assert seen["datagram"] == [True, True]
    assert seen["status"] == ["timeout", "unreachable", "reply", "unreachable", "reply"]


def test_name_that_does_not_resolve_is_dns() -> None:
    result = asyncio.run(probe_once("nonexistent.invalid", spec()))
    assert result.error is ErrorClass.DNS
    assert "nonexistent.invalid" in str(result.detail["message"])


def test_literal_of_the_wrong_family_is_refused_before_sending() -> None:
    result = asyncio.run(probe_once("127.0.0.1", spec(ip_version="6")))
    assert result.error is ErrorClass.DNS
    assert "IPv6" in str(result.detail["message"])


def test_loopback_by_name_resolves_and_answers() -> None:
    result = asyncio.run(probe_once("localhost", spec(count=1, ip_version="4")))
    assert result.ok and result.detail["address"] == "127.0.0.1"


@pytest.mark.parametrize(
    ("keys", "budget"),
    [
        ({"count": 3, "spacing": 0.2, "timeout": 1, "interval": 2}, 1.4),
        ({"count": 1, "timeout": "500ms", "interval": 1}, 0.5),
        ({"count": 10, "spacing": "100ms", "timeout": 2, "interval": 3}, 2.9),
    ],
)
def test_attempt_budget_is_spacing_plus_one_timeout(keys: dict[str, object], budget: float) -> None:
    assert spec(**keys).attempt_budget() == pytest.approx(budget)


@pytest.mark.parametrize(
    "keys",
    [
        {"count": 3, "spacing": 0.5, "timeout": 1, "interval": 2},  # budget 2.0 == interval
        {"count": 11, "spacing": 1, "timeout": 1, "interval": 10},  # budget 11 > interval
        {"count": 0},
        {"count": 101},
        {"payload_size": -1},
        {"spacing": "soon"},
        {"kind": "tcp"},
        {"ttl": 3},
    ],
)
def test_invalid_specs_are_rejected(keys: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        spec(**keys)


_FORGE = textwrap.dedent("""
    import socket, struct, sys
    from ping3 import checksum
    src, dst, ident, seq, payload = sys.argv[1], sys.argv[2], int(sys.argv[3]), \\
        int(sys.argv[4]), bytes.fromhex(sys.argv[5])
    head = struct.pack("!BBHHH", 0, 0, 0, ident, seq)
    head = head[:2] + struct.pack("<H", checksum(head + payload)) + head[4:]
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.bind((src, 0))
    s.sendto(head + payload, (dst, 0))
""")


def test_forged_replies_do_not_make_a_silent_host_up(netns_host_200: NetnsHost) -> None:
    """A reply with our (id, seq) counts only from the probed address, with our payload."""
    silent, other = netns_host_200.extra_addresses[:2]
    drop_echo_requests(netns_host_200, [silent])

    async def run() -> tuple[EchoStatus, EchoStatus]:
        engine = await IcmpEngine.start()
        try:
            echo = asyncio.create_task(engine.echo(silent, timeout=1.5, payload_size=24))
            # Without a payload there is no token: a reply with the right source, id and
            # seq is then genuine, which shows that forged packets do reach the engine.
            bare = asyncio.create_task(engine.echo(silent, timeout=1.5, payload_size=0))
            await asyncio.sleep(0.2)
            forgeries = [(other, 0, "00" * 24), (silent, 0, "ff" * 24), (silent, 1, "")]
            for source, seq, payload in forgeries:
                await asyncio.to_thread(
                    ns_exec,
                    netns_host_200,
                    sys.executable,
                    "-c",
                    _FORGE,
                    source,
                    netns_host_200.local_address,
                    str(engine.ident),
                    str(seq),
                    payload,
                )
            return (await echo).status, (await bare).status
        finally:
            await engine.aclose()

    assert asyncio.run(run()) == (EchoStatus.TIMEOUT, EchoStatus.REPLY)


@given(ident=st.integers(0, 0xFFFF), seq=st.integers(0, 0xFFFF), payload=st.binary(max_size=80))
def test_echo_request_checksum_and_reply_round_trip(ident: int, seq: int, payload: bytes) -> None:
    request = build_echo_request(socket.AF_INET, ident, seq, payload)
    assert checksum(request) == 0
    reply = b"\x00" + request[1:2] + b"\x00\x00" + request[4:]
    reply = reply[:2] + struct.pack("<H", checksum(reply)) + reply[4:]
    message = parse_icmp4(reply, "10.231.0.2")
    assert message is not None and message.kind is MessageKind.REPLY
    assert (message.ident, message.seq, message.payload) == (ident, seq, payload)


def _ipv4_header(src: str, dst: str, length: int) -> bytes:
    return struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + length,
        0,
        0,
        64,
        1,
        0,
        socket.inet_aton(src),
        socket.inet_aton(dst),
    )


def test_ipv4_error_is_matched_by_the_echo_it_quotes() -> None:
    request = build_echo_request(socket.AF_INET, 0x1234, 7, b"token-and-data")
    quoted = _ipv4_header("10.231.0.1", "10.231.0.99", len(request)) + request
    error = struct.pack("!BBHI", 3, 1, 0, 0) + quoted
    message = parse_ipv4_datagram(_ipv4_header("10.231.0.254", "10.231.0.1", len(error)) + error)
    assert message is not None
    assert message.kind is MessageKind.UNREACHABLE
    assert (message.address, message.reporter) == ("10.231.0.99", "10.231.0.254")
    assert (message.ident, message.seq, message.payload) == (0x1234, 7, b"token-and-data")
    assert "destination_host_unreachable" in message.describe()


def test_ipv6_error_quoting_something_else_is_ignored() -> None:
    header = struct.pack(
        "!IHBB16s16s",
        6 << 28,
        8,
        17,
        64,
        socket.inet_pton(socket.AF_INET6, "fd00::1"),
        socket.inet_pton(socket.AF_INET6, "fd00::2"),
    )
    udp_error = struct.pack("!BBHI", 1, 4, 0, 0) + header + b"\x00" * 8
    assert parse_icmp6(udp_error, "fd00::2") is None
    echo_error = (
        struct.pack("!BBHI", 3, 0, 0, 0)
        + header[:6]
        + b"\x3a"
        + header[7:]
        + build_echo_request(socket.AF_INET6, 5, 6, b"x")
    )
    message = parse_icmp6(echo_error, "fd00::fe")
    assert message is not None and message.kind is MessageKind.TIME_EXCEEDED
    assert (message.address, message.ident, message.seq) == ("fd00::2", 5, 6)
