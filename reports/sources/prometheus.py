"""Samples from a Prometheus server, for users who already run blackbox_exporter.

Without any `prometheus:` selector in the config, the engine is read as a fleet's:
every vantage's remote-written series, raw (`reports.sources.prometheus_fleet`).

Each probe or control probe may name its series (`prometheus: 'probe_success{...}'`). The
series is read with range queries whose step is the probe's interval, so one returned point
is one sample standing for one interval, and a step with no point is no data. Prometheus
refuses more than 11,000 points per series in one query, so a long period is asked for in
chunks of at most that many steps.

What Prometheus cannot say is kept visible: it fills a step from a sample up to five
minutes old (the lookback delta), so a scrape gap shorter than that reads as the last
value, not as no data; the caveat travels with the data into the report. Failures leave
as `SourceError`, one line each: server unreachable, an HTTP error, a selector Prometheus
rejects (with its message), one that matches nothing or several series, and data that
does not reach back to the start of the period (retention).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from collector.config.model import Config, Control, Target
from collector.evidence.export import iso_from_ns
from reports.sources.prometheus_fleet import FLEET_CAVEAT, check_fleet_reach, fleet_parts
from reports.sources.sample_columns import SampleColumns
from reports.sources.stores import (
    SourceData,
    SourceError,
    empty_events,
    empty_notes,
    sample_frame,
)

MAX_POINTS = 11_000
"""Prometheus's limit on points per series in one range query."""
REQUEST_TIMEOUT_S = 30.0
LOOKBACK_CAVEAT = (
    "Samples come from Prometheus, which fills each query step from a sample up to"
    " 5 minutes old (its lookback delta): gaps in scraping shorter than that do not"
    " appear as no data, and a failure seen by fewer scrapes than steps may be stretched"
    " or missed. Latency and loss are not read from Prometheus."
)

Point = tuple[int, bool, str | None]
"""One returned point: its time (UTC ns), whether the value was 1, the series' vantage."""


def load_prometheus_samples(
    url: str,
    config: Config,
    target: str,
    since_ns: int,
    until_ns: int,
    *,
    client: httpx.Client | None = None,
    require_from_ns: int | None = None,
) -> SourceData:
    """Samples of `target` and the controls from the Prometheus at `url`, one per step.

    Data must reach back to `require_from_ns` (default `since_ns`; a caller that widens the
    window for incidents crossing the period's edges passes the period's start): a first
    point more than two steps after it means Prometheus no longer holds the start.
    """
    host = next((t for t in config.targets if t.name == target), None)
    if host is None:
        raise SourceError(f"target {target!r} is not in the config")
    hosts: list[Target | Control] = [host, *config.controls]
    selected = [(h, p) for h in hosts for p in h.probes if p.prometheus]
    if not selected:
        return _fleet_samples(url, config, hosts, since_ns, until_ns, client, require_from_ns)
    if not any(h is host for h, _ in selected):
        raise SourceError(
            f"no probe of target {target!r} names its Prometheus series"
            " (add prometheus: 'probe_success{...}' to a probe)"
        )
    parts: list[SampleColumns] = []
    own = client if client is not None else httpx.Client(timeout=REQUEST_TIMEOUT_S)
    try:
        for owner, probe in selected:
            assert probe.prometheus is not None
            step_ns = round(probe.interval * 1e9)
            points = fetch_series(own, url, probe.prometheus, since_ns, until_ns, step_ns)
            _check_reach(url, probe.prometheus, points, require_from_ns or since_ns, step_ns)
            parts.append(_part(points, owner, probe.name, probe.kind, step_ns, config.vantage))
    finally:
        if client is None:
            own.close()
    return SourceData(
        samples=sample_frame(parts),
        notes=empty_notes(),
        events=empty_events(),
        caveats=[LOOKBACK_CAVEAT],
    )


def _fleet_samples(
    url: str,
    config: Config,
    hosts: list[Target | Control],
    since_ns: int,
    until_ns: int,
    client: httpx.Client | None,
    require_from_ns: int | None,
) -> SourceData:
    """No probe names a series: read every vantage's remote-written `probe_success`."""
    own = client if client is not None else httpx.Client(timeout=REQUEST_TIMEOUT_S)
    try:
        parts = fleet_parts(own, url, config, hosts, since_ns, until_ns)
    finally:
        if client is None:
            own.close()
    check_fleet_reach(url, parts, hosts[0].name, require_from_ns or since_ns)
    return SourceData(
        samples=sample_frame(parts),
        notes=empty_notes(),
        events=empty_events(),
        caveats=[FLEET_CAVEAT],
    )


def chunks(since_ns: int, until_ns: int, step_ns: int) -> Iterator[tuple[int, int]]:
    """(start_ns, end_ns) of each range query, both ends being points, at most MAX_POINTS.

    The points are since_ns + k * step_ns for every k that stays below until_ns.
    """
    count = -(-(until_ns - since_ns) // step_ns)
    for first in range(0, count, MAX_POINTS):
        last = min(first + MAX_POINTS, count) - 1
        yield since_ns + first * step_ns, since_ns + last * step_ns


def fetch_series(
    client: httpx.Client, url: str, selector: str, since_ns: int, until_ns: int, step_ns: int
) -> list[Point]:
    """Every point of the one series `selector` names, chunk by chunk, in time order."""
    points: list[Point] = []
    for start_ns, end_ns in chunks(since_ns, until_ns, step_ns):
        params = {
            "query": selector,
            "start": _seconds(start_ns),
            "end": _seconds(end_ns),
            "step": _seconds(step_ns),
        }
        result = _query_range(client, url, selector, params)
        if len(result) > 1:
            raise SourceError(
                f"selector {selector} matches {len(result)} series in Prometheus at {url};"
                " make it match exactly one (add labels such as instance or job)"
            )
        for series in result:
            vantage = series.get("metric", {}).get("vantage")
            for stamp, value in series.get("values", []):
                points.append((round(float(stamp) * 1000) * 1_000_000, value == "1", vantage))
    if not points:
        raise SourceError(
            f"selector {selector} returned no data from Prometheus at {url} between"
            f" {iso_from_ns(since_ns)} and {iso_from_ns(until_ns)}"
        )
    return points


def _query_range(
    client: httpx.Client, url: str, selector: str, params: dict[str, str]
) -> list[dict[str, Any]]:
    """One /api/v1/query_range call's matrix, or SourceError saying what went wrong."""
    endpoint = url.rstrip("/") + "/api/v1/query_range"
    try:
        response = client.get(endpoint, params=params)
    except httpx.TimeoutException as exc:
        raise SourceError(f"cannot reach Prometheus at {url}: timed out ({exc})") from exc
    except httpx.TransportError as exc:
        raise SourceError(f"cannot reach Prometheus at {url}: {exc}") from exc
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or body.get("status") != "success":
        body = body if isinstance(body, dict) else {}
        kind, message = body.get("errorType"), body.get("error")
        if kind == "bad_data":
            raise SourceError(f"Prometheus at {url} rejected selector {selector}: {message}")
        detail = f": {kind}: {message}" if message else ""
        raise SourceError(
            f"Prometheus at {url} answered HTTP {response.status_code}"
            f" for selector {selector}{detail}"
        )
    data = body.get("data", {})
    if data.get("resultType") != "matrix":
        raise SourceError(
            f"selector {selector} gives a {data.get('resultType')}, not a series;"
            " name a series such as probe_success{...}"
        )
    result: list[dict[str, Any]] = data.get("result", [])
    return result


def _check_reach(url: str, selector: str, points: list[Point], from_ns: int, step_ns: int) -> None:
    """Retention: the first point must come within two steps of where the data must start."""
    first = points[0][0]
    if first > from_ns + 2 * step_ns:
        raise SourceError(
            f"Prometheus at {url} has data for {selector} only from {iso_from_ns(first)},"
            f" after the period starts ({iso_from_ns(from_ns)}); its retention is too short"
            " or the series is newer than the period"
        )


def _part(
    points: list[Point], owner: Target | Control, probe: str, kind: str, step_ns: int, vantage: str
) -> SampleColumns:
    """One series' points as samples: no seq, latency, loss or error class in Prometheus."""
    part = SampleColumns({(owner.name, probe): step_ns})
    for ts_ns, ok, seen_by in points:
        part.add(
            -1, ts_ns, seen_by or vantage, owner.name, probe, kind, owner.role, ok,
            None, None, None, "prometheus",
        )  # fmt: skip
    return part


def _seconds(ns: int) -> str:
    """Integer ns as decimal seconds, exactly (Prometheus parses this as a Unix time)."""
    whole, frac = divmod(ns, 1_000_000_000)
    return f"{whole}.{frac:09d}"
