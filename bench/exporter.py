"""The exporter: /metrics over a month-long store, and /probe against blackbox_exporter.

Run as root from the repository root: `python bench/exporter.py [--records 2600000]`;
`--quick` uses small stores and fewer requests for a smoke run.

1. Builds (once, cached in --workdir) a store holding a month of one-minute records for
   20 targets x 3 probes (ping/icmp, ssh/tcp, web/http) plus one cron-round record a
   minute, and a one-day store, both written through `EvidenceStore.append` in batches.
2. Starts `slawitness serve --store S` over each and times sequential /metrics scrapes
   (median, p95) and the server's CPU per scrape (/proc/PID/stat); prints big/small.
   Goal: median under 50 ms however large the store.
3. Starts `prometheus-blackbox-exporter` and `slawitness serve` side by side and times
   the /probe round trip of the same HTTP, TCP and ICMP probes against the same loopback
   servers, alternating requests. Goal: median ratio slawitness/blackbox <= 1.5 per kind.
   Each slawitness /probe also appends its record durably (SQLite synchronous=FULL).
Every probe goes to 127.0.0.1; nothing leaves the host.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from collector.core.results import ErrorClass, Result
from collector.evidence.records import ProbeIdentity, Stamp, collector_record, probe_record
from collector.evidence.store import EvidenceStore
from tests.rig.loopback import HttpFaultServer, TcpListener
from tests.rig.prometheus import free_port

BLACKBOX = Path("/usr/bin/prometheus-blackbox-exporter")
SLAWITNESS = [sys.executable, "-m", "cli"]
TARGETS = [f"t{i:02d}" for i in range(20)]
PROBES = [("ping", "icmp"), ("ssh", "tcp"), ("web", "http")]
MINUTE_NS = 60_000_000_000
BATCH = 10_000
SCRAPE_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
SUCCESS = re.compile(r"^probe_success(\{[^}]*\})? 1(\.0)?$", re.MULTILINE)


class BenchError(Exception):
    """Something the bench needs is missing or did not start; printed and exit 2."""


# --- the stores -------------------------------------------------------------------------


def fake_result(kind: str, rng: random.Random, port: int) -> Result:
    """A plausible attempt against a host ~30 ms away; about one in 500 fails."""

    def rtt() -> int:
        return max(1_000_000, int(rng.gauss(30e6, 3e6)))

    failed = rng.random() < 0.002
    if kind == "icmp":
        if failed:
            return Result.failure(
                ErrorClass.TIMEOUT,
                "no echo reply within 2 s",
                phases_ns=[None, None, None],
                loss_ppm=1_000_000,
                address="127.0.0.1",
            )
        rtts: list[int | None] = [rtt(), rtt(), rtt()]
        latency = int(statistics.median([r for r in rtts if r is not None]))
        return Result(True, latency, None, rtts, 0, {"address": "127.0.0.1"})
    if kind == "tcp":
        phases = {"resolve": 20_000, "connect": rtt()}
        detail: dict[str, str | int | bool | None] = {"port": port, "address": "127.0.0.1"}
        if failed:
            return Result.failure(ErrorClass.TIMEOUT, "connect timed out", detail=detail)
        return Result(True, phases["connect"], None, phases, None, detail)
    phases = {"resolve": 20_000, "connect": rtt(), "processing": rtt(), "transfer": 50_000}
    detail = {"address": "127.0.0.1", "status": 503 if failed else 200}
    detail["http_version"] = "HTTP/1.1"
    if failed:
        return Result.failure(
            ErrorClass.HTTP_STATUS, "status 503 not in [200]", phases_ns=phases, detail=detail
        )
    return Result(True, phases["connect"] + phases["processing"], None, phases, None, detail)


def minute_records(minutes: int, end_ns: int, port: int) -> Iterator[dict[str, object]]:
    """Each minute: every target's three probes, then the cron round's record."""
    rng = random.Random(1)
    boot_ns = end_ns - (minutes + 14 * 1440) * MINUTE_NS  # booted two weeks before
    identities = [
        ProbeIdentity("bench", target, name, kind, "target")
        for target in TARGETS
        for name, kind in PROBES
    ]
    for minute in range(minutes):
        start = end_ns - (minutes - minute) * MINUTE_NS
        for offset, identity in enumerate(identities):
            ts = start + offset * 3_000_000 + rng.randrange(1_000_000)
            result = fake_result(identity.kind, rng, port)
            stamp = Stamp(ts, ts - boot_ns, "bench-boot")
            yield probe_record(identity, stamp, result, (result.latency_ns or 2_000_000_000))
        stamp = Stamp(start + 900_000_000, start + 900_000_000 - boot_ns, "bench-boot")
        yield collector_record("round", stamp, "bench", probes=len(identities), took_ms=900)


def build_store(path: Path, records: int, port: int) -> Path:
    """The store at `path`, built unless a finished one is there (built aside, then renamed)."""
    if path.exists():
        return path
    building = path.with_name(path.name + ".building")
    for leftover in (building, Path(f"{building}-wal"), Path(f"{building}-shm")):
        leftover.unlink(missing_ok=True)
    minutes = max(1, records // (len(TARGETS) * len(PROBES)))
    end_ns = time.time_ns() // MINUTE_NS * MINUTE_NS
    print(f"building {path.name}: {minutes} minutes, {minutes * 61:,} records ...", flush=True)
    started = time.perf_counter()
    with EvidenceStore.create(building) as store:
        batch: list[dict[str, object]] = []
        for record in minute_records(minutes, end_ns, port):
            batch.append(record)
            if len(batch) >= BATCH:
                store.append(batch)
                batch = []
        store.append(batch)
        count = store.count()
    os.replace(building, path)
    took = time.perf_counter() - started
    size = path.stat().st_size / 2**20
    print(f"  {count:,} records, {size:.0f} MiB, built in {took:.0f} s", flush=True)
    return path


def write_config(
    path: Path, store: Path, http: HttpFaultServer, tcp: TcpListener, count: int
) -> Path:
    """20 targets on 127.0.0.1, each with ping (icmp, `count` echoes), ssh (tcp), web (http)."""
    every = {"interval": "60s"}
    probes = [
        {"name": "ping", "kind": "icmp", "count": count, "timeout": "2s", **every},
        {"name": "ssh", "kind": "tcp", "port": tcp.port, "timeout": "5s", **every},
        {"name": "web", "kind": "http", "url": http.url("/ok"), "expect_status": [200],
         "timeout": "10s", **every},
    ]  # fmt: skip
    targets = [{"name": name, "host": "127.0.0.1", "probes": probes} for name in TARGETS]
    config = {
        "vantage": "bench",
        "store": str(store),
        "targets": targets,
        "exporter": {"probe_min_spacing": "0s"},  # /probe runs the same probe back to back
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


# --- processes --------------------------------------------------------------------------


@dataclass
class Child:
    """A server process started by the bench, with its log and its CPU clock."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    url: str

    @classmethod
    def start(cls, name: str, argv: list[str], workdir: Path, port: int, ready: str) -> Child:
        """Start `argv` and wait until GET `ready` answers 200 (opening a big store may take
        a while); a process that exits or never answers is a BenchError with its log."""
        log = workdir / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        child = cls(name, process, log, f"http://127.0.0.1:{port}")
        deadline, status = time.monotonic() + 120, "no answer"
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise BenchError(f"{name} exited with {process.returncode}:\n{child.log_tail()}")
            try:
                response = httpx.get(child.url + ready, timeout=60)
                if response.status_code == 200:
                    return child
                status = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                status = repr(exc)
            time.sleep(0.1)
        child.stop()
        raise BenchError(f"{name} not ready after 120 s ({status}):\n{child.log_tail()}")

    def cpu_seconds(self) -> float:
        """utime + stime of the process (all its threads), from /proc/PID/stat."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Terminate, wait, kill after 10 s."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def require_serve() -> None:
    """Fail with a clear message when this tree's `slawitness` has no `serve` verb yet."""
    done = subprocess.run([*SLAWITNESS, "serve", "--help"], capture_output=True, text=True)
    if done.returncode != 0 or "--listen" not in done.stdout:
        raise BenchError(
            "`slawitness serve --listen` is not available in this tree yet"
            f" ({(done.stderr or done.stdout).strip()[:200]}); the exporter benchmarks need it"
        )


def start_serve(name: str, config: Path, store: Path, workdir: Path) -> Child:
    port = free_port()
    argv = [*SLAWITNESS, "serve", "--config", str(config), "--store", str(store)]
    return Child.start(name, [*argv, "--listen", f"127.0.0.1:{port}"], workdir, port, "/metrics")


def start_blackbox(workdir: Path) -> Child:
    """blackbox_exporter with http_2xx, tcp_connect and icmp modules, IPv4 like our probes."""
    if not os.access(BLACKBOX, os.X_OK):
        raise BenchError(f"{BLACKBOX} is missing (Debian package prometheus-blackbox-exporter)")
    modules = {
        "http_2xx": {"prober": "http", "timeout": "10s",
                     "http": {"valid_status_codes": [200], "preferred_ip_protocol": "ip4"}},
        "tcp_connect": {"prober": "tcp", "timeout": "5s",
                        "tcp": {"preferred_ip_protocol": "ip4"}},
        "icmp": {"prober": "icmp", "timeout": "2s", "icmp": {"preferred_ip_protocol": "ip4"}},
    }  # fmt: skip
    config = workdir / "blackbox.yml"
    config.write_text(yaml.safe_dump({"modules": modules}), encoding="utf-8")
    port = free_port()
    argv = [str(BLACKBOX), f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}"]
    return Child.start("blackbox", [*argv, "--log.level=warn"], workdir, port, "/metrics")


# --- measurements -----------------------------------------------------------------------


def summary(seconds: list[float]) -> tuple[float, float]:
    """Median and p95, in milliseconds."""
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1e3, p95 * 1e3


def timed_get(client: httpx.Client, url: str) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = client.get(url)
    return time.perf_counter() - started, response


@dataclass
class ScrapeFigures:
    median_ms: float
    p95_ms: float
    cpu_ms: float
    first_ms: float
    size: int
    lines: int


def scrape(serve: Child, scrapes: int) -> ScrapeFigures:
    """Sequential /metrics GETs over one keep-alive connection, as Prometheus scrapes."""
    with httpx.Client(headers={"Accept": SCRAPE_ACCEPT}, timeout=60) as client:
        first, response = timed_get(client, serve.url + "/metrics")
        for _ in range(3):
            timed_get(client, serve.url + "/metrics")
        cpu = serve.cpu_seconds()
        times = []
        for _ in range(scrapes):
            took, response = timed_get(client, serve.url + "/metrics")
            response.raise_for_status()
            times.append(took)
        cpu = serve.cpu_seconds() - cpu
    median, p95 = summary(times)
    lines = sum(1 for line in response.text.splitlines() if line and not line.startswith("#"))
    size = len(response.content)
    return ScrapeFigures(median, p95, cpu / scrapes * 1e3, first * 1e3, size, lines)


def bench_metrics(stores: dict[str, Path], config: Path, workdir: Path, scrapes: int) -> None:
    print(f"\n/metrics: {scrapes} sequential scrapes per store (slawitness serve)")
    figures: dict[str, ScrapeFigures] = {}
    for label, store in stores.items():
        serve = start_serve(f"serve-{label}", config, store, workdir)
        try:
            figures[label] = found = scrape(serve, scrapes)
        finally:
            serve.stop()
        print(
            f"  {label:5} store ({store.stat().st_size / 2**20:.0f} MiB): median"
            f" {found.median_ms:.2f} ms, p95 {found.p95_ms:.2f} ms, CPU {found.cpu_ms:.2f} ms"
            f"/scrape, first scrape {found.first_ms:.0f} ms,"
            f" {found.lines} samples, {found.size:,} bytes"
        )
    big, small = figures["big"], figures["small"]
    print(f"  ratio big/small: median {big.median_ms / small.median_ms:.2f}"
          f", CPU {big.cpu_ms / max(small.cpu_ms, 1e-9):.2f}")  # fmt: skip
    verdict = "ok" if big.median_ms < 50 else "FAIL"
    print(f"  goal: median < 50 ms on the big store: {verdict} ({big.median_ms:.2f} ms)")


ProbeUrls = dict[str, tuple[str, str | None]]
"""Per kind: the blackbox /probe URL and slawitness's URL of the same probe (if running)."""


def probe_urls(bb: Child, sw: Child | None, http: HttpFaultServer, tcp: TcpListener) -> ProbeUrls:
    kinds = {
        "http": (f"module=http_2xx&target={http.url('/ok')}", "web"),
        "tcp": (f"module=tcp_connect&target=127.0.0.1:{tcp.port}", "ssh"),
        "icmp": ("module=icmp&target=127.0.0.1", "ping"),
    }
    return {
        kind: (
            f"{bb.url}/probe?{query}",
            sw.url + f"/probe?target=t00&probe={probe}" if sw else None,
        )
        for kind, (query, probe) in kinds.items()
    }


@dataclass
class Side:
    """One exporter's round trips for one kind."""

    name: str
    child: Child
    url: str
    times: list[float] = field(default_factory=list)
    cpu: float = 0.0
    failed: int = 0

    def request(self, client: httpx.Client, counted: bool) -> None:
        before = self.child.cpu_seconds()
        took, response = timed_get(client, self.url)
        if counted:
            self.times.append(took)
            self.cpu += self.child.cpu_seconds() - before
            self.failed += not SUCCESS.search(response.text)

    def report(self, kind: str) -> None:
        median, p95 = summary(self.times)
        bad = f"  FAIL: {self.failed} not successful" if self.failed else ""
        per_probe = self.cpu / len(self.times) * 1e3
        print(f"  {kind:4} {self.name:10}: median {median:.2f} ms, p95 {p95:.2f} ms,"
              f" CPU {per_probe:.2f} ms/probe{bad}")  # fmt: skip


def bench_probe(
    bb: Child, sw: Child | None, http: HttpFaultServer, tcp: TcpListener, n: int
) -> None:
    """Alternate blackbox and slawitness requests for each kind; check probe_success 1."""
    print(f"\n/probe: {n} sequential round trips per kind and exporter, alternating")
    print("  (slawitness's /probe also appends its record to the store, synchronous=FULL;"
          " blackbox writes nothing)")  # fmt: skip
    with httpx.Client(timeout=30) as client:
        for kind, (bb_url, sw_url) in probe_urls(bb, sw, http, tcp).items():
            sides = [Side("blackbox", bb, bb_url)]
            if sw is not None and sw_url is not None:
                sides.append(Side("slawitness", sw, sw_url))
            for i in range(n + 3):  # the first 3 of each warm up and are not counted
                for side in sides:
                    side.request(client, counted=i >= 3)
            for side in sides:
                side.report(kind)
            if len(sides) == 2:
                ratio = statistics.median(sides[1].times) / statistics.median(sides[0].times)
                verdict = "ok" if ratio <= 1.5 else "FAIL"
                print(f"  {kind:4} ratio slawitness/blackbox (median): {ratio:.2f}"
                      f"  goal <= 1.5: {verdict}")  # fmt: skip


def concurrent_block(urls: list[str], concurrency: int) -> tuple[float, list[float]]:
    """`concurrency` clients, each with its own keep-alive connection, sending its share of
    `urls` back to back; the block's wall time and every round trip."""
    times: list[float] = []
    start = threading.Barrier(concurrency + 1)
    failures: list[str] = []

    def client(share: list[str]) -> None:
        with httpx.Client(timeout=30) as connection:
            start.wait()
            for url in share:
                took, response = timed_get(connection, url)
                if not SUCCESS.search(response.text):
                    failures.append(f"{url}: {response.status_code} {response.text[:200]}")
                times.append(took)

    shares = [urls[i::concurrency] for i in range(concurrency)]
    threads = [threading.Thread(target=client, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    if failures:
        raise BenchError(f"{len(failures)} concurrent /probe requests failed: {failures[0]}")
    return time.perf_counter() - began, times


def bench_concurrent(
    bb: Child, sw: Child, http: HttpFaultServer, concurrency: int, each: int
) -> int:
    """The http /probe from `concurrency` clients at once, blackbox and slawitness in turn
    (twice each): probes a second and the round trips. slawitness's requests that finish
    together share one commit. Returns the records slawitness appended."""
    print(f"\n/probe (http) from {concurrency} clients at once, {each} requests each")
    total = concurrency * each
    urls = {
        "blackbox": [f"{bb.url}/probe?module=http_2xx&target={http.url('/ok')}"] * total,
        "slawitness": [
            f"{sw.url}/probe?target={TARGETS[i % len(TARGETS)]}&probe=web" for i in range(total)
        ],
    }
    walls = dict.fromkeys(urls, 0.0)
    times: dict[str, list[float]] = {name: [] for name in urls}
    for _ in range(2):
        for name, block in urls.items():
            wall, took = concurrent_block(block, concurrency)
            walls[name] += wall
            times[name] += took
    rates = {name: len(times[name]) / walls[name] for name in urls}
    for name in urls:
        median, p95 = summary(times[name])
        print(f"  http {name:10}: {rates[name]:6.0f} probes/s, median {median:.2f} ms,"
              f" p95 {p95:.2f} ms")  # fmt: skip
    print(f"  http throughput slawitness/blackbox: {rates['slawitness'] / rates['blackbox']:.2f}")
    return 2 * total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, help="big store size (default 2,600,000)")
    parser.add_argument("--quick", action="store_true", help="small stores, few requests")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/slawitness-bench-exporter"))
    parser.add_argument("--scrapes", type=int, help="scrapes per store (default 200)")
    parser.add_argument("-n", "--probes", type=int, help="/probe round trips per kind (100)")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=8,
        help="clients at once in the concurrent http /probe run",
    )
    args = parser.parse_args()
    big_records = args.records or (36_000 if args.quick else 2_600_000)
    small_records = 3_600 if args.quick else 1440 * len(TARGETS) * len(PROBES)
    scrapes = args.scrapes or (30 if args.quick else 200)
    n = args.probes or (20 if args.quick else 100)
    args.workdir.mkdir(parents=True, exist_ok=True)

    http, tcp = HttpFaultServer().start(), TcpListener().start()
    children: list[Child] = []
    try:
        stores = {
            label: build_store(args.workdir / f"store-{records}.db", records, tcp.port)
            for label, records in (("big", big_records), ("small", small_records))
        }
        probe_store = args.workdir / "probe.db"
        for stale in ("", "-wal", "-shm"):
            Path(f"{probe_store}{stale}").unlink(missing_ok=True)
        shutil.copyfile(stores["small"], probe_store)
        metrics_config = write_config(args.workdir / "metrics.yml", stores["big"], http, tcp, 3)
        probe_config = write_config(args.workdir / "probe.yml", probe_store, http, tcp, 1)
        serve_error: BenchError | None = None
        try:
            require_serve()
        except BenchError as exc:
            serve_error = exc
        if serve_error is None:
            bench_metrics(stores, metrics_config, args.workdir, scrapes)
        children.append(start_blackbox(args.workdir))
        if serve_error is None:
            children.append(start_serve("serve-probe", probe_config, probe_store, args.workdir))
        with EvidenceStore.open(probe_store, readonly=True) as store:
            before = store.count()
        bench_probe(children[0], children[1] if len(children) > 1 else None, http, tcp, n)
        if serve_error is not None:
            raise serve_error
        concurrent = bench_concurrent(children[0], children[1], http, args.concurrency, n)
        with EvidenceStore.open(probe_store, readonly=True) as store:
            added = store.count() - before
        expected = 3 * (n + 3) + concurrent
        verdict = "ok" if added >= expected else "FAIL"
        print(f"  records appended by /probe: {added} (expected at least {expected}): {verdict}")
    except BenchError as exc:
        print(f"\nbench/exporter.py: {exc}", file=sys.stderr)
        return 2
    finally:
        for child in children:
            child.stop()
        http.stop()
        tcp.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
