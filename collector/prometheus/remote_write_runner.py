"""When the store is shipped to the `remote_write` receivers: after a cron round, and
continuously beside the daemon.

Shipping is a copy and must never cost the evidence anything: a cron round ships after it
has probed and stored, for at most the receivers' timeout, and reports a failure as one
line without failing the round; the daemon ships from a thread of its own with its own
read-only connection, backing off while a receiver is down. Each reads the position file,
so the two can alternate on one store (a restart resumes where the last 2xx left off).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from collector.config.model import Config
from collector.evidence.store import EvidenceStore
from collector.prometheus.remote_write import Shipped, next_retry, ship

SHIP_EVERY_S = 5.0
"""How often the daemon's shipper looks for new records while every receiver is well."""


def ship_after_round(config: Config, say: Callable[[str], None]) -> list[Shipped]:
    """Ship to every receiver once, each for at most its timeout; failures become lines."""
    results: list[Shipped] = []
    if not config.remote_write:
        return results
    try:
        store = EvidenceStore.open(config.store, readonly=True)
    except Exception as exc:
        say(f"remote_write: cannot read the store: {exc}")
        return results
    with store:
        for endpoint in config.remote_write:
            result = ship(store, endpoint, deadline=time.monotonic() + endpoint.timeout)
            if result.error is not None:
                say(f"{result.error} (kept at seq {result.position}; sent again next round)")
            results.append(result)
    return results


class RemoteWriteThread:
    """The daemon's shipper: every few seconds, and after a failure with doubling waits."""

    def __init__(self, config: Config, say: Callable[[str], None]) -> None:
        self._config = config
        self._say = say
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="remote-write", daemon=True)

    def start(self) -> None:
        if self._config.remote_write:
            self._thread.start()

    def stop(self) -> None:
        """Stop after the request under way (bounded by its timeout)."""
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        backoff: float | None = None
        while not self._stopped.is_set():
            failed = self._ship_once()
            backoff = next_retry(backoff) if failed else None
            self._stopped.wait(backoff if backoff is not None else SHIP_EVERY_S)

    def _ship_once(self) -> bool:
        """One pass over every receiver; whether any failed."""
        failed = False
        try:
            with EvidenceStore.open(self._config.store, readonly=True) as store:
                for endpoint in self._config.remote_write:
                    if self._stopped.is_set():
                        break
                    result = ship(store, endpoint)
                    if result.error is not None:
                        self._say(f"{result.error} (kept at seq {result.position}; retrying)")
                        failed = True
        except Exception as exc:
            self._say(f"remote_write: {exc}")
            failed = True
        return failed
