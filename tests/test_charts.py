"""Charts: the expected artists, sane PNGs, and per-pixel downsampling that keeps the envelope."""

from __future__ import annotations

import io
import struct

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.collections import PolyCollection
from matplotlib.patches import Rectangle

from reports.render.charts import (
    STATE_COLOURS,
    figure_availability,
    figure_daily_uptime,
    figure_incidents,
    figure_latency,
    plot_latency,
    png_bytes,
    render_charts,
)
from reports.render.downsample import bucket_index, minmax_downsample
from reports.render.fonts import find_cjk_font
from tests.report_fixtures import (
    MINUTE_NS,
    PERIOD_START,
    make_daily,
    make_samples,
    make_summary,
    make_timeline,
    ns,
)


@pytest.fixture(scope="module")
def samples() -> pd.DataFrame:
    return make_samples()


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_availability_draws_one_rectangle_per_run() -> None:
    timeline = make_timeline()
    ax = figure_availability(make_summary(), timeline).axes[0]
    drawn = {
        c.get_label(): len(c.get_paths()) for c in ax.collections if isinstance(c, PolyCollection)
    }
    expected = timeline["state"].value_counts().to_dict()
    assert drawn == expected
    non_up = sum(n for state, n in drawn.items() if state != "up")
    assert non_up == int((timeline["state"] != "up").sum()) == 6
    legend_box = ax.get_legend()
    assert legend_box is not None
    legend = [t.get_text() for t in legend_box.get_texts()]
    assert legend == ["up", "down (provider)", "down (local network)", "maintenance", "no data"]


def test_availability_colours_differ_per_state() -> None:
    assert len(set(STATE_COLOURS.values())) == len(STATE_COLOURS) == 6


def test_latency_downsamples_a_year_to_the_pixel_width() -> None:
    minutes = 525_600
    ts = ns(PERIOD_START) + np.arange(minutes, dtype=np.int64) * MINUTE_NS
    latency = np.full(minutes, 50e6)
    latency[123_456] = 900e6  # one spike that must survive
    samples = pd.DataFrame(
        {
            "ts_ns": ts,
            "vantage": "office",
            "target": "vps1",
            "probe": "web",
            "kind": "http",
            "role": "target",
            "ok": True,
            "latency_ns": latency,
            "loss_ppm": np.nan,
            "error": None,
            "interval_ns": MINUTE_NS,
            "origin": "native",
            "seq": 1,
        }
    )
    timeline = pd.DataFrame(
        {"start_ns": [int(ts[0])], "end_ns": [int(ts[-1]) + MINUTE_NS], "state": ["up"]}
    )
    fig = figure_latency(make_summary(), timeline, samples)
    (line,) = [ln for ln in fig.axes[0].get_lines() if ln.get_label() == "web"]
    y = np.asarray(line.get_ydata(), dtype=float)
    assert 100 < y.size <= 2 * 1000
    assert np.nanmax(y) == pytest.approx(900.0)
    assert np.nanmin(y) == pytest.approx(50.0)


def test_latency_lines_threshold_and_outage_shading(samples: pd.DataFrame) -> None:
    fig = figure_latency(make_summary(), make_timeline(), samples)
    ax = fig.axes[0]
    labels = [ln.get_label() for ln in ax.get_lines()]
    assert labels == ["ping", "web", "SLA latency threshold"]
    assert np.asarray(ax.get_lines()[2].get_ydata())[0] == pytest.approx(300.0)
    shaded = {c.get_label(): len(c.get_paths()) for c in ax.collections}
    assert shaded == {"down (local network)": 1, "down (provider)": 3}


def test_latency_without_data_says_so() -> None:
    from matplotlib.figure import Figure

    empty = make_samples(days=1).iloc[0:0]
    ax = plot_latency(Figure().add_subplot(), empty, make_timeline(), target="vps1")
    assert [t.get_text() for t in ax.texts] == ["No latency data"]


def test_daily_bars_red_below_the_sla() -> None:
    daily = make_daily()
    ax = figure_daily_uptime(make_summary(), daily).axes[0]
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(bars) == len(daily) == 31
    red = [b for b in bars if b.get_facecolor()[:3] == pytest.approx((0xD5 / 255, 0x5E / 255, 0))]
    assert len(red) == int((daily["uptime"] < 0.999).sum()) == 2
    assert any(np.asarray(ln.get_ydata())[0] == pytest.approx(99.9) for ln in ax.get_lines())


def test_incident_bars_counted_solid_others_hatched() -> None:
    summary = make_summary()
    ax = figure_incidents(summary).axes[0]
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(bars) == len(summary["incidents"]) == 5
    hatched = [b for b in bars if b.get_hatch()]
    # the short one, the local one and the one inside maintenance
    assert len(hatched) == sum(not i["counted"] for i in summary["incidents"]) == 3
    assert [t.get_text() for t in ax.get_yticklabels()] == ["#1", "#2", "#3", "#4", "#5"]


def test_no_incidents_chart_says_so() -> None:
    ax = figure_incidents(make_summary(incidents=[])).axes[0]
    assert [t.get_text() for t in ax.texts] == ["No incidents in this period"]


def test_render_charts_gives_sane_pngs(samples: pd.DataFrame) -> None:
    charts = render_charts(make_summary(), make_timeline(), make_daily(), samples, "en")
    assert set(charts.pngs) == {"availability", "latency", "daily", "incidents"}
    for name, data in charts.pngs.items():
        width, height = png_size(data)
        assert (width, 150) <= (1100, height) <= (1100, 900), name
        assert 5_000 < len(data) < 500_000, name
        pixels = mpimg.imread(io.BytesIO(data))
        assert pixels[..., :3].std() > 0.05, f"{name} looks blank"
    assert charts.lang == "en" and charts.warnings == []


def test_zh_charts_use_chinese_when_a_cjk_font_exists(samples: pd.DataFrame) -> None:
    fig = figure_availability(make_summary(), make_timeline(), "zh")
    assert fig.axes[0].get_title() == "可用性"
    charts = render_charts(make_summary(), make_timeline(), make_daily(), samples, "zh")
    if find_cjk_font() is None:
        assert charts.lang == "en" and "CJK" in charts.warnings[0]
    else:
        assert charts.lang == "zh" and charts.warnings == []


# --- downsampling -------------------------------------------------------------------------

series = st.lists(st.tuples(st.floats(-1e6, 1e6), st.floats(-1e3, 1e3)), min_size=1, max_size=400)


@settings(max_examples=200, deadline=None)
@given(points=series, buckets=st.integers(1, 50))
def test_downsample_keeps_every_bucket_envelope(
    points: list[tuple[float, float]], buckets: int
) -> None:
    x = np.array([p[0] for p in points])
    y = np.array([p[1] for p in points])
    xo, yo = minmax_downsample(x, y, buckets)
    assert xo.size <= max(2 * buckets, x.size) and xo.size <= x.size
    assert np.all(np.diff(xo) >= 0)
    original = set(zip(x.tolist(), y.tolist(), strict=True))
    assert set(zip(xo.tolist(), yo.tolist(), strict=True)) <= original
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order]
    if x.size > 2 * buckets:
        assert xo.size <= 2 * buckets
        bucket_in = bucket_index(xs, buckets)
        low, high = xs[0], xs[-1]
        bucket_out = (
            np.zeros(xo.size, dtype=np.int64)
            if high <= low
            else np.clip(np.floor((xo - low) / (high - low) * buckets), 0, buckets - 1)
        )
        for b in np.unique(bucket_in):
            inside = ys[bucket_in == b]
            kept = yo[bucket_out == b]
            assert kept.max() == inside.max() and kept.min() == inside.min()
    else:
        assert np.array_equal(xo, xs) and np.array_equal(yo, ys)


def test_downsample_bounds_a_year_and_drops_nans() -> None:
    x = np.arange(525_600, dtype=float)
    y = np.sin(x / 300.0)
    y[::1000] = np.nan
    xo, yo = minmax_downsample(x, y, 1000)
    assert xo.size <= 2000 and not np.isnan(yo).any()
    assert yo.max() == np.nanmax(y) and yo.min() == np.nanmin(y)


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        ([1.0, 2.0], [1.0], "differ in length"),
        ([1.0], [1.0], "at least 1"),
    ],
)
def test_downsample_rejects_bad_input(x: list[float], y: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        minmax_downsample(x, y, 0 if message == "at least 1" else 10)


def test_png_bytes_of_a_figure() -> None:
    data = png_bytes(figure_incidents(make_summary()))
    assert png_size(data)[0] == 1100
