"""Claim deadlines: how long after the period (or after each incident) a claim may be filed.

Calendar days are whole days of elapsed time (`claim_window_days: 30` after a period that
ends at midnight is midnight 30 days later), as the deadline always was. Business days are
Mondays to Fridays on the SLA's local calendar: the deadline is the same local wall-clock
time that many weekdays later, so a Friday 14:00 incident with 3 business days may be
claimed until Wednesday 14:00. Public holidays differ by country and year and are not known
here: they count as business days, so the stated deadline is never later than the real one.

With `counted_from: incident` each counted incident has its own deadline, counted from its
end (an incident is claimable once it is over); the period's deadline is then the earliest
one still open when the report is made, else the latest one (all have passed).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from collector.config.sla_terms import ClaimWindow
from reports.sla.incidents import iso_second
from reports.sla.summary import Incident

_SATURDAY = 5


def deadline_after(start_s: int, window: ClaimWindow, timezone: str) -> int:
    """The last moment (epoch seconds) of a claim window opening at `start_s`."""
    if not window.business_days:
        return start_s + window.days * 86_400
    zone = ZoneInfo(timezone)
    local = datetime.fromtimestamp(start_s, zone).replace(tzinfo=None)
    left = window.days
    while left:
        local += timedelta(days=1)
        if local.weekday() < _SATURDAY:
            left -= 1
    return int(local.replace(tzinfo=zone).timestamp())


def _epoch(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def incident_deadlines(
    incidents: Sequence[Incident], window: ClaimWindow, timezone: str
) -> list[str | None]:
    """Each incident's own deadline from its end; None for one that counts nothing."""
    return [
        iso_second(deadline_after(_epoch(i.end), window, timezone)) if i.counted else None
        for i in incidents
    ]


def period_deadline(
    window: ClaimWindow | None,
    period_end_s: int,
    timezone: str,
    per_incident: Sequence[str | None],
    now_s: int,
) -> str | None:
    """summary.json's `claim_deadline`: from the period's end, or the earliest per-incident
    deadline not yet passed at `now_s` (the latest when all have; None without any)."""
    if window is None:
        return None
    if window.counted_from == "period_end":
        return iso_second(deadline_after(period_end_s, window, timezone))
    deadlines = sorted(_epoch(d) for d in per_incident if d is not None)
    if not deadlines:
        return None
    still_open = [d for d in deadlines if d >= now_s]
    return iso_second(still_open[0] if still_open else deadlines[-1])
