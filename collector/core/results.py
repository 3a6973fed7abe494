"""What one probe attempt observed.

A failed target is data, not an exception: every probe returns a `Result`, and every way a
target can fail is one `ErrorClass`. The classes are kept apart because a provider argues
about each differently ("refused" means the host answered; "timeout" means it did not)::

    ErrorClass
    ├── timeout      no answer within the deadline (packets dropped, host silent, hang)
    ├── refused      the host answered with RST / port unreachable
    ├── unreachable  a router said there is no route (ICMP unreachable, ENETUNREACH)
    ├── dns          the name did not resolve, or the DNS server answered badly
    ├── tls          handshake failed: bad, expired, self-signed or mismatched certificate
    ├── http_status  the server answered with a status code that was not expected
    ├── content      the body did not contain what was expected, or was too large
    ├── reset        the connection was reset or closed mid-exchange
    └── other        anything else (recorded with its message, never raised)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

JsonScalar = str | int | bool | None
"""Values allowed in a record's `detail`: the hashed bytes never contain floats."""


class ErrorClass(StrEnum):
    """Why an attempt failed; the string values are part of the record format."""

    TIMEOUT = "timeout"
    REFUSED = "refused"
    UNREACHABLE = "unreachable"
    DNS = "dns"
    TLS = "tls"
    HTTP_STATUS = "http_status"
    CONTENT = "content"
    RESET = "reset"
    OTHER = "other"


@dataclass(frozen=True)
class Result:
    """One attempt's outcome, in integer nanoseconds so it can be hashed exactly.

    `phases_ns` holds named phases for HTTP and DNS (blackbox_exporter's names) and, for
    ICMP, the list of every echo's RTT in send order with `None` for a lost echo.
    `detail` carries the status code, resolved address, certificate expiry and a short
    message; it must never contain a secret.
    """

    ok: bool
    latency_ns: int | None = None
    error: ErrorClass | None = None
    phases_ns: dict[str, int] | list[int | None] | None = None
    loss_ppm: int | None = None
    detail: dict[str, JsonScalar] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.ok and self.error is not None:
            raise ValueError("a successful result cannot carry an error class")
        if not self.ok and self.error is None:
            raise ValueError("a failed result needs an error class")

    @classmethod
    def failure(
        cls,
        error: ErrorClass,
        message: str,
        *,
        latency_ns: int | None = None,
        phases_ns: dict[str, int] | list[int | None] | None = None,
        loss_ppm: int | None = None,
        detail: Mapping[str, JsonScalar] | None = None,
        **more_detail: JsonScalar,
    ) -> Result:
        """A failed attempt with a short human-readable message.

        `detail` takes what a probe built up during the attempt (address, status), so a
        failure keeps what was observed before it failed.
        """
        return cls(
            ok=False,
            error=error,
            latency_ns=latency_ns,
            phases_ns=phases_ns,
            loss_ppm=loss_ppm,
            detail={"message": message[:300], **(detail or {}), **more_detail},
        )
