"""The durable append behind `/probe`, shared by the requests that finish together.

Prometheus probes many targets at once: each scrape of a blackbox-style job is a `/probe`
request, and each must be answered only once its attempt is on disk. One transaction per
request would cost one fsync per request and serialise them on the store's write lock; so
a single writer thread takes every record queued while the previous commit was under way
and appends them in one transaction (a group commit: one fsync for the lot). A lone
request costs what it did, and meanwhile the request renders its answer, which is then
sent only once the record is kept.

A batch the store refuses as a whole (a record it cannot encode, a disk error) is retried
one record at a time, so each request gets its own record's outcome and one bad record
never costs another request its evidence.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Mapping
from concurrent.futures import Future

from collector.evidence.store import Appended, EvidenceStore

_LOG = logging.getLogger("slawitness.exporter")

Pending = tuple[Mapping[str, object], "Future[Appended]"]


class GroupAppender:
    """One writer thread appending what request threads hand it, in shared transactions."""

    def __init__(self, store: EvidenceStore) -> None:
        self._store = store
        self._queue: queue.SimpleQueue[Pending | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._write, name="probe-appends", daemon=True)
        self._thread.start()

    def submit(self, record: Mapping[str, object]) -> Future[Appended]:
        """Queue `record`; the future resolves once it is committed (or with why not)."""
        kept: Future[Appended] = Future()
        self._queue.put((record, kept))
        return kept

    def close(self) -> None:
        """Append what is queued, then stop the thread (requests were drained first)."""
        self._queue.put(None)
        self._thread.join()

    def _write(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stopping = False
            while True:  # everything queued while the last commit ran
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                batch.append(more)
            self._append(batch)
            if stopping:
                return

    def _append(self, batch: list[Pending]) -> None:
        try:
            landed = self._store.append([record for record, _ in batch])
        except Exception as exc:  # each request must hear its own record's outcome
            if len(batch) == 1:
                batch[0][1].set_exception(exc)
                return
            _LOG.debug("slawitness exporter: a batch of %d failed (%s)", len(batch), exc)
            for pending in batch:
                self._append([pending])
            return
        for (_, kept), appended in zip(batch, landed, strict=True):
            kept.set_result(appended)
