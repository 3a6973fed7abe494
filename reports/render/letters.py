"""Complaint letter drafts in Markdown: English for the provider, Chinese for the user.

The letters state only what summary.json says, and cite the evidence by hash: the SHA-256 of
the period's records file (written when the bundle is made) and of summary.json exactly as
written. A reader holding the bundle can recompute both. The templates are plain Markdown,
so user-supplied text (provider names, notes, e-mail subjects) is escaped for Markdown, not
HTML. Incidents keep the numbers of the report's incident table; those not counted are
listed with the reason, so the provider sees nothing was left out. When the summary carries
a complaint file, the letters also name the attached contract, invoices and payment
receipts by hash and quote the support correspondence in time order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any

import jinja2

from reports.render.complaint_view import (
    REMEDY_TERMS,
    UPTIME_TERMS,
    attachment_member,
    letter_documents,
    letter_messages,
    letter_quotes,
    message_files,
    term_places,
)
from reports.render.html import TEXT, template_environment

LETTER_LANGS: tuple[str, ...] = ("en", "zh")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")
_BACKTICKS = re.compile(r"`+")


def escape_markdown(value: Any) -> str:
    """Text safe inside Markdown (and a table cell): specials escaped, newlines as spaces."""
    text = "" if value is None else str(value)
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.splitlines()))


def code_span(value: Any) -> str:
    """Text as a Markdown code span, whatever backticks it holds: the fence is one backtick
    longer than the longest run inside (CommonMark), so a file name cannot close it early."""
    text = " ".join(("" if value is None else str(value)).splitlines())
    if not text:
        return ""
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


@cache
def letter_environment() -> jinja2.Environment:
    """Jinja for Markdown: no HTML autoescape (the `md` filter escapes), strict names; one
    per process, so each letter template is compiled once."""
    env = template_environment(autoescape=False, keep_trailing_newline=True)
    env.filters["md"] = escape_markdown
    env.filters["code"] = code_span
    return env


def render_letter(
    summary: Mapping[str, Any], lang: str, *, summary_sha256: str, records_sha256: str | None = None
) -> str:
    """The letter draft in `lang`, citing summary.json and the records file by SHA-256."""
    if lang not in LETTER_LANGS:
        raise ValueError(f"unknown letter language {lang!r} (use en or zh)")
    incidents = [{**i, "number": n} for n, i in enumerate(summary.get("incidents") or [], 1)]
    complaint = summary.get("complaint_file")
    source = summary.get("sla_source") or None
    messages = letter_messages(complaint)
    text = (
        letter_environment()
        .get_template(f"letter.{lang}.md.j2")
        .render(
            s=summary,
            tz=str(summary.get("timezone") or "UTC"),
            counted=[i for i in incidents if i["counted"]],
            not_counted=[i for i in incidents if not i["counted"]],
            reasons=TEXT[lang]["letter_not_counted_because"],
            tickets=[n for n in summary.get("notes") or [] if n.get("ticket")],
            notes=list(summary.get("notes") or []),
            attribution=TEXT[lang]["attribution"],
            tier=summary.get("credit_tier"),
            summary_sha256=summary_sha256,
            records_sha256=records_sha256,
            documents=letter_documents(complaint),
            messages=messages,
            message_files=message_files(complaint, messages),
            source=source,
            source_member=attachment_member(complaint, (source or {}).get("attachment")),
            source_places=term_places(source, TEXT[lang]),
            uptime_quotes=letter_quotes(source, TEXT[lang], UPTIME_TERMS),
            remedy_quotes=letter_quotes(source, TEXT[lang], REMEDY_TERMS),
            list_joiner=TEXT[lang]["list_joiner"],
            t=TEXT[lang],
        )
    )
    # Optional sections leave runs of blank lines behind; Markdown needs only one.
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
