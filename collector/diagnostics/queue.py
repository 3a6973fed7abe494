"""The diagnosis queue: due diagnoses traced a few at a time, in order of urgency, on time.

A cron round hands its claims to a detached diagnoser, the daemon to its own long-lived
queue; both are this. `diagnostics.concurrency` worker threads each take the most urgent
claim (targets with SLA terms first, then the longest untraced) and trace it, the traces
being subprocesses that the threads only wait for. Each claim has a deadline, its round's
`diagnostics.budget`: a claim still queued at its deadline is recorded as not traced
(reason "budget"), a trace still running is killed and recorded as cut short. `stop` (the
daemon's SIGTERM) does the same at once with reason "stopping", so stopping takes seconds
however long the queue. Every claim put in leaves exactly one record through `sink`.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable, Iterable

from collector.config.model import Config
from collector.diagnostics.cancel import Cancel
from collector.diagnostics.capture import diagnose, not_traced
from collector.diagnostics.claims import Claim

Sink = Callable[[dict[str, object]], None]
"""Where each outcome record goes (appended to the store, or to the daemon's next batch)."""
BUDGET_CAP_S = 20.0
STOPPING = "stopping"


def budget_s(config: Config) -> float:
    """`diagnostics.budget`, or a third of the shortest probe interval, at most 20 s."""
    if config.diagnostics.budget is not None:
        return float(config.diagnostics.budget)
    intervals = config.intervals().values()
    return min(BUDGET_CAP_S, min(intervals, default=60.0) / 3)


class DiagnosisQueue:
    """Claims waiting to be traced, and the workers tracing them."""

    def __init__(self, config: Config, sink: Sink) -> None:
        self._config = config
        self._sink = sink
        self._targets = {t.name: t for t in config.targets}
        self._heap: list[tuple[tuple[int, int, int], int, Claim, float]] = []
        self._queued: set[str] = set()
        self._running: dict[str, Cancel] = {}
        self._changed = threading.Condition()
        self._stopping = False
        self._count = 0
        self._workers = [
            threading.Thread(target=self._work, name=f"diagnosis-{i}", daemon=True)
            for i in range(config.diagnostics.concurrency)
        ]
        for worker in self._workers:
            worker.start()

    def busy(self, target: str) -> bool:
        """Whether `target` is queued or being traced: a new claim for it would repeat it."""
        with self._changed:
            return target in self._queued or target in self._running

    def put(self, claims: Iterable[Claim], deadline: float) -> None:
        """Queue `claims`, each to be done by `deadline` (monotonic seconds)."""
        with self._changed:
            for claim in claims:
                if self._stopping:
                    self._sink(self._not_traced(claim, STOPPING))
                    continue
                self._count += 1
                heapq.heappush(self._heap, (claim.order(), self._count, claim, deadline))
                self._queued.add(claim.target)
            self._changed.notify_all()

    def drain(self, until: threading.Event | None = None) -> None:
        """Wait until every claim put in has its record (the detached diagnoser's end), or
        until `until` is set (then `stop` records the rest)."""
        with self._changed:
            while (self._heap or self._running) and not (until and until.is_set()):
                self._changed.wait(0.2)

    def stop(self) -> None:
        """Cut everything short now: the traces under way are killed and recorded as cut
        short, the queued claims as not traced; returns once every record is out."""
        with self._changed:
            self._stopping = True
            waiting = [entry[2] for entry in sorted(self._heap)]
            self._heap.clear()
            self._queued.clear()
            for cancel in self._running.values():
                cancel.stop(STOPPING)
            self._changed.notify_all()
        for claim in waiting:
            self._sink(self._not_traced(claim, STOPPING))
        for worker in self._workers:
            worker.join()

    def _not_traced(self, claim: Claim, reason: str) -> dict[str, object]:
        return not_traced(self._config, claim.target, claim.attempt, claim.attempt_seq,
                          reason, claim.due_seq)  # fmt: skip

    def _work(self) -> None:
        while True:
            with self._changed:
                while not self._heap and not self._stopping:
                    self._changed.wait()
                if self._stopping:
                    return
                _, _, claim, deadline = heapq.heappop(self._heap)
                self._queued.discard(claim.target)
                cancel = Cancel(deadline)
                self._running[claim.target] = cancel
            try:
                self._sink(self._one(claim, cancel))
            finally:
                with self._changed:
                    self._running.pop(claim.target, None)
                    self._changed.notify_all()

    def _one(self, claim: Claim, cancel: Cancel) -> dict[str, object]:
        target = self._targets.get(claim.target)
        if cancel.cut() or target is None:
            return self._not_traced(claim, cancel.reason or "no such target")
        return diagnose(self._config, target, claim.attempt, claim.attempt_seq, cancel,
                        claim.due_seq)  # fmt: skip


def run_claims(config: Config, claims: list[Claim], sink: Sink) -> DiagnosisQueue:
    """A queue tracing `claims` within one budget from now (a cron round's diagnoses)."""
    queue = DiagnosisQueue(config, sink)
    queue.put(claims, time.monotonic() + budget_s(config))
    return queue
