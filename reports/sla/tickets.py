"""Downtime that starts at the ticket: contracts that exclude "any time before the problem
is reported to our support team" (`downtime.starts_at: ticket`).

The provider is told when the customer opens a ticket: a note about the target with a
ticket number (`slawitness note add --ticket`), or the first message from the customer in
the attached correspondence, whichever comes first. An incident's seconds count from the
first such moment during it (its `counted_from`); before it, and in an incident without
one, nothing counts, and the incident says `not_counted_because: no_ticket`. A ticket
opened before an incident began tells the provider of another outage, not of this one.
`min_duration` still applies to the whole incident: the outage was that long, whenever
the provider heard of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import msgspec
import numpy as np
import pandas as pd

from reports.sla.attribution import PROVIDER, Observation
from reports.sla.incidents import Incidents, iso_second
from reports.sla.period import ceil_seconds

NO_TICKET = "no_ticket"


def ticket_seconds(
    notes: pd.DataFrame | None, messages: Sequence[Mapping[str, Any]], target: str
) -> np.ndarray:
    """Sorted epoch seconds at which the customer told the provider: the target's notes that
    carry a ticket, and the customer's messages (`direction: customer`, as the complaint
    file's timeline words them)."""
    found: list[int] = []
    if notes is not None and not notes.empty:
        mine = notes[(notes["target"] == target).to_numpy()]
        for ts_ns, ticket in zip(mine["ts_ns"], mine["ticket"], strict=True):
            if isinstance(ticket, str) and ticket.strip():
                found.append(ceil_seconds(int(ts_ns)))
    for message in messages:
        when = message.get("ts")
        if message.get("direction") == "customer" and isinstance(when, str):
            moment = datetime.fromisoformat(when.replace("Z", "+00:00"))
            found.append(int(np.ceil(moment.timestamp())))
    return np.array(sorted(found), np.int64)


def count_from_tickets(
    incidents: Incidents, obs: Observation, tickets_s: np.ndarray, period_s: tuple[int, int]
) -> Incidents:
    """The incidents with their counted seconds taken from their first ticket on."""
    starts, ends = incidents.starts, incidents.ends
    if starts.size == 0:
        return incidents
    # One past the last incident's end stands for "no ticket after this".
    offsets = np.sort(np.append(tickets_s - obs.w0, int(ends[-1])))
    ticket_at = offsets[np.searchsorted(offsets, starts, side="left")]
    has_ticket = ticket_at < ends
    p0, p1 = period_s[0] - obs.w0, period_s[1] - obs.w0
    from_ = np.clip(np.maximum(ticket_at, starts), p0, p1)
    until = np.maximum(np.clip(ends, p0, p1), from_)
    counted_seconds = np.zeros(starts.size, np.int64)
    for i in np.flatnonzero(incidents.counted & has_ticket).tolist():
        counted_seconds[i] = np.count_nonzero(obs.state[from_[i] : until[i]] == PROVIDER)
    listed = []
    for i, incident in enumerate(incidents.listed):
        seconds = int(counted_seconds[i])
        lost = incident.counted and seconds == 0
        listed.append(
            msgspec.structs.replace(
                incident,
                counted_seconds=seconds,
                counted=seconds > 0,
                not_counted_because=NO_TICKET if lost else incident.not_counted_because,
                counted_from=(iso_second(int(ticket_at[i]) + obs.w0) if has_ticket[i] else None),
            )
        )
    return replace(
        incidents,
        listed=listed,
        counted=counted_seconds > 0,
        counted_starts=np.where(has_ticket, np.maximum(ticket_at, starts), ends),
    )
