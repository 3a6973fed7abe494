"""Checkpoints, proofs and verify over a year of records, against reading the hashes alone.

Run from the repository root: `python bench/checkpoints.py [--workdir DIR] [--quick]`.
It uses the year store that `bench/report.py` builds (built here the same way if missing)
and works on a copy, so the cached store never changes.

The baseline, measured in the same run: one query reading every record's stored hash
(`SELECT seq, hash`), the least any Merkle computation over the store must do. Then:

a) the first checkpoint of the whole store (every leaf hashed), as a ratio to the baseline;
b) the next checkpoint after a day of records (1,440 minutes x 4 probes): only those are
   hashed (the frontier), as a ratio to (a): the goal is < 1 %;
c) one inclusion proof, and 50 proofs against one tree (what a bundle does), both building
   the tree's levels once;
d) `slawitness verify` before and after the checkpoints exist: the cost of holding the
   store against its own checkpoints, as a ratio.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import Span, build_store, span_records

from collector.evidence.store import EvidenceStore
from collector.proving import checkpoints
from collector.proving.proofs import inclusion_proofs

GOAL_INCREMENTAL = 0.01


def timed(action):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    value = action()
    return time.perf_counter() - started, value


def read_hashes(path: Path) -> int:
    with EvidenceStore.open(path, readonly=True) as store:
        return sum(1 for _ in store.hashes(0, 10**12))


def verify_seconds(path: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "cli", "verify", "--store", str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"verify failed: {done.stdout}{done.stderr}")
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/slawitness-bench-report"))
    parser.add_argument("--quick", action="store_true", help="one month instead of a year")
    args = parser.parse_args()
    month, year = Span("2026-10-01", "2026-11-01", 8), Span("2026-01-01", "2027-01-01", 40)
    span = month if args.quick else year
    folder = args.workdir / ("month" if args.quick else "year")
    folder.mkdir(parents=True, exist_ok=True)
    source = build_store(folder, span)
    work = args.workdir / "checkpoints"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    store_path = work / "evidence.db"
    shutil.copy(source, store_path)  # the cached store is closed and its WAL empty
    key = checkpoints.create_key(work / "bench.key", "bench")

    verify_before = verify_seconds(store_path)
    baseline, count = timed(lambda: read_hashes(store_path))
    with EvidenceStore.open(store_path) as store:
        first, written = timed(lambda: checkpoints.write(store, key, "bench"))
        day = [r for _, r in zip(range(1440 * 4), span_records(span), strict=False)]
        store.append(day)
        second, _ = timed(lambda: checkpoints.write(store, key, "bench"))
        at = checkpoints.latest(store)
        assert at is not None
        one, _ = timed(lambda: inclusion_proofs(store, [count // 2], at))
        seqs = list(range(1, at.checkpoint.size, at.checkpoint.size // 50))[:50]
        fifty, _ = timed(lambda: inclusion_proofs(store, seqs, at))
    verify_after = verify_seconds(store_path)

    print(f"store: {count:,} records ({store_path.stat().st_size / 2**30:.2f} GiB)")
    print(f"baseline (read every hash): {baseline:.2f} s")
    print(f"first checkpoint ({written.checkpoint.size:,} leaves): {first:.2f} s,"
          f" ratio {first / baseline:.2f} to the baseline")  # fmt: skip
    ratio = second / first
    verdict = "PASS" if ratio < GOAL_INCREMENTAL else "FAIL"
    print(f"next checkpoint after {len(day):,} records: {second * 1000:.1f} ms,"
          f" ratio {ratio:.4f} to the first ({verdict}: goal < {GOAL_INCREMENTAL})")  # fmt: skip
    print(f"one inclusion proof: {one:.2f} s; 50 proofs against one tree: {fifty:.2f} s")
    print(f"verify: {verify_before:.2f} s without checkpoints, {verify_after:.2f} s with"
          f" (ratio {verify_after / verify_before:.2f})")  # fmt: skip
    shutil.rmtree(work, ignore_errors=True)
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
