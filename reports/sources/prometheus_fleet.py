"""Samples of every vantage from one engine that a fleet of collectors remote-writes to.

Each collector copies its attempts (`remote_write`) as `probe_success{vantage, target,
probe, kind, role}` with the attempt's own timestamp, so the engine holds one series per
vantage and probe. They are read raw, with a range selector (`probe_success{...}[Nms]` at
one instant), not with a stepped range query: no lookback delta fills or stretches
anything, one stored sample is one attempt, and the vantages merge as several `--store`s
do, so `confirm_vantages` works. What the copy cannot say: timestamps are whole
milliseconds (remote write's unit), and latency, loss and error classes are not copied.
"""

from __future__ import annotations

from typing import Any

import httpx

from collector.config.model import Config, Control, Target
from collector.evidence.export import iso_from_ns
from reports.sources.sample_columns import SampleColumns
from reports.sources.stores import SourceError

CHUNK_NS = 86_400 * 1_000_000_000
"""One query per day of data and probe, so no answer grows past the engine's limits."""
MS = 1_000_000
FLEET_CAVEAT = (
    "Samples come from a Prometheus-compatible engine the collectors remote-write to, read"
    " raw (one sample per attempt, every vantage); times are whole milliseconds, and"
    " latency and loss are not copied."
)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def fleet_parts(
    client: httpx.Client,
    url: str,
    config: Config,
    hosts: list[Target | Control],
    since_ns: int,
    until_ns: int,
) -> list[SampleColumns]:
    """Every vantage's samples of each probe of `hosts` with since_ns <= ts < until_ns."""
    parts: list[SampleColumns] = []
    for owner in hosts:
        for probe in owner.probes:
            step_ns = round(probe.interval * 1e9)
            part = SampleColumns({(owner.name, probe.name): step_ns})
            selector = (
                f'probe_success{{target="{_escape(owner.name)}",probe="{_escape(probe.name)}"}}'
            )
            points = [
                point
                for start in range(since_ns, until_ns, CHUNK_NS)
                for point in _raw(client, url, selector, start, min(start + CHUNK_NS, until_ns))
            ]
            for ts_ns, ok, vantage in sorted(points):
                part.add(
                    -1, ts_ns, vantage or config.vantage, owner.name, probe.name, probe.kind,
                    owner.role, ok, None, None, None, "prometheus",
                )  # fmt: skip
            parts.append(part)
    return parts


def _raw(
    client: httpx.Client, url: str, selector: str, start_ns: int, end_ns: int
) -> list[tuple[int, bool, str | None]]:
    """Raw samples in [start_ns, end_ns): a range selector at end - 1 ms covers exactly
    that, since it takes (time - range, time] and samples are whole milliseconds."""
    first_ms, end_ms = -(-start_ns // MS), -(-end_ns // MS)
    if end_ms <= first_ms:
        return []
    at_ms = end_ms - 1
    query = f"{selector}[{at_ms - first_ms + 1}ms]"
    endpoint = url.rstrip("/") + "/api/v1/query"
    params = {"query": query, "time": f"{at_ms // 1000}.{at_ms % 1000:03d}"}
    try:
        response = client.get(endpoint, params=params)
        body: Any = response.json()
    except httpx.HTTPError as exc:
        raise SourceError(f"cannot reach Prometheus at {url}: {exc}") from exc
    except ValueError:
        body = None
    if not isinstance(body, dict) or body.get("status") != "success":
        message = body.get("error") if isinstance(body, dict) else None
        raise SourceError(
            f"Prometheus at {url} answered HTTP {response.status_code} for {query}"
            + (f": {message}" if message else "")
        )
    points = []
    for series in body.get("data", {}).get("result", []):
        vantage = series.get("metric", {}).get("vantage")
        for stamp, value in series.get("values", []):
            ts_ns = round(float(stamp) * 1000) * MS
            if start_ns <= ts_ns < end_ns:
                points.append((ts_ns, value == "1", vantage))
    return points


def check_fleet_reach(url: str, parts: list[SampleColumns], target: str, from_ns: int) -> None:
    """No sample at all means the engine holds nothing of the target for the period."""
    if not any(len(part) for part in parts):
        raise SourceError(
            f"no probe of target {target!r} names its Prometheus series"
            " (add prometheus: 'probe_success{...}' to a probe), and Prometheus at"
            f" {url} holds no remote-written probe_success of it from {iso_from_ns(from_ns)}"
        )
