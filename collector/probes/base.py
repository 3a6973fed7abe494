"""What every probe kind shares: its config fields, its signature, and the run's resources.

Like blackbox_exporter's probers, every kind is one module exposing a spec model (its config
keys) and `async def probe(host, spec, env) -> Result`. One attempt, no hidden retries, the
deadline taken from the spec; a probe never raises.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Protocol, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from collector.core.durations import format_duration, parse_duration
from collector.core.results import Result
from collector.probes.net.send_pacing import DEFAULT_ICMP_RATE

DEFAULT_INTERVAL_S = 60.0
"""A probe's `interval` when the config gives none; `collector.proving.record_dates` also takes
it as the longest attempt of a store read without its config (a timeout is shorter)."""
DEADLINE_GRACE_S = 1.0
"""Beyond a probe's own budget before the scheduler cuts it off as a timeout (and so part of
how late `collector.proving.record_dates` lets a record be stored)."""

Duration = Annotated[float, BeforeValidator(parse_duration)]
"""Seconds, written in the config as `30s`, `5m`, `250ms`."""
PositiveDuration = Annotated[Duration, Field(gt=0)]
"""A duration something waits for or repeats at: `0s` would spin or never wait."""


def _ip_version_text(value: object) -> object:
    """YAML reads `ip_version: 4` as an integer; the config means the string."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class ProbeSpec(BaseModel):
    """Keys every probe accepts.

    Subclasses add their own and fix `kind` to a literal.
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, use_attribute_docstrings=True, allow_inf_nan=False
    )

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    """The probe's name in records and reports, and in an SLA's `downtime.probes`; unique
    within its host."""
    kind: str
    """Which kind of probe this is; it decides which further keys the entry takes."""
    interval: Duration = DEFAULT_INTERVAL_S
    """How often the probe runs; each record stands for one interval. Default `60s`."""
    timeout: Duration = 5.0
    """How long one attempt may wait before it is recorded as failed, less than `interval`;
    for icmp it is each echo's wait, and all the echoes must fit in `interval`. Default `5s`."""
    ip_version: Annotated[Literal["auto", "4", "6"], BeforeValidator(_ip_version_text)] = "auto"
    """The address family to probe over: `auto` (the system's preferred address for a name),
    `4` or `6`. Default `auto`."""
    prometheus: str | None = None
    """A PromQL selector of this probe's one series in an existing Prometheus, e.g.
    `probe_success{job="blackbox",instance="..."}`, read by `report --prometheus`. Unset: not
    read from Prometheus."""

    @model_validator(mode="after")
    def _timeout_fits_interval(self) -> ProbeSpec:
        if self.timeout <= 0:
            raise ValueError("timeout: must be positive")
        if self.interval <= 0:
            raise ValueError("interval: must be positive")
        if self.attempt_budget() >= self.interval:
            raise ValueError(
                f"timeout: must be shorter than interval (got "
                f"{format_duration(self.attempt_budget())} >= {format_duration(self.interval)})"
            )
        return self

    def attempt_budget(self) -> float:
        """The longest one attempt may take; kinds with several exchanges override it."""
        return self.timeout


_R = TypeVar("_R")


class Closeable(Protocol):
    async def aclose(self) -> None: ...


_C = TypeVar("_C", bound=Closeable)


@dataclass
class ProbeEnv:
    """Resources shared by the probes of one run (a cron round or the daemon's lifetime).

    A kind asks for what it shares (one ICMP socket, one SSL context) by key; the env
    creates it once and closes it when the run ends. Adding a kind never touches this class.
    """

    icmp_rate: int = DEFAULT_ICMP_RATE
    """Echo requests a second the run's ICMP engines send at most (`probing.icmp_rate`)."""

    def __post_init__(self) -> None:
        self._resources: dict[str, Any] = {}
        self._lock = asyncio.Lock()

    async def shared(self, key: str, factory: Callable[[], Awaitable[_C]]) -> _C:
        """The run's one instance of a resource, created on first use."""
        async with self._lock:
            if key not in self._resources:
                self._resources[key] = await factory()
            resource: _C = self._resources[key]
            return resource

    async def aclose(self) -> None:
        """Close every resource; a failure to close one never stops the others."""
        resources, self._resources = self._resources, {}
        for resource in resources.values():
            with contextlib.suppress(Exception):
                await resource.aclose()


ProbeFunction = Callable[[str, Any, ProbeEnv], Awaitable[Result]]
