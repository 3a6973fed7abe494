"""The loopback rig's pytest fixtures: HTTP(S), TCP and DNS servers that fail on purpose.

The servers themselves are plain classes in tests/rig/loopback.py and tests/rig/dns_server.py;
this plugin starts them on port 0, builds the certificates (trustme), and tears all down.
"""

from __future__ import annotations

import datetime
import random
import ssl
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from tests.rig import rig_unavailable
from tests.rig.dns_server import DnsServer
from tests.rig.loopback import FullListener, HttpFaultServer, TcpListener


@dataclass(frozen=True)
class TlsFiles:
    """Certificates for the HTTPS faults; `ca_path` is the bundle a probe's tls_ca names."""

    ca_path: Path
    valid: ssl.SSLContext
    self_signed: ssl.SSLContext
    expired: ssl.SSLContext
    wrong_name: ssl.SSLContext
    valid_not_after: datetime.datetime
    expired_not_after: datetime.datetime
    self_signed_der: bytes


def _server_context(cert: trustme.LeafCert) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return context


def make_tls_files(folder: Path) -> TlsFiles:
    """A trusted CA with a valid, an expired and a wrong-name leaf, and a self-signed cert."""
    ca = trustme.CA()
    ca_path = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    valid_until = now + datetime.timedelta(days=30)
    expired_until = now - datetime.timedelta(days=1)
    valid = ca.issue_cert("localhost", "127.0.0.1", "::1", not_after=valid_until)
    expired = ca.issue_cert(
        "localhost",
        "127.0.0.1",
        "::1",
        not_before=now - datetime.timedelta(days=30),
        not_after=expired_until,
    )
    wrong = ca.issue_cert("elsewhere.example.test")
    stranger = trustme.CA()  # its own certificate is self-signed and trusted by nobody
    self_signed = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    stranger_cert, stranger_key = folder / "self.pem", folder / "self.key"
    stranger.cert_pem.write_to_path(str(stranger_cert))
    stranger.private_key_pem.write_to_path(str(stranger_key))
    self_signed.load_cert_chain(str(stranger_cert), str(stranger_key))
    return TlsFiles(
        ca_path=ca_path,
        valid=_server_context(valid),
        self_signed=self_signed,
        expired=_server_context(expired),
        wrong_name=_server_context(wrong),
        valid_not_after=valid_until,
        expired_not_after=expired_until,
        self_signed_der=ssl.PEM_cert_to_DER_cert(stranger.cert_pem.bytes().decode()),
    )


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """One set of certificates per session: issuing keys is the slow part of the rig."""
    return make_tls_files(tmp_path_factory.mktemp("tls"))


ServerFactory = Callable[..., HttpFaultServer]


@pytest.fixture
def http_servers() -> Iterator[ServerFactory]:
    """Start HttpFaultServer(host, ssl_context) on demand; all are stopped after the test."""
    started: list[HttpFaultServer] = []

    def start(
        host: str = "127.0.0.1", ssl_context: ssl.SSLContext | None = None
    ) -> HttpFaultServer:
        server = HttpFaultServer(host, ssl_context).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def http_server(http_servers: ServerFactory) -> HttpFaultServer:
    """A plain HTTP fault server on 127.0.0.1."""
    return http_servers()


@pytest.fixture
def https_server(http_servers: ServerFactory, tls_files: TlsFiles) -> HttpFaultServer:
    """An HTTPS fault server whose certificate the rig's CA (`tls_files.ca_path`) signed."""
    return http_servers(ssl_context=tls_files.valid)


@pytest.fixture
def tcp_listener() -> Iterator[TcpListener]:
    """A listener on 127.0.0.1 that counts the connections it accepts."""
    listener = TcpListener().start()
    yield listener
    listener.stop()


@pytest.fixture
def full_listener() -> Iterator[FullListener]:
    """A listener whose accept queue is full: connects to it time out."""
    listener = FullListener()
    yield listener
    listener.stop()


@pytest.fixture
def dns_server() -> Iterator[DnsServer]:
    """The small DNS server on 127.0.0.1 (UDP and TCP on the same port)."""
    server = DnsServer().start()
    yield server
    server.stop()


@pytest.fixture
def unreachable_address() -> Iterator[str]:
    """An IPv4 address behind an `unreachable` route: connects fail with EHOSTUNREACH.

    The kernel answers from its own routing table, so no packet is sent anywhere. The
    route is checked before the test runs (a connect without it would leave the machine)
    and removed afterwards.
    """
    address, problem = "", "ip(8) not found"
    for _ in range(5):
        candidate = f"10.239.{random.randrange(256)}.{random.randrange(1, 255)}"
        try:
            added = subprocess.run(
                ["ip", "route", "add", "unreachable", f"{candidate}/32"],
                capture_output=True,
                text=True,
                check=False,
            )
        except FileNotFoundError:
            break
        problem = added.stderr.strip()
        if added.returncode == 0:
            address = candidate
            break
    if not address:
        rig_unavailable(f"cannot add an unreachable route: {problem}")
    try:
        check = subprocess.run(
            ["ip", "route", "get", address], capture_output=True, text=True, check=False
        )
        blocked = "No route to host" in check.stderr or check.stdout.startswith("unreachable")
        assert blocked, f"route to {address} not blocked: {check.stdout}{check.stderr}"
        yield address
    finally:
        subprocess.run(
            ["ip", "route", "del", "unreachable", f"{address}/32"],
            check=False,
            capture_output=True,
        )
