"""Typed views of the stored records that reports read field by field.

A stored record is the JSON object its hash covers, and it stays a plain dict in the store
and in every export: the record format is the contract, and a view never writes. But code
that reads an attachment's kind, date and messages, or a note's ticket and claim, from the
dict (`record.get("kind")`, `record["ts_ns"]`) repeats the field names and their defaults at
each use, and a misspelt name reads as None without complaint. These views name the fields
once, with the defaults the readers already applied; a reader decodes a row once and then
uses attributes, which the type checker holds it to.

A view carries the values as stored (`date`, `size` are whatever the record holds), so a
report built from views says exactly what one built from the dicts said.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, kw_only=True)
class AttachmentView:
    """An `attachment` record: a document attached to a target, by its hash.

    `seq` and `store` say where the record was read (a report cites both); `messages` is
    the correspondence file's parsed messages, empty for every other kind."""

    seq: int
    store: str
    ts_ns: int
    vantage: Any
    sha256: str
    kind: str | None
    name: str | None
    date: Any
    size: Any
    media_type: Any
    note: Any
    messages: list[Mapping[str, Any]]

    @classmethod
    def of(cls, record: Mapping[str, Any], *, seq: int, store: str) -> AttachmentView:
        kind, name = record.get("kind"), record.get("name")
        return cls(
            seq=seq,
            store=store,
            ts_ns=int(record["ts_ns"]),
            vantage=record.get("vantage"),
            sha256=str(record.get("sha256")),
            kind=None if kind is None else str(kind),
            name=None if name is None else str(name),
            date=record.get("date"),
            size=record.get("size"),
            media_type=record.get("media_type"),
            note=record.get("note"),
            messages=list(record.get("messages") or []),
        )


@dataclass(frozen=True, kw_only=True)
class NoteView:
    """A `note` record: the operator's note or ticket, a recorded claim, or the note
    slawitness writes about a message it sent (`notify`)."""

    ts_ns: int | None
    ticket: Any
    text: Any
    claim: Any
    from_notify: bool

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> NoteView:
        ts_ns = record.get("ts_ns")
        return cls(
            ts_ns=ts_ns if isinstance(ts_ns, int) else None,
            ticket=record.get("ticket"),
            text=record.get("text"),
            claim=record.get("claim"),
            from_notify="notify" in record,
        )


__all__ = ["AttachmentView", "NoteView"]
