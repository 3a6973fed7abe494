"""Running probes: one attempt with its deadline enforced, and a round of many at once.

The scheduler is the probe boundary. A probe is written never to raise, but an evidence tool
cannot rely on that: whatever escapes, or overruns its deadline, is turned into a Result
here, so one broken probe never costs another target's record.

An attempt's deadline is the target's time, not the collector's: it does not run while the
attempt waits for the concurrency gate (taken before the attempt starts) or for its first
paced ICMP send (`HeldDeadline`). Once something of the attempt is on the wire it runs, so an
attempt still never outlives its budget by more than the grace from then.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from collector.config.model import Config, Control, Target
from collector.config.secrets import Secret
from collector.core.results import ErrorClass, Result
from collector.evidence.records import ProbeIdentity, Stamp, probe_record
from collector.portable.errors import UsageError
from collector.probes import KINDS, ProbeEnv, ProbeSpec
from collector.probes.base import DEADLINE_GRACE_S
from collector.probes.net.send_pacing import DEFAULT_ICMP_RATE, turn_watcher

DEFAULT_CONCURRENCY = 512


@dataclass(frozen=True)
class Job:
    """One probe of one host: the unit the scheduler runs."""

    host: Target | Control
    spec: ProbeSpec

    def identity(self, vantage: str) -> ProbeIdentity:
        return ProbeIdentity(
            vantage=vantage,
            target=self.host.name,
            probe=self.spec.name,
            kind=self.spec.kind,
            role=self.host.role,
        )


@dataclass(frozen=True)
class Attempt:
    """A job's attempt: when it started and what it observed."""

    job: Job
    stamp: Stamp
    result: Result
    duration_ns: int

    def record(self, vantage: str, secrets: Iterable[Secret] = ()) -> dict[str, object]:
        identity = self.job.identity(vantage)
        return probe_record(identity, self.stamp, self.result, self.duration_ns, secrets)


class UnknownTarget(ValueError, UsageError):
    """`--target` named a host the config does not have."""


class HeldDeadline:
    """An attempt's deadline, held while its first send waits for a pacing turn.

    In a round of 10,000 targets, an echo may queue behind hundreds of paced sends; were that
    wait counted, an answering target would be cut off and recorded as a timeout. The clock
    stops when the first send starts waiting and restarts, with what was left, when that turn
    is over. Later sends of the same attempt (its second echo, say) no longer hold it: by then
    the attempt is on the wire and the grace covers their queueing.
    """

    def __init__(self, deadline: asyncio.Timeout) -> None:
        self._deadline = deadline
        self._left: float | None = None
        self._started = False

    def waiting(self) -> None:
        when = self._deadline.when()
        if self._started or self._left is not None or when is None:
            return
        self._left = when - asyncio.get_running_loop().time()
        self._deadline.reschedule(None)

    def done(self) -> None:
        if self._started or self._left is None:
            return
        self._started = True
        self._deadline.reschedule(asyncio.get_running_loop().time() + self._left)


def jobs_for(config: Config, target: str | None = None) -> list[Job]:
    """Every probe of every host, or of one named host."""
    hosts = config.hosts()
    if target is not None:
        hosts = [h for h in hosts if h.name == target]
        if not hosts:
            known = ", ".join(h.name for h in config.hosts())
            raise UnknownTarget(f"no target or control named {target!r} (known: {known})")
    return [Job(host, spec) for host in hosts for spec in host.probes]


async def attempt(job: Job, env: ProbeEnv) -> Attempt:
    """Run one attempt; never raises, never outlives its budget by more than the grace."""
    stamp = Stamp.now()
    probe = KINDS[job.spec.kind].probe
    try:
        async with asyncio.timeout(job.spec.attempt_budget() + DEADLINE_GRACE_S) as deadline:
            watching = turn_watcher.set(HeldDeadline(deadline))
            try:
                result = await probe(job.host.host, job.spec, env)
            finally:
                turn_watcher.reset(watching)
    except TimeoutError:
        result = Result.failure(ErrorClass.TIMEOUT, "attempt overran its deadline")
    except Exception as exc:  # the probe boundary: a bug in a probe is still recorded
        result = Result.failure(ErrorClass.OTHER, f"probe failed: {type(exc).__name__}: {exc}")
    duration_ns = time.clock_gettime_ns(time.CLOCK_BOOTTIME) - stamp.mono_ns
    return Attempt(job, stamp, result, duration_ns)


async def run_round(
    jobs: Sequence[Job], env: ProbeEnv, concurrency: int = DEFAULT_CONCURRENCY
) -> list[Attempt]:
    """Every job once, concurrently; the round lasts about as long as its slowest probe."""
    gate = asyncio.Semaphore(concurrency)

    async def gated(job: Job) -> Attempt:
        async with gate:
            return await attempt(job, env)

    return list(await asyncio.gather(*(gated(job) for job in jobs)))


async def run_round_once(
    jobs: Sequence[Job],
    concurrency: int = DEFAULT_CONCURRENCY,
    icmp_rate: int = DEFAULT_ICMP_RATE,
) -> list[Attempt]:
    """A round with its own resources (one ICMP socket, one TLS set-up), closed afterwards;
    its echo requests leave at most `icmp_rate` a second (`probing.icmp_rate`)."""
    env = ProbeEnv(icmp_rate=icmp_rate)
    try:
        return await run_round(jobs, env, concurrency)
    finally:
        await env.aclose()
