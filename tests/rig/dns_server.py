"""A tiny authoritative DNS server on loopback, for the dns probe's tests and demos."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

from tests.rig.loopback import close_quietly


class DnsServer:
    """A tiny authoritative DNS server on UDP and TCP of one loopback port.

    `records` maps names to A/AAAA addresses and `soa` zone names to their serial (a SOA
    question gets the zone's SOA record); names in `servfail` get SERVFAIL, names in
    `silent` never get an answer (the client times out), any other name gets NXDOMAIN.
    `port` 0 takes a free one; a system resolver pointed at this server needs 53.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.records: dict[str, list[str]] = {
            "www.example.test.": ["192.0.2.10", "192.0.2.11"],
            "v6.example.test.": ["2001:db8::10"],
        }
        self.soa: dict[str, int] = {"example.test.": 2026120401}
        self.servfail = {"broken.example.test."}
        self.silent = {"silent.example.test."}
        self.queries = 0
        self.host = host
        self._stop = threading.Event()
        self._tcp = socket.socket(family, socket.SOCK_STREAM)
        self._tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._tcp.bind((host, port))
        self.port: int = self._tcp.getsockname()[1]
        self._udp = socket.socket(family, socket.SOCK_DGRAM)
        self._udp.bind((host, self.port))
        self._tcp.listen(16)
        self._threads = [
            threading.Thread(target=self._udp_loop, daemon=True),
            threading.Thread(target=self._tcp_loop, daemon=True),
        ]

    def start(self) -> DnsServer:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for sock in (self._udp, self._tcp):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            close_quietly(sock)
        for thread in self._threads:
            thread.join(timeout=5)

    def answer(self, wire: bytes) -> bytes | None:
        """The response to one query in wire format, or None to stay silent."""
        self.queries += 1
        query = dns.message.from_wire(wire)
        question = query.question[0]
        name = question.name.to_text().lower()
        if name in self.silent:
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if name in self.servfail:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif name in self.soa and question.rdtype == dns.rdatatype.SOA:
            fields = f"ns.{name} hostmaster.{name} {self.soa[name]} 7200 3600 1209600 300"
            response.answer.append(dns.rrset.from_text(name, 3600, "IN", "SOA", fields))
        elif name in self.records:
            wanted = dns.rdatatype.to_text(question.rdtype)
            addresses = [a for a in self.records[name] if (":" in a) == (wanted == "AAAA")]
            if addresses and wanted in ("A", "AAAA"):
                response.answer.append(dns.rrset.from_text(name, 60, "IN", wanted, *addresses))
        else:
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response.to_wire()

    def _udp_loop(self) -> None:
        while not self._stop.is_set():
            try:
                wire, peer = self._udp.recvfrom(65535)
            except OSError:
                return
            try:
                reply = self.answer(wire)
            except Exception:  # a malformed query must not kill the server
                continue
            if reply is not None:
                self._udp.sendto(reply, peer)

    def _tcp_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _peer = self._tcp.accept()
            except OSError:
                return
            with conn:
                try:
                    conn.settimeout(5)
                    size = struct.unpack("!H", _read_exact(conn, 2))[0]
                    reply = self.answer(_read_exact(conn, size))
                    if reply is None:
                        self._stop.wait(10)
                        continue
                    conn.sendall(struct.pack("!H", len(reply)) + reply)
                except (OSError, ValueError):
                    continue


def _read_exact(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ValueError("peer closed early")
        data += chunk
    return data
