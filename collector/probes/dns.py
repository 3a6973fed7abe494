"""The dns probe: ask a given DNS server one question and check its answer.

For a rented DNS server (or a resolver the user relies on) being up means answering, with
the expected rcode, and with the expected data. Phases follow blackbox_exporter's DNS
prober: `resolve` (the server's own name, 0 for an address), `connect` (TCP only) and
`request`. `latency_ns` is connect plus request: the time spent talking to the server.

The UDP socket is connected, so an ICMP port-unreachable comes back as `refused` at once
instead of waiting out the deadline as `timeout`.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal

import dns.exception
import dns.name
import dns.rcode
import dns.rdatatype
from pydantic import Field, field_validator

from collector.core.results import ErrorClass, JsonScalar, Result
from collector.probes.base import ProbeEnv, ProbeSpec
from collector.probes.net.resolve import HostName, ResolveError, resolve
from collector.probes.series import KindSeries, RecordFields, Series, by_phase, counted, number
from collector.probes.tcp import classify_os_error

if TYPE_CHECKING:
    import dns.message

MAX_ANSWER_TEXT = 300


class DnsSpec(ProbeSpec):
    """A dns probe's config keys; names, types and rcodes are checked at load."""

    kind: Literal["dns"]
    """`dns`: one question to a DNS server."""
    query_name: str
    """The name to ask about, e.g. `example.com`."""
    query_type: str = "A"
    """The record type to ask for, e.g. `A`, `AAAA`, `MX` or `TXT` (any case). Default
    `A`."""
    server: HostName | None = None
    """The DNS server to ask: an address, or a name that is resolved first. Unset: the
    target's `host`."""
    port: int = Field(default=53, ge=1, le=65535, strict=True)
    """The DNS server's port. Default 53."""
    transport: Literal["udp", "tcp"] = "udp"
    """Whether the question goes over UDP or TCP. Default `udp`."""
    expect_rcode: str = "NOERROR"
    """The response code that counts as success, e.g. `NOERROR` or `NXDOMAIN` (any case);
    any other fails as `dns`. Default `NOERROR`."""
    expect_answer: str | None = None
    """Text that at least one answer record's data must contain; otherwise the attempt fails
    as `content`. Unset: any answer, even an empty one, is accepted."""

    @field_validator("query_name")
    @classmethod
    def _name(cls, value: str) -> str:
        try:
            dns.name.from_text(value)
        except dns.exception.DNSException as exc:
            raise ValueError(f"not a DNS name: {exc}") from None
        return value

    @field_validator("query_type")
    @classmethod
    def _type(cls, value: str) -> str:
        try:
            dns.rdatatype.from_text(value.upper())
        except dns.exception.DNSException:
            raise ValueError(f"unknown record type {value!r}") from None
        return value.upper()

    @field_validator("expect_rcode")
    @classmethod
    def _rcode(cls, value: str) -> str:
        try:
            dns.rcode.from_text(value.upper())
        except dns.exception.DNSException:
            raise ValueError(f"unknown rcode {value!r}") from None
        return value.upper()


def answer_texts(response: dns.message.Message) -> list[str]:
    """Every answer record's data as text, sorted within each record set.

    A record set is a set (dnspython does not keep the wire order), so sorting keeps the
    evidence the same for the same answer.
    """
    return [text for rrset in response.answer for text in sorted(r.to_text() for r in rrset)]


def section_counts(response: dns.message.Message, query_type: str) -> dict[str, JsonScalar]:
    """The answer's record counts per section, and for a SOA question the zone's serial.

    Counted as on the wire (records, not record sets; the additional section with its OPT
    and TSIG records), which is what blackbox_exporter's `probe_dns_*_rrs` show. A SOA
    question whose answer holds no SOA keeps `soa_serial: null`.
    """
    import dns.message

    counts: dict[str, JsonScalar] = {
        "answer_rrs": response.section_count(dns.message.ANSWER),
        "authority_rrs": response.section_count(dns.message.AUTHORITY),
        "additional_rrs": response.section_count(dns.message.ADDITIONAL),
    }
    if query_type == "SOA":
        soa = [r for rrset in response.answer if rrset.rdtype == dns.rdatatype.SOA for r in rrset]
        serials = [int(record.serial) for record in soa]
        counts["soa_serial"] = serials[-1] if serials else None  # the last, as blackbox
    return counts


async def _ask(
    spec: DnsSpec, address: str, family: int, query: dns.message.Message, phases: dict[str, int]
) -> dns.message.Message:
    """Send the query over a socket of our own, timing connect (TCP) and request."""
    import dns.asyncbackend  # the query machinery loads on first use, not with the config
    import dns.asyncquery

    backend = dns.asyncbackend.get_default_backend()
    kind = socket.SOCK_STREAM if spec.transport == "tcp" else socket.SOCK_DGRAM
    start = time.monotonic_ns()
    sock = await backend.make_socket(family, kind, 0, None, (address, spec.port))
    try:
        if spec.transport == "tcp":
            phases["connect"] = time.monotonic_ns() - start
            start = time.monotonic_ns()
            response = await dns.asyncquery.tcp(query, address, port=spec.port, sock=sock)
        else:
            response = await dns.asyncquery.udp(query, address, port=spec.port, sock=sock)
        phases["request"] = time.monotonic_ns() - start
    finally:
        await sock.close()
    return response


def _classify(exc: Exception) -> tuple[ErrorClass, str]:
    """The ErrorClass of a query that got no usable answer."""
    if isinstance(exc, ResolveError):
        return ErrorClass.DNS, str(exc)
    if isinstance(exc, TimeoutError | dns.exception.Timeout):
        return ErrorClass.TIMEOUT, "no answer from the DNS server"
    if isinstance(exc, OSError):
        return classify_os_error(exc), exc.strerror or str(exc)
    if isinstance(exc, EOFError):
        return ErrorClass.RESET, "the DNS server closed the connection without answering"
    if isinstance(exc, dns.exception.DNSException):
        return ErrorClass.DNS, f"bad answer: {exc}"
    return ErrorClass.OTHER, f"{type(exc).__name__}: {exc}"


async def probe(host: str, spec: DnsSpec, env: ProbeEnv) -> Result:
    """One query to `spec.server` (or `host`) within `spec.timeout`; never raises."""
    phases: dict[str, int] = {}
    detail: dict[str, JsonScalar] = {"port": spec.port, "transport": spec.transport}
    import dns.message

    query = dns.message.make_query(spec.query_name, spec.query_type)
    try:
        async with asyncio.timeout(spec.timeout):
            resolved = await resolve(spec.server or host, spec.ip_version, spec.timeout)
            phases["resolve"] = resolved.duration_ns
            detail.update(resolved.evidence())
            response = await _ask(spec, resolved.address, resolved.family, query, phases)
    except Exception as exc:  # the probe boundary: a failure is data, never an exception
        error, message = _classify(exc)
        if error is ErrorClass.TIMEOUT and "address" not in detail:
            error, message = (
                ErrorClass.DNS,
                f"no answer from the resolver for {spec.server or host}",
            )
        return Result.failure(error, message, phases_ns=phases, detail=detail)
    latency = phases.get("connect", 0) + phases["request"]
    rcode = dns.rcode.to_text(response.rcode())
    answers = answer_texts(response)
    detail["rcode"] = rcode
    detail["answers"] = ",".join(answers)[:MAX_ANSWER_TEXT]
    detail.update(section_counts(response, spec.query_type))
    if rcode != spec.expect_rcode:
        message = f"rcode {rcode}, expected {spec.expect_rcode}"
        return Result.failure(
            ErrorClass.DNS, message, phases_ns=phases, detail=detail, latency_ns=latency
        )
    if spec.expect_answer is not None and not any(spec.expect_answer in a for a in answers):
        message = f"no answer contains {spec.expect_answer!r}"
        return Result.failure(
            ErrorClass.CONTENT, message, phases_ns=phases, detail=detail, latency_ns=latency
        )
    return Result(ok=True, latency_ns=latency, phases_ns=phases, detail=detail)


DNS_PHASES = ("resolve", "connect", "request")

_DNS_COUNTS = (
    ("probe_dns_answer_rrs", "answer_rrs", "Records in the answer section."),
    ("probe_dns_authority_rrs", "authority_rrs", "Records in the authority section."),
    ("probe_dns_additional_rrs", "additional_rrs", "Records in the additional section."),
)


def _series(fields: RecordFields) -> Iterator[Series]:
    """blackbox's prober/dns.go series, as far as the record says them."""
    detail = fields.detail
    yield from by_phase(
        "probe_dns_duration_seconds", "DNS probe duration by phase.", fields.phases, DNS_PHASES
    )
    answered = isinstance(detail.get("rcode"), str)
    yield Series(
        "probe_dns_query_succeeded",
        "Whether the DNS server answered (whatever its rcode).",
        1.0 if answered else 0.0,
    )
    yield from counted(_DNS_COUNTS, detail, answered)
    if "soa_serial" in detail:
        yield Series(
            "probe_dns_serial",
            "Serial of the zone's SOA record (SOA questions only; 0: none in the answer).",
            number(detail["soa_serial"]) or 0.0,
        )


SERIES = KindSeries(
    frozenset({"probe_dns_duration_seconds", "probe_dns_query_succeeded", "probe_dns_serial"})
    | {name for name, _, _ in _DNS_COUNTS},
    _series,
)
"""The dns kind's own blackbox series (the registry's `ProbeKind.series`)."""
