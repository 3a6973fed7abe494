"""The complaint file as a reader sees it: attachments by kind, sizes, SLA term citations.

summary.json holds the attached documents (contract, invoices, payment receipts, support
e-mails) and where the SLA terms come from as plain data; the HTML report and the letter
drafts both need the same groupings and the same short citations, so they are made here
once. Every function is pure and takes the report's fixed text (`report_text.yml`, one
language) where it words something, so nothing here escapes: the templates do, for HTML or
for Markdown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from collector.documents.attachments import DOCUMENT_KINDS

KIND_ORDER: tuple[str, ...] = DOCUMENT_KINDS
"""The order the complaint file is read in: what was agreed, what was paid, what was said."""
LETTER_KINDS: tuple[str, ...] = ("contract", "invoice", "payment")
"""The documents a letter names: they prove the agreement and that the service was paid for."""
UPTIME_TERMS: tuple[str, ...] = ("uptime",)
"""The promise a letter quotes before its figures."""
REMEDY_TERMS: tuple[str, ...] = (
    "credits",
    "incident_credits",
    "compensation",
    "hourly_credit",
    "credit_cap_percent",
)
"""The terms a letter quotes beside the credit it asks for: what the contract grants."""
LETTER_DIRECTIONS: tuple[str, ...] = ("customer", "provider")
"""Messages whose sender is unclear stay out of the letters; the report still lists them."""
SHORT_HASH = 8
SIZE_UNITS: tuple[str, ...] = ("B", "KB", "MB", "GB", "TB")


@dataclass(frozen=True)
class Citation:
    """Where an SLA term comes from, in words, with the hash that pins the document.

    `where` is the document and place ("contract.pdf, p. 4 §2.1" or a URL), `line` the
    one-line form printed next to a term, `missing` true when the cited attachment is not in
    the evidence store (the reader must be told: the citation then proves nothing), `quote`
    the term's own words on the page, in the contract's language, when the source has them.
    """

    where: str
    line: str
    sha256: str | None
    read_on: str | None
    missing: bool
    quote: str | None = None


def format_size(size: int | float | None) -> str:
    """Bytes in the largest unit that keeps a number of at least 1: 48213 -> 47.1 KB."""
    if size is None:
        return ""
    value, unit = float(size), 0
    while value >= 1024 and unit < len(SIZE_UNITS) - 1:
        value /= 1024
        unit += 1
    if unit == 0:
        return f"{int(value)} B"
    return f"{value:.1f} {SIZE_UNITS[unit]}"


def short_hash(sha256: str | None) -> str:
    """The first hex digits of a hash and an ellipsis: enough to match it against the bundle."""
    if not sha256:
        return ""
    return sha256[:SHORT_HASH] + "…"


def citation(
    source: Mapping[str, Any] | None, text: Mapping[str, Any], term: str | None = None
) -> Citation | None:
    """The citation for one SLA term (its own place if the source names one, else the page);
    None when the summary says nothing about where the terms come from."""
    if not source:
        return None
    place = (source.get("terms") or {}).get(term) if term else None
    if not place and source.get("page") is not None:
        place = text["cite_page"].format(page=source["page"])
    sha256 = source.get("attachment")
    document = source.get("name") or (text["unnamed_attachment"] if sha256 else source.get("url"))
    if not document:
        return None
    where = str(text["cite_joiner"]).join(str(part) for part in (document, place) if part)
    read_on = None if sha256 else source.get("read_on")
    missing = source.get("found") is False
    if sha256:
        line = text["cite_file"].format(where=where, hash=short_hash(sha256))
    elif read_on:
        line = text["cite_url"].format(where=where, read_on=read_on)
    else:
        line = text["cite_plain"].format(where=where)
    if missing:
        line = text["cite_missing_short"].format(citation=line)
    quote = clause_quote(source, text, term) if term else None
    return Citation(
        where=where, line=line, sha256=sha256, read_on=read_on, missing=missing, quote=quote
    )


def clause_quote(
    source: Mapping[str, Any] | None, text: Mapping[str, Any], term: str
) -> str | None:
    """The term's clause as the page words it, between the report language's quotation
    marks; the words themselves stay in the contract's language, never translated."""
    clause = ((source or {}).get("clauses") or {}).get(term)
    if not clause or not clause.get("text"):
        return None
    return str(text["cl_quote"]).format(text=clause["text"])


def letter_quotes(
    source: Mapping[str, Any] | None, text: Mapping[str, Any], terms: Sequence[str]
) -> list[str]:
    """`Your SLA, §Outage Credits: “Less than 9 minutes: 12 Hours; …”` for each of `terms`
    the source quotes, in that order, for a letter to hold the provider to its own words."""
    clauses = (source or {}).get("clauses") or {}
    return [
        str(text["cl_letter"]).format(where=clauses[term]["where"], quote=quote)
        for term in terms
        if (quote := clause_quote(source, text, term)) is not None
    ]


def term_places(source: Mapping[str, Any] | None, text: Mapping[str, Any]) -> list[str]:
    """`uptime: p. 4 §2.1` for every term the source places, in the order the SLA lists them."""
    terms = (source or {}).get("terms") or {}
    labels: Mapping[str, str] = text["sla_terms"]
    ordered = [key for key in labels if key in terms] + sorted(set(terms) - set(labels))
    return [
        text["term_place"].format(term=labels.get(key, key), place=terms[key]) for key in ordered
    ]


def attachment_groups(
    complaint: Mapping[str, Any] | None,
) -> list[tuple[str, list[dict[str, Any]]]]:
    """Attachments grouped by kind in `KIND_ORDER` (unknown kinds after, as they are named),
    each with `problem` set when its stored file is missing or changed."""
    complaint = complaint or {}
    problems: dict[str, str] = {}
    for problem in complaint.get("problems") or []:
        problems.setdefault(str(problem.get("sha256")), str(problem.get("problem") or ""))
    groups: dict[str, list[dict[str, Any]]] = {}
    for attachment in complaint.get("attachments") or []:
        row = {**attachment, "problem": problems.get(str(attachment.get("sha256")))}
        groups.setdefault(str(attachment.get("kind") or "other"), []).append(row)
    known = [kind for kind in KIND_ORDER if kind in groups]
    return [(kind, groups[kind]) for kind in known + sorted(set(groups) - set(KIND_ORDER))]


def letter_documents(complaint: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """The contract(s), invoices and payment receipts, in the complaint file's order."""
    attachments = (complaint or {}).get("attachments") or []
    return [a for a in attachments if a.get("kind") in LETTER_KINDS]


def letter_messages(complaint: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """The customer's messages and the provider's, in time order, for the letters."""
    timeline = (complaint or {}).get("timeline") or []
    return [
        row
        for row in timeline
        if row.get("event") == "message" and row.get("direction") in LETTER_DIRECTIONS
    ]


def message_files(
    complaint: Mapping[str, Any] | None, messages: list[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The files the letter's messages were read from: name, SHA-256 and bundle path, once
    each, so a reader can check every quoted message against its stored original."""
    members = {a.get("sha256"): a.get("member") for a in (complaint or {}).get("attachments") or []}
    files: dict[str, dict[str, Any]] = {}
    for message in messages:
        sha256 = message.get("attachment")
        if sha256 and sha256 not in files:
            files[sha256] = {
                "name": message.get("attachment_name"),
                "sha256": sha256,
                "member": members.get(sha256),
            }
    return list(files.values())


def attachment_member(complaint: Mapping[str, Any] | None, sha256: str | None) -> str | None:
    """The bundle path of the attachment with this hash, if it is in the complaint file."""
    for attachment in (complaint or {}).get("attachments") or []:
        if sha256 and attachment.get("sha256") == sha256:
            return attachment.get("member")
    return None
