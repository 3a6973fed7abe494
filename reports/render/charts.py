"""The report's charts: availability, latency, daily uptime and incidents (matplotlib, Agg).

Each `plot_*` function draws on an `ax` it is given and returns it, so tests and other
layouts can reuse it; each `figure_*` wrapper makes a Figure of the report's size. Nothing
here uses pyplot: figures are plain `matplotlib.figure.Figure` objects rendered by Agg, so
there is no global state and no display. Drawing cost is bounded by the pixel width, not by
the period: availability comes from the engine's runs (one rectangle per run, never per
second) and latency series are min/max-downsampled per pixel column.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import matplotlib as mpl
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from reports.render.downsample import break_gaps, minmax_downsample
from reports.render.fonts import NO_CJK_FONT_WARNING, find_cjk_font

# Okabe-Ito colours: told apart with every common colour-vision deficiency.
STATE_COLOURS: dict[str, str] = {
    "up": "#009E73",
    "provider": "#D55E00",
    "local": "#0072B2",
    "unconfirmed": "#E69F00",
    "maintenance": "#CC79A7",
    "no_data": "#BBBBBB",
}
STATES: tuple[str, ...] = tuple(STATE_COLOURS)
DOWN_STATES: frozenset[str] = frozenset({"provider", "local", "unconfirmed"})
# Dark, muted line colours that none of the state colours above resemble.
LINE_COLOURS: tuple[str, ...] = (
    "#332288",
    "#117733",
    "#882255",
    "#44AA99",
    "#999933",
    "#000000",
    "#AA4499",
    "#661100",
)
FIG_SIZE = (10.0, 3.2)
DPI = 110
MIN_BAR_PX = 1.5

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "up": "up",
        "provider": "down (provider)",
        "local": "down (local network)",
        "unconfirmed": "down (unconfirmed)",
        "maintenance": "maintenance",
        "no_data": "no data",
        "availability": "Availability",
        "time": "Time ({tz})",
        "latency": "Latency of successful probes",
        "latency_ms": "Latency (ms)",
        "threshold": "SLA latency threshold",
        "outage": "outage",
        "date": "Date",
        "daily": "Daily uptime (conservative)",
        "uptime_pct": "Uptime (%)",
        "sla": "SLA {sla}",
        "below_sla": "below SLA",
        "incidents": "Incidents",
        "counted": "counted",
        "not_counted": "not counted",
        "no_incidents": "No incidents in this period",
        "no_latency": "No latency data",
    },
    "zh": {
        "up": "正常",
        "provider": "中断（服务商）",
        "local": "中断（本地网络）",
        "unconfirmed": "中断（未确认）",
        "maintenance": "维护",
        "no_data": "无数据",
        "availability": "可用性",
        "time": "时间（{tz}）",
        "latency": "成功探测的延迟",
        "latency_ms": "延迟（毫秒）",
        "threshold": "SLA 延迟阈值",
        "outage": "中断",
        "date": "日期",
        "daily": "每日可用率（保守）",
        "uptime_pct": "可用率（%）",
        "sla": "SLA {sla}",
        "below_sla": "低于 SLA",
        "incidents": "故障事件",
        "counted": "计入",
        "not_counted": "不计入",
        "no_incidents": "本周期无故障事件",
        "no_latency": "无延迟数据",
    },
}


@dataclass
class ChartSet:
    """The report's charts as PNG bytes by name, the language they use, and any warnings."""

    pngs: dict[str, bytes] = field(default_factory=dict)
    lang: str = "en"
    warnings: list[str] = field(default_factory=list)


def chart_language(lang: str) -> tuple[str, list[str]]:
    """The language the charts can use for `lang`: zh needs a CJK font, else English."""
    if lang == "zh" and find_cjk_font() is None:
        return "en", [NO_CJK_FONT_WARNING]
    return ("zh" if lang == "zh" else "en"), []


@contextmanager
def chart_style(lang: str) -> Iterator[None]:
    """Matplotlib settings for the charts; Chinese labels get the CJK font with a fallback."""
    cjk = find_cjk_font() if lang == "zh" else None
    family = [cjk, "DejaVu Sans"] if cjk is not None else ["DejaVu Sans"]
    with mpl.rc_context(
        {"font.size": 10, "axes.titlesize": 11, "legend.fontsize": 9, "font.family": family}
    ):
        yield


def ns_to_num(ns: Any) -> np.ndarray:
    """Matplotlib date numbers (days) for UTC nanosecond timestamps."""
    values = np.asarray(ns, dtype=np.int64).astype("datetime64[ns]")
    return np.asarray(mdates.date2num(values), dtype=np.float64)


def iso_to_num(text: str) -> float:
    """A matplotlib date number for an ISO 8601 time such as 2026-10-01T00:00:00Z."""
    return float(mdates.date2num(datetime.fromisoformat(text.replace("Z", "+00:00"))))


def _time_axis(ax: Axes, tz: str, lang: str) -> None:
    """Date ticks in the SLA time zone, labelled with it."""
    zone = ZoneInfo(tz)
    locator = mdates.AutoDateLocator(tz=zone, minticks=4, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    formatter = mdates.ConciseDateFormatter(locator, tz=zone)
    formatter.show_offset = False
    ax.xaxis.set_major_formatter(formatter)
    ax.set_xlabel(LABELS[lang]["time"].format(tz=tz))


def _min_width(ax: Axes, span: float) -> float:
    """The data width of MIN_BAR_PX pixels, so a one-second outage still shows."""
    fig = ax.get_figure(root=True)
    px = ax.get_position().width * (fig.get_figwidth() * fig.dpi if fig is not None else 1000)
    return span / max(px, 1.0) * MIN_BAR_PX


def plot_availability(
    ax: Axes, timeline: pd.DataFrame, *, tz: str = "UTC", lang: str = "en"
) -> Axes:
    """The period as one band of runs coloured by state: one rectangle per run."""
    text = LABELS[lang]
    starts, ends = ns_to_num(timeline["start_ns"]), ns_to_num(timeline["end_ns"])
    if len(timeline):
        ax.set_xlim(starts.min(), ends.max())
    floor = _min_width(ax, float(ends.max() - starts.min())) if len(timeline) else 0.0
    states = timeline["state"].to_numpy()
    handles = []
    for state in STATES:
        mask = states == state
        if not mask.any():
            continue
        colour = STATE_COLOURS[state]
        widths = np.maximum(ends[mask] - starts[mask], floor)
        ax.broken_barh(
            list(zip(starts[mask], widths, strict=True)),
            (0, 1),
            facecolors=colour,
            edgecolors=colour,
            linewidth=0.3,
            label=state,
        )
        handles.append(Patch(facecolor=colour, label=text[state]))
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.set_title(text["availability"])
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.35),
        ncol=len(handles) or 1,
        frameon=False,
    )
    _time_axis(ax, tz, lang)
    return ax


def _shade_outages(ax: Axes, timeline: pd.DataFrame, lang: str) -> None:
    """Shade the down runs across the full height, coloured by attribution."""
    for state in sorted(DOWN_STATES):
        runs = timeline[timeline["state"] == state]
        if runs.empty:
            continue
        starts, ends = ns_to_num(runs["start_ns"]), ns_to_num(runs["end_ns"])
        left, right = ax.get_xlim()
        ends = np.maximum(ends, starts + _min_width(ax, right - left))
        verts = [
            [(s, 0.0), (s, 1.0), (e, 1.0), (e, 0.0)] for s, e in zip(starts, ends, strict=True)
        ]
        shade = PolyCollection(
            verts,
            transform=ax.get_xaxis_transform(),
            alpha=0.35,
            facecolors=STATE_COLOURS[state],
            edgecolors="none",
            label=LABELS[lang][state],
        )
        ax.add_collection(shade, autolim=False)


def latency_series(samples: pd.DataFrame, target: str) -> dict[str, pd.DataFrame]:
    """The target's successful latency samples per probe (per probe @ vantage if several)."""
    rows = samples[
        (samples["role"] == "target") & samples["ok"].astype(bool) & samples["latency_ns"].notna()
    ]
    mine = rows["target"] == target
    if mine.any():
        rows = rows[mine]
    several = rows["vantage"].nunique() > 1
    series: dict[str, pd.DataFrame] = {}
    for (probe, vantage), group in rows.groupby(["probe", "vantage"], sort=True):
        series[f"{probe} @ {vantage}" if several else str(probe)] = group
    return series


def plot_latency(
    ax: Axes,
    samples: pd.DataFrame,
    timeline: pd.DataFrame,
    *,
    target: str,
    threshold_s: float | None = None,
    tz: str = "UTC",
    lang: str = "en",
    buckets: int = 1000,
) -> Axes:
    """Latency per probe in ms, min/max-downsampled to `buckets` columns, outages shaded."""
    text = LABELS[lang]
    if len(timeline):
        ax.set_xlim(
            float(ns_to_num(timeline["start_ns"]).min()), float(ns_to_num(timeline["end_ns"]).max())
        )
    series = latency_series(samples, target)
    for number, (name, group) in enumerate(series.items()):
        x = ns_to_num(group["ts_ns"])
        y = group["latency_ns"].to_numpy(dtype=np.float64) / 1e6
        x, y = minmax_downsample(x, y, buckets)
        step_days = float(group["interval_ns"].median()) / 86_400e9
        span = float(x[-1] - x[0]) if x.size else 0.0
        x, y = break_gaps(x, y, max(1.5 * step_days, 2.5 * span / buckets))
        ax.plot(x, y, linewidth=0.7, label=name, color=LINE_COLOURS[number % len(LINE_COLOURS)])
    if not series:
        ax.text(0.5, 0.5, text["no_latency"], transform=ax.transAxes, ha="center")
    if threshold_s is not None:
        ax.axhline(
            threshold_s * 1000, color="black", linestyle="--", linewidth=1, label=text["threshold"]
        )
    ax.set_ylim(bottom=0)
    _shade_outages(ax, timeline, lang)
    ax.set_ylabel(text["latency_ms"])
    ax.set_title(text["latency"])
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=6, frameon=False)
    _time_axis(ax, tz, lang)
    return ax


def plot_daily_uptime(
    ax: Axes, daily: pd.DataFrame, *, sla_uptime: float, lang: str = "en"
) -> Axes:
    """Each local day's conservative uptime as a bar, red below the SLA line."""
    text = LABELS[lang]
    rows = daily[daily["uptime"].notna()]
    x = mdates.datestr2num(list(rows["date"])) if len(rows) else np.array([])
    pct = rows["uptime"].to_numpy(dtype=np.float64) * 100
    sla_pct = sla_uptime * 100
    colours = [STATE_COLOURS["provider"] if v < sla_pct else STATE_COLOURS["up"] for v in pct]
    ax.bar(x, pct, width=0.8, color=colours, align="edge")
    ax.axhline(
        sla_pct,
        color="black",
        linestyle="--",
        linewidth=1,
        label=text["sla"].format(sla=f"{sla_pct:g} %"),
    )
    low = min([sla_pct, *pct.tolist()])
    ax.set_ylim(max(0.0, low - max(0.2 * (100 - low), 0.02)), 100 + max(0.02 * (100 - low), 0.005))
    ax.xaxis_date()
    locator = mdates.AutoDateLocator(minticks=4, maxticks=12)
    ax.xaxis.set_major_locator(locator)
    formatter = mdates.ConciseDateFormatter(locator)
    formatter.show_offset = False
    ax.xaxis.set_major_formatter(formatter)
    handles = [
        Patch(facecolor=STATE_COLOURS["provider"], label=text["below_sla"]),
        *ax.get_legend_handles_labels()[0],
    ]
    ax.legend(handles=handles, loc="lower left")
    ax.set_ylabel(text["uptime_pct"])
    ax.set_xlabel(text["date"])
    ax.set_title(text["daily"])
    return ax


def plot_incidents(
    ax: Axes,
    incidents: Sequence[Mapping[str, Any]],
    *,
    period: tuple[str, str],
    tz: str = "UTC",
    lang: str = "en",
) -> Axes:
    """One bar per incident, coloured by attribution; hatched and pale when not counted."""
    text = LABELS[lang]
    left, right = iso_to_num(period[0]), iso_to_num(period[1])
    ax.set_xlim(left, right)
    floor = _min_width(ax, right - left)
    for row, incident in enumerate(incidents):
        start, end = iso_to_num(incident["start"]), iso_to_num(incident["end"])
        colour = STATE_COLOURS.get(str(incident["attribution"]), "#777777")
        counted = bool(incident["counted"])
        ax.barh(
            row,
            max(end - start, floor),
            left=start,
            height=0.7,
            color=colour,
            alpha=1.0 if counted else 0.45,
            hatch=None if counted else "///",
            edgecolor="black" if counted else colour,
            linewidth=0.5,
        )
    if not incidents:
        ax.text(0.5, 0.5, text["no_incidents"], transform=ax.transAxes, ha="center")
    ax.set_ylim(len(incidents) - 0.5 if incidents else 1, -0.5)
    ticks = range(0, len(incidents), max(1, len(incidents) // 20 + 1))
    ax.set_yticks(list(ticks), [f"#{i + 1}" for i in ticks])
    attributions = sorted({str(i["attribution"]) for i in incidents}, key=STATES.index)
    handles = [
        Patch(facecolor=STATE_COLOURS[a], label=text[a]) for a in attributions if a in STATE_COLOURS
    ]
    handles += [
        Patch(facecolor="white", edgecolor="black", label=text["counted"]),
        Patch(facecolor="white", edgecolor="grey", hatch="///", label=text["not_counted"]),
    ]
    ax.legend(
        handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=6, frameon=False
    )
    ax.set_title(text["incidents"])
    _time_axis(ax, tz, lang)
    return ax


def new_figure(height: float = FIG_SIZE[1]) -> tuple[Figure, Axes]:
    """A report-sized figure with one axes, laid out to keep legends inside the image."""
    fig = Figure(figsize=(FIG_SIZE[0], height), dpi=DPI, layout="constrained")
    return fig, fig.add_subplot()


def png_bytes(fig: Figure) -> bytes:
    """The figure as PNG bytes."""
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def axes_pixel_width(fig: Figure) -> int:
    """How many pixel columns the plotting area spans: the downsampling bucket count."""
    return max(int(fig.get_figwidth() * fig.dpi * 0.9), 100)


def figure_availability(
    summary: Mapping[str, Any], timeline: pd.DataFrame, lang: str = "en"
) -> Figure:
    """The availability band as a Figure."""
    fig, ax = new_figure(2.0)
    plot_availability(ax, timeline, tz=str(summary.get("timezone") or "UTC"), lang=lang)
    return fig


def figure_latency(
    summary: Mapping[str, Any], timeline: pd.DataFrame, samples: pd.DataFrame, lang: str = "en"
) -> Figure:
    """Latency over time as a Figure, downsampled to its own pixel width."""
    fig, ax = new_figure()
    plot_latency(
        ax,
        samples,
        timeline,
        target=str(summary["target"]),
        threshold_s=(summary.get("latency") or {}).get("threshold_s"),
        tz=str(summary.get("timezone") or "UTC"),
        lang=lang,
        buckets=axes_pixel_width(fig),
    )
    return fig


def figure_daily_uptime(
    summary: Mapping[str, Any], daily: pd.DataFrame, lang: str = "en"
) -> Figure:
    """Daily uptime bars against the SLA as a Figure."""
    fig, ax = new_figure()
    plot_daily_uptime(ax, daily, sla_uptime=float(summary["sla_uptime"]), lang=lang)
    return fig


def figure_incidents(summary: Mapping[str, Any], lang: str = "en") -> Figure:
    """The incident bars as a Figure, taller when there are many incidents."""
    incidents = list(summary.get("incidents") or [])
    fig, ax = new_figure(max(FIG_SIZE[1], min(8.0, 1.6 + 0.18 * len(incidents))))
    plot_incidents(
        ax,
        incidents,
        period=(summary["period_start"], summary["period_end"]),
        tz=str(summary.get("timezone") or "UTC"),
        lang=lang,
    )
    return fig


def render_charts(
    summary: Mapping[str, Any],
    timeline: pd.DataFrame,
    daily: pd.DataFrame,
    samples: pd.DataFrame,
    lang: str = "en",
) -> ChartSet:
    """All four charts as PNGs in `lang` (English with a warning when zh cannot be drawn)."""
    used, warnings = chart_language(lang)
    charts = ChartSet(lang=used, warnings=warnings)
    with chart_style(used):
        charts.pngs["availability"] = png_bytes(figure_availability(summary, timeline, used))
        charts.pngs["latency"] = png_bytes(figure_latency(summary, timeline, samples, used))
        charts.pngs["daily"] = png_bytes(figure_daily_uptime(summary, daily, used))
        charts.pngs["incidents"] = png_bytes(figure_incidents(summary, used))
    return charts
