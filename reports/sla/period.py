"""Report periods and maintenance windows, as whole UTC epoch seconds.

An SLA month is a calendar month in the SLA's time zone, so its length changes with DST
(Europe/Berlin, October 2026: 745 hours). Everything the engine paints is indexed by integer
epoch seconds; an instant `t` (ns) belongs to second `s` when `t <= s * 1e9`, i.e. an interval
[a, b) of nanoseconds covers the seconds [ceil(a), ceil(b)). Samples, windows and periods all
use that one rounding, so intervals that touch in nanoseconds touch in seconds.

Recurring windows are cron expressions read on the local wall clock of the SLA's zone:
"0 3 * * 0" with 1h is every Sunday 03:00 local, before and after a DST change. The
expression is stepped on naive local times and each hit is placed in the zone afterwards; a
hit inside a spring-forward gap lands at the same wall-clock distance past the gap's start, a
hit in a fall-back hour takes its first occurrence. The duration is elapsed time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from croniter import croniter

from collector.config.sla_terms import OneOffWindow, SlaTerms
from collector.core.evidence_era import datetime_ns, instant_problem, parse_month

NS = 1_000_000_000
MAX_SPAN_DAYS = 366
"""The longest report, a (leap) year: the engine paints every second of the period, and a
year's report takes about 350 MB against 150 MB for a month; 130 years asked for by a typo
took 3.8 GiB before the kernel stopped it."""


def ceil_seconds(ns: int) -> int:
    """The first whole second at or after an instant in ns (see the module docstring)."""
    return -((-int(ns)) // NS)


@dataclass(frozen=True)
class Period:
    """A half-open span of time [start_ns, end_ns) that a report covers."""

    start_ns: int
    end_ns: int
    label: str
    timezone: str

    def __post_init__(self) -> None:
        if self.end_ns <= self.start_ns:
            raise ValueError(f"period {self.label!r}: end must be after start")
        ZoneInfo(self.timezone)

    @property
    def start_s(self) -> int:
        return ceil_seconds(self.start_ns)

    @property
    def end_s(self) -> int:
        return ceil_seconds(self.end_ns)

    @property
    def seconds(self) -> int:
        return self.end_s - self.start_s

    def local_days(self) -> list[tuple[str, int]]:
        """(YYYY-MM-DD, first second) of every local day the period touches, in order."""
        zone = ZoneInfo(self.timezone)
        day = datetime.fromtimestamp(self.start_s, zone).date()
        days = [(day.isoformat(), self.start_s)]
        while True:
            day += timedelta(days=1)
            first = _local_midnight_s(day, zone)
            if first >= self.end_s:
                return days
            days.append((day.isoformat(), first))


def _local_midnight_s(day: date, zone: ZoneInfo) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp())


def month_period(month: str, tz: str = "UTC") -> Period:
    """The calendar month "YYYY-MM" in zone `tz`: local midnight of the 1st to the next 1st."""
    first, after = parse_month(month)
    zone = ZoneInfo(tz)
    start = _local_midnight_s(first, zone)
    end = _local_midnight_s(after, zone)
    return Period(start * NS, end * NS, first.strftime("%Y-%m"), tz)


def _instant(value: datetime | str, zone: ZoneInfo) -> datetime:
    """An aware datetime; naive values and bare dates are local times in `zone`."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def span_period(from_: datetime | str, to: datetime | str, tz: str = "UTC") -> Period:
    """An arbitrary span [from_, to); naive times and dates ("2026-10-01") are local in `tz`.

    `to` is exclusive: "2026-10-15" ends at local midnight starting the 15th.
    """
    zone = ZoneInfo(tz)
    start, end = _instant(from_, zone), _instant(to, zone)
    for moment, text in ((start, from_), (end, to)):
        problem = instant_problem(moment)
        if problem is not None:
            raise ValueError(f"{text} is {problem}")
    if end - start > timedelta(days=MAX_SPAN_DAYS):
        raise ValueError(
            f"{from_} to {to} is longer than {MAX_SPAN_DAYS} days, the longest report;"
            " report it in parts"
        )
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    midnights = all(t.time() == datetime.min.time() for t in (local_start, local_end))
    spell = "%Y-%m-%d" if midnights else "%Y-%m-%dT%H:%M"
    label = f"{local_start.strftime(spell)}..{local_end.strftime(spell)}"
    return Period(datetime_ns(start), datetime_ns(end), label, tz)


def merge_intervals(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Union of half-open intervals as sorted, disjoint, non-touching intervals (vectorised)."""
    keep = ends > starts
    starts, ends = np.asarray(starts, np.int64)[keep], np.asarray(ends, np.int64)[keep]
    if starts.size == 0:
        return starts, ends
    order = np.argsort(starts, kind="stable")
    starts, ends = starts[order], ends[order]
    reach = np.maximum.accumulate(ends)
    opens = np.empty(starts.size, bool)
    opens[0] = True
    opens[1:] = starts[1:] > reach[:-1]
    first = np.flatnonzero(opens)
    last = np.append(first[1:] - 1, starts.size - 1)
    return starts[first], reach[last]


def _cron_hits(expr: str, zone: ZoneInfo, from_s: int, to_s: int) -> list[int]:
    """Epoch seconds of every local wall-clock hit of `expr` in [from_s, to_s)."""
    # Step from a day early so that a hit whose local time folds back is not skipped.
    cursor = datetime.fromtimestamp(from_s - 86400, zone).replace(tzinfo=None)
    steps = croniter(expr, cursor)
    hits: list[int] = []
    while True:
        local: datetime = steps.get_next(datetime)
        second = int(local.replace(tzinfo=zone).timestamp())
        if second >= to_s:
            return hits
        if second >= from_s:
            hits.append(second)


def maintenance_windows(
    terms: SlaTerms, from_s: int, to_s: int, counted: frozenset[int] = frozenset()
) -> np.ndarray:
    """Merged maintenance windows meeting [from_s, to_s), as an (n, 2) array of seconds;
    `counted` names (by position in `terms.maintenance`) windows that are not left out,
    announced too late (reports/sla/maintenance_notice.py)."""
    zone = ZoneInfo(terms.timezone)
    starts: list[int] = []
    ends: list[int] = []
    for index, window in enumerate(terms.maintenance):
        if index in counted:
            continue
        if isinstance(window, OneOffWindow):
            starts.append(ceil_seconds(datetime_ns(window.start)))
            ends.append(ceil_seconds(datetime_ns(window.end)))
            continue
        length = ceil_seconds(int(window.duration * NS))
        for hit in _cron_hits(window.cron, zone, from_s - length, to_s):
            starts.append(hit)
            ends.append(hit + length)
    merged_starts, merged_ends = merge_intervals(np.array(starts), np.array(ends))
    inside = (merged_ends > from_s) & (merged_starts < to_s)
    return np.stack([merged_starts[inside], merged_ends[inside]], axis=1)
