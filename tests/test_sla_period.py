"""Periods and maintenance windows: calendar months in the SLA's zone, cron on local time."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from collector.config.sla_terms import SlaTerms
from reports.sla.period import (
    NS,
    Period,
    ceil_seconds,
    maintenance_windows,
    merge_intervals,
    month_period,
    span_period,
)
from tests.sla_scenarios import at


def _terms(timezone: str, *maintenance: dict[str, str]) -> SlaTerms:
    return SlaTerms.model_validate(
        {"uptime": 99.9, "timezone": timezone, "maintenance": list(maintenance)}
    )


@pytest.mark.parametrize(
    ("month", "tz", "start", "end", "hours"),
    [
        ("2026-10", "UTC", "2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z", 31 * 24),
        # Berlin leaves summer time on 25 October 2026: 31 days * 24 h + 1 h = 745 h.
        ("2026-10", "Europe/Berlin", "2026-09-30T22:00:00Z", "2026-10-31T23:00:00Z", 745),
        # ... and enters it on 29 March 2026: 31 * 24 - 1 = 743 h.
        ("2026-03", "Europe/Berlin", "2026-02-28T23:00:00Z", "2026-03-31T22:00:00Z", 743),
        # December rolls over into the next year; New York is UTC-5 in winter.
        ("2026-12", "America/New_York", "2026-12-01T05:00:00Z", "2027-01-01T05:00:00Z", 744),
        ("2028-02", "UTC", "2028-02-01T00:00:00Z", "2028-03-01T00:00:00Z", 29 * 24),
    ],
)
def test_month_period_is_the_local_calendar_month(
    month: str, tz: str, start: str, end: str, hours: int
) -> None:
    period = month_period(month, tz)
    assert (period.start_ns, period.end_ns) == (at(start) * NS, at(end) * NS)
    assert period.seconds == hours * 3600
    assert (period.label, period.timezone) == (month, tz)


@pytest.mark.parametrize("bad", ["2026", "2026-13", "October", "2026-10-01"])
def test_month_period_refuses_what_is_not_a_month(bad: str) -> None:
    with pytest.raises(ValueError, match="month"):
        month_period(bad, "UTC")


def test_period_must_not_be_empty() -> None:
    with pytest.raises(ValueError, match="end must be after start"):
        Period(5 * NS, 5 * NS, "empty", "UTC")


def test_span_period_reads_dates_as_local_midnights_and_to_as_exclusive() -> None:
    period = span_period("2026-10-01", "2026-10-15", "Europe/Berlin")
    assert period.start_ns == at("2026-09-30T22:00:00Z") * NS
    assert period.end_ns == at("2026-10-14T22:00:00Z") * NS
    assert period.label == "2026-10-01..2026-10-15"


def test_span_period_keeps_aware_times_and_labels_minutes() -> None:
    start = datetime(2026, 10, 3, 10, 30, tzinfo=UTC)
    period = span_period(start, "2026-10-03T12:00:00+00:00", "UTC")
    assert period.seconds == 90 * 60
    assert period.label == "2026-10-03T10:30..2026-10-03T12:00"


def test_local_days_of_the_dst_month_have_one_25_hour_day() -> None:
    days = month_period("2026-10", "Europe/Berlin").local_days()
    assert [name for name, _ in days][:2] == ["2026-10-01", "2026-10-02"]
    assert len(days) == 31
    firsts = [first for _, first in days] + [at("2026-10-31T23:00:00Z")]
    lengths = {days[i][0]: firsts[i + 1] - firsts[i] for i in range(31)}
    assert lengths["2026-10-25"] == 25 * 3600
    assert sum(lengths.values()) == 745 * 3600


@pytest.mark.parametrize(
    ("ns", "second"), [(0, 0), (1, 1), (NS, 1), (NS + 1, 2), (-1, 0), (-NS - 1, -1)]
)
def test_ceil_seconds_rounds_instants_up_to_whole_seconds(ns: int, second: int) -> None:
    assert ceil_seconds(ns) == second


@pytest.mark.parametrize(
    ("spans", "merged"),
    [
        ([], []),
        ([(0, 10)], [(0, 10)]),
        ([(5, 10), (0, 3)], [(0, 3), (5, 10)]),
        ([(0, 10), (10, 20)], [(0, 20)]),  # touching windows become one
        ([(0, 10), (2, 4), (8, 15), (30, 31)], [(0, 15), (30, 31)]),
        ([(0, 0), (3, 3)], []),  # empty windows vanish
    ],
)
def test_merge_intervals(spans: list[tuple[int, int]], merged: list[tuple[int, int]]) -> None:
    starts = np.array([s for s, _ in spans], np.int64)
    ends = np.array([e for _, e in spans], np.int64)
    got_starts, got_ends = merge_intervals(starts, ends)
    assert list(zip(got_starts.tolist(), got_ends.tolist(), strict=True)) == merged


def _windows(terms: SlaTerms, period: Period) -> list[tuple[str, str]]:
    found = maintenance_windows(terms, period.start_s, period.end_s)
    iso = "%Y-%m-%dT%H:%MZ"
    return [
        (datetime.fromtimestamp(a, UTC).strftime(iso), datetime.fromtimestamp(b, UTC).strftime(iso))
        for a, b in found.tolist()
    ]


def test_weekly_cron_follows_local_time_across_the_dst_change() -> None:
    terms = _terms("Europe/Berlin", {"cron": "0 3 * * 0", "duration": "1h"})
    # Sundays 4, 11, 18 October: 03:00 CEST = 01:00Z; Sunday 25th: 03:00 CET = 02:00Z.
    assert _windows(terms, month_period("2026-10", "Europe/Berlin")) == [
        ("2026-10-04T01:00Z", "2026-10-04T02:00Z"),
        ("2026-10-11T01:00Z", "2026-10-11T02:00Z"),
        ("2026-10-18T01:00Z", "2026-10-18T02:00Z"),
        ("2026-10-25T02:00Z", "2026-10-25T03:00Z"),
    ]


def test_cron_hit_in_the_spring_forward_gap_keeps_its_wall_clock_distance() -> None:
    # 02:30 does not exist in Berlin on 29 March 2026; it is read as 02:30 CET = 01:30Z.
    terms = _terms("Europe/Berlin", {"cron": "30 2 29 3 *", "duration": "30m"})
    assert _windows(terms, month_period("2026-03", "Europe/Berlin")) == [
        ("2026-03-29T01:30Z", "2026-03-29T02:00Z"),
    ]


def test_one_off_and_recurring_windows_overlapping_are_merged() -> None:
    terms = _terms(
        "UTC",
        {"start": "2026-10-25T02:00:00Z", "end": "2026-10-25T04:00:00Z"},
        {"cron": "0 3 * * 0", "duration": "2h"},
    )
    windows = _windows(terms, month_period("2026-10", "UTC"))
    # The 25th: 02:00-04:00 one-off joins 03:00-05:00 recurring into 02:00-05:00.
    assert ("2026-10-25T02:00Z", "2026-10-25T05:00Z") in windows
    assert len(windows) == 4


def test_window_started_before_the_range_is_kept_whole() -> None:
    # 31 October 23:30 for 1 h reaches into November and is returned unclipped.
    terms = _terms("UTC", {"cron": "30 23 31 10 *", "duration": "1h"})
    november = month_period("2026-11", "UTC")
    assert _windows(terms, november) == [("2026-10-31T23:30Z", "2026-11-01T00:30Z")]
