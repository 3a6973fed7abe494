"""Fixed spacing between the ICMP engine's sends, whoever asks, so a run never floods a link.

A round of 10,000 targets would otherwise put 10,000 echo requests on the wire in a few
milliseconds: the next hop's ICMP rate limit (or a provider's flood protection) then drops
some of them, and a host that was up is recorded as losing packets. fping spaces its sends
(`-i`, in milliseconds); the engine does the same, 1 ms apart by default.

Every sender takes its turn through one FIFO lock and sends no sooner than `1/rate` after the
previous send left. The gap is measured from the previous send's own stamp (taken right
before `sendto`, see `stamp`), not from when its turn was granted, so a send delayed by a
busy event loop never lets the next one follow it closer than the gap. A send that waits
its turn only starts its echo's timeout once it has left, so pacing never turns a queued
echo into a lost one.

The same holds one level up: the scheduler's deadline for a whole attempt must not run while
the attempt's first echo waits in this queue (that wait is the collector's, not the
target's). A turn tells the `turn_watcher` of the running context when it starts waiting and
when its send is done, so whoever owns the deadline can hold it meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Protocol

DEFAULT_ICMP_RATE = 1000
"""Echo requests per second one engine sends at most: fping's `-i 1` (1 ms apart)."""


class TurnWatcher(Protocol):
    """Told when a send of the current context starts waiting for its turn and when that
    turn is over (the packet sent, or the send given up)."""

    def waiting(self) -> None: ...

    def done(self) -> None: ...


turn_watcher: ContextVar[TurnWatcher | None] = ContextVar("turn_watcher", default=None)
"""The watcher of the attempt running in this context; tasks a probe creates inherit it."""


class SendPacer:
    """Hands out send turns at most `rate` a second, in the order they were asked for."""

    def __init__(self, rate: float) -> None:
        if not rate > 0:
            raise ValueError(f"send rate must be positive, got {rate!r}")
        self.gap_ns = max(1, round(1e9 / rate))
        self._turns = asyncio.Lock()
        self._last_send_ns: int | None = None

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Hold the sending turn: entered no sooner than one gap after the last send."""
        watcher = turn_watcher.get()
        if watcher is not None:
            watcher.waiting()
        try:
            async with self._turns:
                while self._last_send_ns is not None:
                    wait_ns = self._last_send_ns + self.gap_ns - time.perf_counter_ns()
                    if wait_ns <= 0:
                        break
                    await asyncio.sleep(wait_ns / 1e9)
                yield
        finally:
            if watcher is not None:
                watcher.done()

    def stamp(self) -> int:
        """The send time of a packet about to leave (perf_counter ns), remembered as the
        last send; call it within `turn`, right before `sendto`."""
        self._last_send_ns = time.perf_counter_ns()
        return self._last_send_ns
