"""Each probe's phase within its interval, fixed by a hash of who it is, as Prometheus spreads
its scrapes.

A random start offset, capped at a few seconds, puts 11,000 probes at a 60 s interval into
one five-second burst every minute, and moves every probe's schedule on each restart. Here a
probe's offset is a hash of its identity (vantage, host, probe name, interval) modulo its
interval, and its attempts run at the wall-clock times `k * interval + offset`, counted from
the Unix epoch: the probes of one collector are spread evenly over the interval, a restart
puts each back on the same slots, and two collectors (two vantages) probe the same target at
different moments. The first attempt after a start waits for the probe's next slot, so the
first round after a start completes within one interval (plus an attempt's own duration).
"""

from __future__ import annotations

import hashlib

NS_PER_S = 1_000_000_000


def interval_ns(interval_s: float) -> int:
    """An interval in whole nanoseconds (at least one), the unit slots are counted in."""
    return max(1, round(interval_s * NS_PER_S))


def phase_ns(vantage: str, host: str, probe: str, interval_s: float) -> int:
    """The probe's offset within its interval, in ns: the same for the same identity on
    every machine and every run, and uniform over the interval across identities."""
    period = interval_ns(interval_s)
    identity = "\0".join((vantage, host, probe, str(period))).encode()
    digest = hashlib.sha256(identity).digest()
    return int.from_bytes(digest[:16]) % period


def next_slot_ns(now_ns: int, interval_s: float, offset_ns: int) -> int:
    """The first wall-clock time at or after `now_ns` (Unix ns) that is `offset_ns` past a
    multiple of the interval."""
    period = interval_ns(interval_s)
    return now_ns + (offset_ns - now_ns) % period


def wait_for_slot_s(now_ns: int, vantage: str, host: str, probe: str, interval_s: float) -> float:
    """Seconds from `now_ns` (Unix ns) to the probe's next slot, less than one interval."""
    offset = phase_ns(vantage, host, probe, interval_s)
    return (next_slot_ns(now_ns, interval_s, offset) - now_ns) / NS_PER_S
