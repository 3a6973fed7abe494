"""The durable append behind `/probe`, shared by the requests that finish together.

Prometheus probes many targets at once: each scrape of a blackbox-style job is a `/probe`
request, and each must be answered only once its attempt is on disk. One transaction per
request would cost one fsync per request, one after another on the store's write lock. So
requests commit as a group: a request that finds no commit under way appends, in its own
thread, every record queued so far (its own included); those that queue while it commits
wait, and the first of them to get the turn appends them all in the next transaction (one
fsync for the lot). A lone request pays nothing for this: no queue, no other thread.

A batch the store refuses as a whole (a record it cannot encode, a disk error) is retried
one record at a time, so each request hears its own record's outcome and one bad record
never costs another request its evidence.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from concurrent.futures import Future

from collector.evidence.store import Appended, EvidenceStore

Pending = tuple[Mapping[str, object], "Future[Appended]"]


class GroupAppender:
    """Appends for many request threads, in as few transactions as the disk allows."""

    def __init__(self, store: EvidenceStore) -> None:
        self._store = store
        self._queued: list[Pending] = []
        self._queue_lock = threading.Lock()
        self._turn = threading.Lock()
        """Held by the thread committing a batch; the others queue behind it."""

    def append(self, record: Mapping[str, object]) -> Appended:
        """`record`'s seq and hash once it is committed; what the store raised otherwise."""
        kept: Future[Appended] = Future()
        with self._queue_lock:
            self._queued.append((record, kept))
        with self._turn:
            if not kept.done():  # no one took it along: commit everything queued
                with self._queue_lock:
                    batch, self._queued = self._queued, []
                self._commit(batch)
        return kept.result()

    def _commit(self, batch: list[Pending]) -> None:
        try:
            landed = self._store.append([record for record, _ in batch])
        except Exception as exc:  # each request must hear its own record's outcome
            if len(batch) == 1:
                batch[0][1].set_exception(exc)
            else:
                for pending in batch:
                    self._commit([pending])
            return
        for (_, kept), appended in zip(batch, landed, strict=True):
            kept.set_result(appended)
