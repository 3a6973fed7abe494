"""One ICMP socket per address family, shared by every echo of a run, driven by asyncio.

Why not call `ping3.ping` per echo: ping3 matches a reply on (id, seq) only, with seq 0 and
an id derived from the thread, and every raw ICMP socket receives every reply. With many
concurrent calls one call can take another target's reply, and a silent host is recorded as
up: the worst error an evidence tool can make. So, the way fping works:

* one socket per family: the unprivileged datagram ICMP socket when `ping_group_range`
  allows it (the kernel picks our id and routes replies to us), else a raw socket
  (CAP_NET_RAW) with a random id of our own;
* every echo in flight has a unique (id, seq) and a random token in its payload; a reply is
  accepted only if its (source, id, seq) matches an echo in flight to that address and it
  carries back exactly the payload sent; an ICMP error is matched by the echo it quotes;
* the socket is drained completely each time it is readable, into a large receive buffer.

Timing: the receive time is the kernel's timestamp (SO_TIMESTAMPNS, taken when the packet
arrived, so a busy event loop does not inflate the RTT). That clock is CLOCK_REALTIME, so
the send time is `time.time_ns()` read right before `sendto`. A monotonic RTT is measured
alongside; if a wall-clock step makes the kernel RTT negative or longer than the monotonic
one, the monotonic RTT is used instead.

Pacing: the engine's echo requests follow one schedule of `rate` a second across every
caller, with a small bounded catch-up burst after a late wake-up
(`collector.probes.net.send_pacing`); an echo waiting its turn is not yet sent, so its
timeout and its RTT both start when it actually leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import os
import socket
import struct
import time
from dataclasses import dataclass, field, replace
from enum import StrEnum

from collector.probes.net.icmp_packets import (
    IcmpMessage,
    MessageKind,
    build_echo_request,
    parse_icmp4,
    parse_icmp6,
    parse_ipv4_datagram,
    parse_sent_echo,
)
from collector.probes.net.send_pacing import DEFAULT_ICMP_RATE, SendPacer

# Linux socket option numbers the socket module does not export.
_SO_RCVBUFFORCE = 33
_SO_TIMESTAMPNS = 35
_SOL_IP = 0
_IP_RECVERR = 11
_IPV6_RECVERR = 25
_SOL_RAW = 255
_ICMP_FILTER = 1
_ICMP6_FILTER = 1
_SO_EE_ORIGIN_ICMP = (2, 3)

RECEIVE_BUFFER = 4 * 1024 * 1024
_TOKEN_LEN = 16
_MAX_DRAIN = 4096


class EchoStatus(StrEnum):
    """How one echo ended."""

    REPLY = "reply"
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    TIME_EXCEEDED = "time_exceeded"
    SEND_FAILED = "send_failed"


@dataclass(frozen=True)
class EchoOutcome:
    """One echo's fate: its RTT in ns for a reply, otherwise why there was none.

    `rtt_ns` is the RTT the engine stands by (kernel receive timestamp when usable);
    `user_rtt_ns` is the RTT measured in user space on the monotonic clock, kept so the
    benchmark can show what the kernel timestamp gains. `sent_ns` is when the request left
    (perf_counter ns, the pacer's clock), None if it never did: what shows the pacing held.
    """

    status: EchoStatus
    rtt_ns: int | None = None
    user_rtt_ns: int | None = None
    message: str = ""
    errno: int | None = None
    sent_ns: int | None = None


@dataclass
class _InFlight:
    address: str
    seq: int
    payload: bytes
    future: asyncio.Future[EchoOutcome]
    sent_wall_ns: int = 0
    sent_mono_ns: int = 0
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)


def open_icmp_socket(family: int) -> tuple[socket.socket, bool]:
    """A non-blocking ICMP socket for `family`, datagram if allowed, else raw.

    Returns the socket and whether it is a datagram socket.
    """
    proto = socket.IPPROTO_ICMPV6 if family == socket.AF_INET6 else socket.IPPROTO_ICMP
    try:
        sock = socket.socket(family, socket.SOCK_DGRAM, proto)
        datagram = True
    except PermissionError:
        sock = socket.socket(family, socket.SOCK_RAW, proto)
        datagram = False
    try:
        _configure(sock, family, datagram)
    except BaseException:
        sock.close()
        raise
    return sock, datagram


def _configure(sock: socket.socket, family: int, datagram: bool) -> None:
    """Buffers, timestamps, error reporting and kernel-side type filters."""
    sock.setblocking(False)
    for option in (_SO_RCVBUFFORCE, socket.SO_RCVBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, RECEIVE_BUFFER)
            break
        except PermissionError:
            continue
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, RECEIVE_BUFFER)
    sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
    v6 = family == socket.AF_INET6
    if datagram:
        # Datagram ICMP sockets hand errors over only through the error queue.
        if v6:
            sock.setsockopt(socket.IPPROTO_IPV6, _IPV6_RECVERR, 1)
        else:
            sock.setsockopt(_SOL_IP, _IP_RECVERR, 1)
        sock.bind(("::", 0) if v6 else ("0.0.0.0", 0))
    elif v6:
        # Block every ICMPv6 type but unreachable (1), time exceeded (3), echo reply (129).
        words = [0xFFFFFFFF] * 8
        for passed in (1, 3, 129):
            words[passed >> 5] &= ~(1 << (passed & 31))
        sock.setsockopt(socket.IPPROTO_ICMPV6, _ICMP6_FILTER, struct.pack("=8I", *words))
    else:
        # Block every ICMPv4 type but echo reply (0), unreachable (3), time exceeded (11).
        blocked = 0xFFFFFFFF & ~((1 << 0) | (1 << 3) | (1 << 11))
        sock.setsockopt(_SOL_RAW, _ICMP_FILTER, struct.pack("=I", blocked))


class IcmpEngine:
    """Sends echoes for every probe of a run over one socket and matches what comes back."""

    def __init__(
        self, family: int, sock: socket.socket, datagram: bool, rate: float = DEFAULT_ICMP_RATE
    ) -> None:
        self.family = family
        self.rate = rate
        """Echo requests a second this engine sends at most."""
        self.datagram = datagram
        self._sock = sock
        self._loop = asyncio.get_running_loop()
        # A datagram socket's id is its port, and the kernel rewrites replies to it.
        self.ident = sock.getsockname()[1] if datagram else int.from_bytes(os.urandom(2))
        self._seqs = itertools.cycle(range(65536))
        self._in_flight: dict[int, _InFlight] = {}
        self._closed = False
        self._pacer = SendPacer(rate)
        self._loop.add_reader(sock.fileno(), self._on_readable)

    @classmethod
    async def start(
        cls, family: int = socket.AF_INET, rate: float = DEFAULT_ICMP_RATE
    ) -> IcmpEngine:
        """Open the family's socket and start reading it in the running loop; at most
        `rate` echo requests leave it a second."""
        sock, datagram = open_icmp_socket(family)
        return cls(family, sock, datagram, rate)

    @property
    def in_flight(self) -> int:
        """Echoes sent and not yet answered, failed or timed out."""
        return len(self._in_flight)

    async def echo(self, address: str, timeout: float, payload_size: int = 56) -> EchoOutcome:
        """Send one echo to `address` (an IP literal of this family) when its turn comes,
        and await its fate for `timeout` from then."""
        if self._closed:
            return EchoOutcome(EchoStatus.SEND_FAILED, message="ICMP engine is closed")
        if len(self._in_flight) >= 65536:
            return EchoOutcome(EchoStatus.SEND_FAILED, message="65536 echoes already in flight")
        address = socket.inet_ntop(self.family, socket.inet_pton(self.family, address))
        seq = next(self._seqs)
        while seq in self._in_flight:
            seq = next(self._seqs)
        token = os.urandom(min(_TOKEN_LEN, payload_size))
        payload = token + bytes(i & 0xFF for i in range(payload_size - len(token)))
        entry = _InFlight(address, seq, payload, self._loop.create_future())
        self._in_flight[seq] = entry
        packet = build_echo_request(self.family, self.ident, seq, payload)
        target = (address, 0, 0, 0) if self.family == socket.AF_INET6 else (address, 0)
        try:
            async with self._pacer.turn():
                if self._closed:
                    self._in_flight.pop(seq, None)
                    return EchoOutcome(EchoStatus.SEND_FAILED, message="ICMP engine is closed")
                await self._send(entry, packet, target, timeout)
        except OSError as exc:
            self._in_flight.pop(seq, None)
            return EchoOutcome(
                EchoStatus.SEND_FAILED, message=f"sendto: {exc.strerror or exc!r}", errno=exc.errno
            )
        except BaseException:
            self._in_flight.pop(seq, None)  # cancelled while waiting for its turn
            raise
        if not entry.future.done():
            entry.timer = self._loop.call_later(timeout, self._expire, entry)
        try:
            outcome = await entry.future
        finally:
            self._forget(entry)
        return replace(outcome, sent_ns=entry.sent_mono_ns)

    async def _send(
        self, entry: _InFlight, packet: bytes, target: tuple[str | int, ...], timeout: float
    ) -> None:
        """Send one echo, recording the send time right before the packet leaves.

        An ICMP error for ANOTHER echo leaves a pending error on the socket (always on a
        datagram socket with IP_RECVERR), and the kernel reports it from the next sendto:
        that echo would then fail for someone else's unreachable. So the pending error is
        cleared first (SO_ERROR reads and resets it; the error itself reaches its own echo
        through the queue), and a failed send is retried: a stale error is consumed by the
        first failure, a real one (no route) fails every time.
        """
        for attempt in range(3):
            self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            entry.sent_wall_ns, entry.sent_mono_ns = time.time_ns(), self._pacer.stamp()
            try:
                self._sock.sendto(packet, target)
                return
            except BlockingIOError:
                entry.sent_wall_ns, entry.sent_mono_ns = time.time_ns(), self._pacer.stamp()
                await asyncio.wait_for(self._loop.sock_sendto(self._sock, packet, target), timeout)
                return
            except OSError:
                if attempt == 2:
                    raise

    def _forget(self, entry: _InFlight) -> None:
        if entry.timer is not None:
            entry.timer.cancel()
        if self._in_flight.get(entry.seq) is entry:
            del self._in_flight[entry.seq]

    def _expire(self, entry: _InFlight) -> None:
        if not entry.future.done():
            entry.future.set_result(EchoOutcome(EchoStatus.TIMEOUT, message="no reply"))
        self._forget(entry)

    def _on_readable(self) -> None:
        """Drain every pending datagram (and, for datagram sockets, the error queue)."""
        for _ in range(_MAX_DRAIN):
            try:
                data, ancdata, _, source = self._sock.recvmsg(65535, 256)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                # A pending socket error raised by an ICMP error; the message stays queued.
                continue
            arrived_mono = time.perf_counter_ns()
            self._on_packet(data, ancdata, source[0], arrived_mono)
        if self.datagram:
            self._drain_error_queue()

    def _on_packet(
        self, data: bytes, ancdata: list[tuple[int, int, bytes]], source: str, arrived_mono: int
    ) -> None:
        if self.family == socket.AF_INET6:
            message = parse_icmp6(data, source.split("%")[0])
        elif self.datagram:
            message = parse_icmp4(data, source)
        else:
            message = parse_ipv4_datagram(data)
        if message is None:
            return
        kernel_ns = None
        for level, kind, value in ancdata:
            if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(value) >= 16:
                seconds, nanos = struct.unpack_from("=qq", value)
                kernel_ns = seconds * 1_000_000_000 + nanos
        self._settle(message, kernel_ns, arrived_mono)

    def _drain_error_queue(self) -> None:
        for _ in range(_MAX_DRAIN):
            try:
                data, ancdata, _, destination = self._sock.recvmsg(65535, 512, socket.MSG_ERRQUEUE)
            except OSError:
                break
            for level, kind, value in ancdata:
                if (level, kind) not in (
                    (_SOL_IP, _IP_RECVERR),
                    (socket.IPPROTO_IPV6, _IPV6_RECVERR),
                ):
                    continue
                _, origin, icmp_type, code = struct.unpack_from("=IBBB", value)
                if origin not in _SO_EE_ORIGIN_ICMP:
                    continue
                reporter = _offender(value[16:], self.family) or "?"
                message = parse_sent_echo(
                    self.family, data, destination[0], reporter, icmp_type, code
                )
                if message is not None:
                    self._settle(message, None, time.perf_counter_ns())

    def _settle(self, message: IcmpMessage, kernel_ns: int | None, arrived_mono: int) -> None:
        """Complete the echo this message is about, if and only if it really is about it."""
        entry = self._in_flight.get(message.seq)
        if entry is None or entry.future.done() or entry.address != message.address:
            return
        if not self.datagram and message.ident != self.ident:
            return
        if message.kind is MessageKind.REPLY:
            if message.payload != entry.payload:
                return
            mono_rtt = arrived_mono - entry.sent_mono_ns
            rtt = mono_rtt
            if kernel_ns is not None and 0 <= kernel_ns - entry.sent_wall_ns <= mono_rtt:
                rtt = kernel_ns - entry.sent_wall_ns
            entry.future.set_result(EchoOutcome(EchoStatus.REPLY, rtt_ns=rtt, user_rtt_ns=mono_rtt))
        else:
            quoted = message.payload
            if quoted is not None and not entry.payload.startswith(quoted[: len(entry.payload)]):
                return
            status = (
                EchoStatus.UNREACHABLE
                if message.kind is MessageKind.UNREACHABLE
                else (EchoStatus.TIME_EXCEEDED)
            )
            entry.future.set_result(EchoOutcome(status, message=message.describe()))
        self._forget(entry)

    async def aclose(self) -> None:
        """Stop reading, end every echo still in flight, close the socket."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self._loop.remove_reader(self._sock.fileno())
        for entry in list(self._in_flight.values()):
            if not entry.future.done():
                entry.future.set_result(
                    EchoOutcome(
                        EchoStatus.SEND_FAILED, message="ICMP engine closed", errno=errno.ECANCELED
                    )
                )
            self._forget(entry)
        self._sock.close()


def _offender(raw: bytes, family: int) -> str | None:
    """The address of whoever sent an ICMP error, from IP_RECVERR's trailing sockaddr."""
    with contextlib.suppress(ValueError, OSError, struct.error):
        if family == socket.AF_INET6 and len(raw) >= 24:
            return socket.inet_ntop(socket.AF_INET6, raw[8:24])
        if family == socket.AF_INET and len(raw) >= 8:
            return socket.inet_ntop(socket.AF_INET, raw[4:8])
    return None
