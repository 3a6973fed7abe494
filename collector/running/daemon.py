"""`slawitness run`: every probe at its own interval, batched appends, start/stop/heartbeats.

Each probe keeps its own schedule, anchored to the monotonic clock so it never drifts, with a
random start offset so a hundred probes do not fire in the same millisecond. Records are
appended about once a second in one transaction, off the event loop. When the store cannot
take a batch (disk full, locked for too long), the batch is kept and retried: a probe that
ran is never silently dropped. The start, stop and heartbeat records let a report tell
"collector not running" apart from "host up" or "host down". After each batch lands it takes
the steps a cron round takes (`collector.running.round`), spread out so that no probe waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
from collections.abc import Callable
from dataclasses import dataclass, field

from collector.alerts.notify import PeriodEvents, notify_later
from collector.config.model import Config
from collector.diagnostics.capture import diagnose_failures
from collector.evidence.ballast import full_since, resumed
from collector.evidence.records import Stamp, collector_record
from collector.evidence.store import EvidenceStore
from collector.evidence.store_errors import StoreError, StoreFull
from collector.portable.signed_note import SigningKey
from collector.probes import ProbeEnv
from collector.proving import checkpoints
from collector.proving.record_dates import FLUSH_INTERVAL_S
from collector.running.observer import RunObserver
from collector.running.round import Stored, failing_attempts, seal_when_due, stored_pairs
from collector.running.scheduler import Job, attempt

Exporter = Callable[[asyncio.AbstractEventLoop, ProbeEnv], Callable[[], None]]
"""Starts an exporter beside the daemon (given its loop and probe resources); returns its stop."""

START_JITTER_S = 5.0
_LOG = logging.getLogger("slawitness.run")


@dataclass
class DaemonSettings:
    """Knobs of the daemon loop; the defaults suit a collector running for months."""

    flush_interval_s: float = FLUSH_INTERVAL_S
    heartbeat_interval_s: float = 60.0
    start_jitter_s: float = START_JITTER_S
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
        self._diagnosing: asyncio.Task[None] | None = None

    def request_stop(self, reason: str) -> None:
        """Ask the loops to finish; the stop record says why."""
        self.stop_reason = reason
        self._stop.set()

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
        env = ProbeEnv(icmp_rate=self.config.probing.icmp_rate)
        stop_exporter = self.exporter(loop, env) if self.exporter is not None else None
        tasks = [asyncio.create_task(self._probe_loop(job, env)) for job in self.jobs]
        tasks.append(asyncio.create_task(self._heartbeat_loop()))
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
            await env.aclose()
            if self._diagnosing is not None:  # a trace under way finishes and is stored
                await asyncio.gather(self._diagnosing, return_exceptions=True)
            self._pending.append(
                collector_record("stop", Stamp.now(), vantage, reason=self.stop_reason)
            )
            await self._flush(final=True)
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)

    async def _probe_loop(self, job: Job, env: ProbeEnv) -> None:
        loop = asyncio.get_running_loop()
        interval = job.spec.interval
        next_start = loop.time() + random.uniform(0, min(interval, self.settings.start_jitter_s))
        while not self._stop.is_set():
            await self._sleep_until(next_start)
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
        # the first look once every probe has run and been flushed once: a new store's
        # first checkpoint then covers its first round
        settle = self.settings.start_jitter_s + 2 * self.settings.flush_interval_s
        await self._sleep_until(loop.time() + settle)
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

    def _diagnose(self, stored: Stored) -> None:
        """Trace the paths of the batch's failing targets in the background: a trace takes
        seconds, and neither the flushes nor the probes wait for it. One at a time."""
        failing = failing_attempts(stored)
        if not failing or not self.config.diagnostics.enabled or self._stop.is_set():
            return
        if self._diagnosing is not None and not self._diagnosing.done():
            return  # the next failing batch asks again; the rate limit lives in the store
        self._diagnosing = asyncio.create_task(asyncio.to_thread(self._diagnose_now, failing))

    def _diagnose_now(self, failing: Stored) -> None:
        try:
            with EvidenceStore.open(self.store.path) as store:
                diagnose_failures(store, self.config, failing)
        except StoreError as exc:
            _LOG.warning("slawitness run: cannot store a diagnosis: %s", exc)
