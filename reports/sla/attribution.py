"""Per-second attribution: which state every second of a window is in, as numpy arrays.

A year is 31.6 M seconds, so nothing here loops per second or per sample: each series of
samples (one vantage, host and probe) becomes an int8 array by run-length painting
(`np.repeat` over [gap, sample, gap, sample, ...]), and the DOWN/LOCAL rules of the contract
are boolean algebra over those arrays. A sample covers [ts, end), end being the next sample's
ts of its series when that comes within 1.5 x interval (so cron jitter leaves no gaps) and
ts + interval otherwise (so records that stop end one interval after the last one).
Both ends are rounded to the nearest second: a round probes the target and its controls a
few milliseconds apart, and those milliseconds must not split a second between them (a
control failing 3 ms after the target would otherwise leave the target's first failing
second counted against the provider).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from reports.sla.period import NS

UP, PROVIDER, LOCAL, UNCONFIRMED, MAINTENANCE, NO_DATA = range(6)
STATE_NAMES = ("up", "provider", "local", "unconfirmed", "maintenance", "no_data")
_OK, _FAIL = 1, 2


@dataclass(frozen=True)
class SeriesSlice:
    """One series' rows, [lo, hi) in the prepared arrays."""

    vantage: str
    host: str
    probe: str
    lo: int
    hi: int


@dataclass
class PreparedSamples:
    """The chosen hosts' samples and, in series-then-ts order, the seconds each covers.

    `frame` keeps the caller's row order (no copy when every row is wanted); `order` maps a
    sorted position to a `frame` row, so columns are gathered only where they are needed.
    """

    frame: pd.DataFrame
    order: np.ndarray
    start_s: np.ndarray
    end_s: np.ndarray
    code: np.ndarray
    series: list[SeriesSlice]

    @property
    def span(self) -> tuple[int, int]:
        """First and last second any sample covers ((0, 0) without samples)."""
        if self.start_s.size == 0:
            return 0, 0
        return int(self.start_s.min()), int(self.end_s.max())

    def column(self, name: str, positions: np.ndarray) -> np.ndarray:
        """Values of one column at sorted positions."""
        return self.frame[name].to_numpy()[self.order[positions]]

    def positions(self, host: str, probes: Sequence[str] | None = None) -> np.ndarray:
        """Sorted positions of a host's samples (of the named probes, if given)."""
        chosen = [
            np.arange(s.lo, s.hi)
            for s in self.series
            if s.host == host and (probes is None or s.probe in probes)
        ]
        return np.concatenate(chosen) if chosen else np.zeros(0, np.int64)


def prepare_samples(samples: pd.DataFrame, hosts: Sequence[str]) -> PreparedSamples:
    """Keep the named hosts' rows and work out the seconds each sample stands for."""
    wanted = samples["target"].isin(list(hosts)).to_numpy()
    frame = samples if wanted.all() else samples[wanted]
    key = np.zeros(len(frame), np.int64)
    for column in ("vantage", "target", "probe"):
        codes, names = pd.factorize(frame[column])
        key = key * max(len(names), 1) + codes
    ts_all = frame["ts_ns"].to_numpy(np.int64)
    order = np.lexsort((ts_all, key))
    key, ts = key[order], ts_all[order]
    interval = frame["interval_ns"].to_numpy(np.int64)[order]
    following = np.append(ts[1:], 0)
    same = np.append(key[1:] == key[:-1], False)
    close = same & ((following - ts) * 2 <= interval * 3)
    end_ns = np.where(close, following, ts + interval)
    start_s, end_s = (ts + NS // 2) // NS, (end_ns + NS // 2) // NS
    code = np.where(frame["ok"].to_numpy(bool)[order], _OK, _FAIL).astype(np.int8)
    los = np.flatnonzero(np.diff(key, prepend=-1))
    his = np.append(los[1:], ts.size) if los.size else los
    series = []
    for lo, hi in zip(los.tolist(), his.tolist(), strict=True):
        row = order[lo]
        vantage, host, probe = (str(frame[c].iat[row]) for c in ("vantage", "target", "probe"))
        series.append(SeriesSlice(vantage, host, probe, lo, hi))
    return PreparedSamples(frame, order, start_s, end_s, code, series)


def paint_runs(n: int, starts: np.ndarray, ends: np.ndarray, values: np.ndarray) -> np.ndarray:
    """An int8 array of length n: `values[i]` on [starts[i], ends[i]), 0 elsewhere.

    The intervals must be sorted and disjoint (ends[i] <= starts[i + 1]); they are clipped
    to [0, n).
    """
    starts, ends = np.clip(starts, 0, n), np.clip(ends, 0, n)
    k = starts.size
    if k == 0:
        return np.zeros(n, np.int8)
    runs = np.zeros(2 * k + 1, np.int8)
    runs[1::2] = values
    lengths = np.empty(2 * k + 1, np.int64)
    lengths[0:-1:2] = starts - np.concatenate([[0], ends[:-1]])
    lengths[1::2] = ends - starts
    lengths[-1] = n - ends[-1]
    return np.repeat(runs, lengths)


def paint_mask(n: int, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """A bool array of length n, true on sorted, disjoint intervals (already offset)."""
    return paint_runs(n, starts, ends, np.ones(starts.size, np.int8)).view(bool)


def _paint_series(
    prepared: PreparedSamples, one: SeriesSlice, w0: int, n: int, *, widen: bool = False
) -> np.ndarray:
    """One series' codes per second of [w0, w0 + n).

    With `widen`, a failure also covers the time since the good sample before it: when the
    series went down in between is unknown, and for a control that time must not count
    against the provider (the control may already have been down).
    """
    starts = prepared.start_s[one.lo : one.hi]
    ends = prepared.end_s[one.lo : one.hi]
    a = int(np.searchsorted(ends, w0, side="right"))
    b = int(np.searchsorted(starts, w0 + n, side="left"))
    values = prepared.code[one.lo + a : one.lo + b]
    starts, ends = starts[a:b], ends[a:b]
    if widen and values.size > 1:
        onset = np.flatnonzero(
            (values[1:] == _FAIL) & (values[:-1] == _OK) & (ends[:-1] == starts[1:])
        )
        starts, ends = starts.copy(), ends.copy()
        starts[onset + 1] = starts[onset]
        ends[onset] = starts[onset]
    return paint_runs(n, starts - w0, ends - w0, values)


def _ok_and_fail(
    prepared: PreparedSamples,
    chosen: list[SeriesSlice],
    w0: int,
    n: int,
    *,
    widen: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Per second: does some chosen series succeed, does some chosen series fail."""
    ok, fail, scratch = np.zeros(n, bool), np.zeros(n, bool), np.empty(n, bool)
    for one in chosen:
        painted = _paint_series(prepared, one, w0, n, widen=widen)
        ok |= np.equal(painted, _OK, out=scratch)
        fail |= np.equal(painted, _FAIL, out=scratch)
    return ok, fail


@dataclass
class Observation:
    """The window [w0, w0 + len(state)) second by second."""

    w0: int
    state: np.ndarray
    down_any: np.ndarray
    maintenance: np.ndarray
    down_by_vantage: dict[str, np.ndarray]
    has_data: np.ndarray
    """Seconds some sample of the target covers (for a contract's measuring granules)."""


def observe(
    prepared: PreparedSamples,
    *,
    target: str,
    probes: Sequence[str] | None,
    rule_any: bool,
    controls: Sequence[str],
    confirm_vantages: int,
    windows: np.ndarray,
    w0: int,
    w1: int,
) -> Observation:
    """Attribute every second of [w0, w1) (precedence maintenance > local > unconfirmed >
    provider, then no_data, then up). `probes` None means every probe of the target."""
    n = w1 - w0
    maintenance = paint_mask(n, windows[:, 0] - w0, windows[:, 1] - w0)
    vantages = sorted({s.vantage for s in prepared.series if s.host == target})
    confirming = np.zeros(n, np.int8)
    down_any, data_any = np.zeros(n, bool), np.zeros(n, bool)
    down_by_vantage: dict[str, np.ndarray] = {}
    for vantage in vantages:
        mine = [s for s in prepared.series if s.vantage == vantage]
        chosen = [s for s in mine if s.host == target and (probes is None or s.probe in probes)]
        ok, fail = _ok_and_fail(prepared, chosen, w0, n)
        data_any |= ok
        data_any |= fail
        down = fail if rule_any else fail & ~ok
        del ok
        local = _local(prepared, mine, controls, w0, n)
        confirming += down if local is None else down & ~local
        down_any |= down
        down_by_vantage[vantage] = down
    state = np.full(n, UP, np.int8)
    np.putmask(state, ~data_any, NO_DATA)
    np.putmask(state, down_any, PROVIDER)
    np.putmask(state, down_any & (confirming < confirm_vantages), UNCONFIRMED)
    np.putmask(state, down_any & (confirming == 0), LOCAL)
    np.putmask(state, maintenance, MAINTENANCE)
    return Observation(w0, state, down_any, maintenance, down_by_vantage, data_any)


def _local(
    prepared: PreparedSamples, mine: list[SeriesSlice], controls: Sequence[str], w0: int, n: int
) -> np.ndarray | None:
    """Seconds at which every configured control is down (has data, no probe succeeds),
    each control's failures counted from its last good sample; None when no control is
    configured (nothing can be told local)."""
    if not controls:
        return None
    local = np.ones(n, bool)
    for control in controls:
        chosen = [s for s in mine if s.host == control]
        ok, fail = _ok_and_fail(prepared, chosen, w0, n, widen=True)
        local &= fail & ~ok
    return local


def state_runs(state: np.ndarray, offset_s: int) -> pd.DataFrame:
    """The state array as contiguous runs: start_ns, end_ns, state (name)."""
    if state.size == 0:
        return pd.DataFrame({"start_ns": [], "end_ns": [], "state": []})
    cuts = np.flatnonzero(np.diff(state)) + 1
    starts = np.concatenate([[0], cuts])
    ends = np.append(cuts, state.size)
    names = np.array(STATE_NAMES, dtype=object)[state[starts]]
    return pd.DataFrame(
        {
            "start_ns": (starts + offset_s).astype(np.int64) * NS,
            "end_ns": (ends + offset_s).astype(np.int64) * NS,
            "state": names,
        }
    )
