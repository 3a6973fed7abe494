"""What a probe kind's records show as blackbox_exporter's series, and the pieces to build it.

Each kind that has series of its own (blackbox's prober/http.go, dns.go, icmp.go define
them) names them and reads them from one stored record in its own module, through a
`KindSeries` in the registry; `collector.prometheus.blackbox_series` adds what every kind
shares and asks the registry for the rest, so the exporter knows no kind by name.

A series never says more than the record does. Where no response came, blackbox shows
zeros (no response has no length, no TLS, no records), and so does every record we ever
stored, so those zeros are shown for old records too. Where a response came but the
record was written before the probe kept the `detail` key a series needs, the series is
left out rather than guessed.

Standard library only: a cron round loads the probes, and must not pay for
prometheus-client to do so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Series:
    """One gauge sample of a probe, before the probe's own labels are added."""

    name: str
    doc: str
    value: float
    extra: tuple[tuple[str, str], ...] = ()
    """Labels beyond the probe's, e.g. (("phase", "tls"),)."""


@dataclass(frozen=True)
class RecordFields:
    """One probe record with its `detail` and `phases_ns` as mappings, empty where an
    imported or old record holds something else there, so no kind has to check."""

    record: Mapping[str, object]
    detail: Mapping[str, object]
    phases: Mapping[str, object]

    @classmethod
    def of(cls, record: Mapping[str, object]) -> RecordFields:
        raw_detail, raw_phases = record.get("detail"), record.get("phases_ns")
        detail: Mapping[str, object] = raw_detail if isinstance(raw_detail, dict) else {}
        phases: Mapping[str, object] = raw_phases if isinstance(raw_phases, dict) else {}
        return cls(record, detail, phases)


@dataclass(frozen=True)
class KindSeries:
    """A kind's own series: every name it can yield, and how one record becomes them.

    `names` is declared beside `read` because the exporter's list of every series it can
    serve (and the deploy files checked against it) is built from it before any record
    is read.
    """

    names: frozenset[str]
    read: Callable[[RecordFields], Iterator[Series]]


def _none(fields: RecordFields) -> Iterator[Series]:
    """A kind whose records show only the series every kind shares."""
    yield from ()


NO_SERIES = KindSeries(frozenset(), _none)
"""The series of a kind with none of its own (tcp, as blackbox's tcp prober)."""


def number(value: object) -> float | None:
    """An integer `detail` value as a float; None for anything else (text, bool, a
    number too large for a float, as an imported record may hold)."""
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) >= 2**63:
        return None
    return float(value)


def seconds_from_ns(value: object) -> float | None:
    """An integer ns `detail` or record value in seconds; None as for `number`."""
    value_ns = number(value)
    return None if value_ns is None else value_ns / 1e9


def when_known(
    name: str, doc: str, value: float | None, extra: tuple[tuple[str, str], ...] = ()
) -> Iterator[Series]:
    """The series when the record gives its value; none when it does not (see above)."""
    if value is not None:
        yield Series(name, doc, value, extra)


def counted(
    table: tuple[tuple[str, str, str], ...], detail: Mapping[str, object], answered: bool
) -> Iterator[Series]:
    """One series per (name, `detail` key, doc) row: the key's number when a response came,
    blackbox's 0 when none did, none when an old record answered without the key."""
    for name, key, doc in table:
        yield from when_known(name, doc, number(detail.get(key)) if answered else 0.0)


def by_phase(
    name: str, doc: str, phases_ns: Mapping[str, object], names: tuple[str, ...]
) -> Iterator[Series]:
    """One series per phase, labelled `phase` as blackbox's; 0 for a phase not reached."""
    for phase in names:
        value = seconds_from_ns(phases_ns.get(phase, 0)) or 0.0
        yield Series(name, doc, value, (("phase", phase),))
