"""Report files written by other processes while this one draws the charts.

A year-long report spends most of its time, after the samples are read, on three jobs
that do not need each other: samples.csv (about 3 s of CPU for 2 M rows) and one PDF per
language (about 2.5 s each). From BACKGROUND_SAMPLES samples on they go to worker
processes, started by `spawn` as soon as the samples are in (they import WeasyPrint and
pandas while the SLA engine runs here); for smaller reports a worker costs more than it
saves and the jobs run here, at once. Either way a job's failure comes back from its
Future's `result()` as the exception it raised. The workers die with this process, even
when it is killed (`reports.worker_pool`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from reports.worker_pool import worker_pool

BACKGROUND_SAMPLES = 200_000
MAX_WORKERS = 2
"""The CSV and the two PDFs: a third worker would only wait for a CPU."""
T = TypeVar("T")


class Background:
    """Runs jobs in a process pool, or here and now when there is none."""

    def __init__(self, pool: ProcessPoolExecutor | None) -> None:
        self._pool = pool

    def submit(self, job: Callable[..., T], *args: Any) -> Future[T]:
        """Start `job(*args)`; its arguments and result must pickle when pooled."""
        if self._pool is not None:
            return self._pool.submit(job, *args)
        done: Future[T] = Future()
        try:
            done.set_result(job(*args))
        except Exception as exc:
            done.set_exception(exc)
        return done


@contextmanager
def background_for(samples: int) -> Iterator[Background]:
    """A `Background` for a report of `samples` samples; every job is finished (or
    cancelled, on an error here) when the block ends."""
    if samples < BACKGROUND_SAMPLES:
        yield Background(None)
        return
    workers = max(1, min(MAX_WORKERS, len(os.sched_getaffinity(0))))
    with worker_pool(workers) as pool:
        for _ in range(workers):
            pool.submit(_warm_up)
        try:
            yield Background(pool)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def _warm_up() -> None:
    """Import what the jobs need while the parent still evaluates."""
    import reports.render.samples_csv  # noqa: F401
    from reports.render.pdf import warm_up

    warm_up()
