"""ICMP echo probe: `count` echoes `spacing` apart, every RTT kept, loss in ppm.

The echoes go through the run's shared `IcmpEngine` (one socket per address family), which
matches every reply to the echo it answers; see `collector.probes.net.icmp_engine` for why
ping3's own `ping()` cannot be used concurrently. The mapping from what the network did to an
`ErrorClass` lives here, in `_classify`, and nowhere else.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import statistics
from collections.abc import Iterator
from typing import Literal

from pydantic import Field

from collector.core.results import ErrorClass, JsonScalar, Result
from collector.probes.base import Duration, ProbeEnv, ProbeSpec
from collector.probes.net.icmp_engine import EchoOutcome, EchoStatus, IcmpEngine
from collector.probes.net.resolve import ResolveError, resolve
from collector.probes.series import (
    KindSeries,
    RecordFields,
    Series,
    number,
    seconds_from_ns,
    when_known,
)

_UNREACHABLE_ERRNOS = frozenset({errno.ENETUNREACH, errno.EHOSTUNREACH})


class IcmpSpec(ProbeSpec):
    """An ICMP probe's config keys. `timeout` is per echo, not per attempt."""

    kind: Literal["icmp"]
    """`icmp`: ICMP echo requests (ping) to the host."""
    count: int = Field(default=3, ge=1, le=100, strict=True)
    """How many echo requests one attempt sends; the attempt succeeds when any is answered,
    and the share lost is recorded. Default 3."""
    spacing: Duration = 0.2
    """The pause between one attempt's echo requests. Default `200ms`."""
    payload_size: int = Field(default=56, ge=0, le=65000, strict=True)
    """Bytes of data in each echo request after its 8-byte header; 56, as ping sends, makes
    a 64-byte ICMP message. Default 56."""

    def attempt_budget(self) -> float:
        """The last echo leaves (count-1) x spacing after the first and may wait `timeout`."""
        return (self.count - 1) * self.spacing + self.timeout


async def _engine(env: ProbeEnv, family: int) -> IcmpEngine:
    """The run's engine for `family`, created on first use, paced at the run's rate."""

    async def start() -> IcmpEngine:
        return await IcmpEngine.start(family, env.icmp_rate)

    return await env.shared("icmp6" if family == socket.AF_INET6 else "icmp4", start)


async def probe(host: str, spec: IcmpSpec, env: ProbeEnv) -> Result:
    """Send `spec.count` echoes to `host`, `spec.spacing` apart, each waiting `spec.timeout`.

    ok when at least one echo was answered. `latency_ns` is the median of the received RTTs
    (one slow echo, say the first one waiting for ARP, does not move it, and it is what a
    "typical latency" argument with a provider refers to); `phases_ns` holds every RTT in
    send order with None for a lost echo. Never raises.
    """
    try:
        try:
            resolved = await resolve(host, spec.ip_version, spec.timeout)
        except ResolveError as exc:
            return Result.failure(ErrorClass.DNS, str(exc))
        except TimeoutError:
            return Result.failure(ErrorClass.DNS, f"resolving {host} timed out")
        engine = await _engine(env, resolved.family)
        echoes: list[asyncio.Task[EchoOutcome]] = []
        for index in range(spec.count):
            if index:
                await asyncio.sleep(spec.spacing)
            echoes.append(
                asyncio.create_task(engine.echo(resolved.address, spec.timeout, spec.payload_size))
            )
        outcomes = await asyncio.gather(*echoes)
        return _classify(outcomes, resolved.evidence())
    except Exception as exc:  # the probe boundary: a failure is data, never an exception
        return Result.failure(ErrorClass.OTHER, f"{type(exc).__name__}: {exc}")


def _classify(outcomes: list[EchoOutcome], where: dict[str, JsonScalar]) -> Result:
    """One Result from the echoes' outcomes; the only ErrorClass mapping of this kind."""
    rtts = [o.rtt_ns if o.status is EchoStatus.REPLY else None for o in outcomes]
    received = [rtt for rtt in rtts if rtt is not None]
    lost = len(outcomes) - len(received)
    loss_ppm = lost * 1_000_000 // len(outcomes)
    if received:
        return Result(
            ok=True,
            latency_ns=int(statistics.median(received)),
            phases_ns=rtts,
            loss_ppm=loss_ppm,
            detail=dict(where),
        )
    error, message = ErrorClass.TIMEOUT, f"no reply to {len(outcomes)} echo(es)"
    for outcome in outcomes:
        if outcome.status in (EchoStatus.UNREACHABLE, EchoStatus.TIME_EXCEEDED):
            error, message = ErrorClass.UNREACHABLE, outcome.message
            break
        if outcome.status is EchoStatus.SEND_FAILED:
            unreachable = outcome.errno in _UNREACHABLE_ERRNOS
            error = ErrorClass.UNREACHABLE if unreachable else ErrorClass.OTHER
            message = outcome.message
    return Result.failure(error, message, phases_ns=rtts, loss_ppm=loss_ppm, detail=where)


def _series(fields: RecordFields) -> Iterator[Series]:
    """Only blackbox's `rtt` phase: the probe does not time a `resolve` or `setup` phase
    of its own (the lookup is `probe_dns_lookup_time_seconds`); and the loss, which
    blackbox does not show, as a `slawitness_` series."""
    yield from when_known(
        "probe_icmp_duration_seconds",
        "ICMP round trip (phase rtt only: the median of the attempt's echoes).",
        seconds_from_ns(fields.record.get("latency_ns")),
        (("phase", "rtt"),),
    )
    loss = number(fields.record.get("loss_ppm"))
    yield from when_known(
        "slawitness_probe_loss_ratio",
        "Share of echoes lost in the latest attempt.",
        None if loss is None else loss / 1e6,
    )


SERIES = KindSeries(
    frozenset({"probe_icmp_duration_seconds", "slawitness_probe_loss_ratio"}), _series
)
"""The icmp kind's own blackbox series (the registry's `ProbeKind.series`)."""
