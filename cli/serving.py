"""The three ways slawitness exposes its series, wired together for the CLI verbs.

`run --listen` (the daemon's memory), `serve` (a store that cron writes) and
`probe --textfile` (one cron round) each build a snapshot source and hand it to the same
exporter; this module holds that plumbing so the CLI stays a list of verbs.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from cli.notify import period_events
from collector.config.model import Config
from collector.core.output_paths import OutputPathError, check_file_target, replacing
from collector.evidence.store import EvidenceStore
from collector.portable.errors import UsageError
from collector.portable.signed_note import SigningKey
from collector.probes import ProbeEnv
from collector.prometheus.exposition import render
from collector.prometheus.metrics import SlaGauge, metric_families
from collector.prometheus.probe_on_demand import LoopThread, ProbeOnDemand
from collector.prometheus.server import ExporterServer
from collector.prometheus.state import (
    LiveState,
    StoreFollower,
    previous_counts,
    round_snapshot,
    store_state,
)
from collector.prometheus.web_config import WebConfig
from collector.running.daemon import Daemon
from collector.running.scheduler import jobs_for

if TYPE_CHECKING:
    from collector.prometheus.remote_write_runner import RemoteWriteThread
    from collector.prometheus.server import PageSource
    from reports.live import LiveSla
    from reports.web_view import WebView


SIGNAL_POLL_S = 0.5
"""How often the main thread wakes while serving. A signal the kernel delivers to a busy
request thread only sets a flag; its Python handler runs when the main thread next runs
Python code, which an untimed wait would never do."""


class TextfileError(UsageError):
    """The textfile for node_exporter could not be written."""


def run_daemon(
    config: Config,
    store: EvidenceStore,
    listen: str | None,
    web_config: WebConfig | None,
    announce: Callable[[str], None],
    signing_key: SigningKey | None = None,
    config_path: Path | None = None,
) -> Daemon:
    """Run the daemon until a signal stops it, serving its series when `listen` is given."""
    live = _live_sla(config) if listen else None
    view = _web_view(config) if listen else None
    state = LiveState(config, store_state(store), live.gauges if live else _none)

    def start_exporter(loop: asyncio.AbstractEventLoop, env: ProbeEnv) -> Callable[[], None]:
        def submit(coroutine):  # type: ignore[no-untyped-def]
            return asyncio.run_coroutine_threadsafe(coroutine, loop)

        runner = ProbeOnDemand(config, store, submit, env, state)
        assert listen is not None
        assert view is not None
        pages = _pages(config, config_path, view)
        server = ExporterServer(listen, state.snapshot, runner, web_config, pages)
        server.start()
        announce(f"serving {server.url}/ (the web view), /metrics and /probe")

        return server.stop

    if live is not None and view is not None:
        live.start()
        view.start()
    daemon = Daemon(
        config,
        store,
        jobs_for(config),
        observer=state,
        exporter=start_exporter if listen else None,
        signing_key=signing_key,
        period_events=period_events,
    )
    announce(f"{len(daemon.jobs)} probes, store {config.store}")
    shipper = _remote_writer(config, announce)
    try:
        asyncio.run(daemon.run())
    finally:
        if shipper is not None:
            shipper.stop()
        if live is not None and view is not None:
            live.stop()
            view.stop()
    return daemon


def _remote_writer(config: Config, announce: Callable[[str], None]) -> RemoteWriteThread | None:
    """The shipper to `remote_write` receivers, started; protobuf loads only with one."""
    if not config.remote_write:
        return None
    from collector.prometheus.remote_write_runner import RemoteWriteThread

    shipper = RemoteWriteThread(config, announce)
    shipper.start()
    return shipper


def _none() -> list[SlaGauge]:
    return []


def _web_view(config: Config) -> WebView:
    """The web view's figures (`reports.web_view`); loads pandas, as `_live_sla` does."""
    from reports.web_view import WebView

    return WebView(config, [config.store])


def _pages(config: Config, config_path: Path | None, view: WebView) -> PageSource:
    """The web view's pages; its report and bundle buttons need the config file (a bundle
    carries it, redacted)."""
    from reports.web_downloads import Downloads
    from reports.web_pages import web_pages

    downloads = Downloads(config, config_path, [config.store]) if config_path else None
    return web_pages(view, downloads)


def _live_sla(config: Config) -> LiveSla:
    """The engine's current-period figures; loads pandas, so only the serving verbs call it."""
    from reports.live import LiveSla

    return LiveSla(config, [config.store])


def serve_store(
    config: Config,
    listen: str,
    web_config: WebConfig | None,
    announce: Callable[[str], None],
    config_path: Path | None = None,
) -> None:
    """`slawitness serve`: the series of the store, and `/probe`, until SIGTERM or Ctrl-C."""
    stopped = threading.Event()
    with (
        EvidenceStore.open(config.store, create=True) as writer,
        EvidenceStore.open(config.store, readonly=True) as reader,
    ):
        live, view = _live_sla(config), _web_view(config)
        live.start()
        view.start()
        follower = StoreFollower(config, reader, live.gauges)
        probes = LoopThread(config.probing.icmp_rate)
        try:
            runner = ProbeOnDemand(config, writer, probes.submit, probes.env)
            pages = _pages(config, config_path, view)
            server = ExporterServer(listen, follower.snapshot, runner, web_config, pages)
            server.start()
            announce(f"serving {server.url}/ (the web view), /metrics and /probe")
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stopped.set())
            while not stopped.wait(SIGNAL_POLL_S):
                pass
            server.stop()
        finally:
            probes.close()
            live.stop()
            view.stop()


def write_round_textfile(
    path: Path,
    config: Config,
    records: Iterable[Mapping[str, object]],
    store: EvidenceStore,
    append_ok: bool,
) -> None:
    """A cron round's series for node_exporter, replaced atomically (`PATH.partial` renamed
    over it). A path that is not a regular file is refused before anything is read (the
    previous round's file is read for its counts); `PATH.partial` is looked at once, when
    `replacing` claims it."""
    try:
        check_file_target(path, replace=True, partial=False)
    except OutputPathError as exc:
        raise TextfileError(f"{path}: cannot write the textfile ({exc.reason})") from None
    snapshot = round_snapshot(
        config, records, previous_counts(path), store_state(store, append_ok=append_ok)
    )
    body, _ = render(metric_families(snapshot), "")  # node_exporter reads the text format
    try:
        with replacing(path, replace=True) as out:
            out.write(body)
    except OutputPathError as exc:
        raise TextfileError(f"{path}: cannot write the textfile ({exc.reason})") from None
    except OSError as exc:
        raise TextfileError(f"{path}: cannot write the textfile: {exc.strerror}") from None
