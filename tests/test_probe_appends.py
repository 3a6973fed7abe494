"""`/probe`'s appends: requests finishing together share one commit, each hears its own
record's outcome, and no answer is sent for a record the store did not keep.

Real stores on real files: a second SQLite connection holding the write lock stands in for
a slow disk, and a full tmpfs for a failing one.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import apsw
import httpx
import pytest
import yaml

from collector.config.loader import load_config
from collector.evidence.store import Appended, EvidenceStore
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


def _appending(appender: GroupAppender, record: dict[str, object]) -> Future[Appended]:
    """`appender.append(record)` in a thread of its own, as a request thread calls it."""
    outcome: Future[Appended] = Future()

    def run() -> None:
        try:
            outcome.set_result(appender.append(record))
        except Exception as exc:  # handed to the test
            outcome.set_exception(exc)

    threading.Thread(target=run, daemon=True).start()
    return outcome


def _wait_queued(appender: GroupAppender, count: int) -> None:
    """Until `count` records wait behind the commit under way."""
    for _ in range(1000):
        with appender._queue_lock:
            if len(appender._queued) == count:
                return
        time.sleep(0.01)
    raise AssertionError(f"{count} records never queued")


def test_records_queued_during_a_commit_share_the_next_one(tmp_path: Path) -> None:
    path = tmp_path / "evidence.db"
    with EvidenceStore.create(path) as store:
        appends = CountedAppends(store)
        appender = GroupAppender(store)
        records = [make_record(i) for i in range(1, 21)]
        with write_lock_held(path):
            futures = [_appending(appender, records[0])]
            assert appends.called.wait(10), "the first record's commit began (and now waits)"
            futures += [_appending(appender, record) for record in records[1:]]
            _wait_queued(appender, 19)
        landed = [future.result(timeout=30) for future in futures]
        assert appends.calls == [1, 19], "one transaction for all that queued behind the first"
        assert landed[0].seq == 1 and sorted(a.seq for a in landed) == list(range(1, 21))
        assert store.verify().ok
        stored = {r.seq: r.record["ts_ns"] for r in store.records()}
        assert {a.seq: r["ts_ns"] for r, a in zip(records, landed, strict=True)} == stored


def test_a_record_the_store_refuses_fails_only_its_own_request(tmp_path: Path) -> None:
    path = tmp_path / "evidence.db"
    with EvidenceStore.create(path) as store:
        appends = CountedAppends(store)
        appender = GroupAppender(store)
        unencodable = {**make_record(2), "latency_ns": float("nan")}
        with write_lock_held(path):
            first = _appending(appender, make_record(1))
            assert appends.called.wait(10)
            refused, third = _appending(appender, unencodable), _appending(appender, make_record(3))
            _wait_queued(appender, 2)
        assert (first.result(timeout=30).seq, third.result(timeout=30).seq) == (1, 2)
        with pytest.raises(ValueError):
            refused.result(timeout=30)
        assert sorted(appends.calls) == [1, 1, 1, 2], "the refused pair, then one by one"
        assert store.count() == 2 and store.verify().ok


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
    """`serve`'s /probe in-process: the probe loop and the HTTP server."""
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
