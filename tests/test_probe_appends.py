"""`/probe`'s appends: requests finishing together share one commit, each hears its own
record's outcome, and no answer is sent for a record the store did not keep.

Real stores on real files: a second SQLite connection holding the write lock stands in for
a slow disk, and a full tmpfs for a failing one.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import apsw
import httpx
import pytest
import yaml

from collector.config.loader import load_config
from collector.evidence.store import EvidenceStore
from collector.prometheus.metrics import Snapshot
from collector.prometheus.probe_appends import GroupAppender
from collector.prometheus.probe_on_demand import LoopThread, ProbeOnDemand
from collector.prometheus.server import ExporterServer
from tests.rig.loopback import TcpListener
from tests.rig.stores import make_record


class CountedAppends:
    """The store's own append, counted: how many transactions the appender opened."""

    def __init__(self, store: EvidenceStore) -> None:
        self.calls: list[int] = []
        self.called = threading.Event()
        self._append = store.append

        def counted(records):  # type: ignore[no-untyped-def]
            self.calls.append(len(records))
            self.called.set()
            return self._append(records)

        store.append = counted  # type: ignore[method-assign]


@contextlib.contextmanager
def write_lock_held(path: Path) -> Iterator[None]:
    """Another connection's write transaction: the appender's commit waits behind it."""
    other = apsw.Connection(str(path))
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_records_queued_during_a_commit_share_the_next_one(tmp_path: Path) -> None:
    path = tmp_path / "evidence.db"
    with EvidenceStore.create(path) as store:
        appends = CountedAppends(store)
        appender = GroupAppender(store)
        with write_lock_held(path):
            futures = [appender.submit(make_record(1))]
            assert appends.called.wait(10), "the first record's commit began (and now waits)"
            futures += [appender.submit(make_record(i)) for i in range(2, 21)]
        landed = [future.result(timeout=30) for future in futures]
        appender.close()
        assert [appended.seq for appended in landed] == list(range(1, 21)), "submission order"
        assert appends.calls == [1, 19], "one transaction for all that queued behind the first"
        assert store.verify().ok
        assert [r.record["ts_ns"] for r in store.records()] == [
            make_record(i)["ts_ns"] for i in range(1, 21)
        ]


def test_a_record_the_store_refuses_fails_only_its_own_request(tmp_path: Path) -> None:
    path = tmp_path / "evidence.db"
    with EvidenceStore.create(path) as store:
        appender = GroupAppender(store)
        unencodable = {**make_record(2), "latency_ns": float("nan")}
        with write_lock_held(path):
            futures = [appender.submit(r) for r in (make_record(1), unencodable, make_record(3))]
        first, third = futures[0].result(timeout=30), futures[2].result(timeout=30)
        with pytest.raises(ValueError):
            futures[1].result(timeout=30)
        appender.close()
        assert (first.seq, third.seq) == (1, 2)
        assert store.count() == 2 and store.verify().ok


def test_close_commits_what_is_queued(tmp_path: Path) -> None:
    path = tmp_path / "evidence.db"
    with EvidenceStore.create(path) as store:
        appender = GroupAppender(store)
        with write_lock_held(path):
            futures = [appender.submit(make_record(i)) for i in range(1, 6)]
        appender.close()
        assert all(future.done() for future in futures)
        assert [future.result().seq for future in futures] == [1, 2, 3, 4, 5]


def _serve_probe(folder: Path, port: int, store_path: Path) -> Path:
    config = {
        "vantage": "test-vantage",
        "store": str(store_path),
        "exporter": {"probe_min_spacing": "0s"},
        "targets": [
            {
                "name": f"vps{n}",
                "host": "127.0.0.1",
                "probes": [{"name": "ssh", "kind": "tcp", "port": port, "timeout": "2s"}],
            }
            for n in range(1, 9)
        ],
    }
    path = folder / "slawitness.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@contextlib.contextmanager
def probe_server(config_path: Path) -> Iterator[tuple[str, EvidenceStore]]:
    """`serve`'s /probe in-process: the probe loop, the appender, the HTTP server."""
    config = load_config(config_path)
    with EvidenceStore.open(config.store, create=True) as store:
        probes = LoopThread(config.probing.icmp_rate)
        runner = ProbeOnDemand(config, store, probes.submit, probes.env)
        server = ExporterServer("127.0.0.1:0", _no_metrics, runner)
        server.start()
        try:
            yield server.url, store
        finally:
            server.stop()
            runner.close()
            probes.close()


def _no_metrics() -> Snapshot:  # /metrics is not asked for here
    raise AssertionError("only /probe is requested")


def test_concurrent_probes_land_in_one_chain(tmp_path: Path, tcp_listener: TcpListener) -> None:
    config = _serve_probe(tmp_path, tcp_listener.port, tmp_path / "evidence.db")

    def ask(url: str, n: int) -> str:
        answer = httpx.get(url + "/probe", params={"target": f"vps{n % 8 + 1}", "probe": "ssh"})
        assert answer.status_code == 200, answer.text
        return answer.text

    with probe_server(config) as (url, store):
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda n: ask(url, n), range(64)))
        assert all('probe_success{kind="tcp"' in text for text in answers)
        report = store.verify()
        assert report.ok and report.count == 64
        targets = [str(r.record["target"]) for r in store.records(types=["probe"])]
        assert sorted(targets) == sorted(f"vps{n % 8 + 1}" for n in range(64))


def _fill(folder: Path) -> Path:
    """Write a file until the file system has no room left."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 4096)
    return filler


def test_a_probe_the_store_cannot_keep_is_503_and_sends_no_series(
    small_tmpfs: Callable[[str], Path], tmp_path: Path, tcp_listener: TcpListener
) -> None:
    where = small_tmpfs("1m")
    store_path = where / "evidence.db"
    EvidenceStore.create(store_path).close()
    config = _serve_probe(tmp_path, tcp_listener.port, store_path)
    with probe_server(config) as (url, store):
        filler = _fill(where)
        refused = [
            httpx.get(url + "/probe", params={"target": "vps1", "probe": "ssh"}, timeout=30)
            for _ in range(3)
        ]
        assert [answer.status_code for answer in refused] == [503] * 3
        assert all(a.text.startswith("evidence store: ") for a in refused), refused[0].text
        assert all("probe_success" not in a.text for a in refused)
        assert store.count() == 0
        filler.unlink()
        kept = httpx.get(url + "/probe", params={"target": "vps1", "probe": "ssh"}, timeout=30)
        assert kept.status_code == 200 and "probe_success" in kept.text
        assert store.count() == 1 and store.verify().ok
