"""`/probe?target=NAME&probe=PROBE`: Prometheus drives the probing, the store keeps it.

Like blackbox_exporter's /probe, one request runs one probe now and answers with its
series; unlike it, the attempt is first appended to the evidence store, durably, so a
Prometheus-driven set-up produces the same evidence as cron or the daemon. The answer is
rendered while the record commits (with the records of requests that finished meanwhile:
`collector.prometheus.probe_appends`) and sent only once it is kept. Each probe runs on
demand at most once per its spacing (`collector.prometheus.probe_spacing`): a request sooner
raises ProbeTooSoon before anything is probed or appended.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from collector.config.model import Config
from collector.evidence.store import Appended, EvidenceStore
from collector.probes import ProbeEnv
from collector.prometheus.metrics import Snapshot
from collector.prometheus.probe_appends import GroupAppender
from collector.prometheus.probe_spacing import ProbeSpacing, spacings_from
from collector.prometheus.state import LiveState
from collector.running.scheduler import Attempt, Job, attempt, jobs_for

Submit = Callable[[Coroutine[Any, Any, Attempt]], "Future[Attempt]"]


@dataclass(frozen=True)
class ProbeAnswer:
    """A fresh attempt's series, ready to render, and the wait for its record's commit."""

    snapshot: Snapshot
    appended: Future[Appended]
    _kept: Callable[[Appended], None]

    def wait_kept(self) -> None:
        """Return once the record is on disk; the StoreError (or the record's ValueError)
        that kept it off otherwise, and then the answer must not be sent."""
        self._kept(self.appended.result())


class ProbeOnDemand:
    """Runs a configured probe on an event loop, queues its record, and returns its answer;
    `close` once no request is running."""

    def __init__(
        self,
        config: Config,
        store: EvidenceStore,
        submit: Submit,
        env: ProbeEnv,
        state: LiveState | None = None,
    ) -> None:
        self._config = config
        self._store = store
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

    def __call__(self, target: str, probe: str) -> ProbeAnswer:
        job = self._jobs.get((target, probe))
        if job is None:
            raise LookupError(f"no probe {probe!r} on a target named {target!r} in the config")
        self._spacing.admit((target, probe))
        done = self._submit(attempt(job, self._env)).result()
        record = done.record(self._config.vantage, self._secrets)
        state = self._state

        def kept(appended: Appended) -> None:
            if state is not None:
                state.observe(record)
                state.appended(appended.seq, done.stamp.ts_ns)

        snapshot = Snapshot(self._config.vantage, [record], self._intervals)
        return ProbeAnswer(snapshot, self._appends.submit(record), kept)

    def close(self) -> None:
        """Commit what is queued and stop the writer thread."""
        self._appends.close()


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
