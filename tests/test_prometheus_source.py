"""The Prometheus source against a real Prometheus scraping real exporters on loopback.

Only the chunk arithmetic runs against a fake transport (a real server would need years of
data to show it); every other case asks a running Prometheus.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry, Gauge, start_http_server

from collector.config.loader import load_config
from collector.config.model import Config
from reports.sources.prometheus import LOOKBACK_CAVEAT, MAX_POINTS, chunks, load_prometheus_samples
from reports.sources.stores import SAMPLE_COLUMNS, SourceError, load_store_samples
from tests.clirun import write_config
from tests.exporter_process import exporter
from tests.rig.loopback import FullListener, TcpListener, closed_port
from tests.rig.prometheus import PrometheusServer, free_port

S = 1_000_000_000


@dataclass
class FlipExporter:
    """A tiny exporter serving one `probe_success` gauge, with the history of its values."""

    port: int
    gauge: Gauge
    history: list[tuple[int, float]] = field(default_factory=list)

    def set(self, value: float) -> None:
        self.gauge.set(value)
        self.history.append((time.time_ns(), value))

    def served_at(self, ts_ns: int) -> float:
        return [value for when, value in self.history if when <= ts_ns][-1]


@pytest.fixture
def flip_exporter() -> Iterator[FlipExporter]:
    registry = CollectorRegistry()
    gauge = Gauge("probe_success", "Whether the probe succeeded.", registry=registry)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        yield FlipExporter(port, gauge)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def scrape(job: str, port: int) -> dict[str, Any]:
    return {"job_name": job, "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}


def config_with(selector: str | None, interval: str = "1s") -> Config:
    ssh: dict[str, Any] = {
        "name": "ssh",
        "kind": "tcp",
        "port": 22,
        "interval": interval,
        "timeout": "500ms",
    }
    if selector is not None:
        ssh["prometheus"] = selector
    return Config.model_validate(
        {
            "vantage": "office",
            "targets": [{"name": "vps1", "host": "127.0.0.1", "probes": [ssh]}],
            "controls": [
                {
                    "name": "resolver",
                    "host": "127.0.0.2",
                    "probes": [{"name": "ping", "kind": "icmp"}],
                }
            ],
        }
    )


def per_second(samples: Any, since_ns: int, until_ns: int) -> dict[int, bool]:
    """{second: ok} from samples, each standing for [ts, ts + interval)."""
    states: dict[int, bool] = {}
    for ts, ok, interval in samples[["ts_ns", "ok", "interval_ns"]].itertuples(index=False):
        for second in range(-(-ts // S), -(-(ts + interval) // S)):
            if since_ns <= second * S < until_ns:
                states[second] = bool(ok)
    return states


def test_served_ups_and_downs_come_back_one_sample_per_step(
    prometheus_factory: Any, flip_exporter: FlipExporter
) -> None:
    flip_exporter.set(1)
    server: PrometheusServer = prometheus_factory([scrape("blackbox", flip_exporter.port)])
    server.wait_for('probe_success{job="blackbox"}', lambda r: len(r) == 1)
    start = time.time_ns()
    for value, seconds in ((1, 4), (0, 6), (1, 5), (0, 5)):
        flip_exporter.set(value)
        time.sleep(seconds)
    end = time.time_ns()
    landed = f'timestamp(probe_success{{job="blackbox"}}) >= {end / S}'
    server.wait_for(landed, lambda r: len(r) == 1)  # the last scrape has landed
    config = config_with('probe_success{job="blackbox"}')
    since, until = (start // S + 1) * S, (end // S) * S
    data = load_prometheus_samples(server.url, config, "vps1", since, until)
    frame = data.samples
    assert tuple(frame.columns) == SAMPLE_COLUMNS and data.caveats == [LOOKBACK_CAVEAT]
    assert frame["ts_ns"].tolist() == list(range(since, until, S))  # one point per step
    assert set(frame["origin"]) == {"prometheus"} and set(frame["seq"]) == {-1}
    assert set(frame["vantage"]) == {"office"} and set(frame["interval_ns"]) == {S}
    assert frame["latency_ns"].isna().all() and frame["error"].isna().all()
    flips = [when for when, _ in flip_exporter.history[1:]]
    mismatched = [
        ts for ts, ok in zip(frame["ts_ns"], frame["ok"], strict=True)
        if ok != (flip_exporter.served_at(ts) == 1)
    ]  # fmt: skip
    assert all(any(0 <= ts - f <= 2 * S for f in flips) for ts in mismatched), mismatched
    assert frame["ok"].sum() >= 5 and (~frame["ok"]).sum() >= 7

    with pytest.raises(SourceError, match=r"only from .*retention") as caught:
        load_prometheus_samples(server.url, config, "vps1", start - 3600 * S, until)
    assert 'probe_success{job="blackbox"}' in str(caught.value)
    two = config_with('{__name__=~"probe_success|up", job="blackbox"}')
    with pytest.raises(SourceError, match="matches 2 series"):
        load_prometheus_samples(server.url, two, "vps1", since, until)
    widened = load_prometheus_samples(
        server.url, config, "vps1", start - 3600 * S, until, require_from_ns=since
    )
    assert widened.samples["ts_ns"].iloc[0] <= since + 2 * S and len(widened.samples) >= len(frame)


def test_query_errors_are_one_line(prometheus_factory: Any, tmp_path: Path) -> None:
    server: PrometheusServer = prometheus_factory([])
    now = time.time_ns()
    since, until = now - 60 * S, now
    cases = [
        (server.url, 'probe_success{job="blackbox"', "rejected selector"),
        (server.url, 'probe_success{job="nobody"}', "returned no data"),
        (server.url, "rate(probe_success[1m]", "parse error"),
        (server.url + "/elsewhere", "probe_success", "answered HTTP 404"),
        (f"http://127.0.0.1:{closed_port()}", "probe_success", "cannot reach Prometheus"),
    ]
    for url, selector, problem in cases:
        with pytest.raises(SourceError) as caught:
            load_prometheus_samples(url, config_with(selector), "vps1", since, until)
        message = str(caught.value)
        assert problem in message and "\n" not in message, message
    silent = FullListener()
    try:
        with httpx.Client(timeout=0.5) as client, pytest.raises(SourceError, match="timed out"):
            load_prometheus_samples(
                f"http://127.0.0.1:{silent.port}", config_with("up"), "vps1", since, until,
                client=client,
            )  # fmt: skip
    finally:
        silent.stop()
    with pytest.raises(SourceError, match="no probe of target 'vps1' names"):
        load_prometheus_samples(server.url, config_with(None), "vps1", since, until)
    with pytest.raises(SourceError, match="'vps9' is not in the config"):
        load_prometheus_samples(server.url, config_with("up"), "vps9", since, until)


@pytest.mark.parametrize(
    ("steps", "expected"),
    [(1, [1]), (MAX_POINTS, [MAX_POINTS]), (MAX_POINTS + 1, [MAX_POINTS, 1]),
     (25_000, [MAX_POINTS, MAX_POINTS, 3000])],
)  # fmt: skip
def test_long_windows_are_split_under_the_point_limit(steps: int, expected: list[int]) -> None:
    step = 60 * S
    since = 1_790_000_000 * S
    until = since + steps * step - S  # a partial last step still gets its point
    seen: list[tuple[int, int, int]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        start, end = (round(float(params[k]) * S) for k in ("start", "end"))
        assert params["step"] == "60.000000000" and params["query"] == "probe_success"
        seen.append((start, end, (end - start) // step + 1))
        values = [[(start + k * step) / S, "1"] for k in range((end - start) // step + 1)]
        body = {
            "resultType": "matrix",
            "result": [{"metric": {"vantage": "far"}, "values": values}],
        }
        return httpx.Response(200, json={"status": "success", "data": body})

    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        data = load_prometheus_samples(
            "http://prometheus.invalid", config_with("probe_success", "60s"), "vps1",
            since, until, client=client,
        )  # fmt: skip
    assert [count for _, _, count in seen] == expected
    assert all(count <= MAX_POINTS for count in expected)
    assert seen[0][0] == since and seen[-1][1] < until
    assert all(b[0] == a[1] + step for a, b in itertools.pairwise(seen))
    assert len(data.samples) == steps and set(data.samples["vantage"]) == {"far"}
    assert list(chunks(since, since + step, step)) == [(since, since)]


def test_store_and_prometheus_agree_on_the_same_history(
    tmp_path: Path, prometheus_factory: Any
) -> None:
    listener = TcpListener().start()
    selector = 'probe_success{job="slawitness",target="vps1",probe="ssh"}'
    ssh = {"name": "ssh", "kind": "tcp", "port": listener.port, "interval": "1s",
           "timeout": "500ms", "prometheus": selector}  # fmt: skip
    path = write_config(tmp_path, [{"name": "vps1", "host": "127.0.0.1", "probes": [ssh]}])
    try:
        with exporter("run", path) as url:
            server: PrometheusServer = prometheus_factory(
                [scrape("slawitness", int(url.rsplit(":", 1)[1]))]
            )
            server.wait_for(selector, lambda r: [s["value"][1] for s in r] == ["1"])
            start = time.time_ns()
            time.sleep(8)
            listener.stop()
            stopped = time.time_ns()
            time.sleep(8)
            end = time.time_ns()
            time.sleep(2)
    finally:
        listener.stop()
    config = load_config(path)
    since, until = (start // S + 1) * S, (end // S) * S
    stored = load_store_samples([config.store], config, since, until, target="vps1").samples
    scraped = load_prometheus_samples(server.url, config, "vps1", since, until).samples
    assert set(scraped["vantage"]) == {"test-vantage"} == set(stored["vantage"])
    from_store = per_second(stored, since, until)
    from_prometheus = per_second(scraped, since, until)
    assert len(from_prometheus) == (until - since) // S
    common = sorted(set(from_store) & set(from_prometheus))
    assert len(common) >= (until - since) // S - 2
    edge = stopped // S
    differing = [s for s in common if from_store[s] != from_prometheus[s]]
    assert all(abs(s - edge) <= 2 for s in differing), (differing, edge)
    assert from_store[common[0]] and not from_store[common[-1]]
    assert sum(from_prometheus.values()) >= 5 and sum(not v for v in from_prometheus.values()) >= 5
