"""The ICMP engine's sends follow an even schedule at `rate` a second, whoever asks, so a run
never floods a link and still reaches its rate.

A round of 10,000 targets would otherwise put 10,000 echo requests on the wire in a few
milliseconds: the next hop's ICMP rate limit (or a provider's flood protection) then drops
some of them, and a host that was up is recorded as losing packets. fping spaces its sends
(`-i`, in milliseconds); the engine does the same, 1 ms apart by default.

Senders take their turns in the order they asked, through one FIFO lock. Turn k is due at
`start + k/rate`: the schedule runs on from the previous slot, not from when the previous
packet actually left, so a late wake-up of asyncio.sleep or a busy event-loop turn does not
stretch every gap (measured from the stamps, that drift halved the rate). A sender that
wakes late sends at once, and so do the ones behind it whose slots have passed too, but the
schedule never lags the clock by more than `catch_up_ns`: that bounds the burst after a
stall. When the queue was idle (no one waiting, the next slot already past), the schedule
restarts at the next send: no credit is saved up while nothing is sent.

What is guaranteed, on the send stamps (taken right before `sendto`, see `stamp`):
* in any window of T seconds at most `rate * T + burst` echo requests leave, with `burst`
  the larger of 4 packets and 1 ms worth of sends (`burst_for`);
* while senders are queued, they leave at `rate` on average: the schedule loses time only
  when the process is held up for longer than the catch-up allowance.

A send that waits its turn only starts its echo's timeout once it has left, so pacing never
turns a queued echo into a lost one. The same holds one level up: the scheduler's deadline
for a whole attempt must not run while the attempt's first echo waits in this queue (that
wait is the collector's, not the target's). A turn tells the `turn_watcher` of the running
context when it starts waiting and when its send is done, so whoever owns the deadline can
hold it meanwhile.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Protocol

DEFAULT_ICMP_RATE = 1000
"""Echo requests per second one engine sends: fping's `-i 1` (1 ms apart)."""

MIN_BURST = 4
"""The fewest sends a window may hold beyond `rate * T`: one packet per slot would leave a
late sender no way to catch up."""


def burst_for(rate: float) -> int:
    """How many sends beyond `rate * T` any window of T may hold: 1 ms worth, at least 4."""
    return max(MIN_BURST, math.ceil(rate / 1000))


class TurnWatcher(Protocol):
    """Told when a send of the current context starts waiting for its turn and when that
    turn is over (the packet sent, or the send given up)."""

    def waiting(self) -> None: ...

    def done(self) -> None: ...


turn_watcher: ContextVar[TurnWatcher | None] = ContextVar("turn_watcher", default=None)
"""The watcher of the attempt running in this context; tasks a probe creates inherit it."""


class SendPacer:
    """Hands out send turns on a schedule of `rate` a second, in the order they were asked for."""

    def __init__(self, rate: float) -> None:
        if not rate > 0:
            raise ValueError(f"send rate must be positive, got {rate!r}")
        self.gap_ns = max(1, round(1e9 / rate))
        self.burst = burst_for(rate)
        """Sends a window may hold beyond `rate * T`."""
        # after a send at t, the next slot is never earlier than t - catch_up_ns: at most
        # burst - 2 past slots plus the one due now plus one more can crowd one window
        self.catch_up_ns = (self.burst - 2) * self.gap_ns
        self._turns = asyncio.Lock()
        self._next_slot_ns = 0
        self._asking = 0

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Hold the sending turn: entered once this sender's slot of the schedule is due."""
        watcher = turn_watcher.get()
        if watcher is not None:
            watcher.waiting()
        idle = self._asking == 0
        self._asking += 1
        try:
            async with self._turns:
                if idle:  # nobody was sending: the schedule restarts now, without credit
                    self._next_slot_ns = max(self._next_slot_ns, time.perf_counter_ns())
                while (wait_ns := self._next_slot_ns - time.perf_counter_ns()) > 0:
                    await asyncio.sleep(wait_ns / 1e9)
                yield
        finally:
            self._asking -= 1
            if watcher is not None:
                watcher.done()

    def stamp(self) -> int:
        """The send time of a packet about to leave (perf_counter ns), which takes up the
        current slot; call it within `turn`, right before `sendto`."""
        sent_ns = time.perf_counter_ns()
        self._next_slot_ns = max(self._next_slot_ns + self.gap_ns, sent_ns - self.catch_up_ns)
        return sent_ns
