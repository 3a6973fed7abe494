"""Incidents: maximal runs of seconds in which at least one vantage sees the target down.

An incident keeps its full start, end and duration even when it crosses the period's edges
(the observation window reaches beyond the period for that); only its provider seconds
inside the period count, and only when the whole incident lasts at least `min_duration`.
Its attribution is the state covering most of its seconds, ties going to the state with the
higher precedence (maintenance > local > unconfirmed > provider).

An incident is `counted` when some of its seconds count against the provider
(`counted_seconds` > 0), whatever its attribution: a local incident whose controls failed a
few seconds after the target still counts those seconds. Every other incident says why in
`not_counted_because`: `too_short` when it has provider seconds in the period but lasts less
than `min_duration`; otherwise the state covering most of its seconds inside the period
(`local`: your network, `maintenance`, `unconfirmed`), ties going by precedence; under
`downtime.starts_at: ticket`, `no_ticket` when no ticket was opened while its provider
seconds lasted (reports/sla/tickets.py).

An incident cites the records it rests on, so a bundle can prove them one by one:
`evidence_seqs` holds the seq of its first failing sample of the target and, when there is
one, of the successful sample that ended it (the earliest one starting at its end second);
`evidence_vantages[i]` is the vantage whose store holds `evidence_seqs[i]` (a seq is only
unique within one store). Samples without a record (Prometheus) are never cited.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from reports.report_text import TEXT
from reports.sla.attribution import (
    LOCAL,
    MAINTENANCE,
    PROVIDER,
    STATE_NAMES,
    UNCONFIRMED,
    Observation,
    PreparedSamples,
    paint_mask,
)
from reports.sla.summary import Incident

_PRECEDENCE = (MAINTENANCE, LOCAL, UNCONFIRMED, PROVIDER)
NOT_COUNTED_REASONS = ("too_short", "local", "maintenance", "unconfirmed", "no_ticket")
"""Every value `not_counted_because` can take (besides None, for a counted incident); the
words for each are report_text.yml's `not_counted_because`, the command line's the English."""


def iso_second(second: int) -> str:
    """ISO 8601 UTC with a Z, to the second."""
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def incident_tally(incidents: Sequence[Mapping[str, Any]]) -> str:
    """`4 incidents, 2 counted (1 too short, 1 your network)`: what the report and bundle
    commands print, counting an incident only when some of its seconds count."""
    counted = sum(1 for i in incidents if i.get("counted"))
    why = Counter(str(i.get("not_counted_because")) for i in incidents)
    words = TEXT["en"]["not_counted_because"]
    parts = [f"{why[r]} {words[r]}" for r in NOT_COUNTED_REASONS if why[r]]
    return f"{len(incidents)} incidents, {counted} counted" + (
        f" ({', '.join(parts)})" if parts else ""
    )


def segment_counts(mask: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """How many true seconds each [starts[i], ends[i]) holds; segments sorted, disjoint and
    non-empty. `count_nonzero` per slice is fastest for the usual few incidents; a flapping
    year with many thousands of them takes one `reduceat` instead."""
    if starts.size <= 20_000:
        pairs = zip(starts.tolist(), ends.tolist(), strict=True)
        return np.array([np.count_nonzero(mask[a:b]) for a, b in pairs], np.int64)
    cuts = np.stack([starts, ends], axis=1).ravel()
    if cuts[-1] >= mask.size:
        cuts = cuts[:-1]
    return np.add.reduceat(mask, cuts, dtype=np.int64)[0::2]


@dataclass
class Incidents:
    """The incidents meeting the period: their JSON form and their runs (window offsets)."""

    listed: list[Incident]
    starts: np.ndarray
    ends: np.ndarray
    counted: np.ndarray
    counted_starts: np.ndarray | None = None
    """Where each incident's counted seconds begin, when that is not its start (the first
    ticket under `downtime.starts_at: ticket`, reports/sla/tickets.py)."""

    def counted_mask(self, n: int) -> np.ndarray:
        """True over the seconds of the counted incidents, for an n-second window."""
        keep = self.counted
        starts = self.starts if self.counted_starts is None else self.counted_starts
        return paint_mask(n, starts[keep], self.ends[keep])


def find_incidents(
    obs: Observation,
    prepared: PreparedSamples,
    *,
    target: str,
    probes: Sequence[str] | None,
    period_s: tuple[int, int],
    min_duration: float,
) -> Incidents:
    """Every incident that meets the period, with its counted provider seconds."""
    flips = np.diff(obs.down_any.view(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts, ends = np.flatnonzero(flips == 1), np.flatnonzero(flips == -1)
    p0, p1 = period_s[0] - obs.w0, period_s[1] - obs.w0
    meets = (ends > p0) & (starts < p1)
    starts, ends = starts[meets], ends[meets]
    inner_starts, inner_ends = np.maximum(starts, p0), np.minimum(ends, p1)
    by_state = np.zeros((starts.size, len(_PRECEDENCE)), np.int64)
    inside_by_state = np.zeros_like(by_state)
    for k, code in enumerate(_PRECEDENCE):
        is_code = obs.state == code
        by_state[:, k] = segment_counts(is_code, starts, ends)
        inside_by_state[:, k] = segment_counts(is_code, inner_starts, inner_ends)
    durations = ends - starts
    provider_inside = inside_by_state[:, _PRECEDENCE.index(PROVIDER)]
    counted_seconds = np.where(durations >= min_duration, provider_inside, 0)
    counted = counted_seconds > 0
    attribution = [_PRECEDENCE[i] for i in np.argmax(by_state, axis=1)] if starts.size else []
    reasons = _reasons(counted, provider_inside, inside_by_state)
    seen = {
        vantage: segment_counts(down, starts, ends) > 0
        for vantage, down in obs.down_by_vantage.items()
    }
    probes_of, errors_of, first_of = _failures(
        prepared, target, probes, starts + obs.w0, ends + obs.w0
    )
    ended_by = _recoveries(prepared, target, probes, ends + obs.w0)
    listed = [
        Incident(
            start=iso_second(int(starts[i]) + obs.w0),
            end=iso_second(int(ends[i]) + obs.w0),
            duration_seconds=int(durations[i]),
            counted_seconds=int(counted_seconds[i]),
            probes=probes_of.get(i, []),
            errors=errors_of.get(i, {}),
            attribution=STATE_NAMES[attribution[i]],
            counted=bool(counted[i]),
            not_counted_because=reasons[i],
            vantages=sorted(v for v, hit in seen.items() if hit[i]),
            evidence_seqs=[seq for _, seq in cited],
            evidence_vantages=[vantage for vantage, _ in cited],
        )
        for i in range(starts.size)
        for cited in [_cited(first_of.get(i), ended_by.get(i))]
    ]
    return Incidents(listed, starts, ends, counted)


def _reasons(
    counted: np.ndarray, provider_inside: np.ndarray, inside_by_state: np.ndarray
) -> list[str | None]:
    """Why each incident is not counted (None when it is): too short when it has provider
    seconds in the period, else the state holding most of its seconds in the period (an
    incident always has some there; they are maintenance, local or unconfirmed ones)."""
    not_provider = [k for k, code in enumerate(_PRECEDENCE) if code != PROVIDER]
    reasons: list[str | None] = []
    for i in range(counted.size):
        if counted[i]:
            reasons.append(None)
        elif provider_inside[i]:
            reasons.append("too_short")
        else:
            k = not_provider[int(np.argmax(inside_by_state[i, not_provider]))]
            reasons.append(STATE_NAMES[_PRECEDENCE[k]])
    return reasons


Cited = tuple[str, int]
"""A sample's vantage and seq."""


def _cited(first: Cited | None, ended: Cited | None) -> list[Cited]:
    """The samples an incident cites: its first failure and the success that ended it."""
    return [c for c in (first, ended) if c is not None]


def _earliest(
    prepared: PreparedSamples, rows: np.ndarray, groups: np.ndarray, rank: np.ndarray | None = None
) -> dict[int, Cited]:
    """Per group: the vantage and seq of its earliest sample (by `rank`, then ts, then seq)
    that has a record (seq >= 1)."""
    if "seq" not in prepared.frame.columns or rows.size == 0:
        return {}
    seqs = prepared.column("seq", rows).astype(np.int64)
    keep = seqs >= 1
    rows, groups, seqs = rows[keep], groups[keep], seqs[keep]
    ranks = np.zeros(rows.size, np.int8) if rank is None else rank[keep]
    order = np.lexsort((seqs, prepared.column("ts_ns", rows), ranks, groups))
    firsts = order[np.flatnonzero(np.diff(groups[order], prepend=-1))]
    vantages = prepared.column("vantage", rows[firsts])
    return {int(groups[i]): (str(v), int(seqs[i])) for i, v in zip(firsts, vantages, strict=True)}


def _recoveries(
    prepared: PreparedSamples, target: str, probes: Sequence[str] | None, ends: np.ndarray
) -> dict[int, Cited]:
    """Per incident: the successful sample of the target that starts at its end second,
    preferring one whose series failed just before (under `probes: any` a probe that never
    failed does not end an incident); none when the incident ends because samples stop."""
    rows = prepared.positions(target, probes)
    rows = rows[prepared.code[rows] == 1]
    if rows.size == 0 or ends.size == 0:
        return {}
    which = np.searchsorted(ends, prepared.start_s[rows])
    hit = which < ends.size
    hit[hit] &= ends[which[hit]] == prepared.start_s[rows[hit]]
    rows, which = rows[hit], which[hit]
    series_start = np.zeros(prepared.code.size + 1, bool)
    series_start[[s.lo for s in prepared.series]] = True
    recovers = ~series_start[rows] & (prepared.code[np.maximum(rows - 1, 0)] == 2)
    return _earliest(prepared, rows, which, np.where(recovers, 0, 1).astype(np.int8))


def _failures(
    prepared: PreparedSamples,
    target: str,
    probes: Sequence[str] | None,
    starts: np.ndarray,
    ends: np.ndarray,
) -> tuple[dict[int, list[str]], dict[int, dict[str, int]], dict[int, Cited]]:
    """Per incident (by index): the probes that failed during it, the failing samples per
    error class and the first failing sample. A failing sample belongs to the first
    incident its seconds overlap."""
    rows = prepared.positions(target, probes)
    rows = rows[prepared.code[rows] == 2]
    if rows.size == 0 or starts.size == 0:
        return {}, {}, {}
    first_s = prepared.start_s[rows]
    last_s = np.maximum(prepared.end_s[rows], first_s + 1)
    which = np.searchsorted(ends, first_s, side="right")
    inside = which < starts.size
    inside[inside] &= starts[which[inside]] < last_s[inside]
    rows = rows[inside]
    first_of = _earliest(prepared, rows, which[inside])
    picked = pd.DataFrame(
        {
            "incident": which[inside],
            "probe": prepared.column("probe", rows),
            "error": prepared.column("error", rows),
        }
    )
    picked["error"] = picked["error"].fillna("other").astype(str)
    probes_of = {int(i): sorted(group.unique()) for i, group in picked.groupby("incident")["probe"]}
    errors_of: dict[int, dict[str, int]] = {}
    for (i, error), count in picked.groupby(["incident", "error"]).size().items():
        errors_of.setdefault(int(i), {})[str(error)] = int(count)
    return probes_of, errors_of, first_of
