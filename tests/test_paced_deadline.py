"""An attempt's deadline does not run while its first echo waits behind other paced sends.

The queue is made deep on purpose: at 20 sends a second, 40 echoes asked for first keep the
probe's echo waiting about 2 s, longer than its whole attempt deadline (0.2 s budget + 1 s
grace). Counted against the deadline, that wait would record an answering host as a timeout.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import yaml

from collector.config.loader import parse_config
from collector.core.results import ErrorClass
from collector.probes.base import DEADLINE_GRACE_S, ProbeEnv
from collector.probes.net.icmp_engine import EchoStatus, IcmpEngine
from collector.running.scheduler import Attempt, jobs_for
from collector.running.scheduler import attempt as run_attempt

LOOPBACK = "127.0.0.1"
RATE = 20
QUEUED_AHEAD = 40


def config_text() -> str:
    probe = {"name": "ping", "kind": "icmp", "count": 1, "timeout": "200ms"}
    data = {
        "vantage": "office",
        "targets": [{"name": "vps1", "host": LOOPBACK, "probes": [probe]}],
    }
    return yaml.safe_dump(data, sort_keys=False)


async def attempt_behind_queue() -> tuple[list[EchoStatus], Attempt]:
    config = parse_config(config_text(), Path("/etc/slawitness/slawitness.yml"))
    [job] = jobs_for(config)
    assert job.spec.attempt_budget() + DEADLINE_GRACE_S < QUEUED_AHEAD / RATE
    env = ProbeEnv(icmp_rate=RATE)
    try:
        engine = await env.shared("icmp4", lambda: IcmpEngine.start(socket.AF_INET, RATE))
        ahead = [asyncio.create_task(engine.echo(LOOPBACK, 5.0)) for _ in range(QUEUED_AHEAD)]
        await asyncio.sleep(0)  # the queued echoes ask for their turns first
        done = await run_attempt(job, env)
        outcomes = await asyncio.gather(*ahead)
        return [o.status for o in outcomes], done
    finally:
        await env.aclose()


def test_an_answering_target_queued_behind_many_paced_sends_is_recorded_up() -> None:
    ahead, done = asyncio.run(attempt_behind_queue())
    assert ahead == [EchoStatus.REPLY] * QUEUED_AHEAD
    assert done.result.error is not ErrorClass.TIMEOUT, done.result
    assert done.result.ok, done.result
    record = done.record("office")
    assert record["ok"] is True and record["phases_ns"] == [done.result.latency_ns]
