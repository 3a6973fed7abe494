"""When compaction runs: after a cron round in a detached child, in the daemon in a thread.

Encoding a block costs about 0.2 ms of CPU a record (zstd-19), 15 s for a full block, so it
never runs on a probe's path. A cron round that finds a block due (`compaction.is_due`, two
indexed lookups) starts one niced `slawitness compact --due` in a new session and exits;
the daemon compacts from a niced worker thread of its own, once at start and every
DAEMON_EVERY_S, one block at a time, looking at its stop flag between blocks. Both take a
non-blocking flock on `STORE.compact.lock`, so overlapping rounds and a daemon never encode
the same rows twice at once (moving them twice is refused by the store anyway).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import fcntl
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from collector.evidence.compaction import CompactionRefused, compact_when_due
from collector.evidence.store import EvidenceStore
from collector.evidence.store_errors import StoreError

DAEMON_EVERY_S = 300.0
"""How often the daemon looks for a block due (and once at start)."""
DAEMON_MAX_RECORDS = 8_192
"""The daemon's largest block: 1.4-2.2 s of CPU at zstd-19, so a SIGTERM that arrives
while one is encoded still ends the daemon within a few seconds."""
NICENESS = 10

_LOG = logging.getLogger("slawitness.run")


def lock_path(store_path: str | os.PathLike[str]) -> str:
    return os.fspath(store_path) + ".compact.lock"


@contextmanager
def compaction_lock(store_path: str | os.PathLike[str], *, wait: bool = False) -> Iterator[bool]:
    """Hold `STORE.compact.lock`; yields False (held by another compaction) unless `wait`."""
    fd = os.open(lock_path(store_path), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # releases the lock


def compaction_running(store_path: str | os.PathLike[str]) -> bool:
    """Whether another process holds the lock now (a round then starts no second child)."""
    if not os.path.exists(lock_path(store_path)):
        return False
    with compaction_lock(store_path) as held:
        return not held


def start_detached(config_path: Path, store_path: Path) -> subprocess.Popen[bytes] | None:
    """Start `slawitness compact --due` for a cron round, not waited for; None when a
    compaction of this store is under way already."""
    if compaction_running(store_path):
        return None
    command = [sys.executable, "-m", "cli", "--quiet", "compact", "--due",
               "--config", str(config_path), "--store", str(store_path)]  # fmt: skip
    return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip


def nice_this_thread() -> None:
    """Lower this thread's priority alone (Linux nices threads one by one)."""
    with suppress(OSError):  # not permitted here: compaction still runs, at normal priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICENESS)


def daemon_pass(store_path: str, stopping: Callable[[], bool]) -> int:
    """Compact what is due now, a block of at most DAEMON_MAX_RECORDS at a time until
    nothing is or `stopping()`; returns the records moved. CompactionRefused and store
    errors pass to the caller."""
    moved = 0
    with compaction_lock(store_path) as held:
        if not held:
            return 0
        with EvidenceStore.open(store_path) as store:
            while not stopping():
                done = compact_when_due(
                    store, time.time_ns(), limit=1, max_records=DAEMON_MAX_RECORDS
                )
                if done is None or not done.blocks:
                    break
                moved += done.records
    return moved


async def compact_in_background(
    store_path: str, stop: asyncio.Event, every_s: float = DAEMON_EVERY_S
) -> None:
    """The daemon's compaction: a pass at start and every `every_s` in one niced thread
    until `stop`; a failure is logged once as a warning and ends compaction for this run
    (refused rows stay raw, for `verify` to report), and probing carries on."""
    loop = asyncio.get_running_loop()
    worker = concurrent.futures.ThreadPoolExecutor(
        max_workers=1, thread_name_prefix="slawitness-compact", initializer=nice_this_thread
    )
    try:
        while not stop.is_set():
            try:
                await loop.run_in_executor(worker, daemon_pass, store_path, stop.is_set)
            except (CompactionRefused, StoreError) as exc:
                _LOG.warning("slawitness run: compaction stopped, the rows stay raw: %s", exc)
                return
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every_s)
    finally:
        worker.shutdown(wait=False)  # a block under way ends within DAEMON_MAX_RECORDS' time
