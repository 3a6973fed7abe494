"""`slawitness run`: every probe at its own interval, batched appends, start/stop/heartbeats.

Each probe keeps its own schedule, anchored to the monotonic clock so it never drifts, on the
slots its identity's hash fixes within its interval (`collector.running.phase`), so the
probes are spread evenly over the interval and a restart does not move them. Records are
appended about once a second in one transaction, off the event loop. When the store cannot
take a batch (disk full, locked for too long), the batch is kept and retried: a probe that
ran is never silently dropped. The start, stop and heartbeat records let a report tell
"collector not running" apart from "host up" or "host down". After each batch lands it takes
the steps a cron round takes (`collector.running.round`), spread out so that no probe waits,
and compacts settled records from a thread of its own (`collector.evidence.compaction_runs`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from collector.alerts.notify import PeriodEvents, notify_later
from collector.config.model import Config
from collector.diagnostics.claims import claim_due
from collector.diagnostics.queue import DiagnosisQueue
from collector.evidence.ballast import full_since, resumed
from collector.evidence.compaction_runs import compact_in_background
from collector.evidence.records import Stamp, collector_record
from collector.evidence.store import EvidenceStore
from collector.evidence.store_errors import StoreError, StoreFull
from collector.portable.signed_note import SigningKey
from collector.probes import ProbeEnv
from collector.probes.base import DEADLINE_GRACE_S
from collector.proving import checkpoints
from collector.proving.record_dates import FLUSH_INTERVAL_S
from collector.running.observer import RunObserver
from collector.running.phase import wait_for_slot_s
from collector.running.round import Stored, failing_attempts, seal_when_due, stored_pairs
from collector.running.scheduler import Job, attempt

Exporter = Callable[[asyncio.AbstractEventLoop, ProbeEnv], Callable[[], None]]
"""Starts an exporter beside the daemon (given its loop and probe resources); returns its stop."""

_LOG = logging.getLogger("slawitness.run")

STOP_GRACE_S = 4.0
"""How long a stop waits for the attempts under way to end (a silent target's timeout);
any still running then are cancelled, unrecorded. systemd allows 90 s for the whole stop."""


@dataclass
class DaemonSettings:
    """Knobs of the daemon loop; the defaults suit a collector running for months."""

    flush_interval_s: float = FLUSH_INTERVAL_S
    heartbeat_interval_s: float = 60.0
    start_at_once: bool = False
    """Run every probe's first attempt at start instead of at its phase slot (the demo,
    which lasts seconds); later attempts keep the interval from there."""
    run_for_s: float | None = None
    """Stop by itself after this long (the demo); None runs until a signal."""


@dataclass
class Daemon:
    """The long-running collector over one config and one store."""

    config: Config
    store: EvidenceStore
    jobs: list[Job]
    settings: DaemonSettings = field(default_factory=DaemonSettings)
    observer: RunObserver | None = None
    """Told what the daemon saw and stored (the exporter's state under `run --listen`)."""
    exporter: Exporter | None = None
    signing_key: SigningKey | None = None
    """Signs a checkpoint every `checkpoints.every`; None writes none."""
    period_events: PeriodEvents | None = None
    """The SLA figures' notifications, looked at hourly (`run` passes the report engine's);
    None sends only incidents and retries."""

    def __post_init__(self) -> None:
        self._pending: list[dict[str, object]] = []
        self._stop = asyncio.Event()
        self._secrets = self.config.secrets()
        # read once, then kept up to date: no file lookup on every flush
        self._disk_was_full = full_since(self.store.path) is not None
        self.stop_reason = "stopped"
        self._first_round_over = 0.0  # on the loop's clock; set when the run starts
        self._diagnoses: DiagnosisQueue | None = None
        self._claiming: set[asyncio.Task[None]] = set()
        self._sleeping: set[asyncio.Task[Any]] = set()

    def request_stop(self, reason: str) -> None:
        """Ask the loops to finish; the stop record says why."""
        self.stop_reason = reason
        self._stop.set()
        for sleeper in list(self._sleeping):  # an attempt under way is left to end
            sleeper.cancel()

    async def run(self) -> None:
        """Probe until asked to stop, then flush everything and write the stop record."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop, sig.name)
        if self.settings.run_for_s is not None:
            loop.call_later(self.settings.run_for_s, self.request_stop, "run time over")
        vantage = self.config.vantage
        self._pending.append(
            collector_record("start", Stamp.now(), vantage, probes=len(self.jobs), mode="daemon")
        )
        if self.config.diagnostics.enabled:
            self._diagnoses = DiagnosisQueue(self.config, self._diagnosed(loop))
        env = ProbeEnv(icmp_rate=self.config.probing.icmp_rate)
        stop_exporter = self.exporter(loop, env) if self.exporter is not None else None
        starts = self._first_starts(loop.time())
        # every probe has run once (and its attempt ended) by then: the first checkpoint's look
        self._first_round_over = max(
            (
                at + job.spec.attempt_budget() + DEADLINE_GRACE_S
                for job, at in zip(self.jobs, starts, strict=True)
            ),
            default=loop.time(),
        )
        probing = [
            asyncio.create_task(self._probe_loop(job, env, at))
            for job, at in zip(self.jobs, starts, strict=True)
        ]
        tasks = [asyncio.create_task(self._heartbeat_loop())]
        tasks.append(asyncio.create_task(compact_in_background(self.store.path, self._stop)))
        if self.signing_key is not None:
            tasks.append(asyncio.create_task(self._checkpoint_loop(self.signing_key)))
        try:
            await self._flush_loop()
        finally:
            if stop_exporter is not None:
                await asyncio.to_thread(stop_exporter)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.gather(*self._claiming, return_exceptions=True)
            if self._diagnoses is not None:  # cut short and not traced: seconds, not minutes
                await asyncio.to_thread(self._diagnoses.stop)
                await asyncio.sleep(0)  # the records the threads handed over are pending now
            # an attempt under way when the stop came ran against its target: it is recorded
            # (cancelled, the probes of silent targets, a few every minute, were lost); the
            # attempts went on while the traces stopped
            if probing:
                await asyncio.wait(probing, timeout=STOP_GRACE_S)
            for task in probing:
                task.cancel()
            await asyncio.gather(*probing, return_exceptions=True)
            await env.aclose()
            self._pending.append(
                collector_record("stop", Stamp.now(), vantage, reason=self.stop_reason)
            )
            await self._flush(final=True)
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)

    def _first_starts(self, now: float) -> list[float]:
        """Each job's first attempt on the loop's clock (`now`): its next phase slot, read
        once from the wall clock; from there the schedule follows the monotonic clock."""
        if self.settings.start_at_once:
            return [now] * len(self.jobs)
        wall_ns, vantage = time.time_ns(), self.config.vantage
        return [
            now + wait_for_slot_s(wall_ns, vantage, job.host.name, job.spec.name, job.spec.interval)
            for job in self.jobs
        ]

    async def _probe_loop(self, job: Job, env: ProbeEnv, first_start: float) -> None:
        loop = asyncio.get_running_loop()
        interval = job.spec.interval
        next_start = first_start
        while not self._stop.is_set():
            await self._sleep_for_slot(next_start)
            if self._stop.is_set():
                return
            done = await attempt(job, env)
            record = done.record(self.config.vantage, self._secrets)
            self._pending.append(record)
            if self.observer is not None:
                self.observer.observe(record)
            next_start += interval
            now = loop.time()
            if next_start < now:
                missed = int((now - next_start) // interval) + 1
                next_start += missed * interval

    async def _heartbeat_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stop.is_set():
            await self._sleep_until(loop.time() + self.settings.heartbeat_interval_s)
            if not self._stop.is_set():
                self._pending.append(
                    collector_record("heartbeat", Stamp.now(), self.config.vantage)
                )

    async def _checkpoint_loop(self, key: SigningKey) -> None:
        """A signed checkpoint when one is due, then every `checkpoints.every`.

        It runs on its own connection (BEGIN IMMEDIATE orders it with the batches), so a
        first checkpoint over a long history never holds up the appends.
        """
        loop = asyncio.get_running_loop()
        every = self.config.checkpoints.every
        # the first look once every probe has run and been flushed once (up to an interval
        # after start): a new store's first checkpoint then covers its first round
        await self._sleep_until(self._first_round_over + 2 * self.settings.flush_interval_s)
        while not self._stop.is_set():
            try:
                written = await asyncio.to_thread(self._checkpoint_if_due, key)
            except StoreError as exc:
                _LOG.warning("slawitness run: cannot write a checkpoint: %s", exc)
                written = None
            if written is not None and self.observer is not None:
                tree = written.checkpoint
                self.observer.checkpointed(tree.size, written.ts_ns, tree.root.hex(), tree.origin)
            await self._sleep_until(loop.time() + min(every, 60.0))

    def _checkpoint_if_due(self, key: SigningKey) -> checkpoints.StoredCheckpoint | None:
        """A checkpoint when due, then a trusted timestamp when one is due (network I/O
        here, in this thread, never in the probes' loop)."""
        with EvidenceStore.open(self.store.path) as store:
            return seal_when_due(self.config, store, lambda: key)

    async def _sleep_for_slot(self, deadline: float) -> None:
        """A probe loop's wait for its next slot: a bare timer, which a stop cancels.

        11,000 probe loops each sleeping through `_sleep_until` cost a task, an Event waiter
        and a timeout per attempt; here it is one timer handle.
        """
        delay = deadline - asyncio.get_running_loop().time()
        if delay <= 0:
            return
        sleeper = asyncio.current_task()
        assert sleeper is not None, "a probe loop is a task"
        self._sleeping.add(sleeper)
        try:
            await asyncio.sleep(delay)
        finally:
            self._sleeping.discard(sleeper)

    async def _sleep_until(self, deadline: float) -> None:
        delay = deadline - asyncio.get_running_loop().time()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=delay)

    async def _flush_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stop.is_set():
            await self._sleep_until(loop.time() + self.settings.flush_interval_s)
            await self._flush()

    async def _flush(self, final: bool = False) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        try:
            appended = await asyncio.to_thread(self.store.append, batch)
        except StoreError as exc:
            self._pending = batch + self._pending
            self._disk_was_full = isinstance(exc, StoreFull) or self._disk_was_full
            if self.observer is not None:
                self.observer.append_failed()
            _LOG.warning("slawitness run: cannot append %d records: %s", len(batch), exc)
            if final:
                raise
            return
        if self._disk_was_full:
            resumed(self.store.path)  # the kept batch went in: nothing was lost
            self._disk_was_full = False
        if self.observer is not None:
            ts = batch[-1].get("ts_ns")
            self.observer.appended(appended[-1].seq, ts if isinstance(ts, int) else 0)
        self._diagnose(stored_pairs(appended, batch))
        notify_later(self.config, self.store.path, batch, self.period_events)

    def _diagnosed(self, loop: asyncio.AbstractEventLoop) -> Callable[[dict[str, object]], None]:
        """Where the queue's threads hand each outcome: the next batch, on the loop's thread."""

        def sink(record: dict[str, object]) -> None:
            loop.call_soon_threadsafe(self._pending.append, record)

        return sink

    def _diagnose(self, stored: Stored) -> None:
        """Claim the batch's failing targets that are due, off the loop, and queue them: a
        trace takes seconds, and neither the flushes nor the probes wait for it. A target
        already queued or being traced is not claimed again."""
        queue = self._diagnoses
        if queue is None or self._stop.is_set():
            return
        failing = [
            (s, r) for s, r in failing_attempts(stored) if not queue.busy(str(r.get("target")))
        ]
        if failing:
            self._background(asyncio.to_thread(self._diagnose_now, queue, failing))

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._claiming.add(task)
        task.add_done_callback(self._claiming.discard)

    def _diagnose_now(self, queue: DiagnosisQueue, failing: Stored) -> None:
        try:
            with EvidenceStore.open(self.store.path) as store:
                claims = claim_due(store, self.config, failing)
        except StoreError as exc:
            _LOG.warning("slawitness run: cannot claim a diagnosis: %s", exc)
            return
        # no budget here: the queue holds each target once, so it cannot pile up behind the
        # next round as cron rounds would, and a stop cuts it short in seconds
        queue.put(claims, float("inf"))
