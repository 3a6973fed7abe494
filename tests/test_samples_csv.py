"""samples.csv: exact decimals of the stored integers, RFC 4180 quoting, chunk seams."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reports.render import samples_csv
from reports.render.samples_csv import CSV_COLUMNS, write_samples_csv

NS = 1_000_000_000
T0 = 1_790_812_800 * NS  # 2026-10-01T00:00:00Z


def frame(rows: list[dict[str, object]], *, categorical: bool) -> pd.DataFrame:
    """A samples frame as the sources build it (categoricals) or as a test builds it."""
    data = pd.DataFrame(rows)
    for name in ("vantage", "target", "probe", "kind", "role", "origin"):
        data[name] = data[name].astype("category" if categorical else "str")
    data["error"] = data["error"].astype(object)
    return data


ROWS = [
    {"ts_ns": T0, "vantage": "office", "target": "vps1", "probe": "ping", "kind": "icmp",
     "role": "target", "ok": True, "latency_ns": 12_007_919.0, "loss_ppm": 250_000.0,
     "error": None, "origin": "native", "seq": 7},
    {"ts_ns": T0 + 1_234_567, "vantage": 'branch, "east"', "target": "vps1", "probe": "web",
     "kind": "http", "role": "target", "ok": False, "latency_ns": np.nan, "loss_ppm": np.nan,
     "error": "timeout", "origin": "import:ab12", "seq": 8},
    {"ts_ns": T0 + 61 * NS, "vantage": "office", "target": "resolver", "probe": "ping",
     "kind": "icmp", "role": "control", "ok": True, "latency_ns": 2_000_000_001.0,
     "loss_ppm": 0.0, "error": None, "origin": "native", "seq": -1},
]  # fmt: skip

EXPECTED = [
    list(CSV_COLUMNS),
    ["2026-10-01T00:00:00.000Z", "office", "vps1", "ping", "icmp", "target", "true",
     "0.012007919", "0.250000", "", "native", "7"],
    ["2026-10-01T00:00:00.001Z", 'branch, "east"', "vps1", "web", "http", "target", "false",
     "", "", "timeout", "import:ab12", "8"],
    ["2026-10-01T00:01:01.000Z", "office", "resolver", "ping", "icmp", "control", "true",
     "2.000000001", "0.000000", "", "native", "-1"],
]  # fmt: skip


@pytest.mark.parametrize("categorical", [True, False])
def test_rows_are_exact_and_quoted(tmp_path: Path, categorical: bool) -> None:
    path = tmp_path / "samples.csv"
    write_samples_csv(frame(ROWS, categorical=categorical), path)
    with path.open(newline="", encoding="utf-8") as handle:
        assert list(csv.reader(handle)) == EXPECTED
    assert '"branch, ""east"""' in path.read_text("utf-8")


def test_chunks_join_without_seams(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    many = [dict(ROWS[i % 3], seq=i) for i in range(10)]
    whole, chunked = tmp_path / "whole.csv", tmp_path / "chunked.csv"
    write_samples_csv(frame(many, categorical=True), whole)
    monkeypatch.setattr(samples_csv, "CHUNK_ROWS", 3)
    write_samples_csv(frame(many, categorical=True), chunked)
    assert chunked.read_bytes() == whole.read_bytes()
    assert len(whole.read_text("utf-8").splitlines()) == 11


def test_negative_values_keep_their_sign(tmp_path: Path) -> None:
    path = tmp_path / "samples.csv"
    write_samples_csv(frame([dict(ROWS[0], latency_ns=-1_500.0)], categorical=False), path)
    assert path.read_text("utf-8").splitlines()[1].split(",")[7] == "-0.000001500"


def test_empty_frame_writes_the_header(tmp_path: Path) -> None:
    path = tmp_path / "samples.csv"
    write_samples_csv(frame(ROWS, categorical=True).head(0), path)
    assert path.read_text("utf-8") == ",".join(CSV_COLUMNS) + "\n"
