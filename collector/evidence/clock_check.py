"""What the records say about the collector's clock: unsynchronised records, wall-clock jumps.

Every record carries the wall clock (`ts_ns`), the boot's monotonic clock (`mono_ns`, which
nothing can set) and the boot id. Within one boot their difference only drifts as slowly as
NTP may slew the clock (at most 500 ppm); when it changes faster, someone or something set
the wall clock between two records, and a provider could say the times are wrong. `verify`
reports each such jump and how many records were taken while the kernel did not hold the
clock synchronised; neither breaks the chain, both are flagged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

JUMP_NS = 1_000_000_000
"""A change of wall minus monotonic time beyond slewing and this much is a jump."""
MAX_SLEW = 0.0005


@dataclass(frozen=True)
class ClockJump:
    """The wall clock moved by `jump_ns` against the monotonic clock between two records."""

    seq_before: int
    seq_after: int
    jump_ns: int


@dataclass
class ClockWatch:
    """An `on_record` for the chain check that keeps the clock findings as records pass."""

    unsynced: int = 0
    jumps: list[ClockJump] = field(default_factory=list)
    _last: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    def __call__(self, seq: int, record: dict[str, object]) -> None:
        if record.get("clock_synced") is False:
            self.unsynced += 1
        mono, boot, ts = record.get("mono_ns"), record.get("boot_id"), record.get("ts_ns")
        if type(mono) is not int or type(ts) is not int or not isinstance(boot, str):
            return  # imported records carry no monotonic time
        last = self._last.get(boot)
        if last is not None:
            last_seq, last_mono, last_offset = last
            moved = (ts - mono) - last_offset
            if abs(moved) > JUMP_NS + MAX_SLEW * abs(mono - last_mono):
                self.jumps.append(ClockJump(last_seq, seq, moved))
        self._last[boot] = (seq, mono, ts - mono)
