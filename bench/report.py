"""`slawitness report` over a year of records, against the floor of one SQL query.

Run from the repository root: `python bench/report.py [--workdir DIR] [--quick] [--runs 3]`;
`--quick` uses one month instead of a year for a smoke run.

1. Builds (once, cached in --workdir; delete the store to rebuild) a store holding one
   minute records for target vps1 x 3 probes (ping/icmp, ssh/tcp, web/http) and one
   control (resolver, one icmp probe), with 40 seeded provider outages of 2-90 minutes
   (every fourth one seen by the web probe only) and 2 local outages where the control is
   down too, plus a slawitness.yml with `sla:` terms (UTC, a weekly maintenance window).
   Records are made by `collector.evidence.records.probe_record` and written by
   `EvidenceStore.append` in batches of 20 k, streamed, never all held in memory.
2. Times, alternating, `--runs` runs each of
   a) `slawitness report --target vps1 --from .. --to .. --format json,html,pdf,csv,letter
      --lang en,zh` (the whole span, every format), and
   b) the floor: a child Python process that runs ONE query pulling (ts_ns, probe, ok,
      latency_ns) out of the JSON payloads with json_extract into a pandas DataFrame.
   Wall time is measured around the child; peak RSS is the `ru_maxrss` that `os.wait4`
   returns for that one child (the kernel's high-water mark of that process and of any
   descendants it waited for), so runs never mix. Goals: median report/floor <= 3 and the
   report's peak RSS < 1.5 GB; it prints PASS or FAIL for each.
3. Runs the report once more under cProfile, writes the top functions by cumulative and by
   own time to `profile.txt` in the workdir, and prints the 5 biggest of each.
"""

from __future__ import annotations

import argparse
import os
import pstats
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from collector.core.results import ErrorClass, Result
from collector.evidence.records import ProbeIdentity, Stamp, note_record, probe_record
from collector.evidence.store import EvidenceStore

MINUTE_NS = 60 * 1_000_000_000
BATCH = 20_000
VANTAGE = "office"
PROBES = (
    ("vps1", "ping", "icmp", "target"),
    ("vps1", "ssh", "tcp", "target"),
    ("vps1", "web", "http", "target"),
    ("resolver", "ping", "icmp", "control"),
)
GOAL_RATIO, GOAL_RSS_BYTES = 3.0, 1.5e9
FLOOR = """
import sys, apsw, pandas as pd
conn = apsw.Connection(sys.argv[1], flags=apsw.SQLITE_OPEN_READONLY)
rows = conn.execute(
    "SELECT ts_ns, json_extract(CAST(payload AS TEXT), '$.probe'),"
    " json_extract(CAST(payload AS TEXT), '$.ok'),"
    " json_extract(CAST(payload AS TEXT), '$.latency_ns')"
    " FROM records WHERE type = 'probe' AND ts_ns >= ? AND ts_ns < ?",
    (int(sys.argv[2]), int(sys.argv[3])),
).fetchall()
frame = pd.DataFrame(rows, columns=["ts_ns", "probe", "ok", "latency_ns"])
print(len(frame), int(frame["ok"].sum()))
"""


@dataclass(frozen=True)
class Span:
    """The records' time span, also the report's --from/--to."""

    start: str
    end: str
    outages: int

    def ns(self, text: str) -> int:
        """Nanoseconds of an ISO date or time, read as UTC."""
        return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * 10**9

    @property
    def minutes(self) -> int:
        return (self.ns(self.end) - self.ns(self.start)) // MINUTE_NS


def outage_plan(span: Span) -> dict[str, dict[int, set[str]]]:
    """host -> minute index -> the probes failing then; seeded, so every build is the same.

    Every fourth provider outage hits the web probe only (HTTP 503); the two local outages
    take vps1 and the control down together, so the engine must attribute them `local`.
    """
    rng = random.Random(2026)
    plan: dict[str, dict[int, set[str]]] = {"vps1": {}, "resolver": {}}
    for number in range(span.outages + 2):
        first, length = rng.randrange(span.minutes - 100), rng.randint(2, 90)
        local = number >= span.outages
        probes = {"web"} if number % 4 == 3 and not local else {"ping", "ssh", "web"}
        for minute in range(first, first + length):
            plan["vps1"].setdefault(minute, set()).update(probes)
            if local:
                plan["resolver"].setdefault(minute, set()).add("ping")
    return plan


def attempt(probe: str, kind: str, failing: bool, minute: int) -> Result:
    """A plausible Result for one attempt of `kind`, up or down."""
    rtt = 12_000_000 + (minute * 7919) % 900_000
    if failing and probe == "web":
        return Result.failure(ErrorClass.HTTP_STATUS, "status 503", latency_ns=rtt, status=503)
    if failing:
        return Result.failure(
            ErrorClass.TIMEOUT, "no answer", loss_ppm=1_000_000 if kind == "icmp" else None
        )
    if kind == "icmp":
        return Result(ok=True, latency_ns=rtt, phases_ns=[rtt, rtt + 1000, rtt - 1000], loss_ppm=0)
    if kind == "http":
        phases = {"resolve": 0, "connect": rtt, "tls": 2 * rtt, "processing": rtt, "transfer": 1}
        return Result(ok=True, latency_ns=4 * rtt + 1, phases_ns=phases, detail={"status": 200})
    return Result(ok=True, latency_ns=rtt)


def span_records(span: Span) -> Iterator[dict[str, object]]:
    """Every record of the span in time order: one attempt a minute per probe, two notes."""
    plan, start = outage_plan(span), span.ns(span.start)
    notes = {span.minutes // 3: "Reported the outage to support", span.minutes // 2: "Ticket"}
    for minute in range(span.minutes):
        ts = start + minute * MINUTE_NS
        for offset, (host, probe, kind, role) in enumerate(PROBES):
            failing = probe in plan[host].get(minute, ())
            identity = ProbeIdentity(VANTAGE, host, probe, kind, role)
            stamp = Stamp(ts + offset * 1_000_000, ts, "boot")
            yield probe_record(identity, stamp, attempt(probe, kind, failing, minute), 20_000_000)
        if minute in notes:
            yield note_record(Stamp(ts + 10**9, ts, "boot"), VANTAGE, "vps1", notes[minute], "4821")


def build_store(folder: Path, span: Span) -> Path:
    """The span's store and config in `folder`, built unless already there."""
    store = folder / "evidence.db"
    (folder / "slawitness.yml").write_text(yaml.safe_dump(config(), sort_keys=False))
    if store.exists():
        print(f"store: {store} (cached; delete it to rebuild)")
        return store
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / "evidence.db.partial"
    for leftover in folder.glob("evidence.db.partial*"):
        leftover.unlink()
    began, written, batch = time.perf_counter(), 0, list[dict[str, object]]()
    with EvidenceStore.open(partial, create=True) as writer:
        for record in span_records(span):
            batch.append(record)
            if len(batch) >= BATCH:
                writer.append(batch)
                written, batch = written + len(batch), []
        writer.append(batch)
        written += len(batch)
    partial.rename(store)
    size = store.stat().st_size / 2**30
    print(
        f"store: built {written:,} records ({span.minutes * 3:,} vps1 probe records,"
        f" {span.minutes:,} control) in {time.perf_counter() - began:.0f} s, {size:.2f} GiB"
    )
    return store


def config() -> dict[str, object]:
    """The bench's slawitness.yml: vps1's three probes and SLA terms, one control."""
    sla = {
        "uptime": 99.9,
        "period": "month",
        "timezone": "UTC",
        "downtime": {"probes": "any", "min_duration": "5m"},
        "maintenance": [{"cron": "0 3 * * 0", "duration": "1h"}],
        "credits": [{"below": 99.9, "credit": 10}, {"below": 99.0, "credit": 25}],
        "monthly_fee": 40,
        "currency": "USD",
        "claim_window_days": 30,
    }
    probes = [
        {"name": "ping", "kind": "icmp", "interval": "60s", "timeout": "2s"},
        {"name": "ssh", "kind": "tcp", "port": 22, "interval": "60s", "timeout": "5s"},
        {
            "name": "web",
            "kind": "http",
            "url": "https://203.0.113.10/health",
            "interval": "60s",
            "timeout": "10s",
        },
    ]
    provider = {"name": "ExampleHost", "account": "C-1234", "contact": "support@example.com"}
    control = {
        "name": "resolver",
        "host": "198.51.100.53",
        "probes": [{"name": "ping", "kind": "icmp", "interval": "60s", "timeout": "2s"}],
    }
    target = {
        "name": "vps1",
        "host": "203.0.113.10",
        "provider": provider,
        "probes": probes,
        "sla": sla,
    }
    return {"vantage": VANTAGE, "store": "evidence.db", "targets": [target], "controls": [control]}


@dataclass(frozen=True)
class Run:
    """One child: its wall time, its peak RSS in bytes, its exit status and stdout."""

    seconds: float
    peak_rss: int
    status: int
    stdout: str
    stderr: str


def run_child(argv: list[str], cwd: Path) -> Run:
    """Run `argv`; wall time around it, peak RSS from the rusage `os.wait4` gives for it."""
    out, err = cwd / "child.stdout", cwd / "child.stderr"
    with out.open("w") as stdout, err.open("w") as stderr:
        began = time.perf_counter()
        child = subprocess.Popen(argv, cwd=cwd, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - began
    child.returncode = os.waitstatus_to_exitcode(status)
    return Run(seconds, usage.ru_maxrss * 1024, child.returncode, out.read_text(), err.read_text())


def report_argv(folder: Path, span: Span, out: Path) -> list[str]:
    """`slawitness report` over the whole span, every format, both languages."""
    return [
        "-m",
        "cli",
        "report",
        "--config",
        str(folder / "slawitness.yml"),
        "--target",
        "vps1",
        "--from",
        span.start,
        "--to",
        span.end,
        "--format",
        "json,html,pdf,csv,letter",
        "--lang",
        "en,zh",
        "--out",
        str(out),
    ]


def checked(run: Run, what: str) -> Run:
    """`run`, or exit naming `what` with the child's stderr verbatim."""
    if run.status != 0:
        print(f"FAIL: {what} exited with status {run.status}; stderr:\n{run.stderr}")
        raise SystemExit(1)
    return run


def timings(folder: Path, store: Path, span: Span, runs: int) -> None:
    """Alternate report and floor runs; print medians, ratio, peak RSS and the goals."""
    reports, floors = [], []
    bounds = [str(span.ns(span.start)), str(span.ns(span.end))]
    for number in range(runs):
        out = folder / "out"
        shutil.rmtree(out, ignore_errors=True)
        report = checked(
            run_child([sys.executable, *report_argv(folder, span, out)], folder), "report"
        )
        floor = checked(
            run_child([sys.executable, "-c", FLOOR, str(store), *bounds], folder), "floor"
        )
        reports.append(report)
        floors.append(floor)
        print(
            f"run {number + 1}: report {report.seconds:.2f} s ({report.peak_rss / 2**20:.0f} MiB),"
            f" floor {floor.seconds:.2f} s ({floor.peak_rss / 2**20:.0f} MiB, rows+ok"
            f" {floor.stdout.strip()})"
        )
    print(f"report says: {reports[-1].stdout.strip()}")
    median_report = statistics.median(r.seconds for r in reports)
    median_floor = statistics.median(r.seconds for r in floors)
    ratio = median_report / median_floor
    rss_report = max(r.peak_rss for r in reports)
    rss_floor = max(r.peak_rss for r in floors)
    print(
        f"median wall: report {median_report:.2f} s, floor {median_floor:.2f} s,"
        f" ratio {ratio:.2f} (goal <= {GOAL_RATIO:g}): {'PASS' if ratio <= GOAL_RATIO else 'FAIL'}"
    )
    print(
        f"peak RSS: report {rss_report / 2**20:.0f} MiB, floor {rss_floor / 2**20:.0f} MiB"
        f" (goal: report < 1.5 GB): {'PASS' if rss_report < GOAL_RSS_BYTES else 'FAIL'}"
    )


def profile(folder: Path, span: Span) -> None:
    """One report under cProfile; top 15 by cumulative and by own time to profile.txt."""
    data, out = folder / "report.prof", folder / "out-profiled"
    shutil.rmtree(out, ignore_errors=True)
    argv = [sys.executable, "-m", "cProfile", "-o", str(data), *report_argv(folder, span, out)]
    checked(run_child(argv, folder), "profiled report")
    table = pstats.Stats(str(data)).stats  # type: ignore[attr-defined]
    rows = [
        (ct, tt, nc, f"{Path(f).name}:{line}({name})")
        for (f, line, name), (_, nc, tt, ct, _) in table.items()
    ]
    by_cumulative = sorted(rows, reverse=True)
    by_own = sorted(rows, key=lambda row: row[1], reverse=True)
    lines = ["top 15 by cumulative time (s): cumulative, own, calls, function"]
    lines += [f"{ct:9.2f} {tt:9.2f} {nc:>10} {where}" for ct, tt, nc, where in by_cumulative[:15]]
    lines += ["", "top 15 by own time (s): cumulative, own, calls, function"]
    lines += [f"{ct:9.2f} {tt:9.2f} {nc:>10} {where}" for ct, tt, nc, where in by_own[:15]]
    project = [row for row in by_cumulative if _is_phase(row[3])]
    lines += ["", "top 15 functions of reports/ and collector/ below make_report, by cumulative"]
    lines += [f"{ct:9.2f} {tt:9.2f} {nc:>10} {where}" for ct, tt, nc, where in project[:15]]
    (folder / "profile.txt").write_text("\n".join(lines) + "\n")
    print(f"profile (one run under cProfile; full table in {folder / 'profile.txt'}):")
    print("  5 biggest report phases by cumulative time:")
    for ct, _, nc, where in project[:5]:
        print(f"    {ct:8.2f} s  {where} x{nc}")
    print("  5 biggest by own time:")
    for _, tt, nc, where in by_own[:5]:
        print(f"    {tt:8.2f} s  {where} x{nc}")


def _is_phase(where: str) -> bool:
    """A function of `reports/` or `collector/` below make_report: where the time goes."""
    file, _, name = where.partition(":")
    wrappers = {"(make_report)", "(<module>)", "(main)", "(invoke)", "(report)", "(_run_module)"}
    return file in _PROJECT_FILES and file != "main.py" and name[name.index("(") :] not in wrappers


_PROJECT_FILES = {
    path.name
    for folder in ("reports", "collector", "cli")
    for path in (Path(__file__).resolve().parent.parent / folder).rglob("*.py")
}


def bench_span(quick: bool) -> Span:
    """The store's span: the year 2026, or October 2026 for `--quick`."""
    return Span("2026-10-01", "2026-11-01", 8) if quick else Span("2026-01-01", "2027-01-01", 40)


def bench_folder(workdir: Path, quick: bool) -> Path:
    """Where the store of `bench_span(quick)` and its config live (made if missing); other
    benches over the same store (bench/compaction.py) find its cached copy there."""
    folder = workdir.resolve() / ("month" if quick else "year")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def bench_arguments(description: str) -> tuple[Span, Path, int]:
    """The span, folder and number of runs of `--workdir`, `--quick` and `--runs`: the
    benches over this store take the same arguments, so they share its cache."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/slawitness-bench-report"))
    parser.add_argument("--quick", action="store_true", help="one month instead of a year")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    return bench_span(args.quick), bench_folder(args.workdir, args.quick), args.runs


def main() -> int:
    """Build or reuse the store, time the report against the floor, profile one report."""
    span, folder, runs = bench_arguments(__doc__.splitlines()[0])
    store = build_store(folder, span)
    timings(folder, store, span, runs)
    profile(folder, span)
    return 0


if __name__ == "__main__":
    sys.exit(main())
