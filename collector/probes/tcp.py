"""The tcp probe: can a connection to host:port be opened, and how fast.

The cheapest proof that a service port is up. The three ways it fails are kept apart
because a provider answers each differently: `refused` (the host is up and sent RST, the
service is down), `timeout` (nothing answered: host down, packets dropped, queue full) and
`unreachable` (a router or the local stack said there is no route).
"""

from __future__ import annotations

import asyncio
import errno
import time
from typing import Literal

from pydantic import Field

from collector.core.results import ErrorClass, JsonScalar, Result
from collector.probes.base import ProbeEnv, ProbeSpec
from collector.probes.net.resolve import ResolveError, resolve

UNREACHABLE_ERRNOS = frozenset({errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EHOSTDOWN})
"""Connect errors that mean "no route", shared with the http probe's error mapping."""


class TcpSpec(ProbeSpec):
    """A tcp probe's config keys."""

    kind: Literal["tcp"]
    """`tcp`: open a TCP connection to the host."""
    port: int = Field(ge=1, le=65535, strict=True)
    """The TCP port to connect to; the attempt succeeds once the connection is open, and
    closes it at once."""


def classify_os_error(exc: OSError) -> ErrorClass:
    """The error class of a socket error raised while connecting or exchanging data."""
    if isinstance(exc, ConnectionRefusedError) or exc.errno == errno.ECONNREFUSED:
        return ErrorClass.REFUSED
    if isinstance(exc, ConnectionResetError | ConnectionAbortedError | BrokenPipeError):
        return ErrorClass.RESET
    if exc.errno in UNREACHABLE_ERRNOS:
        return ErrorClass.UNREACHABLE
    if isinstance(exc, TimeoutError) or exc.errno == errno.ETIMEDOUT:
        return ErrorClass.TIMEOUT
    return ErrorClass.OTHER


async def _connect(address: str, port: int) -> None:
    """Open and close one connection; closing without waiting keeps the deadline honest."""
    _reader, writer = await asyncio.open_connection(address, port)
    writer.close()


async def probe(host: str, spec: TcpSpec, env: ProbeEnv) -> Result:
    """One connect attempt to `host:spec.port` within `spec.timeout`; never raises.

    The deadline bounds resolving and connecting together. `latency_ns` is the connect
    time alone: the local resolver's speed is not the target's.
    """
    phases: dict[str, int] = {}
    detail: dict[str, JsonScalar] = {"port": spec.port}
    try:
        async with asyncio.timeout(spec.timeout):
            try:
                resolved = await resolve(host, spec.ip_version, spec.timeout)
            except TimeoutError:
                raise ResolveError(f"no answer from the resolver for {host}") from None
            phases["resolve"] = resolved.duration_ns
            detail.update(resolved.evidence())
            start = time.monotonic_ns()
            await _connect(resolved.address, spec.port)
            phases["connect"] = time.monotonic_ns() - start
    except ResolveError as exc:
        return Result.failure(ErrorClass.DNS, str(exc), phases_ns=phases, detail=detail)
    except TimeoutError:
        if "address" not in detail:
            message = f"no answer from the resolver for {host} within {spec.timeout:g}s"
            return Result.failure(ErrorClass.DNS, message, phases_ns=phases, detail=detail)
        message = f"no connection within {spec.timeout:g}s"
        return Result.failure(ErrorClass.TIMEOUT, message, phases_ns=phases, detail=detail)
    except OSError as exc:
        return Result.failure(
            classify_os_error(exc), exc.strerror or str(exc), phases_ns=phases, detail=detail
        )
    except Exception as exc:  # the probe boundary: a failure is data, never an exception
        return Result.failure(
            ErrorClass.OTHER, f"{type(exc).__name__}: {exc}", phases_ns=phases, detail=detail
        )
    return Result(ok=True, latency_ns=phases["connect"], phases_ns=phases, detail=detail)
