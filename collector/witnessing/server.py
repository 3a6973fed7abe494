"""The witness's HTTP server: `POST <prefix>/add-checkpoint`, as C2SP tlog-witness says.

A threading server from the standard library, like the exporter's: requests are small and
rare (a collector submits one checkpoint per round at most), each is answered from the state
file, and a slow client holds only its own thread. HTTP/1.1 keep-alive, as the spec asks
clients to use; a body past `MAX_BODY_BYTES` is refused unread (a checkpoint and 63 proof
hashes fit in a few KiB). It speaks plain HTTP: put it behind any HTTPS reverse proxy.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from collector.portable.cosignature import CosignerSigningKey
from collector.portable.errors import UsageError
from collector.portable.witness_wire import ADD_CHECKPOINT, SIZE_CONTENT_TYPE
from collector.witnessing.decision import Refused, admit
from collector.witnessing.state import WitnessState
from collector.witnessing.trusted_logs import TrustedLogs

MAX_BODY_BYTES = 64 * 1024
READ_TIMEOUT_S = 30.0
"""How long a connection may sit idle or send its body before it is closed."""
_LOG = logging.getLogger("slawitness.witness")


class WitnessListenError(UsageError):
    """The witness cannot listen where it was told (address in use, not an address)."""


class WitnessServer(ThreadingHTTPServer):
    """Cosigns checkpoints of the trusted logs with one key, recording them in one state."""

    daemon_threads = True

    def __init__(
        self,
        key: CosignerSigningKey,
        logs: TrustedLogs,
        state: WitnessState,
        host: str = "127.0.0.1",
        port: int = 0,
        prefix: str = "",
    ) -> None:
        self.key = key
        self.logs = logs
        self.state = state
        self.prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
        self.endpoint = f"{self.prefix}/{ADD_CHECKPOINT}"
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            super().__init__((host, port), _Handler)
        except OSError as exc:
            where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            raise WitnessListenError(f"cannot listen on {where}: {exc.strerror}") from None

    @property
    def url(self) -> str:
        """The submission prefix, what a collector's `witnesses:` entry names."""
        host, port = str(self.server_address[0]), int(self.server_address[1])
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}{self.prefix}"

    def cosign_line(self, text: str) -> str:
        return self.key.cosign(text, int(time.time())) + "\n"

    def answer(self, body: bytes) -> tuple[HTTPStatus, bytes, str]:
        """(status, body, content type) of one add-checkpoint request."""
        try:
            submission = admit(self.logs, body)
            lines = self.state.cosign(submission, self.cosign_line)
        except Refused as refusal:
            _LOG.info("add-checkpoint refused (%d): %s", refusal.status, refusal.reason)
            if refusal.status == HTTPStatus.CONFLICT:
                return refusal.status, f"{refusal.latest_size}\n".encode(), SIZE_CONTENT_TYPE
            return refusal.status, (refusal.reason + "\n").encode(), "text/plain; charset=utf-8"
        return HTTPStatus.OK, lines.encode(), "text/plain; charset=utf-8"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "slawitness-witness"
    timeout = READ_TIMEOUT_S
    disable_nagle_algorithm = True
    """Headers and body leave in two writes; with Nagle's algorithm the body waited for the
    client's delayed ACK, 40 ms a request on a keep-alive connection."""
    server: WitnessServer

    def do_POST(self) -> None:
        if self.path != self.server.endpoint:  # its body stays unread: close the connection
            self._reply(HTTPStatus.NOT_FOUND, b"not found\n", close=True)
            return
        length = self.headers.get("Content-Length", "")
        if not length.isdigit():
            self._reply(HTTPStatus.LENGTH_REQUIRED, b"a Content-Length is required\n", close=True)
            return
        if int(length) > MAX_BODY_BYTES:
            self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b"request too large\n", close=True)
            return
        body = self.rfile.read(int(length))
        status, answer, content_type = self.server.answer(body)
        self._reply(status, answer, content_type)

    def _other_method(self) -> None:
        if self.path == self.server.endpoint:
            allow = {"Allow": "POST"}
            self._reply(HTTPStatus.METHOD_NOT_ALLOWED, b"use POST\n", close=True, extra=allow)
        else:
            self._reply(HTTPStatus.NOT_FOUND, b"not found\n", close=True)

    do_GET = do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _other_method

    def _reply(
        self,
        status: HTTPStatus,
        body: bytes,
        content_type: str = "text/plain; charset=utf-8",
        *,
        close: bool = False,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle(self) -> None:
        try:
            super().handle()
        except (ConnectionError, TimeoutError) as exc:
            _LOG.debug("witness client gone: %s", exc)

    def log_message(self, format: str, *args: object) -> None:
        _LOG.debug("%s %s", self.address_string(), format % args)


@dataclass
class RunningWitness:
    """A witness serving in a background thread; `url` is its submission prefix."""

    server: WitnessServer
    thread: threading.Thread

    @property
    def url(self) -> str:
        return self.server.url

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
        self.server.state.close()


def open_witness(
    key: CosignerSigningKey,
    logs: TrustedLogs,
    state_path: Path,
    host: str = "127.0.0.1",
    port: int = 0,
    prefix: str = "",
) -> WitnessServer:
    """A witness bound to its address with its state open, not yet serving; the state is
    closed again when the address cannot be had."""
    state = WitnessState(state_path)
    try:
        return WitnessServer(key, logs, state, host, port, prefix)
    except BaseException:
        state.close()
        raise


def start_witness(
    key: CosignerSigningKey,
    logs: TrustedLogs,
    state_path: Path,
    host: str = "127.0.0.1",
    port: int = 0,
    prefix: str = "",
) -> RunningWitness:
    """A witness serving `logs` in a thread (port 0: any free one), until `stop()`."""
    server = open_witness(key, logs, state_path, host, port, prefix)
    thread = threading.Thread(target=server.serve_forever, name="witness", daemon=True)
    thread.start()
    return RunningWitness(server, thread)
