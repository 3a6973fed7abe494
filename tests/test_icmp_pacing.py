"""ICMP send pacing: `probing.icmp_rate` echo requests a second, each timed from its send.

The spacing is read from the send stamps the engine keeps for every echo (`sent_ns`, taken
right before `sendto`), never from how long a test took. Two things are asserted: no window
ever holds more than its share plus the catch-up burst (what keeps a link from flooding,
and a loaded machine cannot break it), and queued sends reach at least 90 % of the rate.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import socket
from pathlib import Path

import pytest
import yaml

from collector.config.loader import ConfigError, parse_config
from collector.probes.base import ProbeEnv
from collector.probes.icmp import IcmpSpec, probe
from collector.probes.net.icmp_engine import EchoOutcome, EchoStatus, IcmpEngine
from collector.probes.net.send_pacing import DEFAULT_ICMP_RATE, burst_for

LOOPBACK = "127.0.0.1"
WINDOW_NS = 20_000_000
CONFIG_PATH = Path("/etc/slawitness/slawitness.yml")


async def echoes_at(rate: float, count: int, timeout: float) -> list[EchoOutcome]:
    """`count` echoes to loopback asked for at once from one engine paced at `rate`."""
    engine = await IcmpEngine.start(socket.AF_INET, rate)
    try:
        return list(await asyncio.gather(*(engine.echo(LOOPBACK, timeout) for _ in range(count))))
    finally:
        await engine.aclose()


def send_gaps(outcomes: list[EchoOutcome]) -> list[int]:
    stamps = sorted(o.sent_ns for o in outcomes if o.sent_ns is not None)
    assert len(stamps) == len(outcomes), "every echo was sent"
    return [later - earlier for earlier, later in itertools.pairwise(stamps)]


def busiest_window(outcomes: list[EchoOutcome], window_ns: int = WINDOW_NS) -> int:
    """The most sends any window of `window_ns` holds (each window starting at a send)."""
    stamps = sorted(o.sent_ns for o in outcomes if o.sent_ns is not None)
    return max(bisect.bisect_right(stamps, first + window_ns) - i for i, first in enumerate(stamps))


def sends_per_second(outcomes: list[EchoOutcome]) -> float:
    stamps = sorted(o.sent_ns for o in outcomes if o.sent_ns is not None)
    return (len(stamps) - 1) * 1e9 / (stamps[-1] - stamps[0])


def window_share(rate: float) -> int:
    """What the pacer lets a 20 ms window hold: its share of the rate plus the burst."""
    return int(rate * WINDOW_NS / 1e9) + burst_for(rate)


def test_concurrent_echoes_never_crowd_a_window_keep_the_rate_and_all_answer() -> None:
    outcomes = asyncio.run(echoes_at(rate=50, count=100, timeout=2.0))
    assert [o.status for o in outcomes] == [EchoStatus.REPLY] * 100
    assert len(send_gaps(outcomes)) == 99
    assert busiest_window(outcomes) <= window_share(50), "a window held more than its share"
    assert sends_per_second(outcomes) >= 0.9 * 50
    assert sends_per_second(outcomes) <= 50 * 1.01 + 1


def test_a_queued_echo_times_out_and_is_timed_from_its_own_send() -> None:
    # the fifth echo leaves 0.4 s after it was asked for, longer than its 0.15 s timeout:
    # timed from the request it would be lost, timed from its send it is answered
    outcomes = asyncio.run(echoes_at(rate=10, count=5, timeout=0.15))
    assert [o.status for o in outcomes] == [EchoStatus.REPLY] * 5
    gaps = send_gaps(outcomes)
    assert sum(gaps) >= 4 * 100_000_000
    assert all(o.rtt_ns is not None and o.rtt_ns < 150_000_000 for o in outcomes)


def test_a_default_rate_engine_reaches_its_rate_and_never_crowds_a_window() -> None:
    # the old pacer counted each gap from the previous send's stamp plus a loop turn and
    # asyncio.sleep's overshoot, and reached about half of this
    outcomes = asyncio.run(echoes_at(rate=DEFAULT_ICMP_RATE, count=600, timeout=2.0))
    assert all(o.status is EchoStatus.REPLY for o in outcomes)
    assert busiest_window(outcomes) <= window_share(DEFAULT_ICMP_RATE)
    assert sends_per_second(outcomes) >= 0.9 * DEFAULT_ICMP_RATE


def test_a_queue_that_fell_idle_saves_no_credit() -> None:
    async def two_rounds() -> list[EchoOutcome]:
        engine = await IcmpEngine.start(socket.AF_INET, 20)
        try:
            await engine.echo(LOOPBACK, 2.0)
            await asyncio.sleep(1.0)  # 20 slots pass with nothing to send
            asked = (engine.echo(LOOPBACK, 2.0) for _ in range(5))
            return list(await asyncio.gather(*asked))
        finally:
            await engine.aclose()

    outcomes = asyncio.run(two_rounds())
    assert all(o.status is EchoStatus.REPLY for o in outcomes)
    # the idle second saved nothing up: the five leave one slot (50 ms) apart
    assert sum(send_gaps(outcomes)) >= 4 * 50_000_000


def test_the_probe_uses_the_runs_rate() -> None:
    async def run() -> tuple[float, list[bool]]:
        env = ProbeEnv(icmp_rate=25)
        spec = IcmpSpec.model_validate(
            {"name": "ping", "kind": "icmp", "count": 2, "spacing": "0s", "timeout": 1}
        )
        try:
            results = await asyncio.gather(*(probe(LOOPBACK, spec, env) for _ in range(4)))
            engine = await env.shared("icmp4", lambda: IcmpEngine.start(socket.AF_INET))
            return engine.rate, [r.ok for r in results]
        finally:
            await env.aclose()

    rate, oks = asyncio.run(run())
    assert rate == 25 and oks == [True] * 4


def config_text(probing: object) -> str:
    data: dict[str, object] = {
        "vantage": "office",
        "targets": [{"name": "vps1", "host": LOOPBACK, "probes": [{"name": "p", "kind": "icmp"}]}],
    }
    if probing is not None:
        data["probing"] = probing
    return yaml.safe_dump(data, sort_keys=False)


def test_the_rate_defaults_to_a_thousand_and_is_set_in_probing() -> None:
    assert parse_config(config_text(None), CONFIG_PATH).probing.icmp_rate == 1000
    assert parse_config(config_text({"icmp_rate": 200}), CONFIG_PATH).probing.icmp_rate == 200


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        (0, "probing.icmp_rate: input should be greater than or equal to 1"),
        (-5, "probing.icmp_rate: input should be greater than or equal to 1"),
        (None, "probing.icmp_rate: input should be a valid integer"),
        ("fast", "probing.icmp_rate: input should be a valid integer"),
    ],
)
def test_an_unpaced_or_bad_rate_is_one_line(rate: object, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(config_text({"icmp_rate": rate}), CONFIG_PATH)
    assert len(caught.value.lines) == 1
    assert caught.value.lines[0].startswith(f"{CONFIG_PATH}: {expected}")
