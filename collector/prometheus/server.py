"""The exporter's HTTP server: `/metrics`, blackbox-style `/probe`, TLS and basic auth.

A threading server from the standard library: scrapes are few and small, and every
request is answered from memory except `/probe`, which waits for its probe and its
durable append. TLS handshakes happen in the connection's own thread, so one slow client
never holds up a scrape. It listens on 127.0.0.1 unless told otherwise.

A burst of connections waits in a deep accept queue instead of being dropped; a client that
goes away mid-request is a debug line, not a traceback; a `/probe` that comes sooner than its
probe's spacing allows is answered 429 and appends nothing
(see `collector.prometheus.probe_on_demand`).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from collector.config.loader import ConfigError
from collector.evidence.store_errors import StoreError
from collector.prometheus.basic_auth import challenge_headers
from collector.prometheus.exposition import render
from collector.prometheus.listen import ListenAddressError, parse_listen
from collector.prometheus.metrics import Snapshot, metric_families
from collector.prometheus.probe_spacing import ProbeTooSoon

if TYPE_CHECKING:
    from collector.prometheus.web_config import BasicAuthGate, WebConfig

TLS_HANDSHAKE_TIMEOUT_S = 10.0
DRAIN_TIMEOUT_S = 30.0
"""How long a stopping server waits for running requests (a /probe is bounded by its
probe's timeout)."""
ACCEPT_BACKLOG = 1024
"""Connections the kernel holds until the server accepts them. socketserver's default of 5
dropped most of a burst of 500 scrapes: the kernel ignores a handshake that does not fit, and
the client waits for retransmissions 1, 3, 7, 15 s later, then times out. Linux caps the
value at net.core.somaxconn (4096 by default)."""
_CLIENT_GONE = (ConnectionError, ssl.SSLEOFError, ssl.SSLZeroReturnError)
"""What reading or writing raises once the client has reset or closed its connection."""
_LOG = logging.getLogger("slawitness.exporter")

ProbeRunner = Callable[[str, str], Snapshot]
"""(target, probe) -> the snapshot of one fresh, stored attempt; LookupError if unknown,
ProbeTooSoon if it ran on demand less than its spacing ago."""

FORM_LIMIT = 8192
"""Bytes of a form a POST may send (the web view's buttons send a few dozen)."""


@dataclass(frozen=True)
class Page:
    """What a web page answers: the body, its type, and optionally a status and headers."""

    body: bytes
    content_type: str
    status: HTTPStatus = HTTPStatus.OK
    headers: Mapping[str, str] = field(default_factory=dict)


PageSource = Callable[[str, str, Mapping[str, list[str]], str], "Page | None"]
"""(method, path, parameters, Accept-Language) -> the page; None when the path is not one
(`reports.render.web_page`: the web view and its downloads)."""

_LANDING = b"""<!doctype html><html><head><title>slawitness</title></head><body>
<h1>slawitness exporter</h1><p><a href="/metrics">/metrics</a> &middot;
/probe?target=NAME&amp;probe=PROBE</p></body></html>
"""


class ExporterServer(ThreadingHTTPServer):
    """Serves one snapshot source, and optionally on-demand probes."""

    daemon_threads = True
    request_queue_size = ACCEPT_BACKLOG

    def __init__(
        self,
        listen: str,
        metrics: Callable[[], Snapshot],
        probe: ProbeRunner | None = None,
        web_config: WebConfig | None = None,
        pages: PageSource | None = None,
    ) -> None:
        host, port = parse_listen(listen)
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.metrics = metrics
        self.probe_runner = probe
        self.pages = pages
        self.ssl_context: ssl.SSLContext | None = None
        self.auth: BasicAuthGate | None = None
        self.extra_headers: Mapping[str, str] = {}
        if web_config is not None:
            try:
                self.ssl_context = web_config.ssl_context()
            except ValueError as exc:  # a certificate replaced by something unusable since load
                raise ConfigError([f"web config: {exc}"]) from None
            self.auth = web_config.auth_gate()
            self.extra_headers = web_config.http_server_config.headers
        self._active = 0
        self._closing = False
        self._idle = threading.Condition()
        try:
            super().__init__((host, port), _Handler)
        except OSError as exc:
            raise ListenAddressError(f"cannot listen on {listen}: {exc.strerror}") from None

    @contextlib.contextmanager
    def admitted(self) -> Iterator[bool]:
        """Whether a request may run (not once `drain` began); a running one is counted."""
        with self._idle:
            admit = not self._closing
            self._active += admit
        try:
            yield admit
        finally:
            if admit:
                with self._idle:
                    self._active -= 1
                    self._idle.notify_all()

    def drain(self, timeout: float = DRAIN_TIMEOUT_S) -> bool:
        """Refuse new requests and wait for those running to finish: the stores they read
        are closed next, and closing a connection another thread is using fails. False when
        one was still running after `timeout`."""
        with self._idle:
            self._closing = True
            return self._idle.wait_for(lambda: self._active == 0, timeout)

    def stop(self) -> None:
        """Stop accepting, let running requests finish, close the socket."""
        self.shutdown()
        self.drain()
        self.server_close()

    @property
    def url(self) -> str:
        """Where the server listens, as a URL."""
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://{_shown_address(self.server_address)}"

    def finish_request(self, request: Any, client_address: Any) -> None:
        """The TLS handshake, in the connection's thread, before the request is read."""
        if self.ssl_context is not None:
            request.settimeout(TLS_HANDSHAKE_TIMEOUT_S)
            try:
                request = self.ssl_context.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError):
                with contextlib.suppress(OSError):
                    request.close()
                return
            request.settimeout(None)
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away is routine (a scrape timed out, a port scanner): one debug
        line. Anything else is a bug of ours, logged with its traceback."""
        error = sys.exc_info()[1]
        shown = _shown_address(client_address)
        if isinstance(error, _CLIENT_GONE):
            _LOG.debug(
                "slawitness exporter: %s closed the connection early (%s)",
                shown,
                type(error).__name__,
            )
        else:
            _LOG.error("slawitness exporter: the request from %s failed", shown, exc_info=True)

    def start(self) -> threading.Thread:
        """Serve in a background thread; `shutdown()` stops it."""
        thread = threading.Thread(target=self.serve_forever, name="exporter", daemon=True)
        thread.start()
        return thread


def _shown_address(client_address: Any) -> str:
    """`127.0.0.1:51234` or `[::1]:51234`, as a log line names the client (and `url`
    the server)."""
    try:
        host, port = str(client_address[0]), client_address[1]
    except (TypeError, IndexError):
        return str(client_address)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class _Handler(BaseHTTPRequestHandler):
    server: ExporterServer
    server_version = "slawitness"
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    """Headers and body go out in two writes; with Nagle on, the body would wait ~40 ms
    for the client's delayed ACK on every keep-alive scrape."""

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a scrape every few seconds is not news."""

    def do_GET(self) -> None:
        self._admitted(self._answer)

    def do_POST(self) -> None:
        """Only the web view's forms post (its download buttons)."""
        self._admitted(self._form)

    def _admitted(self, answer: Callable[[], None]) -> None:
        with self.server.admitted() as admitted:
            if not admitted:
                self.close_connection = True
                self._reply(HTTPStatus.SERVICE_UNAVAILABLE, b"shutting down\n", "text/plain")
                return
            gate = self.server.auth
            if gate is not None and not gate.allows(self.headers.get("Authorization")):
                self._reply(
                    HTTPStatus.UNAUTHORIZED, b"Unauthorized\n", "text/plain", challenge_headers()
                )
                return
            answer()

    def _form(self) -> None:
        length = self.headers.get("Content-Length", "")
        if not length.isdigit() or int(length) > FORM_LIMIT:
            self.close_connection = True
            message = f"a form needs a Content-Length of at most {FORM_LIMIT} bytes\n"
            self._reply(HTTPStatus.BAD_REQUEST, message.encode(), "text/plain")
            return
        fields = parse_qs(self.rfile.read(int(length)).decode("utf-8", errors="replace"))
        page = self._page("POST", urlsplit(self.path).path, fields)
        if page is None:
            self._reply(HTTPStatus.NOT_FOUND, b"Not found\n", "text/plain")
        else:
            self._reply(page.status, page.body, page.content_type, page.headers)

    def _answer(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/metrics":
            self._metrics(self.server.metrics())
        elif url.path == "/probe":
            self._probe(parse_qs(url.query))
        elif (page := self._page("GET", url.path, parse_qs(url.query))) is not None:
            self._reply(page.status, page.body, page.content_type, page.headers)
        elif url.path == "/":
            self._reply(HTTPStatus.OK, _LANDING, "text/html; charset=utf-8")
        else:
            self._reply(HTTPStatus.NOT_FOUND, b"Not found\n", "text/plain")

    def _page(self, method: str, path: str, fields: Mapping[str, list[str]]) -> Page | None:
        pages = self.server.pages
        if pages is None:
            return None
        return pages(method, path, fields, self.headers.get("Accept-Language", ""))

    def _metrics(self, snapshot: Snapshot) -> None:
        body, content_type = render(metric_families(snapshot), self.headers.get("Accept", ""))
        self._reply(HTTPStatus.OK, body, content_type)

    def _probe(self, query: dict[str, list[str]]) -> None:
        runner = self.server.probe_runner
        target, probe = query.get("target", [""])[0], query.get("probe", [""])[0]
        if runner is None:
            self._reply(HTTPStatus.NOT_FOUND, b"/probe is not enabled here\n", "text/plain")
            return
        if not target or not probe:
            message = b"/probe needs ?target=NAME&probe=PROBE\n"
            self._reply(HTTPStatus.BAD_REQUEST, message, "text/plain")
            return
        try:
            snapshot = runner(target, probe)
        except LookupError as exc:
            self._reply(HTTPStatus.BAD_REQUEST, f"{exc.args[0]}\n".encode(), "text/plain")
            return
        except ProbeTooSoon as exc:  # nothing was probed or appended
            retry_after = {"Retry-After": str(exc.retry_after_s)}
            message = f"{exc}\n".encode()
            self._reply(HTTPStatus.TOO_MANY_REQUESTS, message, "text/plain", retry_after)
            return
        except StoreError as exc:  # the attempt could not be kept: Prometheus must see a failure
            message = f"evidence store: {exc}\n".encode()
            self._reply(HTTPStatus.SERVICE_UNAVAILABLE, message, "text/plain")
            return
        self._metrics(snapshot)

    def _reply(
        self,
        status: HTTPStatus,
        body: bytes,
        content_type: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in {**self.server.extra_headers, **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
