"""Probe samples gathered as typed arrays and interned strings, for building the frame.

A year of one-minute probes is millions of records. Kept as Python lists of values, the
SLA engine's columns took about 2 GB and most of the load time; here each number goes
into a typed `array` and each string column into small integer codes of its distinct
values (a handful: vantages, targets, probes, error classes), so a part costs about 60
bytes a sample, pickles cheaply out of a worker process, and imports neither numpy nor
pandas (workers stay quick to start). `reports.sources.sample_frame` turns parts into the
DataFrame.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Mapping
from typing import Any

STRING_COLUMNS = ("vantage", "target", "probe", "kind", "role", "error", "origin")
NUMBER_COLUMNS = {  # name: array typecode
    "seq": "q",
    "ts_ns": "q",
    "interval_ns": "q",
    "ok": "b",
    "latency_ns": "d",
    "loss_ppm": "d",
}
_NAN = float("nan")


class SampleColumns:
    """One source's (or one seq range's) samples; `add` one, `add_rows` many.

    `intervals` maps (host, probe) to the configured interval in ns; a probe that left the
    config gets -1, filled in later from its samples' spacing. A missing `role` is a
    target's and a missing `origin` is "native", as records before those fields existed.
    """

    def __init__(self, intervals: Mapping[tuple[str, str], int]) -> None:
        self.intervals = dict(intervals)
        self.numbers: dict[str, array[Any]] = {
            name: array(code) for name, code in NUMBER_COLUMNS.items()
        }
        self.codes: dict[str, array[int]] = {name: array("l") for name in STRING_COLUMNS}
        self.values: dict[str, dict[Any, int]] = {name: {} for name in STRING_COLUMNS}

    def __len__(self) -> int:
        return len(self.numbers["seq"])

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
        """One probe attempt's fields; None latency or loss becomes NaN."""
        numbers, codes, values = self.numbers, self.codes, self.values
        numbers["seq"].append(seq)
        numbers["ts_ns"].append(ts_ns)
        numbers["interval_ns"].append(self.intervals.get((target, probe), -1))
        numbers["ok"].append(1 if ok else 0)
        numbers["latency_ns"].append(_NAN if latency_ns is None else latency_ns)
        numbers["loss_ppm"].append(_NAN if loss_ppm is None else loss_ppm)
        for name, value in (
            ("vantage", vantage),
            ("target", target),
            ("probe", probe),
            ("kind", kind),
            ("role", "target" if role is None else role),
            ("error", error),
            ("origin", "native" if origin is None else origin),
        ):
            known = values[name]
            code = known.get(value)
            if code is None:
                code = known[value] = len(known)
            codes[name].append(code)

    def add_record(self, seq: int, record: Mapping[str, Any]) -> None:
        """A decoded probe record (its `ts_ns` is always there: the chain checks it)."""
        get = record.get
        self.add(
            seq, record["ts_ns"], get("vantage"), get("target"), get("probe"), get("kind"),
            get("role"), get("ok"), get("latency_ns"), get("loss_ppm"), get("error"),
            get("origin"),
        )  # fmt: skip

    def add_rows(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """Rows of (seq, ts_ns, vantage, target, probe, kind, role, ok, latency_ns,
        loss_ppm, error, origin), as `EvidenceStore.fields` returns them for `FIELDS`."""
        for row in rows:
            self.add(*row)


FIELDS = ("ts_ns", "vantage", "target", "probe", "kind", "role", "ok", "latency_ns",
          "loss_ppm", "error", "origin")  # fmt: skip
"""The payload fields a sample is made of, in `SampleColumns.add`'s order (after seq)."""
