"""The collector's web view: what `slawitness status` says, kept fresh for a page.

A small company with one collector and no Grafana wants to see at a glance whether its VPS is
up, how much of this month's error budget is gone, which incidents count and which claims
are open. Those are `status`'s figures (`reports.status`: the report's own engine, notes and
tickets), so the page, the terminal and the month-end report never disagree. They are
computed in a background thread, never per request, every `refresh_s` seconds: at most the
shortest probe interval, so a target that goes down shows as down within one interval. And
only while someone looks: a collector of thousands of targets that nobody is viewing spends
nothing on its page; the first request after a quiet spell wakes the thread (and sees the
figures it left, or "being computed").
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collector.alerts.due import iso
from collector.config.model import Config
from collector.evidence.store import EvidenceStore
from collector.evidence.store_errors import StoreError
from collector.proving.stamp_coverage import trusted_time_lines
from collector.proving.witness_history import status_lines
from reports.status import statuses

MAX_REFRESH_S = 30.0
WATCHED_S = 300.0
"""How long after the last request the figures are still kept fresh."""


@dataclass(frozen=True)
class ViewState:
    """One refresh: every target's status and the latest signed checkpoint."""

    generated_at: str
    vantage: str
    targets: list[dict[str, Any]]
    """`TargetStatus.as_json()` per target, in config order."""
    checkpoint: dict[str, Any] | None
    """The latest checkpoint: size, signed_at, origin and root; None before the first."""
    vouched: list[str]
    """What `status` says of trusted time and witnesses: who stamped and who cosigned the
    latest checkpoints, and whether the configured quorums hold."""

    def as_json(self) -> dict[str, Any]:
        return {
            "generated_at": self.generated_at,
            "vantage": self.vantage,
            "targets": self.targets,
            "checkpoint": self.checkpoint,
            "vouched": self.vouched,
        }


def latest_checkpoint(store_path: Path) -> dict[str, Any] | None:
    """The newest checkpoint record of the store, as the page shows it."""
    with EvidenceStore.open(store_path, readonly=True) as store:
        found = store.latest("checkpoint")
    if found is None:
        return None
    record = found.record
    note = str(record.get("note") or "")
    ts_ns = record.get("ts_ns")
    return {
        "seq": found.seq,
        "size": record.get("size"),
        "signed_at": iso(ts_ns) if isinstance(ts_ns, int) else None,
        "origin": note.partition("\n")[0],
        "root": record.get("root"),
    }


def vouched_lines(config: Config) -> list[str]:
    """Trusted time's and the witnesses' lines, as `slawitness status` prints them."""
    lines = trusted_time_lines(config)
    if config.witnesses is not None and config.store.is_file():
        with EvidenceStore.open(config.store, readonly=True) as store:
            lines += status_lines(store, config.witnesses)
    return lines


def refresh_interval(config: Config) -> float:
    """The shortest probe interval, capped at `MAX_REFRESH_S`."""
    intervals = [spec.interval for target in config.targets for spec in target.probes]
    return min([MAX_REFRESH_S, *intervals])


class WebView:
    """Keeps the page's figures fresh in a background thread."""

    def __init__(
        self, config: Config, stores: Sequence[Path], refresh_s: float | None = None
    ) -> None:
        self._config = config
        self._stores = list(stores)
        self.refresh_s = refresh_s if refresh_s is not None else refresh_interval(config)
        self._state: ViewState | None = None
        self._problem: str | None = None
        self._viewed = -WATCHED_S
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def refresh(self, now_ns: int | None = None) -> ViewState:
        """Compute every target's status as of `now_ns` (default: now) and keep it."""
        now = now_ns if now_ns is not None else time.time_ns()
        found = statuses(self._config, self._stores, now)
        state = ViewState(
            generated_at=iso(now),
            vantage=self._config.vantage,
            targets=[status.as_json() for status in found],
            checkpoint=latest_checkpoint(self._stores[0]),
            vouched=vouched_lines(self._config),
        )
        with self._lock:
            self._state, self._problem = state, None
        return state

    def state(self) -> tuple[ViewState | None, str | None]:
        """The last refresh (None before the first) and why the latest one failed, if it did.
        Asking counts as looking: the figures are kept fresh for `WATCHED_S` after."""
        now = time.monotonic()
        with self._lock:
            idle = now - self._viewed > WATCHED_S
            self._viewed = now
            found = self._state, self._problem
        if idle:
            self._wake.set()
        return found

    def start(self) -> None:
        """Refresh now and then every `refresh_s` seconds until `stop()`."""
        self._thread = threading.Thread(target=self._loop, name="web-view", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                watched = time.monotonic() - self._viewed <= WATCHED_S
            if watched:
                try:
                    self.refresh()
                except (StoreError, OSError, ValueError) as exc:  # the page says so
                    with self._lock:
                        self._problem = str(exc)
            self._wake.wait(self.refresh_s if watched else None)
            self._wake.clear()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
