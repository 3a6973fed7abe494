"""Remote write against real receivers: Prometheus (`--web.enable-remote-write-receiver`)
and VictoriaMetrics, each started on loopback. Samples arrive with their labels and their
attempts' own timestamps; a receiver that is down loses nothing; a restart resumes from
the position file."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from collector.config.model import RemoteWrite
from collector.core.results import ErrorClass, Result
from collector.evidence.records import ProbeIdentity, Stamp, probe_record
from collector.evidence.store import EvidenceStore
from collector.prometheus.remote_write import ship
from collector.prometheus.remote_write_position import read_positions
from tests.rig.prometheus import free_port

S = 1_000_000_000


def _record(ts_ns: int, ok: bool) -> dict[str, object]:
    result = (
        Result(ok=True, latency_ns=2_000_000)
        if ok
        else Result.failure(ErrorClass.TIMEOUT, "no answer")
    )
    identity = ProbeIdentity("office", "vps1", "ssh", "tcp", "target")
    return probe_record(identity, Stamp(ts_ns, ts_ns // 7), result, 3_000_000)


def _wait(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"{url} never became ready")


class Receiver:
    def __init__(self, kind: str, workdir: Path, port: int) -> None:
        self.kind, self.workdir, self.port = kind, workdir, port
        self.base = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if self.kind == "prometheus":
            (self.workdir / "p.yml").write_text("global: {}\n")
            argv = ["prometheus", f"--config.file={self.workdir / 'p.yml'}",
                    f"--storage.tsdb.path={self.workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--web.enable-remote-write-receiver", "--log.level=warn"]  # fmt: skip
            ready = f"{self.base}/-/ready"
        else:
            argv = ["victoria-metrics", f"-httpListenAddr=127.0.0.1:{self.port}",
                    f"-storageDataPath={self.workdir / 'vm'}", "-loggerLevel=ERROR",
                    "-search.latencyOffset=0s", "-retentionPeriod=100y"]  # fmt: skip
            ready = f"{self.base}/health"
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, cwd=self.workdir)
        _wait(ready)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None

    @property
    def write_url(self) -> str:
        return f"{self.base}/api/v1/write"

    def points(self, since_ns: int, until_ns: int) -> list[tuple[int, float, dict[str, str]]]:
        """Raw samples of probe_success (a range selector, so no step fills a gap)."""
        if self.kind == "victoria-metrics":
            httpx.get(f"{self.base}/internal/force_flush", timeout=10)
        window = (until_ns - since_ns) // S + 1
        response = httpx.get(
            f"{self.base}/api/v1/query",
            params={"query": f"probe_success[{window}s]", "time": str(until_ns / S)},
            timeout=10,
        )
        found = []
        for series in response.json()["data"]["result"]:
            for stamp, value in series["values"]:
                found.append((round(float(stamp) * 1000), float(value), series["metric"]))
        return sorted(found, key=lambda point: point[0])


@pytest.fixture(params=["prometheus", "victoria-metrics"])
def receiver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Receiver]:
    if shutil.which(request.param) is None:
        pytest.skip(f"{request.param} is not installed")
    found = Receiver(request.param, tmp_path, free_port())
    found.start()
    yield found
    found.stop()


def test_samples_arrive_with_labels_and_own_timestamps(tmp_path: Path, receiver: Receiver) -> None:
    start = (time.time_ns() // S - 600) * S + 123_000_000
    with EvidenceStore.create(tmp_path / "e.db") as store:
        store.append([_record(start + i * 10 * S, ok=i % 3 != 1) for i in range(12)])
        result = ship(store, RemoteWrite(url=receiver.write_url, batch=7))
    assert result.error is None and result.position == 12
    points = receiver.points(start - S, start + 200 * S)
    assert [p[0] for p in points] == [(start + i * 10 * S) // 1_000_000 for i in range(12)]
    assert [p[1] for p in points] == [0.0 if i % 3 == 1 else 1.0 for i in range(12)]
    labels = points[0][2]
    assert {k: labels[k] for k in ("vantage", "target", "probe", "kind", "role")} == {
        "vantage": "office", "target": "vps1", "probe": "ssh", "kind": "tcp", "role": "target"
    }  # fmt: skip


def test_down_receiver_loses_nothing_and_restart_resumes(
    tmp_path: Path, receiver: Receiver
) -> None:
    start = (time.time_ns() // S - 900) * S
    path = tmp_path / "e.db"
    endpoint = RemoteWrite(url=receiver.write_url, timeout="2s")
    with EvidenceStore.create(path) as store:
        store.append([_record(start + i * 10 * S, ok=True) for i in range(5)])
        first = ship(store, endpoint)
    assert first.position == 5
    receiver.stop()
    with EvidenceStore.open(path) as store:
        store.append([_record(start + (5 + i) * 10 * S, ok=i != 2) for i in range(5)])
        down = ship(store, endpoint)
    assert down.error is not None and "remote_write" in down.error
    assert read_positions(path)[receiver.write_url] == 5
    receiver.start()
    with EvidenceStore.open(path, readonly=True) as store:
        up = ship(store, endpoint)
    assert up.error is None and up.position == 10 and up.samples == first.samples
    points = receiver.points(start - S, start + 200 * S)
    assert [p[0] for p in points] == [(start + i * 10 * S) // 1_000_000 for i in range(10)]
    assert [p[1] for p in points].count(0.0) == 1


def test_report_source_reads_every_vantage_raw_as_the_stores_merge(tmp_path: Path) -> None:
    """Two vantages remote-write to one VictoriaMetrics: `--prometheus` gives the same
    samples (time, vantage, result) as the two stores merged, at fixed past dates."""
    if shutil.which("victoria-metrics") is None:
        pytest.skip("victoria-metrics is not installed")
    from collector.config.model import Config
    from reports.sources.prometheus import load_prometheus_samples
    from reports.sources.stores import load_store_samples

    config = Config.model_validate({"vantage": "office", "targets": [{
        "name": "vps1", "host": "127.0.0.1",
        "probes": [{"name": "ssh", "kind": "tcp", "port": 22, "interval": "10s"}]}]})  # fmt: skip
    t0 = 1_790_000_000 * S + 5_000_000
    receiver = Receiver("victoria-metrics", tmp_path, free_port())
    receiver.start()
    try:
        stores = []
        for vantage, down in (("office", range(20, 40)), ("home", range(30, 50))):
            identity = ProbeIdentity(vantage, "vps1", "ssh", "tcp", "target")
            records = [
                probe_record(identity, Stamp(t0 + i * 10 * S, 0),
                             Result.failure(ErrorClass.TIMEOUT, "x") if i in down
                             else Result(ok=True, latency_ns=1), 1_000)
                for i in range(200)
            ]  # fmt: skip
            path = tmp_path / f"{vantage}.db"
            with EvidenceStore.create(path) as store:
                store.append(records)
                assert ship(store, RemoteWrite(url=receiver.write_url)).error is None
            stores.append(path)
        httpx.get(f"{receiver.base}/internal/force_flush", timeout=10)
        since, until = t0 - 60 * S, t0 + 2000 * S
        merged = load_store_samples(stores, config, since, until, target="vps1").samples
        fleet = load_prometheus_samples(receiver.base, config, "vps1", since, until).samples
    finally:
        receiver.stop()
    columns = ["ts_ns", "vantage", "ok"]

    def rows(frame):  # type: ignore[no-untyped-def]
        return sorted(map(tuple, frame[columns].astype(str).values.tolist()))

    assert len(fleet) == 400
    assert rows(fleet) == rows(merged)
