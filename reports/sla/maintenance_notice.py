"""Maintenance announced in time: with `maintenance_notice` set, a one-off window is left out
of the period only when it was announced at least that long before it began.

A window's announcement time is the attached announcement's date when `announcement` names
an attached document (an e-mail's Date header, else the attachment's `date`, else when it
was attached: the report resolves them, reports/complaint_file.py), else `announced` as the
config states it. A window announced too late, or never, is not maintenance: its seconds
are judged like any others, and summary.json's `maintenance_windows` says why, window by
window. Recurring windows are the contract's own schedule, announced by the contract
itself, and are always left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from collector.config.sla_terms import OneOffWindow, SlaTerms
from collector.core.evidence_era import datetime_ns
from reports.sla.incidents import iso_second
from reports.sla.period import Period, ceil_seconds

WHY_NOT_EXCLUDED = ("short_notice", "not_announced", "announcement_not_found")
"""Why a window was not left out: announced too late, never announced, or its announcement
is not among the attached documents (and no `announced` time stands in for it)."""


def _announced(
    window: OneOffWindow, documents: Mapping[str, datetime]
) -> tuple[int | None, str | None]:
    """When the window was announced (epoch seconds) and the announcement's full hash."""
    if window.announcement is not None:
        found = [sha for sha in documents if sha.startswith(window.announcement)]
        if len(found) == 1:
            return int(documents[found[0]].timestamp()), found[0]
    if window.announced is not None:
        return int(window.announced.timestamp()), None
    return None, None


def notice_judgements(
    terms: SlaTerms, documents: Mapping[str, datetime], period: Period
) -> tuple[list[dict[str, Any]], frozenset[int]]:
    """The one-off windows meeting the period, each with its notice and whether it is left
    out; and the positions in `terms.maintenance` of those that are not."""
    if terms.maintenance_notice is None:
        return [], frozenset()
    required = int(terms.maintenance_notice)
    judged: list[dict[str, Any]] = []
    kept_in: set[int] = set()
    for index, window in enumerate(terms.maintenance):
        if not isinstance(window, OneOffWindow):
            continue
        start_s = ceil_seconds(datetime_ns(window.start))
        end_s = ceil_seconds(datetime_ns(window.end))
        announced_s, sha = _announced(window, documents)
        notice = None if announced_s is None else start_s - announced_s
        why: str | None = None
        if notice is None:
            why = "announcement_not_found" if window.announcement is not None else "not_announced"
        elif notice < required:
            why = "short_notice"
        if why is not None:
            kept_in.add(index)
        if end_s <= period.start_s or start_s >= period.end_s:
            continue
        judged.append(
            {
                "start": iso_second(start_s),
                "end": iso_second(end_s),
                "announced": None if announced_s is None else iso_second(announced_s),
                "announcement": sha or window.announcement,
                "notice_seconds": notice,
                "required_notice_seconds": required,
                "excluded": why is None,
                "why": why,
            }
        )
    return judged, frozenset(kept_in)
