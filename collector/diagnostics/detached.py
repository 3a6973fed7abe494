"""A cron round's diagnoses, traced by a process of their own that the round does not wait for.

`slawitness probe` must exit in about the time its probes take, and a hundred silent targets
take minutes to trace. So the round records its claims (`collector.diagnostics.claims`) and
starts `slawitness diagnose-due --seqs FIRST-LAST` in a new session, detached from cron's
process group and the terminal, then exits. That process traces the claims through the queue
within the round's budget and appends each outcome; SIGTERM (a shutdown) cuts it short the
way it does the daemon, so every claim still ends in a record.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import FrameType

from collector.config.model import Config
from collector.diagnostics.claims import claims_between
from collector.diagnostics.queue import run_claims
from collector.evidence.store import EvidenceStore


def start(config_path: Path, store_path: Path, first: int, last: int) -> subprocess.Popen[bytes]:
    """Start the diagnoser of the claims at seqs `first`..`last`, and do not wait for it."""
    command = [sys.executable, "-m", "cli", "--quiet", "diagnose-due",
               "--config", str(config_path), "--store", str(store_path),
               "--seqs", f"{first}-{last}"]  # fmt: skip
    return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip


def diagnose_due(config: Config, store: EvidenceStore, first: int, last: int) -> int:
    """Trace the claims at seqs `first`..`last`, appending one record for each; returns how
    many records were appended."""
    claims = claims_between(store, config, first, last)
    lock = threading.Lock()
    written = 0

    def sink(record: dict[str, object]) -> None:
        nonlocal written
        with lock:
            store.append([record])
            written += 1

    queue = run_claims(config, claims, sink)
    stopping = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        queue.drain(until=stopping)
        queue.stop()
    finally:
        signal.signal(signal.SIGTERM, previous)
    return written
