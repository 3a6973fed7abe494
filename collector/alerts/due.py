"""Which notifications are due, decided from the store alone.

Cron rounds are separate processes and the daemon may restart at any moment, so nothing is
kept in memory: whether a target is down comes from the latest probe record of each probe
its downtime rule names, and what was already sent comes from the notification notes in
the chain (`type: note` with a `notify` field, see `collector.alerts.notify`). An incident opens on
the first look that finds the target down with no open incident noted, and closes on the
first look that finds it up again; a restart neither re-sends nor loses either.

A channel that failed is retried on a later round or event only, at most `MAX_ATTEMPTS`
notes per event, so a dead webhook costs one attempt a round and then nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from collector.config.model import Config, Target
from collector.core.durations import format_duration
from collector.core.results import JsonScalar
from collector.evidence.store import EvidenceStore

INCIDENT_KINDS = ("incident_opened", "incident_closed")
MAX_ATTEMPTS = 3
"""Notes per event: the first send and at most two retries of the channels that failed."""
EVENT_FIELDS = ("since_ns", "up_ns", "duration_s", "period", "deadline")
"""The event-specific fields a notification note carries (integers and strings only)."""
_LATEST_LIMIT = 2000


@dataclass(frozen=True)
class Event:
    """One notification to send, and the note that records it."""

    kind: str
    target: str
    key: str
    """What makes the event unique, e.g. `incident_opened:vps1:<since_ns>`: the dedupe key."""
    title: str
    body: str
    fields: dict[str, JsonScalar] = field(default_factory=dict)
    channels: tuple[str, ...] | None = None
    """Only these channel labels (a retry of the ones that failed); None: every channel."""


@dataclass
class Attempts:
    """What the notes of one event key say so far."""

    count: int = 0
    delivered: set[str] = field(default_factory=set)
    last: dict[str, object] = field(default_factory=dict)


@dataclass
class History:
    """The notification notes already in the chain."""

    by_key: dict[str, Attempts] = field(default_factory=dict)
    incident: dict[str, dict[str, object]] = field(default_factory=dict)
    """Target -> its latest incident note: an open incident when `notify` is opened."""

    @classmethod
    def read(cls, store: EvidenceStore, vantage: str) -> History:
        history = cls()
        for row in store.records(types=["note"]):
            note = row.record
            kind, key = note.get("notify"), note.get("key")
            if not isinstance(kind, str) or not isinstance(key, str):
                continue
            if note.get("vantage") != vantage:
                continue
            seen = history.by_key.setdefault(key, Attempts())
            seen.count += 1
            seen.delivered.update(str(c) for c in _strings(note.get("sent")))
            seen.last = note
            if kind in INCIDENT_KINDS:
                history.incident[str(note.get("target"))] = note
        return history


def _strings(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def iso(ts_ns: int) -> str:
    """UTC ISO 8601 to the second, as every message shows times."""
    return datetime.fromtimestamp(ts_ns // 1_000_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def latest_probe_records(
    store: EvidenceStore, target: Target, vantage: str
) -> dict[str, dict[str, object]]:
    """Each probe's latest record from this vantage (probes never run yet are missing)."""
    wanted = {spec.name for spec in target.probes}
    found: dict[str, dict[str, object]] = {}
    rows = store.records(
        target=target.name, types=["probe"], newest_first=True, limit=_LATEST_LIMIT
    )
    for row in rows:
        name = str(row.record.get("probe"))
        if name in wanted and name not in found and row.record.get("vantage") == vantage:
            found[name] = row.record
            if len(found) == len(wanted):
                break
    return found


def deciding_probes(target: Target) -> tuple[list[str], bool]:
    """The probe names the downtime rule looks at, and whether one failing is enough."""
    rule = target.sla.downtime.probes if target.sla is not None else "any"
    if isinstance(rule, list):
        return list(rule), False
    return [spec.name for spec in target.probes], rule == "any"


def is_down(target: Target, latest: dict[str, dict[str, object]]) -> bool | None:
    """Down by the target's downtime rule over the latest records; None: no records yet."""
    names, any_is_enough = deciding_probes(target)
    seen = [latest[n] for n in names if n in latest]
    if not seen:
        return None
    failing = [r for r in seen if not r.get("ok")]
    if any_is_enough:
        return bool(failing)
    return len(failing) == len(names)


def _ts(record: dict[str, object]) -> int:
    value = record.get("ts_ns")
    return value if isinstance(value, int) else 0


def incident_events(config: Config, store: EvidenceStore, history: History) -> list[Event]:
    """Incident opened (up -> down) and closed (down -> up) for every target."""
    events = []
    for target in config.targets:
        latest = latest_probe_records(store, target, config.vantage)
        down = is_down(target, latest)
        noted = history.incident.get(target.name, {})
        is_open = noted.get("notify") == "incident_opened"
        names, _ = deciding_probes(target)
        seen = [latest[n] for n in names if n in latest]
        if down and not is_open:
            failing = [r for r in seen if not r.get("ok")]
            since = min(_ts(r) for r in failing)
            what = ", ".join(f"{r.get('probe')} {r.get('error') or 'failed'}" for r in failing)
            events.append(
                Event(
                    "incident_opened", target.name, f"incident_opened:{target.name}:{since}",
                    f"slawitness: {target.name} is DOWN",
                    f"{target.name} is down since {iso(since)} as seen from {config.vantage}"
                    f" ({what}).",
                    {"since_ns": since},
                )
            )  # fmt: skip
        elif down is False and is_open:
            noted_since = noted.get("since_ns")
            since = noted_since if isinstance(noted_since, int) else 0
            up = max(_ts(r) for r in seen)
            duration_s = max(0, (up - since) // 1_000_000_000)
            events.append(
                Event(
                    "incident_closed", target.name, f"incident_closed:{target.name}:{since}",
                    f"slawitness: {target.name} is UP again",
                    f"{target.name} is up again at {iso(up)} as seen from {config.vantage};"
                    f" the incident lasted {format_duration(float(duration_s))}"
                    f" (down since {iso(since)}).",
                    {"since_ns": since, "up_ns": up, "duration_s": duration_s},
                )
            )  # fmt: skip
    return events


def retries(history: History, fresh: Iterable[Event]) -> list[Event]:
    """The events whose last note lists failed channels, sent again to those only.

    An incident note is retried only while it is still its target's latest, and an event
    that has a fresh one this round is not retried (the fresh one goes to every channel).
    """
    skip = {event.key for event in fresh} | {e.target for e in fresh if e.kind in INCIDENT_KINDS}
    found = []
    for key, seen in history.by_key.items():
        note = seen.last
        kind, target = str(note.get("notify")), str(note.get("target"))
        owed = [c for c in _strings(note.get("failed")) if c not in seen.delivered]
        if not owed or seen.count >= MAX_ATTEMPTS or key in skip:
            continue
        if kind in INCIDENT_KINDS and (
            target in skip or history.incident.get(target, {}).get("key") != key
        ):
            continue
        fields = {name: note[name] for name in EVENT_FIELDS if name in note}
        found.append(
            Event(
                kind, target, key, str(note.get("title")), str(note.get("text")),
                fields, tuple(owed),  # type: ignore[arg-type]
            )
        )  # fmt: skip
    return found
