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

`DateWatch` is an `on_record` for the chain check; `cli.proofs.verify` and the
report's store scan (`reports.sources.store_scan`) run it in the pass that checks the chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from collector.evidence.store_errors import BUSY_TIMEOUT_MS
from collector.portable.signed_note import Checkpoint, NoteError
from collector.probes.base import DEADLINE_GRACE_S, DEFAULT_INTERVAL_S
from collector.proving.checkpoints import CHECKPOINT, signed_time_ns

if TYPE_CHECKING:
    from collector.config.model import Config

FLUSH_INTERVAL_S = 1.0
"""How often the daemon flushes its batch to the store (`DaemonSettings.flush_interval_s`):
a record waits up to this long after its attempt before it is stored."""
SHOWN_RUNS = 5
KEPT_RUNS = 100
_NOT_A_SUBJECT = frozenset({"attachment"})


def allowance_ns(config: Config | None) -> int:
    """How long before the newest stored record a new one may be dated (the config's longest
    attempt; without a config, the default probe interval, which every probe's timeout must
    be shorter than)."""
    budget = DEFAULT_INTERVAL_S
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


class DateWatch:
    """The date check, record by record, in seq order.

    `mark` and `signed` carry the state of the records before the first one seen (a seq
    range checked on its own); `lowest_clear` is the date of the earliest-dated record that
    was not flagged, so a range checked alone can be told whether an earlier range's mark
    flags it. With `keep_checkpoints`, `checkpoint_records` holds every checkpoint record
    seen, so verify's signature audit need not read them from the store again.

    The latest-dated record is held in plain fields, not a `Mark`: it changes on nearly
    every record of an honest store, and the `Mark` is built only when a record is flagged.
    """

    _mark_ts: int | None
    _mark_seq: int
    _mark_boot_id: object
    _mark_mono_ns: object

    def __init__(
        self,
        allowance_ns: int,
        mark: Mark | None = None,
        signed: Mark | None = None,
        *,
        keep_checkpoints: bool = False,
    ) -> None:
        self.allowance_ns = allowance_ns
        self.mark = mark
        self.signed = signed
        """The latest checkpoint so far, at the time it signed."""
        self.runs: list[BackdatedRun] = []
        self.backdated = 0
        self.set_back = 0
        self.imported = 0
        self.lowest_clear: int | None = None
        self.checkpoint_records: list[tuple[int, dict[str, object]]] | None = (
            [] if keep_checkpoints else None
        )
        self._last_flagged: int | None = None

    @property
    def mark(self) -> Mark | None:
        """The latest-dated native record so far."""
        if self._mark_ts is None:
            return None
        return Mark(self._mark_ts, self._mark_seq, self._mark_boot_id, self._mark_mono_ns)

    @mark.setter
    def mark(self, mark: Mark | None) -> None:
        if mark is None:
            self._mark_ts = None
            self._mark_seq, self._mark_boot_id, self._mark_mono_ns = 0, None, None
        else:
            self._mark_ts, self._mark_seq = mark.ts_ns, mark.seq
            self._mark_boot_id, self._mark_mono_ns = mark.boot_id, mark.mono_ns

    def __call__(self, seq: int, record: dict[str, object]) -> None:
        ts, origin, rtype = record.get("ts_ns"), record.get("origin"), record.get("type")
        if rtype == CHECKPOINT and self.checkpoint_records is not None:
            self.checkpoint_records.append((seq, record))  # however it is dated
        if type(ts) is not int:
            return
        if isinstance(origin, str) and origin.startswith("import:"):
            self.imported += 1
            return
        if rtype not in _NOT_A_SUBJECT:
            self._judge(seq, ts, record)
        if self._mark_ts is None or ts > self._mark_ts:
            self._mark_ts, self._mark_seq = ts, seq
            self._mark_boot_id, self._mark_mono_ns = record.get("boot_id"), record.get("mono_ns")
        if rtype == CHECKPOINT:
            when = _note_time_ns(record)
            if when is not None:
                self.signed = Mark(when, seq, record.get("boot_id"), record.get("mono_ns"))

    def _judge(self, seq: int, ts: int, record: dict[str, object]) -> None:
        limit = self.allowance_ns + _own_wait_ns(record)
        signed, mark_ts = self.signed, self._mark_ts
        if signed is not None and ts + limit < signed.ts_ns:
            ahead, by_checkpoint = signed, True
        elif mark_ts is not None and ts + limit < mark_ts:
            ahead = Mark(mark_ts, self._mark_seq, self._mark_boot_id, self._mark_mono_ns)
            by_checkpoint = False
        else:
            if self.lowest_clear is None or ts < self.lowest_clear:
                self.lowest_clear = ts
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


def _note_time_ns(record: dict[str, object]) -> int | None:
    """The `time` a checkpoint record's note signed, in ns (None when it has none)."""
    note = record.get("note")
    if not isinstance(note, str):
        return None
    try:
        checkpoint = Checkpoint.parse(note.partition("\n\n")[0] + "\n")
    except NoteError:
        return None
    return signed_time_ns(checkpoint)


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
