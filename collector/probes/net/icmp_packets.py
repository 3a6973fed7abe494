"""ICMP echo packets: building requests and reading what comes back.

ping3 stays the packet-format library (header layout, checksum, type and code enums); this
module adds what a shared socket needs and ping3 does not do: reading the original echo that
an ICMP error quotes, so an error can be matched to the echo that caused it, and reading
packets with or without the IPv4 header (raw sockets deliver it, datagram sockets do not).
Everything here is pure: bytes in, values out, no sockets.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from enum import StrEnum

from ping3 import ICMP_HEADER_FORMAT, checksum
from ping3.enums import (
    IcmpTimeExceededCode,
    IcmpV4DestinationUnreachableCode,
    IcmpV4Type,
    IcmpV6DestinationUnreachableCode,
    IcmpV6Type,
)

ICMP_HEADER_LEN = struct.calcsize(ICMP_HEADER_FORMAT)
_IPV6_HEADER_LEN = 40
_PROTO_ICMP = 1
_PROTO_ICMPV6 = 58


class MessageKind(StrEnum):
    """What an incoming ICMP message says about one of our echoes."""

    REPLY = "reply"
    UNREACHABLE = "unreachable"
    TIME_EXCEEDED = "time_exceeded"


@dataclass(frozen=True)
class IcmpMessage:
    """An echo reply, or an error quoting one of our echo requests.

    `address` is always the address the echo was sent to: the replying host for a reply,
    the quoted original destination for an error (the error itself comes from `reporter`,
    often a router). `payload` is the echoed data, or as much of our payload as the error
    quotes (`None` when it quotes only the header).
    """

    kind: MessageKind
    address: str
    ident: int
    seq: int
    payload: bytes | None
    reporter: str
    icmp_type: int
    icmp_code: int

    def describe(self) -> str:
        """A short human-readable line for a record's message, naming type and code."""
        if self.kind is MessageKind.REPLY:
            return f"echo reply from {self.reporter}"
        code_name = _code_name(self)
        what = (
            "destination unreachable" if self.kind is MessageKind.UNREACHABLE else ("time exceeded")
        )
        return f"ICMP {what} ({code_name}) from {self.reporter} for {self.address}"


_ERROR_KINDS_V4 = {
    IcmpV4Type.DESTINATION_UNREACHABLE: MessageKind.UNREACHABLE,
    IcmpV4Type.TIME_EXCEEDED: MessageKind.TIME_EXCEEDED,
}
_ERROR_KINDS_V6 = {
    IcmpV6Type.DESTINATION_UNREACHABLE: MessageKind.UNREACHABLE,
    IcmpV6Type.TIME_EXCEEDED: MessageKind.TIME_EXCEEDED,
}
"""The ICMP errors that can quote one of our echoes, by family."""


def _code_name(message: IcmpMessage) -> str:
    """The enum name of an error's code, or its number when ping3 does not know it."""
    table: type[
        IcmpV4DestinationUnreachableCode | IcmpV6DestinationUnreachableCode | IcmpTimeExceededCode
    ]
    if message.kind is MessageKind.TIME_EXCEEDED:
        table = IcmpTimeExceededCode
    elif ":" in message.address:
        table = IcmpV6DestinationUnreachableCode
    else:
        table = IcmpV4DestinationUnreachableCode
    try:
        return table(message.icmp_code).name.lower()
    except ValueError:
        return f"code {message.icmp_code}"


def build_echo_request(family: int, ident: int, seq: int, payload: bytes) -> bytes:
    """An echo request with its checksum filled in.

    For ICMPv6 the kernel always computes the checksum (it covers a pseudo-header with the
    source address the kernel picks), so the field is left zero there. ping3's `checksum`
    sums 16-bit words in little-endian order, so its value is packed little-endian: that
    yields the network-order checksum on any host.
    """
    if family == socket.AF_INET6:
        return struct.pack(ICMP_HEADER_FORMAT, IcmpV6Type.ECHO_REQUEST, 0, 0, ident, seq) + payload
    header = struct.pack(ICMP_HEADER_FORMAT, IcmpV4Type.ECHO_REQUEST, 0, 0, ident, seq)
    total = checksum(header + payload)
    return header[:2] + struct.pack("<H", total) + header[4:] + payload


def parse_ipv4_datagram(data: bytes) -> IcmpMessage | None:
    """Read a packet from a raw IPv4 socket, which delivers the IP header too."""
    if len(data) < 20 or data[0] >> 4 != 4 or data[9] != _PROTO_ICMP:
        return None
    ihl = (data[0] & 0x0F) * 4
    return parse_icmp4(data[ihl:], socket.inet_ntop(socket.AF_INET, data[12:16]))


def parse_icmp4(icmp: bytes, source: str) -> IcmpMessage | None:
    """Read an ICMPv4 message (from its type byte on); `None` if it is not about an echo."""
    if len(icmp) < ICMP_HEADER_LEN:
        return None
    icmp_type, code, _, ident, seq = struct.unpack_from(ICMP_HEADER_FORMAT, icmp)
    if icmp_type == IcmpV4Type.ECHO_REPLY:
        if checksum(icmp) != 0:
            return None
        return IcmpMessage(
            MessageKind.REPLY, source, ident, seq, icmp[ICMP_HEADER_LEN:], source, icmp_type, code
        )
    kind = _ERROR_KINDS_V4.get(icmp_type)
    if kind is None:
        return None
    inner = icmp[ICMP_HEADER_LEN:]
    if len(inner) < 20 or inner[0] >> 4 != 4 or inner[9] != _PROTO_ICMP:
        return None
    ihl = (inner[0] & 0x0F) * 4
    quoted = inner[ihl:]
    if len(quoted) < ICMP_HEADER_LEN or quoted[0] != IcmpV4Type.ECHO_REQUEST:
        return None
    _, _, _, q_ident, q_seq = struct.unpack_from(ICMP_HEADER_FORMAT, quoted)
    destination = socket.inet_ntop(socket.AF_INET, inner[16:20])
    rest = quoted[ICMP_HEADER_LEN:] or None
    return IcmpMessage(kind, destination, q_ident, q_seq, rest, source, icmp_type, code)


def parse_icmp6(icmp: bytes, source: str) -> IcmpMessage | None:
    """Read an ICMPv6 message (sockets never deliver the IPv6 header)."""
    if len(icmp) < ICMP_HEADER_LEN:
        return None
    icmp_type, code, _, ident, seq = struct.unpack_from(ICMP_HEADER_FORMAT, icmp)
    if icmp_type == IcmpV6Type.ECHO_REPLY:
        return IcmpMessage(
            MessageKind.REPLY, source, ident, seq, icmp[ICMP_HEADER_LEN:], source, icmp_type, code
        )
    kind = _ERROR_KINDS_V6.get(icmp_type)
    if kind is None:
        return None
    inner = icmp[ICMP_HEADER_LEN:]
    # Only a quoted packet without extension headers can be one of our echoes.
    if len(inner) < _IPV6_HEADER_LEN + ICMP_HEADER_LEN or inner[6] != _PROTO_ICMPV6:
        return None
    quoted = inner[_IPV6_HEADER_LEN:]
    if quoted[0] != IcmpV6Type.ECHO_REQUEST:
        return None
    _, _, _, q_ident, q_seq = struct.unpack_from(ICMP_HEADER_FORMAT, quoted)
    destination = socket.inet_ntop(socket.AF_INET6, inner[24:40])
    rest = quoted[ICMP_HEADER_LEN:] or None
    return IcmpMessage(kind, destination, q_ident, q_seq, rest, source, icmp_type, code)


def parse_sent_echo(
    family: int, packet: bytes, destination: str, reporter: str, icmp_type: int, icmp_code: int
) -> IcmpMessage | None:
    """An error read from a datagram socket's error queue, about the echo `packet` we sent.

    Datagram ICMP sockets report errors through IP_RECVERR: the queue hands back our own
    packet, the original destination and the error's type and code, instead of the raw
    error message.
    """
    if len(packet) < ICMP_HEADER_LEN:
        return None
    _, _, _, ident, seq = struct.unpack_from(ICMP_HEADER_FORMAT, packet)
    v6 = family == socket.AF_INET6
    unreachable = IcmpV6Type.DESTINATION_UNREACHABLE if v6 else (IcmpV4Type.DESTINATION_UNREACHABLE)
    exceeded = IcmpV6Type.TIME_EXCEEDED if v6 else IcmpV4Type.TIME_EXCEEDED
    if icmp_type == unreachable:
        kind = MessageKind.UNREACHABLE
    elif icmp_type == exceeded:
        kind = MessageKind.TIME_EXCEEDED
    else:
        return None
    rest = packet[ICMP_HEADER_LEN:] or None
    return IcmpMessage(kind, destination, ident, seq, rest, reporter, icmp_type, icmp_code)
