"""Command-line values converted at the boundary, so a verb only ever sees usable ones.

Click calls `convert` while it parses the command line; a value that cannot be used fails
there with click's `BadParameter`, which the CLI's one boundary (`cli.main._Cli`)
prints as one line, `slawitness: invalid value for '--since': ...`, and exit 2. Dates are
held to the evidence era (`collector.core.evidence_era`): `export --since 0001-01-01` used to
overflow the store's 64-bit column, `seal --period 9999-12` the month after it.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import click

from collector.core.evidence_era import datetime_ns, instant_problem, parse_month


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
        return datetime_ns(when)


class Month(click.ParamType):
    """A calendar month `YYYY-MM` inside the evidence era, kept as its text."""

    name = "yyyy-mm"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        try:
            parse_month(text)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
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
