"""Command-line values converted at the boundary, so a verb only ever sees usable ones.

Click calls `convert` while it parses the command line; a value that cannot be used fails
there with click's `BadParameter`, which the CLI's one boundary (`collector.cli._Cli`)
prints as one line, `slawitness: invalid value for '--since': ...`, and exit 2. Dates are
held to the evidence era (`collector.evidence_era`): `export --since 0001-01-01` used to
overflow the store's 64-bit column, `seal --period 9999-12` the month after it.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from collector.evidence_era import EARLIEST, instant_problem

_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")


class Instant(click.ParamType):
    """An ISO 8601 date or time, UTC unless it names a zone, as integer UTC nanoseconds."""

    name = "iso8601"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            when = datetime.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 date or time", param, ctx)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        problem = instant_problem(when)
        if problem is not None:
            self.fail(f"{value!r} is {problem}", param, ctx)
        return (when - EARLIEST) // timedelta(microseconds=1) * 1000


class Month(click.ParamType):
    """A calendar month `YYYY-MM` inside the evidence era, kept as its text."""

    name = "yyyy-mm"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        match = _MONTH.fullmatch(text)
        if match is None:
            self.fail(f"{text!r} is not a month like 2026-10", param, ctx)
        problem = instant_problem(datetime(int(match.group(1)), int(match.group(2)), 1, tzinfo=UTC))
        if problem is not None:
            self.fail(f"{text!r} is {problem}", param, ctx)
        return text


class FiniteFloatRange(click.FloatRange):
    """click's FloatRange without NaN, which compares false with both bounds and so passes."""

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        number: float = super().convert(value, param, ctx)
        if math.isnan(number):
            self.fail(f"{value!r} is not a number", param, ctx)
        return number


def one_line(error: click.BadParameter) -> str:
    """The error as the CLI prints every other: `invalid value for '--x': ...`, one line."""
    text = error.format_message()
    text = text[:1].lower() + text[1:]
    return text.replace("\r", "\\r").replace("\n", " ")
