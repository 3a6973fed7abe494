"""The http probe: one request on a fresh connection, timed by phase, checked, never raised.

The name is resolved here (timed, the `resolve` phase) and the connection goes to that
address, while the Host header and TLS's SNI and name check keep the URL's host name.
Phases follow blackbox_exporter: resolve, connect, tls, processing, transfer. The whole
attempt, redirects included, is bounded by `timeout`.

The kind is four modules that import in one direction: `http_spec` holds the config keys
and is read by all; `http_client` (the shared client, phase timing, certificates) and
`http_exchange` (the attempt and `classify`, the one place that knows httpx's exception
tree) need httpx, so the exchange is imported on the first attempt and a cron round
without http probes never loads httpx. This module is what the registry sees: the spec,
the probe, and the blackbox series its records show. Header values and the basic-auth
password are secrets: sent to the target only, and scrubbed from any message kept in the
Result.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from collector.core.results import Result
from collector.probes.base import ProbeEnv
from collector.probes.http_spec import BasicAuth, HttpSpec, TlsMode
from collector.probes.series import (
    KindSeries,
    RecordFields,
    Series,
    by_phase,
    counted,
    number,
    seconds_from_ns,
    when_known,
)

__all__ = ["SERIES", "BasicAuth", "HttpSpec", "TlsMode", "probe"]


async def probe(host: str, spec: HttpSpec, env: ProbeEnv) -> Result:
    """One request to `spec.url` within `spec.timeout`; never raises (see `http_exchange`)."""
    from collector.probes import http_exchange  # httpx loads with the first http attempt

    return await http_exchange.probe(host, spec, env)


HTTP_PHASES = ("resolve", "connect", "tls", "processing", "transfer")

TLS_VERSION_NAMES = {
    "TLSv1": "TLS 1.0",
    "TLSv1.1": "TLS 1.1",
    "TLSv1.2": "TLS 1.2",
    "TLSv1.3": "TLS 1.3",
}
"""OpenSSL's names for the protocol versions (kept in `detail.tls_version`), as blackbox
writes them in `probe_tls_version_info{version}`; any other is `unknown`, as there."""


def _http_version(text: object) -> float:
    """`HTTP/1.1` -> 1.1, `HTTP/2` -> 2.0; 0 when unreadable (blackbox's value then)."""
    try:
        return float(str(text).removeprefix("HTTP/"))
    except ValueError:
        return 0.0


def _series(fields: RecordFields) -> Iterator[Series]:
    """blackbox's prober/http.go series, as far as the record says them."""
    detail = fields.detail
    status = number(detail.get("status"))
    answered = status is not None
    yield Series("probe_http_status_code", "Response HTTP status code (0: none).", status or 0.0)
    yield from by_phase(
        "probe_http_duration_seconds",
        "Duration of the HTTP request by phase, summed over redirects.",
        fields.phases,
        HTTP_PHASES,
    )
    yield Series(
        "probe_http_version",
        "HTTP version of the final response (1.1, 2; 0: no response).",
        _http_version(detail.get("http_version")) if answered else 0.0,
    )
    yield from counted(_HTTP_LENGTHS, detail, answered)
    yield Series(
        "probe_http_redirects", "Redirects followed.", number(detail.get("redirects")) or 0.0
    )
    tls = detail.get("tls")
    if isinstance(tls, bool) or not answered:
        yield Series(
            "probe_http_ssl",
            "Whether the final response came over TLS.",
            1.0 if tls is True else 0.0,
        )
    mismatch = detail.get("body_mismatch")
    if isinstance(mismatch, bool) or fields.record.get("error") != "content":
        yield Series(
            "probe_failed_due_to_regex",
            "Whether the body lacked expect_body or did not match expect_body_regex.",
            1.0 if mismatch is True else 0.0,
        )
    yield from _tls(detail)


_HTTP_LENGTHS = (
    ("probe_http_content_length", "content_length",
     "Content-Length of the final response in bytes (-1: none sent; 0: no response)."),
    ("probe_http_uncompressed_body_length", "body_bytes",
     "Bytes of the final response's body read, decompressed (at most max_body_bytes)."),
)  # fmt: skip


def _tls(detail: Mapping[str, object]) -> Iterator[Series]:
    """blackbox's prober/tls.go series: the certificates' expiry and the TLS version."""
    yield from when_known(
        "probe_ssl_earliest_cert_expiry",
        "Earliest expiry among the certificates the server sent, unix seconds.",
        seconds_from_ns(detail.get("certs_not_after_ns", detail.get("cert_not_after_ns"))),
    )
    yield from when_known(
        "probe_ssl_last_chain_expiry_timestamp_seconds",
        "Earliest expiry in the verified certificate chain, unix seconds.",
        seconds_from_ns(detail.get("chain_not_after_ns")),
    )
    version = detail.get("tls_version")
    if detail.get("tls") is True and isinstance(version, str):
        yield Series(
            "probe_tls_version_info",
            "The TLS version of the final response.",
            1.0,
            (("version", TLS_VERSION_NAMES.get(version, "unknown")),),
        )


SERIES = KindSeries(
    frozenset(
        {
            "probe_http_status_code",
            "probe_http_duration_seconds",
            "probe_http_version",
            "probe_http_ssl",
            "probe_http_content_length",
            "probe_http_uncompressed_body_length",
            "probe_http_redirects",
            "probe_failed_due_to_regex",
            "probe_ssl_earliest_cert_expiry",
            "probe_ssl_last_chain_expiry_timestamp_seconds",
            "probe_tls_version_info",
        }
    ),
    _series,
)
"""The http kind's own blackbox series (the registry's `ProbeKind.series`)."""
