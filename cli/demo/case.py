"""`slawitness demo`: a whole SLA case, from probing to the complaint bundle, offline.

A new user should see what slawitness proves before pointing it at a real provider. The
demo starts services on loopback that misbehave on a script (`SCRIPT`, in fractions of the
run so a shortened run shows the same story), writes a config whose SLA scales with the run
(`min_duration` is 10 % of it), collects with the real daemon into a real evidence store,
then writes the report and the bundle for exactly the time it collected. Ctrl-C ends the
collection early; what was collected is still reported.
"""

from __future__ import annotations

import asyncio
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from cli.demo.documents import (
    CONTRACT_TERMS,
    contract_pdf,
    contract_sha256,
    demo_dates,
    invoice_pdf,
    support_thread,
)
from cli.demo.targets import TcpService, WebMode, WebService, free_port
from collector.config.loader import load_config
from collector.config.model import Config
from collector.core.output_paths import write_text
from collector.documents.attaching import attach_files
from collector.documents.attachments import AttachError
from collector.evidence.store import EvidenceStore
from collector.portable.errors import UsageError
from collector.proving import checkpoints
from collector.proving.document_certificate import create_document_certificate
from collector.running.daemon import Daemon, DaemonSettings
from collector.running.scheduler import jobs_for

TARGET = "demo-vps"
TARGET_ADDRESS = "127.0.0.1"
CONTROL_ADDRESSES = {"gateway": "127.0.0.2", "resolver": "127.0.0.3"}
MIN_DURATION_SHARE = 0.10
MIN_INTERVAL_S = 2
"""Probe intervals are a sixtieth of the run in whole seconds, and never so short that a
slow answer (1.2 s) would have to time out."""
ROUND_AT = 0.2
"""Every probe round starts this far into a wall-clock second, and the script switches the
services half an interval after a round: the target and the controls see every change in
the same round and in the same whole second, so the demo's figures do not depend on luck."""


@dataclass(frozen=True)
class Phase:
    """Part of the run, [start, end) as fractions of it, and what misbehaves meanwhile."""

    start: float
    end: float
    label: str
    web: WebMode | None = None
    ssh_up: bool = True
    controls_up: bool = True


SCRIPT = (
    Phase(0.10, 0.26, "web service down: a provider outage", web="down"),
    Phase(0.32, 0.42, "web answers slowly: latency above the 1 s threshold", web="slow"),
    Phase(0.48, 0.53, "a short burst of HTTP 503: shorter than min_duration", web="error"),
    Phase(0.58, 0.74, "SSH port gone: a provider outage", ssh_up=False),
    Phase(0.80, 0.92, "your own network down: the controls fail too (local)", web="down",
          ssh_up=False, controls_up=False),
)  # fmt: skip
"""Every kind of evidence the report distinguishes, in one run."""


def phase_at(share: float) -> Phase | None:
    """The scripted phase at this point of the run, if any."""
    return next((p for p in SCRIPT if p.start <= share < p.end), None)


DEMO_FILES = ("slawitness.yml", "slawitness.key", "slawitness.key.pub", "evidence.attachments",
              "slawitness-documents.crt", "slawitness-documents.key", "documents", "report",
              "bundle.zip")  # fmt: skip
"""What the demo writes into its folder besides the store: a folder holding any of them is
refused before the demo starts, never written over at its end."""


class DemoError(UsageError):
    """The demo cannot run; the message is one line for the user."""


@dataclass
class DemoRun:
    """Where the demo put its files and the span it collected."""

    folder: Path
    config_path: Path
    started: datetime
    stopped: datetime
    stop_reason: str


class Stage:
    """The demo's services, set as the script says for the current point of the run."""

    def __init__(self) -> None:
        self.web = WebService(TARGET_ADDRESS, free_port(TARGET_ADDRESS))
        self.ssh = TcpService(TARGET_ADDRESS, free_port(TARGET_ADDRESS))
        self.controls = {
            name: TcpService(address, free_port(address))
            for name, address in CONTROL_ADDRESSES.items()
        }

    def act(self, share: float) -> Phase | None:
        """Bring every service to the state of the phase at `share` of the run."""
        phase = phase_at(share)
        self.web.set_mode(phase.web if phase and phase.web else "ok")
        self.ssh.set_up(phase is None or phase.ssh_up)
        for control in self.controls.values():
            control.set_up(phase is None or phase.controls_up)
        return phase

    def close(self) -> None:
        for service in (self.web, self.ssh, *self.controls.values()):
            service.close()


def probe_interval(seconds: float) -> int:
    """The demo's probe interval for a run of `seconds`."""
    return max(MIN_INTERVAL_S, round(seconds / 60))


def demo_config(stage: Stage, seconds: float) -> dict[str, Any]:
    """The demo's slawitness.yml: one target with an SLA, two controls, short intervals."""
    interval = probe_interval(seconds)
    every = f"{interval:g}s"
    tcp = {"kind": "tcp", "interval": every, "timeout": f"{min(interval - 0.2, 1.0):g}s"}
    web_timeout = f"{min(interval - 0.1, 3.0):g}s"
    return {
        "vantage": "demo-laptop",
        "store": "evidence.db",
        "targets": [
            {
                "name": TARGET,
                "host": TARGET_ADDRESS,
                "provider": {"name": "Example Hosting Ltd.", "account": "DEMO-0001",
                             "contact": "support@example.invalid", "country": "US"},
                "probes": [
                    {"name": "web", "kind": "http", "interval": every, "timeout": web_timeout,
                     "url": f"http://{TARGET_ADDRESS}:{stage.web.port}/health",
                     "expect_status": [200], "expect_body": "ok"},
                    {"name": "ssh", "port": stage.ssh.port, **tcp},
                ],
                "sla": {
                    "uptime": 99.9,
                    "period": "month",
                    "timezone": "UTC",
                    "downtime": {"probes": "any",
                                 "min_duration": f"{math.ceil(seconds * MIN_DURATION_SHARE)}s"},
                    "credits": [{"below": 99.9, "credit": 10}, {"below": 99.0, "credit": 25},
                                {"below": 95.0, "credit": 50}],
                    "monthly_fee": 40,
                    "currency": "USD",
                    "claim_window_days": 30,
                    "latency_threshold": "1s",
                    "source": {"attachment": contract_sha256(), "page": 1,
                               "terms": CONTRACT_TERMS},
                },
            }
        ],
        "controls": [
            {"name": name, "host": service.address, "probes": [
                {"name": "tcp", "port": service.port, **tcp}]}
            for name, service in stage.controls.items()
        ],
    }  # fmt: skip


def collect(
    folder: Path,
    seconds: float,
    on_tick: Callable[[float, Phase | None], None] = lambda elapsed, phase: None,
) -> DemoRun:
    """Run the scripted services and the daemon for `seconds` (or until Ctrl-C)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DemoError(f"cannot create {folder}: {exc.strerror or exc}") from exc
    config_path = folder / "slawitness.yml"
    if (folder / "evidence.db").exists():
        raise DemoError(
            f"{folder} already holds a demo evidence store; choose another --out or remove it"
        )
    held = [name for name in DEMO_FILES if os.path.lexists(folder / name)]
    if held:
        raise DemoError(f"{folder / held[0]}: already exists; choose another --out or remove it")
    stage = Stage()
    try:
        write_text(config_path, yaml.safe_dump(demo_config(stage, seconds), sort_keys=False),
                   replace=False)  # fmt: skip
        config = load_config(config_path)
        with EvidenceStore.open(config.store, create=True) as store:
            # a fresh key: a folder already holding slawitness.key was refused above
            key = checkpoints.create_key(config.checkpoints.key, checkpoints.origin(store))
            create_document_certificate(config.documents, config.vantage)
            settings = DaemonSettings(
                flush_interval_s=0.5, heartbeat_interval_s=5.0, start_at_once=True,
                run_for_s=seconds,
            )  # fmt: skip
            daemon = Daemon(config, store, jobs_for(config), settings=settings, signing_key=key)
            _sleep_into_second(ROUND_AT)
            started = datetime.now(UTC)
            conductor = _Conductor(stage, seconds, probe_interval(seconds), on_tick)
            conductor.start()
            try:
                asyncio.run(daemon.run())
            finally:
                conductor.stop()
            stopped = datetime.now(UTC)
    finally:
        stage.close()
    return DemoRun(folder, config_path, started, stopped, daemon.stop_reason)


def _sleep_into_second(fraction: float) -> None:
    """Sleep until the wall clock is `fraction` of a second past a whole second."""
    now = time.time()
    time.sleep((fraction - now % 1.0) % 1.0)


class _Conductor(threading.Thread):
    """Plays the script against the clock and reports progress, ten times a second.

    The services change only half an interval after a probe round (see ROUND_AT).
    """

    def __init__(
        self,
        stage: Stage,
        seconds: float,
        interval: float,
        on_tick: Callable[[float, Phase | None], None],
    ) -> None:
        super().__init__(daemon=True)
        self.stage, self.seconds, self.interval = stage, seconds, interval
        self.on_tick = on_tick
        self.began = time.monotonic()
        self._done = threading.Event()
        stage.act(0.0)

    def run(self) -> None:
        half = self.interval / 2
        while not self._done.wait(0.1):
            elapsed = time.monotonic() - self.began
            switched = max(0.0, (elapsed - half) // self.interval * self.interval + half)
            phase = self.stage.act(min(switched / self.seconds, 1.0))
            self.on_tick(min(elapsed, self.seconds), phase)

    def stop(self) -> None:
        self._done.set()
        self.join()


@dataclass
class DemoResult:
    """The collection, the report's outcome, and the bundle (or why there is none)."""

    run: DemoRun
    report_dir: Path
    summary: dict[str, Any]
    report_paths: list[Path]
    bundle_path: Path | None
    bundle_problem: str | None


def report_demo(run: DemoRun, warn: Callable[[str], None]) -> DemoResult:
    """The report and the bundle of exactly the span the demo collected."""
    from reports.bundle.errors import BundleError
    from reports.render.errors import RenderError
    from reports.render.pdf import PdfUnavailable, pdf_available
    from reports.report_run import PeriodChoice, make_bundle, make_report

    config = load_config(run.config_path)
    start, end = run.started.replace(microsecond=0), _next_second(run.stopped)
    choice = PeriodChoice(start=start.isoformat(), end=end.isoformat())
    formats = {"json", "html", "csv", "letter"} | ({"pdf"} if pdf_available() else set())
    report_dir = run.folder / "report"
    attach_documents(run, config, warn)
    outcome = make_report(
        config, TARGET, choice, [config.store], None, report_dir, formats, {"en", "zh"}, warn=warn
    )
    zip_path = run.folder / "bundle.zip"
    try:
        make_bundle(config, run.config_path, TARGET, choice, [config.store], zip_path,
                    {"en", "zh"}, warn=warn, formats=formats)  # fmt: skip
    except (RenderError, PdfUnavailable, BundleError) as exc:
        return DemoResult(run, report_dir, outcome.summary, outcome.paths, None, str(exc))
    return DemoResult(run, report_dir, outcome.summary, outcome.paths, zip_path, None)


def attach_documents(run: DemoRun, config: Config, warn: Callable[[str], None]) -> None:
    """The demo's contract, invoice and support thread, written to `documents/` and attached
    the way `slawitness attach` does, so the report has a complaint file and a timeline."""
    reported, answered = demo_dates(run.started, run.stopped - run.started)
    folder = run.folder / "documents"
    documents = [
        ("contract", "contract.pdf", contract_pdf(), f"{run.started:%Y-%m}-01"),
        ("invoice", f"invoice-{run.started:%Y-%m}.pdf", invoice_pdf(run.started),
         f"{run.started:%Y-%m-%d}"),
        ("correspondence", "support-thread.mbox", support_thread(reported, answered), None),
    ]  # fmt: skip
    try:
        folder.mkdir(exist_ok=True)
        for kind, name, data, day in documents:
            (folder / name).write_bytes(data)
            attach_files(config, TARGET, kind, [folder / name], day=day)
    except (OSError, AttachError) as exc:
        warn(f"the demo's documents were not attached: {exc}")


def _next_second(moment: datetime) -> datetime:
    """`moment` rounded up to a whole second: the report's span covers the last sample."""
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + timedelta(seconds=1)
