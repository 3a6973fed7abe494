"""A real blackbox_exporter on loopback, to hold our probe_* series against the original.

Debian's `prometheus-blackbox-exporter` is started with the modules a test writes, on a
free loopback port, and asked to probe like Prometheus would (`/probe?module=&target=`).
Its answer is parsed with prometheus_client's parser, the same one that reads ours.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.rig import rig_unavailable
from tests.rig.prometheus import free_port

BLACKBOX = Path("/usr/bin/prometheus-blackbox-exporter")
READY_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Family:
    """One metric family of an exposition: its type and each sample's labels and value."""

    type: str
    samples: list[tuple[dict[str, str], float]]


def families(text: str) -> dict[str, Family]:
    """{name: Family} of an exposition in the text format."""
    found: dict[str, Family] = {}
    for family in text_string_to_metric_families(text):
        samples = [(dict(s.labels), s.value) for s in family.samples]
        found[family.name] = Family(family.type, samples)
    return found


@dataclass
class BlackboxExporter:
    """A running blackbox_exporter: where it listens and its process."""

    url: str
    process: subprocess.Popen[bytes]

    def probe(self, module: str, target: str) -> dict[str, Family]:
        """The families of one `/probe` answer (blackbox always answers 200)."""
        response = httpx.get(
            f"{self.url}/probe", params={"module": module, "target": target}, timeout=15
        )
        assert response.status_code == 200, response.text
        return families(response.text)


@contextlib.contextmanager
def blackbox_exporter(workdir: Path, modules: dict[str, Any]) -> Iterator[BlackboxExporter]:
    """Start blackbox_exporter with `modules`; stop it on leaving."""
    if not os.access(BLACKBOX, os.X_OK):
        rig_unavailable(
            f"{BLACKBOX} is not installed (Debian package prometheus-blackbox-exporter)"
        )
    config = workdir / "blackbox.yml"
    config.write_text(yaml.safe_dump({"modules": modules}), encoding="utf-8")
    address = f"127.0.0.1:{free_port()}"
    log = (workdir / "blackbox.log").open("wb")
    argv = [str(BLACKBOX), f"--config.file={config}", f"--web.listen-address={address}"]
    process = subprocess.Popen([*argv, "--log.level=warn"], stdout=log, stderr=subprocess.STDOUT)
    exporter = BlackboxExporter(f"http://{address}", process)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            try:
                httpx.get(f"{exporter.url}/-/healthy", timeout=2)
                break
            except httpx.HTTPError:
                log_text = (workdir / "blackbox.log").read_text(errors="replace")
                assert process.poll() is None, f"blackbox_exporter exited: {log_text}"
                assert time.monotonic() < deadline, f"blackbox_exporter not up: {log_text}"
                time.sleep(0.05)
        yield exporter
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
