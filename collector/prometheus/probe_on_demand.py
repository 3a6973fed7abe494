"""`/probe?target=NAME&probe=PROBE`: Prometheus drives the probing, the store keeps it.

Like blackbox_exporter's /probe, one request runs one probe now and answers with its
series; unlike it, the attempt is first appended to the evidence store, durably, so a
Prometheus-driven set-up produces the same evidence as cron or the daemon; requests that
finish together share one commit (`collector.prometheus.probe_appends`). Each probe
runs on demand at most once per its spacing (`collector.prometheus.probe_spacing`): a request sooner
raises ProbeTooSoon before anything is probed or appended.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any

from collector.config.model import Config
from collector.evidence.store import EvidenceStore
from collector.probes import ProbeEnv
from collector.prometheus.metrics import Snapshot
from collector.prometheus.probe_appends import GroupAppender
from collector.prometheus.probe_spacing import ProbeSpacing, spacings_from
from collector.prometheus.state import LiveState
from collector.running.scheduler import Attempt, Job, attempt, jobs_for

Submit = Callable[[Coroutine[Any, Any, Attempt]], "Future[Attempt]"]


class ProbeOnDemand:
    """Runs a configured probe on an event loop, appends it, and returns its snapshot."""

    def __init__(
        self,
        config: Config,
        store: EvidenceStore,
        submit: Submit,
        env: ProbeEnv,
        state: LiveState | None = None,
    ) -> None:
        self._config = config
        self._submit = submit
        self._env = env
        self._state = state
        self._jobs: dict[tuple[str, str], Job] = {
            (job.host.name, job.spec.name): job for job in jobs_for(config)
        }
        self._intervals = config.intervals()
        self._secrets = config.secrets()
        self._spacing = ProbeSpacing(spacings_from(config, self._intervals))
        self._appends = GroupAppender(store)

    def __call__(self, target: str, probe: str) -> Snapshot:
        job = self._jobs.get((target, probe))
        if job is None:
            raise LookupError(f"no probe {probe!r} on a target named {target!r} in the config")
        self._spacing.admit((target, probe))
        done = self._submit(attempt(job, self._env)).result()
        record = done.record(self._config.vantage, self._secrets)
        appended = self._appends.append(record)
        if self._state is not None:
            self._state.observe(record)
            self._state.appended(appended.seq, done.stamp.ts_ns)
        return Snapshot(self._config.vantage, [record], self._intervals)


class LoopThread:
    """An event loop in a thread, with the probe resources of `slawitness serve`."""

    def __init__(self, icmp_rate: int) -> None:
        self.loop = asyncio.new_event_loop()
        self.env = ProbeEnv(icmp_rate=icmp_rate)
        self._thread = threading.Thread(target=self.loop.run_forever, name="probes", daemon=True)
        self._thread.start()

    def submit(self, coroutine: Coroutine[Any, Any, Attempt]) -> Future[Attempt]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def close(self) -> None:
        """Close the probe resources, then the loop."""
        asyncio.run_coroutine_threadsafe(self.env.aclose(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()
