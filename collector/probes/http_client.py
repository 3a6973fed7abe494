"""The http probe's machinery: one shared client per TLS setting, phase timing, the certs.

Kept apart from the config keys (`http_spec`) and the attempt with its error mapping
(`http_exchange`) so that each stays readable.

Why a shared client that never reuses a connection: building an SSLContext loads the CA
store (tens of milliseconds), so a run builds one per distinct TLS setting; but a pooled
keep-alive connection would hide a failed connect (the attempt rides an old connection) or
fake a failure (the server already dropped the idle connection). With no keep-alive slots
and `Connection: close`, every attempt opens, times and closes its own connection.
"""

from __future__ import annotations

import hashlib
import ssl
import time
from typing import Any

import httpx

from collector.core.results import JsonScalar
from collector.portable.errors import SlawitnessError
from collector.probes.base import ProbeEnv
from collector.probes.http_network import ProbeTransport
from collector.probes.http_spec import TlsMode

MAX_NS = 2**63 - 1
"""Expiry dates past 2262 (self-signed certs valid "forever") are clamped to fit SQLite."""


class PinMismatch(SlawitnessError):
    """The server's leaf certificate is not the pinned one (the http probe maps it to `tls`)."""


def _ssl_context(mode: TlsMode, ca_file: str | None) -> ssl.SSLContext:
    """`verify`: the system store, or only `ca_file` when given; otherwise no chain check.

    In `pin` mode the chain is not checked because the pin, compared before any request
    byte is sent, is the stronger proof (it is how self-signed servers are probed).
    """
    if mode == "verify":
        return ssl.create_default_context(cafile=ca_file)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def shared_client(env: ProbeEnv, mode: TlsMode, ca_file: str | None) -> httpx.AsyncClient:
    """The run's client for this TLS setting: no keep-alive, no proxies or netrc from the env,
    sockets from asyncio (`http_network`)."""

    async def build() -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=ProbeTransport(_ssl_context(mode, ca_file)),
            trust_env=False,
            follow_redirects=False,
        )

    return await env.shared(f"http.client:{mode}:{ca_file or ''}", build)


def _der_not_after_ns(der: bytes) -> int | None:
    """One certificate's expiry in integer ns since the epoch, None if it does not parse.

    The stdlib parses a peer certificate only once it is verified, so every certificate
    (verified or not: skip and pin modes too) is parsed with `cryptography`, imported
    here so that a round of plain-http probes does not pay the ~50 ms it takes to load.
    """
    from cryptography import x509

    try:
        certificate = x509.load_der_x509_certificate(der)
    except ValueError:
        return None
    return min(int(certificate.not_valid_after_utc.timestamp()) * 1_000_000_000, MAX_NS)


def _chain_der(ssl_object: ssl.SSLObject, which: str) -> list[bytes]:
    """The peer's certificates as DER: `get_unverified_chain` (as sent) or
    `get_verified_chain` (as OpenSSL built it up to a trusted root).

    Python 3.13 made both public (returning DER); 3.10 to 3.12 have them on the private
    `_sslobj`, returning certificate objects. Empty when neither exists.
    """
    public = getattr(ssl_object, which, None)
    private = getattr(getattr(ssl_object, "_sslobj", None), which, None)
    try:
        if public is not None:
            return [bytes(cert) for cert in public() or []]
        if private is not None:
            der = ssl._ssl.ENCODING_DER  # type: ignore[attr-defined]
            return [cert.public_bytes(der) for cert in private() or []]
    except (ssl.SSLError, ValueError):  # never fail the request over what it only notes
        pass
    return []


class PhaseRecorder:
    """The httpcore `trace` callback of one request: event times, the certificates, the pin.

    The pin is checked when the TLS handshake completes, before the request (and with it
    any secret header) is sent to a server that is not the pinned one. Nothing else is
    done there: the certificates are only kept as DER and parsed by `handshake()` once
    the response is closed, so parsing them is not timed as the server's `processing`.
    """

    def __init__(self, pin: str | None, chain_verified: bool = False) -> None:
        self.pin = pin
        self.chain_verified = chain_verified
        self.marks: dict[str, int] = {}
        self.body_done_ns: int | None = None
        self.tls_version: str | None = None
        self.leaf_der: bytes | None = None
        self.sent_der: list[bytes] = []
        self.verified_der: list[bytes] = []

    async def __call__(self, event: str, info: dict[str, Any]) -> None:
        self.marks[event] = time.monotonic_ns()
        if event != "connection.start_tls.complete":
            return
        stream = info.get("return_value")
        if stream is None:
            return
        ssl_object = stream.get_extra_info("ssl_object")
        if ssl_object is None:
            return
        der = ssl_object.getpeercert(binary_form=True) or b""
        if self.pin is not None and hashlib.sha256(der).hexdigest() != self.pin:
            await stream.aclose()
            raise PinMismatch("the server's certificate does not match tls_pin_sha256")
        self.leaf_der = der
        self.tls_version = ssl_object.version()
        self.sent_der = _chain_der(ssl_object, "get_unverified_chain")
        if self.chain_verified:
            self.verified_der = _chain_der(ssl_object, "get_verified_chain")

    def handshake(self) -> dict[str, JsonScalar]:
        """What the handshake showed, as `detail` keys: the TLS version as OpenSSL names
        it, the leaf certificate's expiry, the earliest expiry among the certificates sent
        and, when the chain was verified, the earliest in the verified chain.

        `certs_not_after_ns` is blackbox_exporter's `probe_ssl_earliest_cert_expiry` and
        `chain_not_after_ns` its `probe_ssl_last_chain_expiry_timestamp_seconds` (OpenSSL
        builds one chain; Go may build several and takes the latest). Each distinct
        certificate is parsed once: the leaf is also the first one sent and verified.
        """
        if self.leaf_der is None:
            return {}
        expiries: dict[bytes, int | None] = {}

        def expiry(der: bytes) -> int | None:
            if der not in expiries:
                expiries[der] = _der_not_after_ns(der)
            return expiries[der]

        def earliest(chain: list[bytes]) -> int | None:
            return min((e for e in map(expiry, chain) if e is not None), default=None)

        facts: dict[str, JsonScalar] = {}
        if self.tls_version is not None:
            facts["tls_version"] = self.tls_version
        leaf = expiry(self.leaf_der)
        if leaf is not None:
            facts["cert_not_after_ns"] = leaf
        sent = earliest(self.sent_der)
        if sent is not None:
            facts["certs_not_after_ns"] = sent
        chain = earliest(self.verified_der)
        if chain is not None:
            facts["chain_not_after_ns"] = chain
        return facts

    def phases(self) -> dict[str, int]:
        """connect/tls/processing/transfer in ns, as far as the request got."""
        marks, phases = self.marks, {}
        connected = marks.get("connection.connect_tcp.complete")
        if connected is not None:
            phases["connect"] = connected - marks["connection.connect_tcp.started"]
        tls_done = marks.get("connection.start_tls.complete")
        if tls_done is not None:
            phases["tls"] = tls_done - marks["connection.start_tls.started"]
        ready = tls_done or connected
        headers = marks.get("http11.receive_response_headers.complete")
        if ready is not None and headers is not None:
            phases["processing"] = headers - ready
            if self.body_done_ns is not None:
                phases["transfer"] = self.body_done_ns - headers
        return phases


def add_phases(total: dict[str, int], more: dict[str, int]) -> None:
    """Add one hop's phases to the attempt's (redirects add up, as in blackbox_exporter)."""
    for name, value in more.items():
        total[name] = total.get(name, 0) + value


async def read_body(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """At most `limit` bytes of the body, and whether there was more."""
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        return b"", True
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            return bytes(body[:limit]), True
    return bytes(body), False
