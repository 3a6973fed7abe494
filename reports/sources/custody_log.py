"""The custody log of a report: every time the evidence it rests on left the collector.

Four record types are custody events: `custody` (exports, reports, bundles, hand-overs),
`backup`, `seal` and `attachment` (a document taken into the evidence). Each is listed as
one JSON-able event with the files it names and their SHA-256, so a reader holding a file
can check it is the one the chain fixed when it was made. A report lists the events of the
stores it read that concern its target or no target at all: a hand-over of another target's
evidence is not part of this report's story.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from collector.evidence.custody import CUSTODY, CUSTODY_TYPES
from collector.evidence.export import iso_from_ns
from reports.sources.evidence_view import EvidenceView


def custody_events(
    stores: Sequence[Path], evidence: EvidenceView, target: str
) -> list[dict[str, Any]]:
    """The custody events of `stores` that concern `target` or no target, oldest first."""
    events = []
    for path in stores:
        for row in evidence.store(path).records(types=CUSTODY_TYPES):
            if row.record.get("target") not in (None, target):
                continue
            events.append(_event(row.seq, row.record, path))
    events.sort(key=lambda event: (event["ts_ns"], event["store"], event["seq"]))
    return events


def _event(seq: int, record: Mapping[str, Any], store: Path) -> dict[str, Any]:
    """One record as an event: what happened, when, from where, and the files it names."""
    rtype = record.get("type")
    stamped = record.get("ts_ns")
    ts_ns = stamped if isinstance(stamped, int) else 0
    event: dict[str, Any] = {
        "seq": seq,
        "store": store.name,
        "ts_ns": ts_ns,
        "time": iso_from_ns(ts_ns),
        "event": record.get("event") if rtype == CUSTODY else rtype,
        "text": record.get("text") if rtype == CUSTODY else None,
        "target": record.get("target"),
        "period": record.get("period") if rtype == CUSTODY else record.get("month"),
        "since": _iso(record.get("since_ns")),
        "until": _iso(record.get("until_ns")),
        "vantage": record.get("vantage"),
        "files": _files(record),
        "detail": _detail(record),
    }
    if rtype == "attachment":
        event["text"] = record.get("note")
    return event


_DETAIL = {
    "backup": ("records", "head_seq"),
    "seal": ("first_seq", "last_seq"),
    "attachment": ("kind", "date"),
}
"""What each other type adds to its event: the records a backup copied or a seal closed,
the kind and date of an attached document."""


def _detail(record: Mapping[str, Any]) -> dict[str, Any]:
    """A custody record's own `detail` (an export's format and count, a hand-over's
    ticket), or the fields `_DETAIL` names for the other types."""
    if record.get("type") == CUSTODY:
        own = record.get("detail")
        return dict(own) if isinstance(own, dict) else {}
    return {key: record.get(key) for key in _DETAIL.get(str(record.get("type")), ())}


def _files(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The files a record names: a custody record's list; a backup's copy, a seal's zip or an
    attached document, each one file with its SHA-256 (and size where it was recorded)."""
    if record.get("type") == CUSTODY:
        listed = record.get("files")
        return [dict(f) for f in listed if isinstance(f, dict)] if isinstance(listed, list) else []
    name = record.get("name") or os.path.basename(str(record.get("path") or ""))
    return [{"name": name, "size": record.get("size"), "sha256": record.get("sha256")}]


def _iso(ts_ns: object) -> str | None:
    return iso_from_ns(ts_ns) if isinstance(ts_ns, int) else None


__all__ = ["custody_events"]
