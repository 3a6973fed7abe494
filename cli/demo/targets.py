"""Services on loopback that misbehave on cue, for `slawitness demo`.

The demo must show every kind of evidence without any network: a web service that goes
down, answers slowly and throws 5xx, a TCP service that goes away, and control hosts that
stay up except in one window. Each service here is a real listener on a loopback address
(the demo's probes connect to it like to any host); "down" closes the listening socket,
so connections are refused, exactly as when a host's service dies.
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

WebMode = Literal["ok", "slow", "error", "down"]
POLL_S = 0.02
"""How often a listener checks it should close: a scripted outage starts on every service
within a few hundredths of a second, as when one network link fails."""
SLOW_RESPONSE_S = 1.2
"""How long a slow answer takes: above the demo SLA's latency threshold of one second."""


def free_port(address: str) -> int:
    """A TCP port free on `address` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


class _Switchable:
    """A listener that can be closed (down) and opened again (up) on the same port."""

    def __init__(self, address: str, port: int) -> None:
        self.address, self.port = address, port
        self._server: socketserver.BaseServer | None = None
        self._lock = threading.Lock()

    def _make(self) -> socketserver.BaseServer:
        raise NotImplementedError

    def set_up(self, up: bool) -> None:
        """Listen (up) or refuse connections (down); does nothing when already so."""
        with self._lock:
            if up and self._server is None:
                self._server = self._make()
                serve = self._server.serve_forever
                threading.Thread(target=serve, args=(POLL_S,), daemon=True).start()
            elif not up and self._server is not None:
                server, self._server = self._server, None
                server.shutdown()
                server.server_close()

    def close(self) -> None:
        self.set_up(False)


class _Reusable(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


class _Accepting(socketserver.BaseRequestHandler):
    """Accept and close: what an SSH port looks like to a connect probe."""

    def handle(self) -> None:
        self.request.close()


class TcpService(_Switchable):
    """A TCP port that accepts connections while up."""

    def _make(self) -> socketserver.BaseServer:
        return _Reusable((self.address, self.port), _Accepting)


class _WebServer(ThreadingHTTPServer):
    daemon_threads = True
    mode: Callable[[], WebMode]


class _WebHandler(BaseHTTPRequestHandler):
    server: _WebServer

    def do_GET(self) -> None:
        mode = self.server.mode()
        if mode == "slow":
            time.sleep(SLOW_RESPONSE_S)
        status, body = (503, b"unavailable") if mode == "error" else (200, b"ok")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


class WebService(_Switchable):
    """An HTTP service answering `GET /health` as its mode says; "down" refuses connections."""

    def __init__(self, address: str, port: int) -> None:
        super().__init__(address, port)
        self.mode: WebMode = "ok"

    def _make(self) -> socketserver.BaseServer:
        server = _WebServer((self.address, self.port), _WebHandler)
        server.mode = lambda: self.mode
        return server

    def set_mode(self, mode: WebMode) -> None:
        self.mode = mode
        self.set_up(mode != "down")
