"""Loopback servers that fail on purpose, as plain classes.

The probes are tested against real sockets, never mocks: an HTTP(S) server whose
behaviour is chosen by the request path (or forced for every path by `mode`), a TCP
listener, a port guaranteed closed, and a listener whose accept queue is full (connects
to it time out). Every server binds port 0 on loopback. The pytest fixtures live in
tests/rig/servers.py; other tests (CLI, demo, benchmarks) can use these classes directly.

HTTP paths: `/ok`, `/delay/<seconds>`, `/status/<code>`, `/wrong`, `/reset` (RST after
the request), `/close` (FIN, no response), `/hang` (never answers), `/big/<bytes>` (with
Content-Length), `/stream/<bytes>` (chunked, no length), `/redirect?to=<url>&delay=<s>`,
`/loop` (redirects to itself), `/garbage` (not HTTP), `/auth` (401 unless the Basic
credentials match `expect_auth`), `/host` (echoes the Host header).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import socket
import ssl
import struct
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from collector.core.results import Result
from collector.probes.base import ProbeEnv

_REASONS = {200: "OK", 302: "Found", 401: "Unauthorized", 404: "Not Found", 500: "Error"}


@dataclass(frozen=True)
class SeenRequest:
    """What the HTTP server received, so tests can check what the probe really sent."""

    method: str
    path: str
    headers: dict[str, str]


class HttpFaultServer:
    """A keep-alive HTTP/1.1 server in background threads; TLS when given a context.

    Keep-alive is supported on purpose: the connection counter then proves that the
    probe, not the server, opens a fresh connection per attempt.
    """

    def __init__(self, host: str = "127.0.0.1", ssl_context: ssl.SSLContext | None = None):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.host = host
        self.ssl_context = ssl_context
        self.mode: str | None = None
        self.expect_auth: tuple[str, str] | None = None
        self.connections = 0
        self.requests: list[SeenRequest] = []
        self._lock = threading.Lock()
        self._accepted = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._open: set[socket.socket] = set()
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, 0))
        self._listener.listen(64)
        self.port: int = self._listener.getsockname()[1]
        self._threads = [threading.Thread(target=self._accept_loop, daemon=True)]

    def url(self, path: str = "/ok", host: str | None = None) -> str:
        """The URL of `path` on this server, by address or by the given host name."""
        name = host or (f"[{self.host}]" if ":" in self.host else self.host)
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://{name}:{self.port}{path}"

    def wait_connections(self, count: int, timeout: float = 5.0) -> int:
        """The connection count once it reaches `count` (the kernel completes a handshake
        before this server's thread accepts it), or what it is after `timeout` seconds."""
        with self._accepted:
            self._accepted.wait_for(lambda: self.connections >= count, timeout)
            return self.connections

    def start(self) -> HttpFaultServer:
        self._threads[0].start()
        return self

    def stop(self) -> None:
        """Stop accepting, cut every open connection (hung ones too) and join the threads."""
        self._stop.set()
        # close() alone does not wake a thread blocked in accept() or recv(); shutdown() does
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            for conn in list(self._open):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                _abort(conn)
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=5)

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _addr = self._listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            with self._lock:
                self.connections += 1
                self._accepted.notify_all()
                self._open.add(conn)
                self._threads.append(thread)
            thread.start()

    def _serve(self, raw: socket.socket) -> None:
        conn = raw
        try:
            raw.settimeout(10)
            if self.ssl_context is not None:
                conn = self.ssl_context.wrap_socket(raw, server_side=True)
                with self._lock:
                    self._open.add(conn)
            buffer = b""
            while not self._stop.is_set():
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                    if not buffer[:1].isalpha():  # a TLS hello on a plain port, as nginx does
                        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                        return
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                request = _parse_request(head)
                with self._lock:
                    self.requests.append(request)
                if not self._respond(conn, request):
                    return
        except (OSError, ValueError):
            return
        finally:
            with self._lock:
                self._open.discard(conn)
                self._open.discard(raw)
            close_quietly(conn)

    def _respond(self, conn: socket.socket, request: SeenRequest) -> bool:
        """Answer one request; False when the connection must end."""
        split = urlsplit(self.mode or request.path)
        parts = split.path.strip("/").split("/")
        action, arg = parts[0], (parts[1] if len(parts) > 1 else "")
        if action == "hang":
            self._stop.wait()
            return False
        if action == "reset":
            _abort(conn)
            return False
        if action == "close":  # a clean FIN where a response should be
            return False
        if action == "garbage":  # a service that does not speak HTTP, and waits
            conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\nProtocol mismatch.\r\n\r\n")
            while conn.recv(65536):
                pass
            return False
        if action == "delay" and self._stop.wait(float(arg)):
            return False
        status, body, extra = 200, b"ok", ""
        if action == "status":
            status, body = int(arg), f"status {arg}".encode()
        elif action == "wrong":
            body = b"maintenance page"
        elif action == "loop":
            status, body, extra = 302, b"", "Location: /loop\r\n"
        elif action == "host":
            body = request.headers.get("host", "").encode()
        elif action == "big":
            body = b"x" * int(arg)
        elif action == "redirect":
            query = parse_qs(split.query)
            target = query.get("to", ["/ok"])[0]
            if self._stop.wait(float(query.get("delay", ["0"])[0])):
                return False
            status, body, extra = 302, b"", f"Location: {target}\r\n"
        elif action == "auth" and self.expect_auth is not None:
            user, password = self.expect_auth
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            if request.headers.get("authorization") != f"Basic {token}":
                status, body = 401, b"who are you"
        elif action not in ("ok", "delay", "auth", "stream"):
            status, body = 404, b"no such fault"
        reason = _REASONS.get(status, "Status")
        if action == "stream":
            head = f"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n{extra}\r\n"
            conn.sendall(head.encode())
            block = b"y" * 16384
            for offset in range(0, int(arg), len(block)):
                piece = block[: min(len(block), int(arg) - offset)]
                conn.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            conn.sendall(b"0\r\n\r\n")
        else:
            head = f"HTTP/1.1 {status} {reason}\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
            conn.sendall(head.encode() + body)
        return request.headers.get("connection", "").lower() != "close"


def _parse_request(head: bytes) -> SeenRequest:
    lines = head.decode("latin-1").split("\r\n")
    method, path, _version = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return SeenRequest(method, path, headers)


def _abort(conn: socket.socket) -> None:
    """Close with SO_LINGER 0, so the peer gets an RST instead of a FIN."""
    with contextlib.suppress(OSError):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    close_quietly(conn)


def close_quietly(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.close()


class TcpListener:
    """A listener that accepts and counts connections and closes them at once."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.server = HttpFaultServer(host)
        self.server.mode = "/ok"
        self.host, self.port = host, self.server.port

    @property
    def connections(self) -> int:
        return self.server.connections

    def wait_connections(self, count: int, timeout: float = 5.0) -> int:
        return self.server.wait_connections(count, timeout)

    def start(self) -> TcpListener:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()


class FullListener:
    """A listener that never accepts and whose queue is already full: connects time out.

    Linux drops a SYN when the accept queue is full, so the client hears nothing, the
    same thing a firewall that drops packets does, without a packet leaving loopback.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.host = host
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        self._listener.bind((host, 0))
        self._listener.listen(0)
        self.port: int = self._listener.getsockname()[1]
        self._fillers: list[socket.socket] = []
        for _ in range(2):  # backlog 0 still queues one; the second proves it is full
            filler = socket.socket(family, socket.SOCK_STREAM)
            filler.settimeout(0.5)
            with contextlib.suppress(OSError):
                filler.connect((host, self.port))
            self._fillers.append(filler)

    def stop(self) -> None:
        for sock in [*self._fillers, self._listener]:
            close_quietly(sock)


def closed_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on: bound, read and released (connects get RST)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
    return port


def run_probe(
    probe: Callable[[str, Any, ProbeEnv], Awaitable[Result]], host: str, spec: Any, times: int = 1
) -> list[Result]:
    """Run `times` attempts one after another in one ProbeEnv, as a daemon run would."""

    async def attempts() -> list[Result]:
        env = ProbeEnv()
        try:
            return [await probe(host, spec, env) for _ in range(times)]
        finally:
            await env.aclose()

    return asyncio.run(attempts())
