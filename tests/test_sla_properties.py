"""Invariants of the SLA engine over random scenarios (hypothesis).

A scenario is a four-hour period with half an hour of samples on either side, one or two
vantages, two target probes and one control, each series a random sequence of good, failing
and missing stretches, plus random maintenance windows and terms.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from reports.sla.engine import SlaResult, evaluate
from reports.sla.incidents import NOT_COUNTED_REASONS
from reports.sla.period import NS, Period, span_period
from tests.sla_scenarios import at, combine, make_control, make_target, samples

START = at("2026-10-03T00:00:00Z")
PERIOD_FROM, PERIOD_TO = "2026-10-03T00:00:00+00:00", "2026-10-03T04:00:00+00:00"
PERIOD = span_period(PERIOD_FROM, PERIOD_TO, "UTC")
FIRST, LAST = START - 1800, START + 4 * 3600 + 1800

# A stretch: (number of 60 s samples, ok, recorded).
stretches = st.lists(
    st.tuples(st.integers(1, 40), st.booleans(), st.integers(0, 5).map(lambda n: n > 0)),
    min_size=1,
    max_size=10,
)


@dataclass(frozen=True)
class Scenario:
    series: dict[tuple[str, str, str], list[tuple[int, bool, bool]]]
    windows: list[tuple[int, int]]
    rule: Any
    min_duration: int
    confirm: int
    controls: bool


def _frame(series: dict[tuple[str, str, str], list[tuple[int, bool, bool]]]) -> pd.DataFrame:
    frames = []
    for (vantage, host, probe), parts in series.items():
        cursor, runs = FIRST, []
        for count, ok, recorded in parts:
            end = min(cursor + count * 60, LAST)
            if recorded and end > cursor:
                runs.append((cursor, end, ok))
            cursor = end
        if runs:
            role = "control" if host == "resolver" else "target"
            frames.append(samples(vantage, host, probe, runs, role=role))
    if not frames:
        frames.append(samples("a", "vps1", "web", [(FIRST, FIRST + 60, True)]))
    return combine(*frames)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    vantages = draw(st.sampled_from([["a"], ["a", "b"]]))
    series = {
        (v, host, probe): draw(stretches)
        for v in vantages
        for host, probe in (("vps1", "ping"), ("vps1", "web"), ("resolver", "ping"))
    }
    windows = [
        (START + a * 60, START + a * 60 + n * 60)
        for a, n in draw(st.lists(st.tuples(st.integers(-60, 260), st.integers(1, 90)), max_size=3))
    ]
    return Scenario(
        series,
        windows,
        draw(st.sampled_from(["any", "all", ["ping"], ["web"]])),
        draw(st.sampled_from([0, 120, 300, 900])),
        draw(st.sampled_from([1, 2])),
        draw(st.booleans()),
    )


def _evaluate(scenario: Scenario, period: Period = PERIOD) -> SlaResult:
    maintenance = [
        {"start": f"{pd.Timestamp(a, unit='s', tz='UTC').isoformat()}",
         "end": f"{pd.Timestamp(b, unit='s', tz='UTC').isoformat()}"}
        for a, b in scenario.windows
    ]  # fmt: skip
    target = make_target(
        maintenance=maintenance,
        downtime={"probes": scenario.rule, "min_duration": scenario.min_duration},
        confirm_vantages=scenario.confirm,
    )
    controls = [make_control()] if scenario.controls else []
    return evaluate(_frame(scenario.series), target, controls, period)


@settings(max_examples=80, deadline=None)
@given(scenarios())
def test_figures_are_consistent(scenario: Scenario) -> None:
    result = _evaluate(scenario)
    s, timeline = result.summary, result.timeline
    eligible = s["period_seconds"] - s["maintenance_seconds"]
    assert 0 <= s["uptime_conservative"] <= 1
    assert 0 <= s["downtime_seconds"] <= eligible
    assert s["no_data_seconds"] + s["downtime_seconds"] <= eligible
    assert s["downtime_seconds"] == sum(i["counted_seconds"] for i in s["incidents"])
    for incident in s["incidents"]:
        assert 0 <= incident["counted_seconds"] <= incident["duration_seconds"]
        assert incident["counted"] == (incident["counted_seconds"] > 0)
        long_enough = incident["duration_seconds"] >= scenario.min_duration
        assert incident["counted"] <= long_enough
        reason = incident["not_counted_because"]
        assert (reason is None) == incident["counted"]
        assert reason in (None, *NOT_COUNTED_REASONS)
        assert (reason == "too_short") <= (not long_enough)
        assert at(incident["end"]) - at(incident["start"]) == incident["duration_seconds"]
        assert at(incident["end"]) > PERIOD.start_s and at(incident["start"]) < PERIOD.end_s
    if s["uptime_observed"] is not None:
        assert 0 <= s["uptime_observed"] <= s["uptime_conservative"] <= 1
    else:
        assert s["no_data_seconds"] == eligible
    # The timeline covers the period exactly, contiguously, and sums to the figures.
    starts, ends = timeline["start_ns"].to_numpy(), timeline["end_ns"].to_numpy()
    assert starts[0] == PERIOD.start_ns and ends[-1] == PERIOD.end_ns
    assert (starts[1:] == ends[:-1]).all() and (ends > starts).all()
    assert (timeline["state"].iloc[1:].to_numpy() != timeline["state"].iloc[:-1].to_numpy()).all()
    seconds = ((timeline["end_ns"] - timeline["start_ns"]) // NS).groupby(timeline["state"]).sum()
    assert seconds.sum() == s["period_seconds"]
    assert seconds.get("maintenance", 0) == s["maintenance_seconds"]
    assert seconds.get("no_data", 0) == s["no_data_seconds"]
    assert seconds.get("provider", 0) >= s["downtime_seconds"]
    if scenario.min_duration == 0:
        assert seconds.get("provider", 0) == s["downtime_seconds"]
    if not scenario.controls:
        assert seconds.get("local", 0) == 0
    if scenario.confirm == 1:
        assert seconds.get("unconfirmed", 0) == 0
    assert result.daily["downtime_seconds"].sum() == s["downtime_seconds"]


@settings(max_examples=60, deadline=None)
@given(scenarios(), st.tuples(st.integers(-60, 260), st.integers(1, 120)))
def test_adding_a_maintenance_window_never_increases_downtime(
    scenario: Scenario, window: tuple[int, int]
) -> None:
    before = _evaluate(scenario).summary
    start = START + window[0] * 60
    more = replace(scenario, windows=[*scenario.windows, (start, start + window[1] * 60)])
    after = _evaluate(more).summary
    assert after["downtime_seconds"] <= before["downtime_seconds"]
    assert after["maintenance_seconds"] >= before["maintenance_seconds"]
    assert len(after["incidents"]) == len(before["incidents"])


@settings(max_examples=60, deadline=None)
@given(scenarios(), st.data())
def test_a_failing_control_never_increases_downtime(scenario: Scenario, data: Any) -> None:
    """Turn some control stretches from good to failing (or add the first control, failing
    throughout): local seconds can only grow, provider seconds only shrink."""
    before = _evaluate(scenario).summary
    series = dict(scenario.series)
    for key, parts in series.items():
        if key[1] == "resolver":
            flips = data.draw(st.lists(st.booleans(), min_size=len(parts), max_size=len(parts)))
            series[key] = [
                (n, ok and not flip, rec) for (n, ok, rec), flip in zip(parts, flips, strict=True)
            ]
    if not scenario.controls:
        for vantage in {key[0] for key in series}:
            series[(vantage, "resolver", "ping")] = [(500, False, True)]
    after = _evaluate(replace(scenario, series=series, controls=True)).summary
    assert after["downtime_seconds"] <= before["downtime_seconds"]
    assert [i["duration_seconds"] for i in after["incidents"]] == [
        i["duration_seconds"] for i in before["incidents"]
    ]


@settings(max_examples=40, deadline=None)
@given(scenarios(), st.integers(1, 3))
def test_splitting_the_period_adds_up(scenario: Scenario, hours: int) -> None:
    """Downtime over [0, 4 h) equals downtime over [0, h) plus [h, 4 h): incidents crossing
    the cut are counted in both halves by their inside parts only."""
    cut = f"2026-10-03T{hours:02d}:00:00+00:00"
    whole = _evaluate(scenario).summary
    first = _evaluate(scenario, span_period(PERIOD_FROM, cut, "UTC")).summary
    second = _evaluate(scenario, span_period(cut, PERIOD_TO, "UTC")).summary
    for key in ("downtime_seconds", "no_data_seconds", "maintenance_seconds"):
        assert first[key] + second[key] == whole[key]
