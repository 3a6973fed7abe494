"""The complaint file of one report: which attached documents belong to it, and the
timeline of incidents, support correspondence and notes side by side.

A claim is argued with the contract, what was paid for the period and the record of every
contact with support. From the stores' `attachment` records of the target this picks:
every contract (and any file the SLA terms cite), the invoices, receipts and other files
dated from a month before the period to the end of the claim (the later of the claim
deadline and 60 days after the period), and the correspondence with a message in the
period or the claim after it. Each file is held against its hash again, so the report says
when one has gone missing or changed since it was attached.

The timeline puts each e-mail message beside the incidents and notes: who wrote (the
provider when the sender's domain is that of `provider.contact`), and for the provider's
answers how long after the customer's message they came.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from collector.config.model import Target
from collector.config.presets import quoted_clauses
from collector.documents.attachments import (
    ATTACHMENT,
    DOCUMENT_KINDS,
    bundle_member,
    file_problem,
    folder_of,
    matching,
)
from collector.evidence.record_views import AttachmentView, NoteView
from reports.sla.period import Period
from reports.sources.evidence_view import EvidenceView

_BEFORE_PERIOD = timedelta(days=31)
"""Invoices are often dated before the month they bill: a month of slack before the period."""
_AFTER_PERIOD = timedelta(days=60)
"""Correspondence about a month's outages goes on after it: the claim, and its answer."""


def complaint_file(
    stores: Sequence[Path],
    target: Target,
    period: Period,
    summary: Mapping[str, Any],
    evidence: EvidenceView,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """summary.json's `complaint_file` and `sla_source` for `target` over `period`, read
    from the stores the report holds open in `evidence`."""
    rows = _attachment_rows(stores, target.name, evidence)
    source = target.sla.source if target.sla is not None else None
    cited = _cited(rows, source.attachment if source is not None else None)
    start = datetime.fromtimestamp(period.start_ns / 1e9, UTC)
    end = _claim_end(period, summary.get("claim_deadline"))
    chosen = [r for r in rows if r.sha256 == cited or _belongs(r, start, end)]
    attachments = _entries(chosen, cited)
    notes = _notes(stores, target.name, start, end, evidence)
    return (
        {
            "attachments": attachments,
            "timeline": timeline(summary, chosen, notes, (start, end), target.provider.contact),
            "problems": _problems(chosen),
        },
        _source(source, cited, rows, target.sla.preset if target.sla is not None else None),
    )


def _attachment_rows(
    stores: Sequence[Path], target: str, evidence: EvidenceView
) -> list[AttachmentView]:
    """Every attachment record of the target, with its seq and store; the first record of a
    file (by hash and kind) stands for it."""
    found: dict[tuple[str, str], AttachmentView] = {}
    for path in stores:
        for row in evidence.store(path).records(target=target, types=[ATTACHMENT]):
            record = AttachmentView.of(row.record, seq=row.seq, store=str(path))
            found.setdefault((record.sha256, str(record.kind)), record)
    return list(found.values())


def _notes(
    stores: Sequence[Path], target: str, start: datetime, end: datetime, evidence: EvidenceView
) -> list[dict[str, Any]]:
    """The target's notes and tickets from the period's start to the end of the claim (a
    note that the claim was filed comes after the period); the notes slawitness wrote about
    the messages it sent you are left out."""
    found = []
    since, until = int(start.timestamp()) * 10**9, int(end.timestamp()) * 10**9
    for path in stores:
        store = evidence.store(path)
        for row in store.records(target=target, types=["note"], since_ns=since, until_ns=until):
            note = NoteView.of(row.record)
            if not note.from_notify and note.ts_ns is not None:
                when = datetime.fromtimestamp(note.ts_ns // 10**9, UTC)
                found.append({"ts": _iso(when), "ticket": note.ticket, "text": note.text})
    return found


def _cited(rows: Sequence[AttachmentView], prefix: str | None) -> str | None:
    """The full hash of the attached file the SLA source names by (a prefix of) its hash."""
    if prefix is None:
        return None
    matches = matching((r.sha256 for r in rows), prefix)
    return matches[0] if len(matches) == 1 else None


def _claim_end(period: Period, deadline: object) -> datetime:
    end = datetime.fromtimestamp(period.end_ns / 1e9, UTC) + _AFTER_PERIOD
    if isinstance(deadline, str):
        end = max(end, _utc(deadline) or end)
    return end


def _belongs(record: AttachmentView, start: datetime, end: datetime) -> bool:
    if record.kind == "contract":
        return True
    if record.kind == "correspondence" and record.messages:
        return any(start <= (_utc(m.get("ts")) or start - _BEFORE_PERIOD) < end
                   for m in record.messages)  # fmt: skip
    when = _document_day(record)
    return start - _BEFORE_PERIOD <= when < end


def _document_day(record: AttachmentView) -> datetime:
    """The document's own date, else the day it was attached."""
    day = record.date
    if isinstance(day, str):
        try:
            return datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC)
        except ValueError:
            pass
    return datetime.fromtimestamp(record.ts_ns / 1e9, UTC)


def _entries(rows: Sequence[AttachmentView], cited: str | None) -> list[dict[str, Any]]:
    order = {kind: index for index, kind in enumerate(DOCUMENT_KINDS)}
    ranked = sorted(rows, key=lambda r: (order.get(str(r.kind), len(order)),
                                         _document_day(r), r.seq))  # fmt: skip
    return [
        {
            "seq": r.seq,
            "vantage": r.vantage,
            "store": r.store,
            "sha256": r.sha256,
            "name": r.name,
            "kind": r.kind,
            "date": r.date,
            "size": r.size,
            "media_type": r.media_type,
            "note": r.note,
            "attached_at": _iso(datetime.fromtimestamp(r.ts_ns // 10**9, UTC)),
            "messages": len(r.messages),
            "member": bundle_member(r.sha256, r.name or ""),
            "cited_by_sla": r.sha256 == cited,
        }
        for r in ranked
    ]


def _problems(rows: Sequence[AttachmentView]) -> list[dict[str, Any]]:
    found = []
    for r in rows:
        problem = file_problem(folder_of(r.store), r.sha256)
        if problem is not None:
            found.append({"sha256": r.sha256, "name": r.name, "seq": r.seq, "problem": problem})
    return found


def _source(
    source: Any, cited: str | None, rows: Sequence[AttachmentView], preset: str | None
) -> dict[str, Any] | None:
    """Where the terms come from and, for a preset's page, each cited term's own words
    (`clauses`: `{term: {where, text}}`, present only for a preset's source), so the report
    and letters can quote the contract instead of only pointing at it."""
    if source is None:
        return None
    name = next((r.name for r in rows if r.sha256 == cited), None)
    found: dict[str, Any] = {
        "attachment": cited or source.attachment,
        "name": name,
        "page": source.page,
        "url": source.url,
        "read_on": source.read_on.isoformat() if source.read_on is not None else None,
        "terms": dict(source.terms),
        "found": source.attachment is None or cited is not None,
    }
    if preset is not None:
        found["clauses"] = quoted_clauses(preset, source.url, source.terms)
    return found


def timeline(
    summary: Mapping[str, Any],
    attachments: Sequence[AttachmentView],
    notes: Sequence[Mapping[str, Any]],
    window: tuple[datetime, datetime],
    contact: str | None,
) -> list[dict[str, Any]]:
    """The period's incidents, and the e-mail messages and notes from the period's start to
    the end of the claim, in time order."""
    start, end = window
    events: list[dict[str, Any]] = []
    for number, incident in enumerate(summary.get("incidents") or [], 1):
        events.append({"ts": incident["start"], "event": "incident", "incident": number,
                       "end": incident["end"], "duration_seconds": incident["duration_seconds"],
                       "attribution": incident["attribution"],
                       "counted": incident["counted"],
                       "not_counted_because": incident.get("not_counted_because")})  # fmt: skip
    events += _messages(attachments, start, end, _domain(contact))
    for note in notes:
        events.append({"ts": note["ts"], "event": "note", "ticket": note.get("ticket"),
                       "text": note.get("text")})  # fmt: skip
    return sorted(events, key=lambda e: (_utc(e["ts"]) or start, e["event"]))


def _messages(
    attachments: Sequence[AttachmentView], start: datetime, end: datetime, provider: str | None
) -> list[dict[str, Any]]:
    """Each message once (a message in two files is listed from the first), its direction,
    and for the provider's answers the time since the customer's message they answer: the
    one named by In-Reply-To, else the earliest one not yet answered."""
    seen: set[str] = set()
    found = []
    for record in attachments:
        for message in record.messages:
            when = _utc(message.get("ts"))
            key = message.get("message_id") or f"{message.get('ts')}|{message.get('subject')}"
            if when is None or not start <= when < end or key in seen:
                continue
            seen.add(key)
            found.append((when, message, record))
    found.sort(key=lambda item: item[0])
    waiting: list[tuple[datetime, Mapping[str, Any]]] = []
    events = []
    for when, message, record in found:
        direction = _direction(message, provider)
        answered = None
        if direction == "customer":
            waiting.append((when, message))
        elif direction == "provider" and waiting:
            index = _answered(waiting, message.get("in_reply_to"))
            asked, _ = waiting[index]
            answered = int((when - asked).total_seconds())
            del waiting[index]
        events.append({
            "ts": _iso(when), "event": "message", "direction": direction,
            "from": message.get("from"), "to": message.get("to"),
            "subject": message.get("subject"), "message_id": message.get("message_id"),
            "attachment": record.sha256, "attachment_name": record.name,
            "answered_after_seconds": answered,
        })  # fmt: skip
    return events


def _answered(waiting: Sequence[tuple[datetime, Mapping[str, Any]]], reply_to: object) -> int:
    """Which waiting customer message an answer answers: the one it names, else the first."""
    for index, (_, asked) in enumerate(waiting):
        if reply_to and asked.get("message_id") == reply_to:
            return index
    return 0


def _direction(message: Mapping[str, Any], provider: str | None) -> str:
    if provider is None:
        return "unknown"
    sender = _domain(message.get("from_address"))
    if sender is not None and (sender == provider or sender.endswith("." + provider)):
        return "provider"
    to = str(message.get("to") or "").lower()
    if re.search(r"[@.]" + re.escape(provider) + r"\b", to):
        return "customer"
    return "unknown"


def _domain(contact: object) -> str | None:
    """The registered domain of an e-mail address or URL: `example.com` for
    `support@example.com` and `https://help.example.com/`, `example.co.uk` for
    `help@mail.example.co.uk`, so mail from any of the provider's hosts is theirs."""
    if not isinstance(contact, str):
        return None
    match = re.search(r"@([A-Za-z0-9.-]+)", contact) or re.search(r"//([A-Za-z0-9.-]+)", contact)
    if match is None:
        return None
    labels = match.group(1).lower().strip(".").split(".")
    keep = 3 if len(labels) > 2 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL else 2
    return ".".join(labels[-keep:])


_SECOND_LEVEL = frozenset({"co", "com", "net", "org", "gov", "edu", "ac", "ne", "or"})
"""Second-level labels under a country code that are not themselves a provider's domain."""


def _utc(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def support_contacts(
    stores: Sequence[Path], target: Target, evidence: EvidenceView
) -> tuple[list[dict[str, Any]], dict[str, datetime]]:
    """What the SLA engine reads from the attachments before the figures exist: every
    attached e-mail message with its direction (a customer's message is a ticket under
    `downtime.starts_at: ticket`), and each attached file's date by SHA-256 (a maintenance
    window's `announcement`): an e-mail's Date header, else its `date`, else when it was
    attached."""
    rows = _attachment_rows(stores, target.name, evidence)
    everything = (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))
    messages = _messages(rows, *everything, _domain(target.provider.contact))
    dates: dict[str, datetime] = {}
    for row in rows:
        sent = sorted(when for m in row.messages if (when := _utc(m.get("ts"))) is not None)
        dates.setdefault(row.sha256, sent[0] if sent else _document_day(row))
    return messages, dates
