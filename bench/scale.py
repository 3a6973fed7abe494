"""10,000 ICMP targets and 1,000 HTTP probes on one collector: a cron round and the daemon.

Run as root from the repository root:
`python bench/scale.py [--targets 10000] [--http 1000] [--silent-percent 1]
[--daemon-minutes 3] [--quick] [--profile FILE]`.

The targets are the addresses of `scale_rig`'s namespace (a silent share of them drops echo
requests and SYNs). Printed: one table of each figure, its goal and PASS/FAIL.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from scale_rig import Rig, target_addresses, write_config

ROOT = Path(__file__).resolve().parent.parent
INTERVAL_S = 60
CLI = [sys.executable, "-m", "cli"]


def store_records(config: Path) -> list[dict[str, object]]:
    """Every record of the store (probes, diagnoses, checkpoints...), read back with
    `slawitness export --format jsonl`."""
    done = subprocess.run(
        [*CLI, "export", "--format", "jsonl", "--config", str(config)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def probe_records(config: Path) -> list[dict[str, object]]:
    """Every probe outcome in the store."""
    return [r for r in store_records(config) if r.get("probe") in ("ping", "web") and "ok" in r]


def misrecorded(
    records: list[dict[str, object]], address_of: dict[str, str], silent: set[str]
) -> int:
    """Outcomes that contradict the namespace: a silent target up or an answering one down,
    plus targets that have no record at all."""
    wrong, seen = 0, set()
    for record in records:
        name = str(record.get("target"))
        seen.add(name)
        if bool(record.get("ok")) == (address_of.get(name) in silent):
            wrong += 1
    return wrong + len(set(address_of) - seen)


def fping_wall(targets: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        ["fping", "-C", "1", "-t", "1000", "-i", "1", "-q", *targets],
        capture_output=True,
        check=False,
    )
    return time.perf_counter() - started


def cron_round(config: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [*CLI, "probe", "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if done.returncode not in (0, 1):
        raise RuntimeError(f"slawitness probe failed ({done.returncode}): {done.stderr[-2000:]}")
    return time.perf_counter() - started


def proc_cpu_s(pid: int) -> float:
    """utime + stime of the process and its reaped children (mtr, traceroute), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def vm_hwm_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class DaemonFigures:
    per_minute: list[int]
    cores: float
    rss_mib: float
    stop_s: float
    after_signal: int
    wrong: int


def daemon(
    config: Path,
    minutes: float,
    address_of: dict[str, str],
    silent: set[str],
    before: int,
    profile: Path | None = None,
) -> DaemonFigures:
    """`slawitness run` for `minutes`, then SIGTERM; figures from /proc and the store.
    With `profile`, the daemon runs under cProfile and writes its stats there (its CPU
    figure then includes the profiler's own cost)."""
    profiler = [] if profile is None else ["-m", "cProfile", "-o", str(profile.resolve())]
    process = subprocess.Popen(
        [sys.executable, *profiler, *CLI[1:], "run", "--config", str(config)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        start, cpu0 = time.time(), proc_cpu_s(process.pid)
        time.sleep(minutes * 60)
        if process.poll() is not None:
            raise RuntimeError(f"the daemon exited early ({process.returncode})")
        cpu, rss = proc_cpu_s(process.pid) - cpu0, vm_hwm_mib(process.pid)
        signalled = time.time()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=300)
        stop_s = time.time() - signalled
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    records = probe_records(config)[before:]
    stamps = [int(str(r.get("ts_ns", 0))) / 1e9 for r in records]
    warmup = min(INTERVAL_S, max(0.0, signalled - start - INTERVAL_S))
    windows, end = [], signalled
    while end - INTERVAL_S >= start + warmup - 0.5:
        windows.append((end - INTERVAL_S, end))
        end -= INTERVAL_S
    counts = Counter(i for s in stamps for i, (a, b) in enumerate(windows) if a <= s < b)
    in_run = [r for r, s in zip(records, stamps, strict=True) if s < signalled]
    return DaemonFigures(
        per_minute=[counts.get(i, 0) for i in reversed(range(len(windows)))],
        cores=cpu / (signalled - start),
        rss_mib=rss,
        stop_s=stop_s,
        after_signal=sum(1 for s in stamps if s >= signalled),
        wrong=sum(
            1
            for r in in_run
            if bool(r.get("ok")) == (address_of.get(str(r.get("target"))) in silent)
        ),
    )


def store_bytes(config: Path) -> int:
    return sum(p.stat().st_size for p in config.parent.glob("scale.db*"))


def compacted_bytes(config: Path) -> int | None:
    """The store's size after `slawitness compact`, if this tree has that verb."""
    helped = subprocess.run([*CLI, "compact", "--help"], capture_output=True, cwd=ROOT, check=False)
    if helped.returncode != 0:
        return None
    subprocess.run(
        [*CLI, "compact", "--config", str(config)], capture_output=True, cwd=ROOT, check=False
    )
    return store_bytes(config)


def row(figure: str, value: str, goal: str, ok: bool | None) -> str:
    verdict = "-" if ok is None else ("PASS" if ok else "FAIL")
    return f"| {figure} | {value} | {goal} | {verdict} |"


def bench(args: argparse.Namespace) -> list[str]:
    targets = target_addresses(args.targets)
    every = max(1, round(100 / args.silent_percent)) if args.silent_percent > 0 else 0
    silent = {t for i, t in enumerate(targets) if every and i % every == every // 2}
    tag = secrets.token_hex(3)
    rig = Rig(f"swscale-{tag}", f"sws{tag}h", targets, silent)
    try:
        rig.build()
        with tempfile.TemporaryDirectory(prefix="slawitness-scale-") as directory:
            config, address_of = write_config(Path(directory), targets, args.http)
            fping_wall(targets)  # warm-up: the one neighbour entry and the page cache
            fping = fping_wall(targets)
            wall = cron_round(config)
            records = probe_records(config)
            cron_wrong = misrecorded(records, address_of, silent)
            figures = daemon(
                config, args.daemon_minutes, address_of, silent, len(records), args.profile
            )
            everything = store_records(config)
            total = len(everything)
            probe_total = sum(1 for r in everything if r.get("type") == "probe")
            size = store_bytes(config)
            compacted = compacted_bytes(config)
    finally:
        rig.destroy()
    probes = args.targets + args.http
    steady = min(figures.per_minute) if figures.per_minute else 0
    table = [
        f"{args.targets} ICMP + {args.http} HTTP targets, {len(silent)} silent addresses",
        "| figure | value | goal | verdict |",
        "|---|---|---|---|",
        row(
            "cron round wall / fping",
            f"{wall / fping:.2f}x ({wall:.1f} s vs {fping:.1f} s)",
            "<= 1.5x",
            wall / fping <= 1.5,
        ),
        row("cron round misrecorded", str(cron_wrong), "0", cron_wrong == 0),
        row(
            "daemon probes per full minute",
            " / ".join(map(str, figures.per_minute)) or "none",
            f"{probes} each",
            bool(figures.per_minute) and steady >= probes,
        ),
        row("daemon CPU", f"{figures.cores:.3f} cores", "<= 0.25", figures.cores <= 0.25),
        row("daemon peak RSS (VmHWM)", f"{figures.rss_mib:.0f} MiB", "-", None),
        row("daemon misrecorded", str(figures.wrong), "0", figures.wrong == 0),
        row(
            "SIGTERM to exit",
            f"{figures.stop_s:.1f} s ({figures.after_signal} records after)",
            "<= 5 s",
            figures.stop_s <= 5,
        ),
        row(
            "store bytes per record",
            f"{size / max(1, total):.0f} ({total} records, {probe_total} of them probe records)",
            "<= 200",
            size / max(1, total) <= 200,
        ),
    ]
    if compacted is not None:
        table.append(
            row(
                "bytes per record after compact",
                f"{compacted / max(1, total):.0f}",
                "<= 32",
                compacted / max(1, total) <= 32,
            )
        )
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=10_000)
    parser.add_argument("--http", type=int, default=1_000)
    parser.add_argument("--silent-percent", type=float, default=1.0)
    parser.add_argument("--daemon-minutes", type=float, default=3.0)
    parser.add_argument(
        "--quick", action="store_true", help="1,000 + 100 targets, 1.5 minutes of daemon"
    )
    parser.add_argument(
        "--profile", type=Path, help="run the daemon under cProfile, its stats to this file"
    )
    args = parser.parse_args()
    if args.quick:
        args.targets, args.http, args.daemon_minutes = 1_000, 100, 1.5
    if not 1 <= args.targets <= 200 * 64 or not 0 <= args.http <= args.targets:
        parser.error("--targets must be 1-12800 and --http at most --targets")
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # cleanup runs on kill too
    table = bench(args)
    print("\n".join(table))
    return 1 if any(line.endswith("FAIL |") for line in table) else 0


if __name__ == "__main__":
    raise SystemExit(main())
