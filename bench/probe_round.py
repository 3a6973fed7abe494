"""One cron round of 200 ICMP targets, half of them silent, against fping over the same list.

Run as root from the repository root: `python bench/probe_round.py [--rounds 5]`.
`--engine-only` times the ICMP engine in-process instead of the `slawitness probe` command.

Printed: the median wall-time ratio slawitness/fping (goal <= 1.2), CPU time of both, the
median and p95 of |RTT(slawitness) - RTT(fping)| over the answering targets (goal: median
< 0.5 ms), and FAIL if, in any round, a silent target was recorded up or an answering one
down. The targets are addresses of a network namespace built here; nothing leaves the host.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from collector.probes.net.icmp_engine import EchoStatus, IcmpEngine
from tests.rig.netns import (
    NetnsHost,
    build_netns_host,
    destroy_netns_host,
    drop_echo_requests,
)

Rtts = dict[str, float | None]
"""Per target address: RTT in ms, or None when it did not answer."""


@dataclass
class Timing:
    """Wall and CPU seconds of one run, and what it saw."""

    wall: float
    cpu: float
    rtts: Rtts
    extra: dict[str, list[float]] = field(default_factory=dict)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed_child(argv: list[str]) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Run a command; its wall time and CPU time (user + system, from RUSAGE_CHILDREN)."""
    cpu, wall = children_cpu(), time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    return time.perf_counter() - wall, children_cpu() - cpu, done


def run_fping(targets: list[str]) -> Timing:
    """fping -C 1: one echo per target, 1 s timeout, 1 ms between sends; RTTs on stderr."""
    wall, cpu, done = timed_child(["fping", "-C", "1", "-t", "1000", "-i", "1", "-q", *targets])
    rtts: Rtts = {}
    for line in done.stderr.splitlines():
        address, _, value = line.partition(" : ")
        if value:
            rtts[address.strip()] = None if value.strip() == "-" else float(value)
    return Timing(wall, cpu, rtts)


def run_engine(targets: list[str]) -> Timing:
    """The engine in-process: one echo per target, all at once, 1 s timeout."""

    async def round_() -> dict[str, tuple[float | None, float | None]]:
        engine = await IcmpEngine.start()
        try:
            outcomes = await asyncio.gather(*(engine.echo(t, 1.0, 56) for t in targets))
        finally:
            await engine.aclose()
        return {
            t: ((o.rtt_ns or 0) / 1e6, (o.user_rtt_ns or 0) / 1e6)
            if o.status is EchoStatus.REPLY
            else (None, None)
            for t, o in zip(targets, outcomes, strict=True)
        }

    cpu, wall = self_cpu(), time.perf_counter()
    seen = asyncio.run(round_())
    timing = Timing(
        time.perf_counter() - wall, self_cpu() - cpu, {t: kernel for t, (kernel, _) in seen.items()}
    )
    timing.extra["user_rtts"] = [user for _, user in seen.values() if user is not None]
    timing.extra["kernel_rtts"] = [kernel for kernel, _ in seen.values() if kernel is not None]
    return timing


def slawitness_command() -> list[str]:
    found = shutil.which("slawitness")
    return [found] if found else [sys.executable, "-c", "from cli.main import main; main()"]


def write_config(directory: Path, targets: list[str]) -> Path:
    """A config of one icmp probe per target, in the product's own format."""
    lines = ["vantage: bench", "store: bench.db", "targets:"]
    for index, address in enumerate(targets):
        lines += [
            f"  - name: t{index:03d}",
            f"    host: {address}",
            "    probes: [{name: ping, kind: icmp, count: 1, timeout: 1s, interval: 60s}]",
        ]
    path = directory / "slawitness.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_cli(config: Path, targets: list[str]) -> Timing:
    """One `slawitness probe` round; RTTs read back with `slawitness export`."""
    wall, cpu, done = timed_child([*slawitness_command(), "probe", "--config", str(config)])
    if done.returncode not in (0, 1):
        raise SystemExit(f"slawitness probe failed ({done.returncode}): {done.stderr[-2000:]}")
    exported = subprocess.run(
        [*slawitness_command(), "export", "--format", "jsonl", "--config", str(config)],
        capture_output=True,
        text=True,
        check=True,
    )
    by_name = {f"t{i:03d}": address for i, address in enumerate(targets)}
    rtts: Rtts = {}
    for line in exported.stdout.splitlines():
        record = json.loads(line)
        address = by_name.get(record.get("target", ""))
        if address is None:
            continue
        phases = record.get("phases_ns") or [None]
        rtts[address] = phases[0] / 1e6 if record.get("ok") and phases[0] else None
    return Timing(wall, cpu, rtts)


def correctness(rtts: Rtts, targets: list[str], silent: set[str]) -> list[str]:
    """Every way this run disagrees with the truth the namespace enforces."""
    wrong = [f"{t} silent but recorded up" for t in targets if t in silent and rtts.get(t)]
    wrong += [
        f"{t} answering but recorded down"
        for t in targets
        if t not in silent and rtts.get(t) is None
    ]
    return wrong


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def bench(host: NetnsHost, rounds: int, ours: Callable[[list[str]], Timing], label: str) -> bool:
    targets = list(host.extra_addresses)
    silent = set(targets[1::2])
    drop_echo_requests(host, silent)
    ratios, our_cpu, fping_cpu, diffs, failures = [], [], [], [], []
    kernel_vs_user: list[float] = []
    run_fping(targets)  # warm-up: resolve every neighbour, so no round pays for ARP
    for number in range(1, rounds + 1):
        mine, theirs = ours(targets), run_fping(targets)
        ratios.append(mine.wall / theirs.wall)
        our_cpu.append(mine.cpu)
        fping_cpu.append(theirs.cpu)
        for name, timing in ((label, mine), ("fping", theirs)):
            failures += [
                f"round {number} {name}: {w}" for w in correctness(timing.rtts, targets, silent)
            ]
        for t in targets:
            a, b = mine.rtts.get(t), theirs.rtts.get(t)
            if a is not None and b is not None:
                diffs.append(abs(a - b))
        kernel_vs_user += [
            u - k
            for k, u in zip(
                mine.extra.get("kernel_rtts", []), mine.extra.get("user_rtts", []), strict=True
            )
        ]
        print(
            f"round {number}: {label} {mine.wall:.3f}s wall {mine.cpu:.3f}s cpu | "
            f"fping {theirs.wall:.3f}s wall {theirs.cpu:.3f}s cpu"
        )
    ratio = statistics.median(ratios)
    print(f"\n{len(targets)} targets, {len(silent)} silent, {rounds} rounds")
    print(f"wall-time ratio {label}/fping (median): {ratio:.3f}  (goal <= 1.2)")
    print(
        f"CPU time per round (median): {label} {statistics.median(our_cpu):.3f}s, "
        f"fping {statistics.median(fping_cpu):.3f}s"
    )
    if diffs:
        print(
            f"|RTT {label} - RTT fping| over answering targets: median "
            f"{statistics.median(diffs):.4f} ms, p95 {percentile(diffs, 0.95):.4f} ms "
            f"(goal: median < 0.5 ms)"
        )
    if kernel_vs_user:
        print(
            f"user-space RTT minus kernel-timestamp RTT: median "
            f"{statistics.median(kernel_vs_user):.4f} ms, p95 "
            f"{percentile(kernel_vs_user, 0.95):.4f} ms"
        )
    for failure in failures:
        print(f"FAIL: {failure}")
    print(
        "correctness: "
        + (
            "FAIL"
            if failures
            else "every silent target down, every answering target up, in every round"
        )
    )
    return not failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument(
        "--engine-only",
        action="store_true",
        help="time the ICMP engine in-process instead of `slawitness probe`",
    )
    args = parser.parse_args()
    host = build_netns_host(extra_addresses=args.targets, ipv6=False)
    try:
        if args.engine_only:
            ok = bench(host, args.rounds, run_engine, "engine")
        else:
            with tempfile.TemporaryDirectory(prefix="slawitness-bench-") as directory:
                config = write_config(Path(directory), list(host.extra_addresses))
                ok = bench(host, args.rounds, lambda t: run_cli(config, t), "slawitness")
    finally:
        destroy_netns_host(host)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
