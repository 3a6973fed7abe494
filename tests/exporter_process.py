"""`slawitness serve` / `slawitness run --listen` as child processes, for the exporter tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.rig.prometheus import free_port

FAKETIME_LIBRARY = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1")
"""Debian's libfaketime (package faketime), for an exporter whose clock the test fixes."""


def clock_at(moment: str) -> dict[str, str]:
    """The environment that starts a child's wall clock at `moment` ("2026-10-15 12:00:00",
    UTC), running on from there; its monotonic clock is left alone."""
    if not FAKETIME_LIBRARY.is_file():
        raise RuntimeError(f"{FAKETIME_LIBRARY} is missing: apt-get install faketime")
    return {
        "LD_PRELOAD": str(FAKETIME_LIBRARY),
        "FAKETIME": f"@{moment}",
        "TZ": "UTC",
        "DONT_FAKE_MONOTONIC": "1",
    }


@contextmanager
def exporter(
    verb: str,
    config: Path,
    *extra: str,
    scheme: str = "http",
    verify: object = True,
    env: dict[str, str] | None = None,
) -> Iterator[str]:
    """Start `slawitness VERB --listen` on a free loopback port; yield its base URL.
    `env` adds to the child's environment (e.g. `clock_at`).

    On leaving, the process is stopped with SIGTERM and must exit cleanly.
    """
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "cli",
        verb,
        "--config",
        str(config),
        "--listen",
        f"127.0.0.1:{port}",
        *extra,
    ]
    child = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    url = f"{scheme}://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(url + "/", timeout=2, verify=verify)  # type: ignore[arg-type]
                break
            except httpx.HTTPError:
                if child.poll() is not None or time.monotonic() > deadline:
                    _, err = child.communicate(timeout=10)
                    raise AssertionError(f"slawitness {verb} did not start: {err}") from None
                time.sleep(0.1)
        yield url
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=30)
        assert child.returncode == 0, f"slawitness {verb} exited {child.returncode}: {err}"


def parse_metrics(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """{(name, labels): value} from the text exposition format."""
    from prometheus_client.parser import text_string_to_metric_families

    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    """The one sample of `name` whose labels include `labels`."""
    found = [v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= set(ls)]
    assert len(found) == 1, f"{name}{labels}: {len(found)} samples"
    return found[0]
