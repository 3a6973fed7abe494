"""Waiting for a cron round's traces: `slawitness probe` claims the due diagnoses and leaves
the tracing to a detached process, so a test that reads diagnoses waits for it first."""

from __future__ import annotations

import time
from pathlib import Path

from collector.evidence.store import EvidenceStore


def settled_diagnoses(store_path: Path, timeout: float = 90) -> list[dict]:
    """The diagnoses, once every due one has its record (or the timeout has passed)."""
    deadline = time.monotonic() + timeout
    while True:
        with EvidenceStore.open(store_path, readonly=True) as store:
            due = list(store.records(types=["diagnosis_due"]))
            found = [r.record for r in store.records(types=["diagnosis"])]
        if len(found) >= len(due) or time.monotonic() > deadline:
            return found
        time.sleep(0.2)
