"""A stop lets the attempts under way end and records them.

A silent target's attempt lasts its whole timeout; at 11,000 probes a minute a few are always
under way, and cancelling them at SIGTERM lost about six records a minute of daemon life
(bench/scale.py). The attempt ran against its target, so its outcome is evidence.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from collector.config.loader import load_config
from collector.evidence.store import EvidenceStore
from collector.running.daemon import STOP_GRACE_S, Daemon, DaemonSettings
from collector.running.scheduler import jobs_for
from tests.clirun import write_config
from tests.rig.loopback import FullListener


def test_an_attempt_under_way_at_the_stop_is_recorded_as_it_ended(tmp_path: Path) -> None:
    silent = FullListener()
    try:
        probe = {"name": "port", "kind": "tcp", "port": silent.port, "timeout": "1500ms"}
        targets = [{"name": "vps1", "host": "127.0.0.1", "probes": [probe]}]
        config = load_config(write_config(tmp_path, targets, vantage="office"))
        # the stop comes 0.3 s into the attempt's 1.5 s timeout
        settings = DaemonSettings(flush_interval_s=0.2, start_at_once=True, run_for_s=0.3)
        started = time.monotonic()
        with EvidenceStore.open(config.store, create=True) as store:
            asyncio.run(Daemon(config, store, jobs_for(config), settings=settings).run())
        took = time.monotonic() - started
    finally:
        silent.stop()
    with EvidenceStore.open(config.store, readonly=True) as store:
        probes = [r.record for r in store.records(types=["probe"])]
        events = [r.record["event"] for r in store.records(types=["collector"])]
    assert len(probes) == 1, probes
    assert probes[0]["ok"] is False and probes[0]["error"] == "timeout", probes[0]
    assert events == ["start", "stop"]
    assert took < 0.3 + STOP_GRACE_S + 2.0
