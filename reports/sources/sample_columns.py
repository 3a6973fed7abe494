"""Probe samples gathered as one flat integer array, for building the frame.

A year of one-minute probes is millions of records. Kept as Python lists of values, the
SLA engine's columns took about 2 GB and most of the load time. Here each sample is six
integers in one typed `array` (seq, ts_ns, its kind's code, ok, latency_ns, loss_ppm;
records hold no floats) and its strings (vantage, target, probe, kind, role, error class,
origin) are one code into the few distinct combinations a store holds. A part costs 48
bytes a sample and two calls to add one, pickles cheaply out of a worker process, and
imports neither numpy nor pandas (workers stay quick to start).
`reports.sources.stores.sample_frame` turns parts into the DataFrame.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Mapping
from typing import Any

STRING_COLUMNS = ("vantage", "target", "probe", "kind", "role", "error", "origin")
NUMBER_COLUMNS = ("seq", "ts_ns", "combo", "ok", "latency_ns", "loss_ppm")
"""The integers of each sample, in `SampleColumns.numbers` order."""
ABSENT = -(2**63)
"""Stands for a missing latency or loss (None in the record)."""

FIELDS = ("ts_ns", "vantage", "target", "probe", "kind", "role", "ok", "latency_ns",
          "loss_ppm", "error", "origin")  # fmt: skip
"""The payload fields a sample is made of, in `SampleColumns.add`'s order (after seq)."""


class SampleColumns:
    """One source's (or one seq range's) samples; `add` one, `add_rows` many.

    `combos` maps each distinct (vantage, target, probe, kind, role, error, origin) to its
    code; `numbers` holds NUMBER_COLUMNS for each sample, one after the other. A missing
    `role` is a target's and a missing `origin` is "native", as in records written before
    those fields existed. `intervals` maps (host, probe) to the configured interval in ns.
    """

    def __init__(self, intervals: Mapping[tuple[str, str], int]) -> None:
        self.intervals = dict(intervals)
        self.numbers: array[int] = array("q")
        self.combos: dict[tuple[Any, ...], int] = {}

    def __len__(self) -> int:
        return len(self.numbers) // len(NUMBER_COLUMNS)

    def add(
        self,
        seq: int,
        ts_ns: int,
        vantage: Any,
        target: Any,
        probe: Any,
        kind: Any,
        role: Any,
        ok: Any,
        latency_ns: Any,
        loss_ppm: Any,
        error: Any,
        origin: Any,
    ) -> None:
        """One probe attempt's fields."""
        key = (vantage, target, probe, kind, role, error, origin)
        combo = self.combos.get(key)
        if combo is None:
            combo = self.combos[key] = len(self.combos)
        self.numbers.extend(
            (
                seq,
                ts_ns,
                combo,
                1 if ok else 0,
                ABSENT if latency_ns is None else latency_ns,
                ABSENT if loss_ppm is None else loss_ppm,
            )
        )

    def add_record(self, seq: int, record: Mapping[str, Any]) -> None:
        """A decoded probe record (its `ts_ns` is always there: the chain checks it)."""
        get = record.get
        self.add(
            seq, record["ts_ns"], get("vantage"), get("target"), get("probe"), get("kind"),
            get("role"), get("ok"), get("latency_ns"), get("loss_ppm"), get("error"),
            get("origin"),
        )  # fmt: skip

    def add_rows(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """Rows of (seq, *FIELDS), as `EvidenceStore.fields` returns them."""
        for row in rows:
            self.add(*row)

    def combo_table(self) -> list[dict[str, Any]]:
        """Each combination's strings (defaults filled in) and interval, by code."""
        table = []
        for vantage, target, probe, kind, role, error, origin in self.combos:
            table.append(
                {
                    "vantage": vantage,
                    "target": target,
                    "probe": probe,
                    "kind": kind,
                    "role": "target" if role is None else role,
                    "error": error,
                    "origin": "native" if origin is None else origin,
                    "interval_ns": self.intervals.get((target, probe), -1),
                }
            )
        return table
