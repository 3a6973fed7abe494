"""How often `/probe` may run each probe: reaching the port is no licence to fill the store.

Every `/probe` request appends a record, durably. Without basic auth anyone who reaches the
port can send them, and the store, which never deletes, would grow as fast as they send. So
each probe runs on demand at most once per spacing: by default nine tenths of its interval
(Prometheus scrapes `/probe` at the probe's interval, and the tenth absorbs its timing), or
`exporter.probe_min_spacing` from the config (`0s`: no limit). A request that comes sooner is
refused before anything is probed or appended, and says when to come back.

The limit holds per probe, not per client: a client cannot be told apart from many, and what
must stay bounded is the number of records each probe adds.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping

from collector.config.model import Config
from collector.core.durations import format_duration
from collector.portable.errors import SlawitnessError

DEFAULT_SHARE_OF_INTERVAL = 0.9
"""The default spacing as a share of the probe's interval."""

ProbeKey = tuple[str, str]
"""(target, probe), as named in the config."""


class ProbeTooSoon(SlawitnessError):
    """A `/probe` of a probe that ran on demand less than its spacing ago; nothing was done."""

    def __init__(self, key: ProbeKey, spacing_s: float, wait_s: float) -> None:
        target, probe = key
        self.retry_after_s = max(1, math.ceil(wait_s))
        """Whole seconds to wait, as HTTP's Retry-After header carries them."""
        super().__init__(
            f"{target}/{probe} runs on demand at most once every {format_duration(spacing_s)}; "
            f"ask again in {self.retry_after_s}s"
        )


def spacings_from(config: Config, intervals: Mapping[ProbeKey, float]) -> dict[ProbeKey, float]:
    """Each configured probe's least time between two on-demand attempts, in seconds, from
    the config's `intervals()` (which the caller already holds)."""
    fixed = config.exporter.probe_min_spacing
    return {
        key: fixed if fixed is not None else DEFAULT_SHARE_OF_INTERVAL * interval
        for key, interval in intervals.items()
    }


class ProbeSpacing:
    """Admits at most one on-demand attempt per probe per its spacing; shared by the
    server's threads. It remembers one start time per configured probe, so it stays small."""

    def __init__(
        self, spacings: Mapping[ProbeKey, float], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._spacings = dict(spacings)
        self._clock = clock
        self._last_start: dict[ProbeKey, float] = {}
        self._lock = threading.Lock()

    def admit(self, key: ProbeKey) -> None:
        """Take this probe's turn now, or raise ProbeTooSoon with how long to wait.

        The turn is taken before the attempt runs, so two requests arriving together cannot
        both pass; an attempt that then fails still used its turn, like a scheduled one.
        """
        spacing = self._spacings.get(key, 0.0)
        now = self._clock()
        with self._lock:
            last = self._last_start.get(key)
            if last is not None and now - last < spacing:
                raise ProbeTooSoon(key, spacing, spacing - (now - last))
            self._last_start[key] = now
