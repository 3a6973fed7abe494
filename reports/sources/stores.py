"""Samples for the SLA engine, read from one or more evidence stores.

The engine works on one DataFrame of probe attempts (`ts_ns`, `vantage`, `target`,
`probe`, `kind`, `role`, `ok`, `latency_ns`, `loss_ppm`, `error`, `interval_ns`,
`origin`, `seq`), whatever the source.
This module builds it from stores — one per vantage, merged — and says what each store's
chain verification found, so a report never rests on a store it did not check.
`reports.sources.prometheus` builds the same frame from a Prometheus server.

A year of one-minute probes is about 1.6 M records, so samples are collected as typed
arrays (`reports.sources.sample_columns`) in the same pass that verifies the chain
(`reports.sources.store_scan`), and the frame is built once at the end, never row by row.
Every failure leaves as `SourceError`, one line, naming what was missing or unreadable.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from collector.config.model import Config
from collector.evidence.export import iso_from_ns
from collector.evidence.store import EvidenceStore
from collector.evidence.store_errors import StoreError
from collector.portable.errors import ReportError
from collector.proving.record_dates import allowance_ns
from reports.sources.clock_caveats import clock_caveats
from reports.sources.evidence_view import EvidenceView
from reports.sources.sample_columns import ABSENT, NUMBER_COLUMNS, STRING_COLUMNS, SampleColumns
from reports.sources.store_scan import SampleFilter, read_store

SAMPLE_COLUMNS = (
    "ts_ns", "vantage", "target", "probe", "kind", "role", "ok", "latency_ns", "loss_ppm",
    "error", "interval_ns", "origin", "seq",
)  # fmt: skip
NOTE_COLUMNS = ("ts_ns", "vantage", "target", "ticket", "text")
EVENT_COLUMNS = ("ts_ns", "vantage", "event")
FALLBACK_INTERVAL_NS = 60_000_000_000
"""What a lone sample of a probe that left the config stands for: the default interval."""
_DEDUP_KEY = ["vantage", "ts_ns", "target", "probe"]


class SourceError(ReportError):
    """Samples cannot be had from a source; the message is one line saying why."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


@dataclass
class SourceData:
    """What a source yields: samples, notes, collector events, and how far to trust them.

    `stores` holds each store's chain verification (path, ok, count, head_seq, head_hash,
    first_bad_seq, problem) for summary.json; `imported` lists the imported files whose
    samples are in the frame ({file_sha256, file_name, samples}); `caveats` are sentences
    the report prints about the source's limits.
    """

    samples: pd.DataFrame
    notes: pd.DataFrame
    events: pd.DataFrame
    stores: list[dict[str, Any]] = field(default_factory=list)
    imported: list[dict[str, Any]] = field(default_factory=list)
    caveats: list[str] = field(default_factory=list)
    collector_records: list[dict[str, Any]] = field(default_factory=list)
    """The period's `collector` records whole (start, stop, heartbeat, round, resumed):
    the clock state and versions they carry are what the statement of method states."""


def sample_frame(parts: Sequence[SampleColumns]) -> pd.DataFrame:
    """The samples contract's frame from collected parts, dtypes fixed, sorted by ts_ns.

    The string columns are categoricals (the engine groups and compares them millions of
    times over a handful of distinct values); `error` stays `object`, str or None: as a
    string or categorical column None would become NaN, which the engine would count as
    an error class.
    """
    width = len(NUMBER_COLUMNS)
    blocks, codes = [np.zeros((0, width), dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
    combos: dict[tuple[Any, ...], int] = {}
    for part in parts:
        remap = np.array([combos.setdefault(key, len(combos)) for key in part.combos] or [0])
        block = np.frombuffer(part.numbers, dtype=np.int64).reshape(-1, width)
        blocks.append(block)
        codes.append(remap[block[:, 2]])
    columns = {  # one copy each, column by column (a concatenated 2-D copy is 7x slower)
        name: np.concatenate([block[:, i] for block in blocks])
        for i, name in enumerate(NUMBER_COLUMNS)
    }
    combo = np.concatenate(codes)
    ts = columns["ts_ns"]
    if not np.all(ts[1:] >= ts[:-1]):  # in time order, stable (seq order kept)
        order = np.argsort(ts, kind="stable")
        columns = {name: column[order] for name, column in columns.items()}
        combo = combo[order]
    kinds = _combo_columns(parts, combos)
    return pd.DataFrame(
        {
            "ts_ns": columns["ts_ns"],
            **{name: _categorical(kinds[name], combo) for name in SAMPLE_COLUMNS[1:6]},
            "ok": columns["ok"] != 0,
            "latency_ns": _measured(columns["latency_ns"]),
            "loss_ppm": _measured(columns["loss_ppm"]),
            "error": pd.Series(_as_objects(kinds["error"])[combo], dtype=object),
            "interval_ns": np.array(kinds["interval_ns"] or [0], dtype=np.int64)[combo],
            "origin": _categorical(kinds["origin"], combo),
            "seq": columns["seq"],
        },
        copy=False,  # the arrays are this frame's own: no consolidating copy
    )


def _combo_columns(
    parts: Sequence[SampleColumns], combos: dict[tuple[Any, ...], int]
) -> dict[str, list[Any]]:
    """Each string column (and interval_ns) by global combination code."""
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for part in parts:
        rows.update(zip(part.combos, part.combo_table(), strict=True))
    ordered = [rows[key] for key in combos]
    return {name: [row[name] for row in ordered] for name in (*STRING_COLUMNS, "interval_ns")}


def _measured(values: np.ndarray) -> np.ndarray:
    """Latency or loss as float64, NaN where the record had none."""
    out = values.astype(np.float64)
    out[values == ABSENT] = np.nan
    return out


def _as_objects(values: list[Any]) -> np.ndarray:
    table = np.empty(len(values) + 1, dtype=object)  # one spare so an empty frame can take
    table[: len(values)] = values
    return table


def _categorical(values: list[Any], combo: np.ndarray) -> pd.Categorical:
    """One string per combination, as a Categorical over the samples; None as missing."""
    categories = list(dict.fromkeys(str(v) for v in values if v is not None))
    position = {v: i for i, v in enumerate(categories)}
    codes = np.array([-1 if v is None else position[str(v)] for v in values] + [-1])
    return pd.Categorical.from_codes(codes[combo], categories=categories)


def empty_notes() -> pd.DataFrame:
    """A notes frame with no rows (Prometheus has no notes)."""
    return _note_frame([])


def empty_events() -> pd.DataFrame:
    """A collector-events frame with no rows."""
    return pd.DataFrame({"ts_ns": np.zeros(0, np.int64), "vantage": [], "event": []})


def configured_intervals(config: Config) -> dict[tuple[str, str], int]:
    """(host, probe) -> the probe's configured interval in ns, targets and controls alike."""
    return {key: round(seconds * 1e9) for key, seconds in config.intervals().items()}


def load_store_samples(
    paths: Sequence[Path],
    config: Config,
    since_ns: int,
    until_ns: int,
    *,
    target: str | None = None,
    members: Sequence[str] = (),
    verify: bool = True,
    evidence: EvidenceView | None = None,
) -> SourceData:
    """Samples with since_ns <= ts_ns < until_ns from every store in `paths`, merged.

    With `target`, only that host's samples and the config's controls' are read (through
    the store's (target, ts_ns) index), and SourceError is raised when the target has none
    in the window; without it, every host's. A record found in two stores (same vantage,
    ts_ns, target and probe: a store copied next to itself) is counted once.
    `verify=False` skips the chain check (about 6 s of CPU per million records) for callers that
    refresh often, such as the exporter; each store's entry then has `ok` None.
    `evidence` holds the stores open for the rest of a report; without it each is closed
    once read. `members` are the other targets of the target's zone group (`sla.zones`),
    read with it: each must have samples in the window too, or the group cannot be judged.
    """
    if not paths:
        raise SourceError("no evidence store given")
    hosts = (
        None
        if target is None
        else tuple(dict.fromkeys([target, *members, *(c.name for c in config.controls)]))
    )
    wanted = SampleFilter(
        since_ns, until_ns, hosts, configured_intervals(config), target, allowance_ns(config)
    )
    parts: list[SampleColumns] = []
    notes: list[dict[str, object]] = []
    events: list[dict[str, object]] = []
    imports: dict[str, str] = {}
    stores: list[dict[str, Any]] = []
    caveats: list[str] = []
    for path in paths:
        with _open_readonly(path, evidence) as store:
            try:
                read = read_store(store, wanted, verify=verify)
            except StoreError as exc:
                raise SourceError(f"cannot read evidence store: {exc}") from exc
        stores.append({"path": str(path), **read.verification})
        caveats += _date_caveats(path, read.verification.get("dates"))
        parts += read.parts
        notes += read.notes
        events += read.events
        imports.update(read.imports)
    samples = sample_frame(parts)
    if len(paths) > 1:
        samples = _dedupe(samples)
    for host in [] if target is None else dict.fromkeys([target, *members]):
        if not (samples["target"] == host).any():
            raise SourceError(
                f"no samples for target {host!r} between {iso_from_ns(since_ns)} and"
                f" {iso_from_ns(until_ns)} in {', '.join(map(str, paths))}"
            )
    if samples.empty:
        raise SourceError(
            f"no samples between {iso_from_ns(since_ns)} and {iso_from_ns(until_ns)}"
            f" in {', '.join(map(str, paths))}"
        )
    _fill_unknown_intervals(samples)
    return SourceData(
        samples=samples,
        notes=_note_frame(notes),
        events=_event_frame(events),
        stores=stores,
        imported=_imported(samples, imports),
        caveats=[*caveats, *clock_caveats(events)],
        collector_records=events,
    )


def _date_caveats(path: Path, dates: dict[str, Any] | None) -> list[str]:
    """The report's word on records dated earlier than the store could have taken them:
    they are in the figures as dated, and the report says so, by seq."""
    if not dates or not dates["backdated"]:
        return []
    runs = "; ".join(dates["backdated_runs"])
    return [
        f"{path}: {dates['backdated']} records are dated earlier than the store could have"
        f" taken them (appended later than their dates say), and are counted as dated: {runs}."
        " Run slawitness verify on the store."
    ]


@contextmanager
def _open_readonly(path: Path, evidence: EvidenceView | None) -> Iterator[EvidenceStore]:
    """The store read-only, from `evidence` when given (which keeps it open), store errors
    turned into SourceError."""
    try:
        store = (
            EvidenceStore.open(path, readonly=True) if evidence is None else evidence.store(path)
        )
    except StoreError as exc:
        raise SourceError(f"cannot read evidence store: {exc}") from exc
    try:
        yield store
    finally:
        if evidence is None:
            store.close()


def _dedupe(samples: pd.DataFrame) -> pd.DataFrame:
    """One row per (vantage, ts_ns, target, probe): the first store's copy is kept."""
    duplicated = samples.duplicated(subset=_DEDUP_KEY, keep="first")
    if duplicated.any():
        samples = samples.loc[~duplicated].reset_index(drop=True)
    return samples


def _fill_unknown_intervals(samples: pd.DataFrame) -> None:
    """Probes no longer in the config stand for the median spacing of their own samples."""
    unknown = samples["interval_ns"] < 0
    if not unknown.any():
        return
    for _, group in samples.loc[unknown].groupby(["vantage", "target", "probe"], sort=False):
        gaps = np.diff(group["ts_ns"].to_numpy())
        gaps = gaps[gaps > 0]
        spacing = int(statistics.median(gaps.tolist())) if len(gaps) else FALLBACK_INTERVAL_NS
        samples.loc[group.index, "interval_ns"] = spacing


def _imported(samples: pd.DataFrame, names: dict[str, str]) -> list[dict[str, Any]]:
    """Each imported file with samples in the frame, and how many it contributed."""
    origins = samples["origin"]
    if not any(str(o).startswith("import:") for o in origins.unique()):
        return []
    counts = origins[origins.str.startswith("import:")].value_counts()
    return [
        {"file_sha256": sha, "file_name": names.get(sha), "samples": int(counts[origin])}
        for origin in sorted(counts.index)
        for sha in [origin.removeprefix("import:")]
    ]


def _note_frame(notes: list[dict[str, object]]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "ts_ns": np.asarray([n["ts_ns"] for n in notes], dtype=np.int64),
            "vantage": pd.Series([n.get("vantage") for n in notes], dtype=str),
            "target": pd.Series([n.get("target") for n in notes], dtype=str),
            "ticket": pd.Series([n.get("ticket") for n in notes], dtype=object),
            "text": pd.Series([n.get("text") for n in notes], dtype=str),
        }
    )
    frame = frame.drop_duplicates(subset=["ts_ns", "vantage", "target", "text"])
    return frame.sort_values("ts_ns", kind="stable", ignore_index=True)


def _event_frame(events: list[dict[str, object]]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "ts_ns": np.asarray([e["ts_ns"] for e in events], dtype=np.int64),
            "vantage": pd.Series([e.get("vantage") for e in events], dtype=str),
            "event": pd.Series([e.get("event") for e in events], dtype=str),
        }
    )
    frame = frame.drop_duplicates()
    return frame.sort_values("ts_ns", kind="stable", ignore_index=True)
