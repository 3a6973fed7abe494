"""Basic auth: does a wrong password for a real user take as long as an unknown user?

Run from the repository root: `python bench/basic_auth.py [--rounds 30]`. In-process, no
network. For each web config shape (one user; users whose hashes have different costs) it
times `BasicAuthGate.allows` for a wrong password of each real user and for a user who does
not exist (the baseline), alternating, and prints the median ratio real/unknown per user.
Goal: every ratio within 0.9-1.1 (a ratio far from 1 tells an attacker which names exist).
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
import time
from pathlib import Path

import bcrypt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from collector.prometheus.basic_auth import BasicAuthGate

SHAPES: dict[str, dict[str, int]] = {
    "one user, cost 10": {"prometheus": 10},
    "costs 5 and 10": {"grafana": 5, "prometheus": 10},
    "costs 4, 8 and 10": {"cheap": 4, "mid": 8, "prometheus": 10},
}


def header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def timed(gate: BasicAuthGate, authorization: str) -> float:
    started = time.perf_counter()
    assert not gate.allows(authorization)
    return time.perf_counter() - started


def bench_shape(name: str, costs: dict[str, int], rounds: int) -> bool:
    """Print one line per real user; True when every ratio is within the goal."""
    users = {
        user: bcrypt.hashpw(b"the right one", bcrypt.gensalt(rounds=cost)).decode()
        for user, cost in costs.items()
    }
    gate = BasicAuthGate(users)
    unknown: list[float] = []
    wrong: dict[str, list[float]] = {user: [] for user in users}
    for _ in range(rounds):
        unknown.append(timed(gate, header("nobody", "guess")))
        for user in users:
            wrong[user].append(timed(gate, header(user, "guess")))
    baseline = statistics.median(unknown)
    print(f"{name}: unknown user {baseline * 1e3:.1f} ms (median of {rounds})")
    ok = True
    for user, times in wrong.items():
        ratio = statistics.median(times) / baseline
        ok &= 0.9 <= ratio <= 1.1
        print(
            f"  wrong password for {user} (cost {costs[user]}): "
            f"{statistics.median(times) * 1e3:.1f} ms, ratio {ratio:.3f}"
        )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    ok = all([bench_shape(name, costs, args.rounds) for name, costs in SHAPES.items()])
    print("goal: every ratio within 0.9-1.1:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
