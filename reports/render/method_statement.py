"""The statement of method as its own document: the declaration a court may ask for.

Evidence rules ask whether the system that made the records was reliable, ran normally and
could detect its own errors (China's evidence rules art. 93; ISO/IEC 27037's acquisition
records; US FRE 902(13)'s certification). Someone has to say so and sign it: the person who
ran the collector. This renders that declaration from summary.json's `method_statement`
alone, in English or Chinese, as a self-contained A4 HTML document for WeasyPrint, with
their name, role, place, date and signature left blank to fill in by hand. The same facts
appear in the report's own section (templates/report_statement.html.j2, whose macros this
document imports), so the two never differ.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reports.render.fonts import CSS_FONT_STACK
from reports.render.html import environment, format_utc
from reports.report_text import TEXT


def render_statement_html(
    summary: Mapping[str, Any],
    lang: str,
    *,
    report_name: str | None = None,
    summary_sha256: str | None = None,
) -> str:
    """The declaration in `lang` (en or zh), naming the report (`report_name`, else the
    report's title) and, when given, the SHA-256 of its summary.json.

    ValueError for an unknown language or a summary without `method_statement`: a
    statement with no facts in it must never be handed to anyone to sign.
    """
    if lang not in TEXT:
        raise ValueError(f"unknown statement language {lang!r} (use en or zh)")
    if not summary.get("method_statement"):
        raise ValueError("the summary holds no method_statement to declare")
    text = TEXT[lang]
    title = text["title"].format(target=summary["target"], period=summary["period_label"])
    period = f"{format_utc(summary['period_start'])} – {format_utc(summary['period_end'])}"
    return (
        environment()
        .get_template("statement.html.j2")
        .render(
            s=summary,
            t=text,
            lang=lang,
            report=report_name or title,
            period=period,
            summary_sha256=summary_sha256,
            signing=summary.get("document_signing"),
            font_stack=CSS_FONT_STACK,
        )
    )
