"""Records dated earlier than the store could have taken them.

A record is stamped when its work began (a probe attempt, a trace) and stored once the work
is done and the daemon's next flush comes, so a record can be dated before the records
chained ahead of it, but only by so much: the longest attempt's budget (with the
scheduler's grace), the flush interval, and one busy timeout for a batch kept back while
another writer held the store. Everything dated earlier than that, before the newest record
chained ahead of it or before the time a checkpoint chained ahead of it signed, was written
later than it claims: 180 failed probes appended today with last month's dates (and a boot
id of their own) would otherwise count as last month's outage.

Imported records (`origin: import:...`) are old by nature: they are never flagged and never
move the mark, and `imported` counts them. A trace (`diagnosis`) may also wait for its own
`took_ms`; an attached document waits for its copy, so attachments are only a mark.

`DateWatch` is an `on_record` for the chain check; `collector.cli_proofs.verify` and the
report's store scan (`reports.store_scan`) run it in the pass that checks the chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NamedTuple

from collector.store_errors import BUSY_TIMEOUT_MS

if TYPE_CHECKING:
    from collector.config import Config

FLUSH_INTERVAL_S = 1.0
"""The daemon's flush interval (collector.daemon.DaemonSettings)."""
UNKNOWN_BUDGET_S = 60.0
"""The longest attempt assumed without a config: the default interval, which every probe's
timeout must be shorter than."""
SHOWN_RUNS = 5
KEPT_RUNS = 100
_NOT_A_SUBJECT = frozenset({"attachment"})


def allowance_ns(config: Config | None) -> int:
    """How long before the newest stored record a new one may be dated (the config's longest
    attempt; without a config, UNKNOWN_BUDGET_S)."""
    from collector.scheduler import DEADLINE_GRACE_S

    budget = UNKNOWN_BUDGET_S
    if config is not None:
        budget = max((p.attempt_budget() for h in config.hosts() for p in h.probes), default=0)
    wait = budget + DEADLINE_GRACE_S + FLUSH_INTERVAL_S + BUSY_TIMEOUT_MS / 1000
    return round(wait * 1e9)


class Mark(NamedTuple):
    """The latest date so far: of a native record, or signed by a checkpoint."""

    ts_ns: int
    seq: int
    boot_id: object
    mono_ns: object


@dataclass
class BackdatedRun:
    """Consecutive records (imports between them aside) dated too early."""

    first_seq: int
    last_seq: int
    count: int
    worst_ns: int
    """How much earlier than the mark ahead of it the worst of them is dated."""
    before_seq: int
    by_checkpoint: bool
    """The mark was a signed checkpoint's time, not a record's date."""
    clock_set_back: bool
    """The same boot's monotonic clock says the record was taken in time: the wall clock
    was set back (a warning beside verify's clock lines, not a failure)."""


@dataclass
class DateWatch:
    """The date check, record by record, in seq order.

    `mark` and `signed` carry the state of the records before the first one seen (a seq
    range checked on its own); `lowest_clear` is the earliest-dated record that was not
    flagged, so a range checked alone can be told whether an earlier range's mark flags it.
    """

    allowance_ns: int
    mark: Mark | None = None
    """The latest-dated native record so far."""
    signed: Mark | None = None
    """The latest checkpoint so far, at the time it signed."""
    runs: list[BackdatedRun] = field(default_factory=list)
    backdated: int = 0
    set_back: int = 0
    imported: int = 0
    lowest_clear: tuple[int, int] | None = None
    _last_flagged: int | None = None

    def __call__(self, seq: int, record: dict[str, object]) -> None:
        ts, origin = record.get("ts_ns"), record.get("origin")
        if type(ts) is not int:
            return
        if isinstance(origin, str) and origin.startswith("import:"):
            self.imported += 1
            return
        rtype = record.get("type")
        if rtype not in _NOT_A_SUBJECT:
            self._judge(seq, ts, record)
        mark = self.mark
        if mark is None or ts > mark.ts_ns:
            self.mark = Mark(ts, seq, record.get("boot_id"), record.get("mono_ns"))
        if rtype == "checkpoint":
            when = signed_time_ns(record)
            if when is not None:
                self.signed = Mark(when, seq, record.get("boot_id"), record.get("mono_ns"))

    def _judge(self, seq: int, ts: int, record: dict[str, object]) -> None:
        limit = self.allowance_ns + _own_wait_ns(record)
        signed, mark = self.signed, self.mark
        if signed is not None and ts + limit < signed.ts_ns:
            ahead, by_checkpoint = signed, True
        elif mark is not None and ts + limit < mark.ts_ns:
            ahead, by_checkpoint = mark, False
        else:
            if self.lowest_clear is None or ts < self.lowest_clear[0]:
                self.lowest_clear = (ts, seq)
            self._last_flagged = None
            return
        mono = record.get("mono_ns")
        in_time = (
            ahead.boot_id == record.get("boot_id")
            and type(mono) is int
            and type(ahead.mono_ns) is int
            and mono + limit >= ahead.mono_ns
        )
        self.flag(seq, ahead.ts_ns - ts, ahead.seq, by_checkpoint, in_time)

    def flag(
        self, seq: int, lag_ns: int, before_seq: int, by_checkpoint: bool, clock_set_back: bool
    ) -> None:
        """Count `seq` as dated too early, joining it to the run it continues."""
        if clock_set_back:
            self.set_back += 1
        else:
            self.backdated += 1
        run = self.runs[-1] if self.runs else None
        if (
            run is not None
            and self._last_flagged == run.last_seq
            and run.clock_set_back == clock_set_back
        ):
            run.last_seq, run.count = seq, run.count + 1
            run.worst_ns = max(run.worst_ns, lag_ns)
        elif len(self.runs) < KEPT_RUNS:
            self.runs.append(
                BackdatedRun(seq, seq, 1, lag_ns, before_seq, by_checkpoint, clock_set_back)
            )
        self._last_flagged = seq

    def lines(self, *, clock_set_back: bool = False) -> list[str]:
        """One line per run of backdated records (or, with `clock_set_back`, of records the
        wall clock dated early), the first few, each naming its seqs."""
        runs = [run for run in self.runs if run.clock_set_back == clock_set_back]
        out = [run_line(run) for run in runs[:SHOWN_RUNS]]
        total = self.set_back if clock_set_back else self.backdated
        shown = sum(run.count for run in runs[:SHOWN_RUNS])
        if total > shown:
            out.append(f"{total - shown} more records dated too early")
        return out


def _own_wait_ns(record: dict[str, object]) -> int:
    """A trace is stamped when it starts and waits for its own end."""
    took = record.get("took_ms")
    if record.get("type") == "diagnosis" and type(took) is int and took > 0:
        return took * 1_000_000
    return 0


def signed_time_ns(record: dict[str, object]) -> int | None:
    """The `time` line a checkpoint record's note signed, in ns (None when it has none)."""
    note = record.get("note")
    if not isinstance(note, str):
        return None
    for line in note.partition("\n\n")[0].split("\n")[3:]:
        name, _, value = line.partition(" ")
        if name == "time":
            return time_line_ns(value)
    return None


def time_line_ns(value: str | None) -> int | None:
    """A checkpoint's `time` extension (`2026-10-03T04:05:06Z`) in ns, or None."""
    try:
        when = datetime.strptime(value or "", "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None
    return int(when.timestamp()) * 10**9


def run_line(run: BackdatedRun) -> str:
    """`seq 31-210: 180 records dated up to 30 days before ...`, one line."""
    seqs = f"seq {run.first_seq}" if run.count == 1 else f"seq {run.first_seq}-{run.last_seq}"
    what = "1 record" if run.count == 1 else f"{run.count} records"
    ahead = (
        f"the time the checkpoint at seq {run.before_seq} signed"
        if run.by_checkpoint
        else f"seq {run.before_seq}"
    )
    verdict = (
        "the wall clock was set back (the same boot's monotonic clock ran on)"
        if run.clock_set_back
        else "BACKDATED (dated earlier than the store could have taken them)"
    )
    lag = spell_lag(run.worst_ns)
    return f"{seqs}: {what} dated up to {lag} before {ahead}, chained before them: {verdict}"


def spell_lag(ns: int) -> str:
    """`95 s`, `42 min`, `5.5 h`, `30 days`: a lag as a person reads it."""
    seconds = ns / 1e9
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} days"
