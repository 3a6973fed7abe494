"""The http probe's exchange: request, redirects, checks, phases and the error mapping.

Kept apart from the spec in `http_spec` so that loading a config never imports httpx; this
module is imported by the first http attempt of a run.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time

import httpx

from collector.config.secrets import redact
from collector.core.results import ErrorClass, JsonScalar, Result
from collector.probes.base import ProbeEnv
from collector.probes.http_client import (
    PhaseRecorder,
    PinMismatch,
    add_phases,
    read_body,
    shared_client,
)
from collector.probes.http_spec import HttpSpec
from collector.probes.net.resolve import ResolveError, resolve
from collector.probes.tcp import classify_os_error

MAX_REDIRECTS = 10

_HOP_KEYS = (
    "address",
    "ip_version",
    "status",
    "http_version",
    "content_length",
    "body_bytes",
    "tls",
    "tls_version",
    "cert_not_after_ns",
    "certs_not_after_ns",
    "chain_not_after_ns",
)
"""The `detail` keys each redirect hop sets afresh; the others (`redirects`,
`body_mismatch`, `tls_verify`) describe the whole attempt."""


class _Failed(Exception):
    """A response that arrived but is not the expected one."""

    def __init__(self, error: ErrorClass, message: str) -> None:
        super().__init__(message)
        self.error = error


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and its causes, outermost first (httpx wraps httpcore wraps OSError)."""
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in found:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def classify(exc: Exception, timeout: float) -> tuple[ErrorClass, str]:
    """The ErrorClass and message of a failed attempt: the one mapping from httpx's tree."""
    if isinstance(exc, _Failed):
        return exc.error, str(exc)
    if isinstance(exc, ResolveError):
        return ErrorClass.DNS, str(exc)
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return ErrorClass.TIMEOUT, f"no complete answer within {timeout:g}s"
    chain = _chain(exc)
    for cause in chain:
        if isinstance(cause, PinMismatch):
            return ErrorClass.TLS, str(cause)
        if isinstance(cause, ssl.SSLEOFError | ssl.SSLZeroReturnError):
            return ErrorClass.RESET, f"connection closed during TLS: {cause}"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return ErrorClass.TLS, f"certificate rejected: {cause.verify_message}"
        if isinstance(cause, ssl.SSLError):
            return ErrorClass.TLS, f"TLS failed: {cause.reason or cause}"
    for cause in chain:
        if isinstance(cause, OSError) and cause.errno is not None:
            return classify_os_error(cause), cause.strerror or str(cause)
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return ErrorClass.RESET, f"connection broken: {exc or type(exc).__name__}"
    if isinstance(exc, httpx.RemoteProtocolError) and "disconnected" in str(exc):
        return ErrorClass.RESET, str(exc)
    return ErrorClass.OTHER, f"{type(exc).__name__}: {exc}"


def _check(
    spec: HttpSpec,
    response: httpx.Response,
    body: bytes,
    too_big: bool,
    detail: dict[str, JsonScalar],
) -> None:
    """Raise _Failed unless status and body are what the spec expects.

    A body that lacks `expect_body` or does not match `expect_body_regex` also sets
    `body_mismatch` (blackbox_exporter's `probe_failed_due_to_regex`).
    """
    status = response.status_code
    if spec.expect_status is None and not 200 <= status <= 299:
        raise _Failed(ErrorClass.HTTP_STATUS, f"status {status}, expected 2xx")
    if spec.expect_status is not None and status not in spec.expect_status:
        raise _Failed(ErrorClass.HTTP_STATUS, f"status {status}, expected {spec.expect_status}")
    if too_big:
        raise _Failed(ErrorClass.CONTENT, f"body larger than {spec.max_body_bytes} bytes")
    text = body.decode(response.encoding or "utf-8", errors="replace")
    if spec.expect_body is not None and spec.expect_body not in text:
        detail["body_mismatch"] = True
        raise _Failed(ErrorClass.CONTENT, "body does not contain expect_body")
    if spec.expect_body_regex is not None and not re.search(spec.expect_body_regex, text):
        detail["body_mismatch"] = True
        raise _Failed(ErrorClass.CONTENT, "body does not match expect_body_regex")


async def _attempt(
    spec: HttpSpec,
    client: httpx.AsyncClient,
    phases: dict[str, int],
    detail: dict[str, JsonScalar],
) -> None:
    """Request, follow redirects if asked, check; fills phases and detail as it goes.

    Each hop reports its own address, response and TLS keys (`_HOP_KEYS`), so what a
    record keeps describes the final hop, as blackbox_exporter's series do. `tls` is
    whether that hop's response came over TLS (absent when none came: the series show
    0); `body_mismatch` is set by the body check.
    """
    url = httpx.URL(spec.url)
    origin = (url.scheme, url.raw_host, url.port)
    method = spec.method
    detail["body_mismatch"] = False
    for hop in range(MAX_REDIRECTS + 1):
        host = url.raw_host.decode("ascii")
        for stale in _HOP_KEYS:
            detail.pop(stale, None)  # a hop reports its own; no address yet: timeout is `dns`
        resolved = await resolve(host, spec.ip_version, spec.timeout)
        add_phases(phases, {"resolve": resolved.duration_ns})
        detail.update(resolved.evidence())
        same_origin = (url.scheme, url.raw_host, url.port) == origin
        headers = httpx.Headers({"Host": url.netloc.decode("ascii"), "Connection": "close"})
        headers["User-Agent"] = "slawitness"
        if same_origin:  # credentials never follow a redirect to another origin
            for name, value in spec.headers.items():
                headers[name] = value.reveal()
        auth = None
        if same_origin and spec.basic_auth is not None:
            auth = httpx.BasicAuth(spec.basic_auth.username, spec.basic_auth.password.reveal())
        recorder = PhaseRecorder(
            spec.tls_pin_sha256 if url.scheme == "https" else None,
            chain_verified=spec.tls_mode() == "verify",
        )
        if url.scheme == "https":
            detail["tls_verify"] = spec.tls_mode()
        request = client.build_request(
            method,
            url.copy_with(host=resolved.address),
            headers=headers,
            extensions={"trace": recorder, "sni_hostname": host},
            timeout=spec.timeout,
        )
        try:
            response = await client.send(request, stream=True, auth=auth)
            try:
                detail["status"] = response.status_code
                detail["http_version"] = response.http_version
                detail["content_length"] = _content_length(response)
                detail["tls"] = url.scheme == "https"
                location = response.headers.get("location")
                if spec.follow_redirects and response.is_redirect and location:
                    if hop == MAX_REDIRECTS:
                        raise _Failed(ErrorClass.OTHER, f"more than {MAX_REDIRECTS} redirects")
                    url = url.join(location)
                    if response.status_code == 303 or method == "POST":
                        method = "GET"
                    detail["redirects"] = hop + 1
                    continue
                body, too_big = await read_body(response, spec.max_body_bytes)
                recorder.body_done_ns = time.monotonic_ns()
                detail["body_bytes"] = len(body)
            finally:
                await response.aclose()
                detail.update(recorder.handshake())  # parsed now: not timed as the server's
        finally:
            add_phases(phases, recorder.phases())
        _check(spec, response, body, too_big, detail)
        return


def _content_length(response: httpx.Response) -> int:
    """The response's Content-Length header, -1 when it has none (as Go reports it)."""
    length = response.headers.get("content-length", "")
    return int(length) if length.isdigit() and len(length) <= 18 else -1


def _on_the_wire(phases: dict[str, int]) -> int:
    """Connect to last body byte, summed over redirect hops: the target's share of the time.

    Resolving is left out (the local resolver is not the target), and so is the
    interpreter's own start-up work between phases, which would bias every first attempt
    of a cron round.
    """
    return sum(value for name, value in phases.items() if name != "resolve")


async def probe(host: str, spec: HttpSpec, env: ProbeEnv) -> Result:
    """One request to `spec.url` within `spec.timeout`; never raises.

    `host` (the target's host) is not used: the URL names the host, and its own address
    is what gets resolved. The deadline bounds the whole attempt, redirects included.
    """
    phases: dict[str, int] = {}
    detail: dict[str, JsonScalar] = {}
    try:
        client = await shared_client(env, spec.tls_mode(), spec.tls_ca)
        async with asyncio.timeout(spec.timeout):
            await _attempt(spec, client, phases, detail)
    except Exception as exc:  # the probe boundary: a failure is data, never an exception
        error, message = classify(exc, spec.timeout)
        if error is ErrorClass.TIMEOUT and "address" not in detail:
            error, message = ErrorClass.DNS, f"no answer from the resolver within {spec.timeout:g}s"
        answered = "status" in detail and error in (ErrorClass.HTTP_STATUS, ErrorClass.CONTENT)
        latency = _on_the_wire(phases) if answered else None
        message = redact(message, spec.secrets())
        return Result.failure(error, message, phases_ns=phases, detail=detail, latency_ns=latency)
    return Result(ok=True, latency_ns=_on_the_wire(phases), phases_ns=phases, detail=detail)
