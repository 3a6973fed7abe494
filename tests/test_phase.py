"""Probe phases: a pure function of the probe's identity, spread evenly, kept across restarts,
and the daemon's first attempts on their slots."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from collector.config.loader import load_config
from collector.evidence.store import EvidenceStore
from collector.running.daemon import Daemon, DaemonSettings
from collector.running.phase import NS_PER_S, next_slot_ns, phase_ns, wait_for_slot_s
from collector.running.scheduler import jobs_for
from tests.clirun import write_config
from tests.rig.loopback import TcpListener

# 2026-10-01T00:00:00Z: a fixed "now", so nothing depends on today's date
NOW_NS = 1_790_812_800 * NS_PER_S


def test_a_phase_is_fixed_by_the_identity_alone() -> None:
    first = phase_ns("office", "vps1", "ping", 60.0)
    assert first == phase_ns("office", "vps1", "ping", 60.0)
    # pinned: a different hash would move every deployed collector's schedule
    assert first == 1_746_105_973
    assert 0 <= first < 60 * NS_PER_S
    others = {
        phase_ns("home", "vps1", "ping", 60.0),
        phase_ns("office", "vps2", "ping", 60.0),
        phase_ns("office", "vps1", "ssh", 60.0),
        phase_ns("office", "vps1", "ping", 30.0),
    }
    assert first not in others and len(others) == 4


def test_eleven_thousand_probes_spread_evenly_over_the_minute() -> None:
    identities = [(f"host{i:05d}", "ping") for i in range(10_000)]
    identities += [(f"web{i:04d}", "http") for i in range(1_000)]
    per_second = Counter(
        phase_ns("office", host, probe, 60.0) // NS_PER_S for host, probe in identities
    )
    mean = len(identities) / 60
    assert len(per_second) == 60
    assert max(per_second.values()) <= 2 * mean
    assert min(per_second.values()) >= mean / 2


@given(
    now_ns=st.integers(min_value=0, max_value=2**62),
    interval_ms=st.integers(min_value=1, max_value=86_400_000),
    later_ns=st.integers(min_value=0, max_value=10**15),
    host=st.text(min_size=1, max_size=20),
)
def test_slots_are_on_the_epoch_grid_and_a_restart_keeps_them(
    now_ns: int, interval_ms: int, later_ns: int, host: str
) -> None:
    interval = interval_ms / 1000
    period = interval_ms * 1_000_000
    offset = phase_ns("office", host, "ping", interval)
    slot = next_slot_ns(now_ns, interval, offset)
    assert now_ns <= slot < now_ns + period
    assert slot % period == offset
    # a restart later lands on the same grid: a whole number of intervals on
    restarted = next_slot_ns(now_ns + later_ns, interval, offset)
    assert (restarted - slot) % period == 0 and restarted >= slot
    wait = wait_for_slot_s(now_ns, "office", host, "ping", interval)
    assert wait == (slot - now_ns) / NS_PER_S


def test_the_daemons_first_attempts_land_on_their_slots(
    tmp_path: Path, tcp_listener: TcpListener
) -> None:
    interval_s = 3.0
    probe = {"name": "port", "kind": "tcp", "port": tcp_listener.port, "interval": "3s"}
    targets = [
        {"name": f"vps{index}", "host": "127.0.0.1", "probes": [{**probe, "timeout": "500ms"}]}
        for index in range(6)
    ]
    config = load_config(write_config(tmp_path, targets, vantage="office"))
    settings = DaemonSettings(flush_interval_s=0.2, heartbeat_interval_s=60.0, run_for_s=4.0)
    with EvidenceStore.open(config.store, create=True) as store:
        daemon = Daemon(config, store, jobs_for(config), settings=settings)
        asyncio.run(daemon.run())
    with EvidenceStore.open(config.store, readonly=True) as store:
        started = next(r.record for r in store.records(types=["collector"]))
        probes = [r.record for r in store.records(types=["probe"])]
    assert started["event"] == "start"
    start_ns = started["ts_ns"]
    assert isinstance(start_ns, int)
    period = round(interval_s * NS_PER_S)
    first: dict[str, int] = {}
    for record in probes:
        target, ts_ns = record["target"], record["ts_ns"]
        assert isinstance(target, str) and isinstance(ts_ns, int)
        first.setdefault(target, ts_ns)
    assert sorted(first) == [f"vps{index}" for index in range(6)], "every probe ran"
    for target, ts_ns in first.items():
        slot = next_slot_ns(start_ns, interval_s, phase_ns("office", target, "port", interval_s))
        # on its own slot: not before it (a millisecond for reading the two clocks apart),
        # and a third of an interval at most after it, which a loaded machine does not miss
        assert slot - 1_000_000 <= ts_ns < slot + period // 3, target
