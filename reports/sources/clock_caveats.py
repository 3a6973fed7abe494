"""What the report says about the collector's clock during the period, as caveats.

A provider may answer "your clock was wrong". The collector's own records (rounds,
heartbeats, start and stop) say whether the kernel held the clock synchronised and how large
it estimated the error; `collector.evidence.clock_check.ClockWatch` finds wall-clock jumps
against the monotonic clock. The report states both plainly rather than leaving them to be found.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from collector.evidence.clock_check import ClockWatch
from collector.evidence.export import iso_from_ns

SHOWN_JUMPS = 5


def clock_caveats(records: Sequence[dict[str, Any]]) -> list[str]:
    """Sentences for the report's caveats about the collector records of the period."""
    ordered = sorted(records, key=lambda r: r["ts_ns"])
    watch = ClockWatch()
    for position, record in enumerate(ordered):
        watch(position, record)
    known = [r for r in ordered if isinstance(r.get("clock_synced"), bool)]
    lines = []
    if watch.unsynced:
        errors = [r.get("clock_max_error_ns") for r in known if r.get("clock_synced") is False]
        worst = max((e for e in errors if isinstance(e, int)), default=None)
        bound = "" if worst is None else f", its own estimate of the error up to {worst / 1e9:g} s"
        lines.append(
            f"The collector's clock was not synchronised at {watch.unsynced} of the {len(known)}"
            f" collector records in this period (kernel adjtimex{bound}); the times are as"
            " that clock read them."
        )
    for jump in watch.jumps[:SHOWN_JUMPS]:
        before, after = ordered[jump.seq_before]["ts_ns"], ordered[jump.seq_after]["ts_ns"]
        lines.append(
            f"The collector's wall clock jumped {jump.jump_ns / 1e9:+.3f} s against its"
            f" monotonic clock between {iso_from_ns(before)} and {iso_from_ns(after)}."
        )
    if len(watch.jumps) > SHOWN_JUMPS:
        lines.append(f"{len(watch.jumps) - SHOWN_JUMPS} more wall-clock jumps are not listed.")
    return lines
