"""The HTML report: one self-contained, printable file drawn from summary.json.

Charts are embedded as base64 PNG and the CSS is inline, so the file can be mailed, attached
to a ticket or printed to PDF without anything beside it. Every value is escaped by Jinja's
autoescape: provider names, notes and error details come from users and remote servers.
Headings and fixed text come in English or Chinese (`lang`); the data stays as measured.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime
from functools import cache, partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import pandas as pd

from collector.core.percent import cut_percent
from reports.render.complaint_view import (
    attachment_groups,
    citation,
    format_size,
    short_hash,
    term_places,
)
from reports.render.fonts import CSS_FONT_STACK
from reports.report_text import TEXT

TEMPLATES = Path(__file__).parents[1] / "templates"
PRINT_EVERY_DAY_UP_TO = 62
"""Longer periods print only the days with something in them (CSS `@media print`, so the
PDF and a browser's print agree): a year's 365 rows would fill ten pages with 100%, and
laying them out is most of the time WeasyPrint spends on a year-long report. The screen
shows every day."""
CHART_ORDER: tuple[str, ...] = ("availability", "latency", "daily", "incidents")


def parse_utc(text: str) -> datetime:
    """A datetime for an ISO 8601 time as summary.json writes it (with Z)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def format_utc(text: str | None) -> str:
    """`2026-10-03 10:00:00 UTC` for a summary time; an empty string for none."""
    if not text:
        return ""
    return parse_utc(text).strftime("%Y-%m-%d %H:%M:%S UTC")


def format_local(text: str | None, tz: str) -> str:
    """The same moment in the SLA's time zone, with the zone's abbreviation."""
    if not text:
        return ""
    moment = parse_utc(text).astimezone(ZoneInfo(tz))
    return f"{moment:%Y-%m-%d %H:%M:%S} {moment.tzname() or tz}"


def format_percent(ratio: float | None, na: str = "n/a", decimals: int = 3) -> str:
    """A ratio as a percent, cut to three decimals (`collector.core.percent`): 0.995732 ->
    99.573%."""
    if ratio is None or pd.isna(ratio):
        return na
    return cut_percent(ratio, decimals)


def format_duration(seconds: float | int | None, lang: str = "en") -> str:
    """Seconds as days/hours/minutes/seconds, zero parts at either end left out."""
    if seconds is None or pd.isna(seconds):
        return ""
    total = round(float(seconds))
    units = TEXT[lang]["units"]
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, units[0]), (hours, units[1]), (minutes, units[2]), (secs, units[3])]
    while len(parts) > 1 and parts[0][0] == 0:
        parts.pop(0)
    while len(parts) > 1 and parts[-1][0] == 0:
        parts.pop()
    joiner = "" if lang == "zh" else " "
    return joiner.join(f"{value}{joiner}{unit}" for value, unit in parts)


def format_ms(seconds: float | None) -> str:
    """Latency in milliseconds with one decimal."""
    if seconds is None or pd.isna(seconds):
        return ""
    return f"{float(seconds) * 1000:.1f} ms"


def format_errors(errors: Mapping[str, int] | None) -> str:
    """`timeout × 300, unreachable × 60`: error classes by how many failing samples had them."""
    return ", ".join(f"{name} × {count}" for name, count in sorted((errors or {}).items()))


def data_uri(png: bytes) -> str:
    """A PNG as a data: URI, so the HTML needs no file beside it."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def template_environment(*, autoescape: bool, **options: Any) -> jinja2.Environment:
    """Jinja over the report templates with the formatting filters every output shares;
    undefined names are errors, so a missing figure never renders as blank."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        **options,
    )
    env.filters.update(
        utc=format_utc,
        local=format_local,
        pct=format_percent,
        duration=format_duration,
        ms=format_ms,
        errors=format_errors,
        size=format_size,
        short_hash=short_hash,
    )
    return env


@cache
def environment() -> jinja2.Environment:
    """The Jinja environment for HTML: autoescape on. One per process, so a template is
    compiled once, not for every page a report draws (each language's HTML file, the page
    its PDF is laid out from, the statement of method)."""
    return template_environment(autoescape=True)


def render_html(
    summary: Mapping[str, Any],
    charts: Mapping[str, bytes],
    daily: pd.DataFrame,
    lang: str = "en",
    warnings: list[str] | None = None,
    pdf_trusted_time: bool | None = None,
) -> str:
    """The whole report as one HTML document in `lang` (en or zh).

    `pdf_trusted_time` is None for the HTML file; for the page a PDF is drawn from, whether
    that PDF will carry document timestamps (its first page says which, or that it has none).

    The complaint file (attached documents, the correspondence timeline) and the citations
    of the SLA terms appear only when the summary has them (see `reports.render.complaint_view`).
    """
    if lang not in TEXT:
        raise ValueError(f"unknown report language {lang!r} (use en or zh)")
    text = TEXT[lang]
    images = [
        (name, text["chart_" + name], data_uri(charts[name]))
        for name in CHART_ORDER
        if name in charts
    ]
    records = daily.to_dict("records") if daily is not None else []
    days = [{**day, "quiet": _quiet(day)} for day in records]
    complaint = summary.get("complaint_file")
    source = summary.get("sla_source")
    return (
        environment()
        .get_template("report.html.j2")
        .render(
            s=summary,
            t=text,
            lang=lang,
            tz=str(summary.get("timezone") or "UTC"),
            images=images,
            days=days,
            condensed=len(days) > PRINT_EVERY_DAY_UP_TO,
            warnings=list(warnings or []),
            font_stack=CSS_FONT_STACK,
            caveats=list(summary.get("caveats") or []),
            rule=describe_rule(summary.get("downtime_rule"), text),
            complaint=complaint,
            groups=attachment_groups(complaint),
            timeline=list((complaint or {}).get("timeline") or []),
            cite=partial(citation, source, text),
            places=term_places(source, text),
            pdf_trusted_time=pdf_trusted_time,
        )
    )


def _quiet(day: Mapping[str, Any]) -> bool:
    """A day with nothing to show: full uptime, no downtime, nothing above a threshold."""
    return bool(
        day.get("uptime") == 1.0
        and day.get("downtime_seconds") == 0
        and not day.get("above_latency_seconds")
        and not day.get("above_loss_seconds")
    )


def describe_rule(rule: Any, text: Mapping[str, Any]) -> str:
    """The downtime rule in words: any probe, all probes, or the listed ones."""
    if rule == "all":
        return str(text["rule_all"])
    if isinstance(rule, list):
        return str(text["rule_list"]).format(names=", ".join(str(name) for name in rule))
    return str(text["rule_any"])
