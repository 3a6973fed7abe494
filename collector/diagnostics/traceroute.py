"""A traceroute of our own, for when mtr is not installed: ICMP echoes with a rising TTL.

Each hop gets `count` echoes with the IP TTL (IPv6: hop limit) set to its distance; a router
that drops the echo for its TTL answers "time exceeded" and so names itself, and the target
answers the echo. Answers are matched on our identifier and sequence number (a raw socket
sees every ICMP message on the machine), with the packet formats of
`collector.probes.net.icmp_packets`. The trace stops at the target, at an "unreachable", or
after three silent hops in a row. It needs a raw socket, as the icmp probe does (root or
CAP_NET_RAW).
"""

from __future__ import annotations

import os
import select
import socket
import time
from collections.abc import Callable

from collector.probes.net.icmp_packets import (
    IcmpMessage,
    MessageKind,
    build_echo_request,
    parse_icmp6,
    parse_ipv4_datagram,
)

Hop = tuple[str | None, int, int | None]
"""Address (None: silent), loss in ppm, average RTT in ns (None: no answer)."""
MAX_HOPS = 30
SILENT_HOPS_TO_STOP = 3


def _read(sock: socket.socket, family: int) -> IcmpMessage | None:
    data, source = sock.recvfrom(65535)
    if family == socket.AF_INET6:
        return parse_icmp6(data, source[0])
    return parse_ipv4_datagram(data)


def _probe_hop(
    sock: socket.socket, family: int, address: str, ttl: int, ident: int, count: int,
    timeout_s: float,
) -> tuple[Hop, MessageKind | None]:  # fmt: skip
    """`count` echoes at one TTL: who answered, how many, how fast, and with what."""
    level, option = (
        (socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS)
        if family == socket.AF_INET6
        else (socket.IPPROTO_IP, socket.IP_TTL)
    )
    sock.setsockopt(level, option, ttl)
    answered: list[int] = []
    who: str | None = None
    kind: MessageKind | None = None
    for attempt in range(count):
        seq = (ttl << 8 | attempt) & 0xFFFF
        sent = time.monotonic_ns()
        sock.sendto(build_echo_request(family, ident, seq, b"slawitness"), (address, 0))
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            if not select.select([sock], [], [], left)[0]:
                break
            message = _read(sock, family)
            if message is None or message.ident != ident or message.seq != seq:
                continue
            answered.append(time.monotonic_ns() - sent)
            who, kind = message.reporter, message.kind
            break
    loss = (count - len(answered)) * 1_000_000 // count
    average = sum(answered) // len(answered) if answered else None
    return (who, loss, average), kind


def traceroute(
    address: str, count: int = 3, timeout_s: float = 1.0,
    stopped: Callable[[], bool] | None = None,
) -> tuple[list[Hop], bool]:  # fmt: skip
    """The hops to `address` (a literal), and whether it answered; OSError without a raw
    socket. `stopped` is asked before each hop: true ends the trace there (cut short)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    proto = socket.IPPROTO_ICMPV6 if family == socket.AF_INET6 else socket.IPPROTO_ICMP
    ident = int.from_bytes(os.urandom(2), "big")
    hops: list[Hop] = []
    silent = 0
    with socket.socket(family, socket.SOCK_RAW, proto) as sock:
        for ttl in range(1, MAX_HOPS + 1):
            if stopped is not None and stopped():
                break
            hop, kind = _probe_hop(sock, family, address, ttl, ident, count, timeout_s)
            hops.append(hop)
            if kind is MessageKind.REPLY:
                return hops, True
            if kind is MessageKind.UNREACHABLE:
                return hops, False
            silent = silent + 1 if hop[0] is None else 0
            if silent >= SILENT_HOPS_TO_STOP:
                break
    return hops, False
