"""Notifications through apprise, each one chained as a note.

Users without Alertmanager still want to hear that a target went down, came back, breached
its SLA, or has a claim deadline coming. `collector.alerts.due` decides what is due; here it is
sent to every `notifications.urls` channel at once (each in its own thread, all bounded by
`notifications.timeout`) and then recorded as a note, so the chain shows when the user was
told. A notification note is an ordinary `type: note` record with these extra fields:

    notify      incident_opened | incident_closed | sla_breached | claim_deadline
    key         the event's dedupe key, e.g. `incident_opened:vps1:<since_ns>`
    title       the message's title (`text` holds its body)
    sent        channel labels that took it, e.g. ["urls[0] (mailto)"]
    failed      channel labels that did not (retried on a later round, see alerts)
    since_ns, up_ns, duration_s, period, deadline    when they apply

A channel is named only by its place and scheme, never by its URL: the URL is a secret.
A failing channel is one warning line and a `failed` entry, never an exception: probing
goes on whatever the channels do.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from collector.alerts.due import MAX_ATTEMPTS, Event, History, incident_events, retries
from collector.config.model import Config
from collector.config.secrets import Secret, redact
from collector.evidence.records import Stamp, note_record
from collector.evidence.store import EvidenceStore
from collector.evidence.store_errors import StoreError

if TYPE_CHECKING:
    from collections.abc import Mapping

_LOG = logging.getLogger("slawitness.notify")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]{0,19})://")
PERIOD_CHECK_EVERY_S = 3600.0
"""The daemon looks at the SLA figures (breach, claim deadlines) at most this often."""
PeriodEvents = Callable[[Config, str, History, int], list[Event]]
"""The notifications the SLA figures call for (breached this period, claim deadlines), from
the report engine. The CLI passes it in: the collector never loads that engine itself, so a
cron round stays free of pandas."""


def channel_label(index: int, url: Secret) -> str:
    """`urls[1] (json)`: how records and logs name a channel without its secret URL."""
    match = _SCHEME.match(url.reveal().strip())
    return f"urls[{index}] ({match.group(1).lower() if match else '?'})"


def _quiet_apprise() -> None:
    """apprise logs URLs (secrets) on failure: its messages stay out of our output."""
    logger = logging.getLogger("apprise")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())
    logger.propagate = False


def _send_one(url: str, title: str, body: str, outcome: dict[str, bool], label: str) -> None:
    try:
        import apprise

        # the plugin itself, not `Apprise.notify`: that one runs in apprise's shared pool,
        # whose threads a process waits for at exit (a hanging channel would hold cron up)
        plugin = apprise.Apprise.instantiate(url)
        outcome[label] = plugin is not None and bool(plugin.notify(title=title, body=body))
    except Exception:  # the channel boundary: a broken channel is a failed send, not a crash
        outcome[label] = False


def send(
    channels: Mapping[str, Secret], title: str, body: str, timeout: float
) -> tuple[list[str], list[str]]:
    """Send to every channel at once; (sent, failed) labels once all answered or `timeout`
    ran out (a channel still talking then counts as failed, its daemon thread left behind)."""
    _quiet_apprise()
    outcome: dict[str, bool] = {}
    threads = [
        threading.Thread(
            target=_send_one, args=(url.reveal(), title, body, outcome, label),
            name=f"slawitness-notify {label}", daemon=True,
        )
        for label, url in channels.items()
    ]  # fmt: skip
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    sent = [label for label in channels if outcome.get(label) is True]
    return sent, [label for label in channels if label not in sent]


def deliver(
    config: Config, store: EvidenceStore, events: Sequence[Event]
) -> list[dict[str, object]]:
    """Send each event to its channels and chain one note per event; the notes written."""
    settings = config.notifications
    if settings is None:
        return []
    labels = {channel_label(i, url): url for i, url in enumerate(settings.urls)}
    secrets = config.secrets()
    written = []
    for event in events:
        only = event.channels
        wanted = {k: v for k, v in labels.items() if only is None or k in only}
        if not wanted:
            continue
        title, body = redact(event.title, secrets), redact(event.body, secrets)
        sent, failed = send(wanted, title, body, settings.timeout)
        for label in failed:
            _LOG.warning(
                "slawitness: notification %s for %s to %s failed (retried on a later round,"
                " %d attempts at most)",
                event.kind, event.target, label, MAX_ATTEMPTS,
            )  # fmt: skip
        note = note_record(Stamp.now(), config.vantage, event.target, body, None)
        note.update(event.fields)
        note.update(notify=event.kind, key=event.key, title=title, sent=sent, failed=failed)
        store.append([note])
        written.append(note)
    return written


def notify_round(config: Config, store: EvidenceStore) -> None:
    """After a cron round is stored: incidents opened or closed, and owed retries."""
    if config.notifications is None:
        return
    try:
        history = History.read(store, config.vantage)
        fresh = incident_events(config, store, history)
        deliver(config, store, [*fresh, *retries(history, fresh)])
    except StoreError as exc:
        _LOG.warning("slawitness: notifications skipped this round: %s", exc)


def check_all(
    config: Config, store: EvidenceStore, now_ns: int, period_events: PeriodEvents | None
) -> list[dict[str, object]]:
    """Everything due now, the SLA figures included when `period_events` is given
    (`slawitness notify`, the daemon)."""
    history = History.read(store, config.vantage)
    fresh = incident_events(config, store, history)
    if period_events is not None:
        fresh += period_events(config, store.path, history, now_ns)
    return deliver(config, store, [*fresh, *retries(history, fresh)])


@dataclass
class _DaemonNotifier:
    """One per store in the daemon: at most one look at a time, off the event loop."""

    config: Config
    store_path: str
    period_events: PeriodEvents | None
    task: asyncio.Future[None] | None = None
    periods_checked: float = field(default=-PERIOD_CHECK_EVERY_S)

    def submit(self, records: Sequence[Mapping[str, object]]) -> None:
        if self.task is not None and not self.task.done():
            return  # the running look reads the store, so it sees this batch or the next
        with_periods = time.monotonic() - self.periods_checked >= PERIOD_CHECK_EVERY_S
        if not with_periods and not any(r.get("type") == "probe" for r in records):
            return
        if with_periods:
            self.periods_checked = time.monotonic()
        self.task = asyncio.ensure_future(asyncio.to_thread(self._look, with_periods))

    def _look(self, with_periods: bool) -> None:
        try:
            with EvidenceStore.open(self.store_path) as store:
                if with_periods:
                    check_all(self.config, store, time.time_ns(), self.period_events)
                else:
                    notify_round(self.config, store)
        except Exception as exc:  # the notifier's boundary: it must never stop the daemon
            _LOG.warning("slawitness run: notifications failed: %s: %s", type(exc).__name__, exc)


_DAEMON_NOTIFIERS: dict[str, _DaemonNotifier] = {}


def notify_later(
    config: Config,
    store_path: str,
    records: Sequence[Mapping[str, object]],
    period_events: PeriodEvents | None,
) -> None:
    """From the daemon's loop, after a batch is stored: look for due notifications in a
    worker thread, never waiting for it (a slow channel never delays a flush or a probe)."""
    if config.notifications is None:
        return
    notifier = _DAEMON_NOTIFIERS.get(store_path)
    if notifier is None or notifier.config is not config:
        notifier = _DaemonNotifier(config, store_path, period_events)
        _DAEMON_NOTIFIERS[store_path] = notifier
    notifier.submit(records)
