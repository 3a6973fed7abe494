"""The span of time evidence can be dated in: from 1970 to the end of 2199, UTC.

Records store integer nanoseconds since 1970 in a signed 64-bit column, which ends in
April 2262; Python's dates end in year 9999, and a month after December 9999 does not
exist. A date outside this span (`export --since 0001-01-01`, `seal --period 9999-12`, an
imported line from year 1) is a mistake, and is refused where it enters the program, by
name, instead of overflowing somewhere in the middle of it.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
"""Exclusive: the first instant no evidence can be dated at."""
SPAN_TEXT = "from 1970-01-01 to 2199-12-31 (UTC)"
_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")


def datetime_ns(moment: datetime) -> int:
    """Exact integer ns of an aware datetime (float timestamps lose the last digits)."""
    return (moment - EARLIEST) // timedelta(microseconds=1) * 1000


EARLIEST_NS = 0
LATEST_NS = datetime_ns(LATEST)


def instant_problem(moment: datetime) -> str | None:
    """Why an aware `moment` cannot date evidence, or None when it can."""
    try:
        inside = EARLIEST <= moment < LATEST
    except OverflowError:  # year 1 at +23:59, year 9999 at -23:59
        inside = False
    return None if inside else f"outside the dates evidence can carry, {SPAN_TEXT}"


def ns_problem(ns: int) -> str | None:
    """Why integer UTC nanoseconds `ns` cannot date evidence, or None when they can."""
    inside = EARLIEST_NS <= ns < LATEST_NS
    return None if inside else f"outside the dates evidence can carry, {SPAN_TEXT}"


def parse_month(text: str) -> tuple[date, date]:
    """The first day of the calendar month `YYYY-MM` and of the month after it, for every
    verb that takes a month (`seal --period`, `report --period`); ValueError saying why
    `text` is not one: `'2026-9' is not a month like 2026-10`, or outside the era."""
    match = _MONTH.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a month like 2026-10")
    year, month = int(match.group(1)), int(match.group(2))
    problem = instant_problem(datetime(year, month, 1, tzinfo=UTC))
    if problem is not None:
        raise ValueError(f"{text!r} is {problem}")
    return date(year, month, 1), date(year + month // 12, month % 12 + 1, 1)
