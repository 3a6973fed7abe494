"""Worker processes that never outlive the report that started them.

A report killed by SIGKILL (or by a SIGTERM arriving while it cannot run Python) cannot
shut its pool down, and `spawn` workers wait on their call queue for ever, each holding a
few hundred MB of pandas and WeasyPrint. So every worker asks the kernel, first thing, to
be sent SIGKILL when its parent dies (Linux's PR_SET_PDEATHSIG, through libc's `prctl`),
then checks that the parent is still the process that started it, since the parent may
have died before the request was made. Where `prctl` is missing (not Linux), a daemon
thread in the worker watches the parent's pid instead.

Every process pool of `reports/` comes from `worker_pool`.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

PR_SET_PDEATHSIG = 1
"""From <linux/prctl.h>."""
PARENT_POLL_S = 0.5
"""How often the fallback watcher looks at the parent's pid."""
T = TypeVar("T")


def worker_pool(max_workers: int) -> ProcessPoolExecutor:
    """A pool of `max_workers` spawned processes that die when this process does."""
    context = multiprocessing.get_context("spawn")
    return _Pool(
        max_workers=max_workers,
        mp_context=context,
        initializer=die_with_parent,
        initargs=(os.getpid(),),
    )


class _Pool(ProcessPoolExecutor):
    """A pool whose `submit` (which may start a worker) is not cut short by Ctrl-C or
    SIGTERM: a worker whose parent exits while handing it its start-up data prints a
    traceback about a pipe. The signal takes effect as soon as the call returns."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        with _signals_held():
            return super().submit(fn, *args, **kwargs)


@contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM noted during the block and raised again after it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    before = {sig: signal.signal(sig, lambda signum, frame: caught.append(signum)) for sig in held}
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
        for signum in caught:
            signal.raise_signal(signum)


def die_with_parent(parent_pid: int) -> None:
    """Arrange for this process to end when `parent_pid` does; end now if it already has."""
    if not _kernel_kills_on_parent_death():
        threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    if os.getppid() != parent_pid:
        os._exit(1)


def _kernel_kills_on_parent_death() -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return False
    return bool(prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0)


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(PARENT_POLL_S)
    os._exit(1)
