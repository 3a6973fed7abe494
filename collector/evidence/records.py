"""The evidence records the collector writes, as plain dicts ready for the store.

Every field is always present (null when it does not apply), so third parties reading the
JSON never guess whether a missing key means "none" or "not recorded". Each record carries
both the wall clock and the monotonic clock with the kernel's boot id: a wall-clock jump
within one boot shows up as a disagreement between the two. Each also says whether the
kernel held the clock synchronised (`clock_synced`, see `collector.evidence.clock_sync`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from collector import __version__
from collector.config.secrets import Secret, redact
from collector.core.results import JsonScalar, Result
from collector.evidence.clock_sync import read_clock_state

_BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")


def _read_boot_id() -> str:
    try:
        return _BOOT_ID_FILE.read_text(encoding="ascii").strip()
    except OSError:
        return "unknown"


BOOT_ID = _read_boot_id()


@dataclass(frozen=True)
class Stamp:
    """When something happened: UTC wall clock and the boot's monotonic clock, in ns, and
    whether the kernel held the wall clock synchronised then (None: not known)."""

    ts_ns: int
    mono_ns: int
    boot_id: str = BOOT_ID
    clock_synced: bool | None = None

    @classmethod
    def now(cls) -> Stamp:
        """CLOCK_BOOTTIME keeps counting through suspend, unlike CLOCK_MONOTONIC."""
        return cls(
            ts_ns=time.time_ns(),
            mono_ns=time.clock_gettime_ns(time.CLOCK_BOOTTIME),
            clock_synced=read_clock_state().synced,
        )

    def fields(self) -> dict[str, JsonScalar]:
        return {
            "ts_ns": self.ts_ns,
            "mono_ns": self.mono_ns,
            "boot_id": self.boot_id,
            "clock_synced": self.clock_synced,
        }


@dataclass(frozen=True)
class ProbeIdentity:
    """Which probe of which host, seen from which vantage."""

    vantage: str
    target: str
    probe: str
    kind: str
    role: str


def probe_record(
    identity: ProbeIdentity,
    stamp: Stamp,
    result: Result,
    duration_ns: int,
    secrets: Iterable[Secret] = (),
) -> dict[str, object]:
    """One probe attempt as a record; any secret that leaked into the detail is scrubbed.

    `duration_ns` is how long the whole attempt took (blackbox's probe_duration_seconds),
    which for a timeout is the time the collector really waited.
    """
    secret_list = list(secrets)
    detail = {
        key: redact(value, secret_list) if isinstance(value, str) else value
        for key, value in result.detail.items()
    }
    return {
        "type": "probe",
        **stamp.fields(),
        "vantage": identity.vantage,
        "target": identity.target,
        "probe": identity.probe,
        "kind": identity.kind,
        "role": identity.role,
        "ok": result.ok,
        "latency_ns": result.latency_ns,
        "duration_ns": duration_ns,
        "phases_ns": result.phases_ns,
        "loss_ppm": result.loss_ppm,
        "error": str(result.error) if result.error is not None else None,
        "detail": detail,
        "origin": "native",
    }


def collector_record(
    event: str, stamp: Stamp, vantage: str, **detail: JsonScalar
) -> dict[str, object]:
    """Collector start, stop, heartbeat or cron round: proof of when the collector was alive,
    with the kernel's estimate of the clock's offset and maximum error at that moment."""
    clock = read_clock_state()
    return {
        "type": "collector",
        **stamp.fields(),
        "vantage": vantage,
        "target": None,
        "event": event,
        "pid": os.getpid(),
        "version": __version__,
        "clock_offset_ns": clock.offset_ns,
        "clock_max_error_ns": clock.max_error_ns,
        "detail": dict(detail),
    }


def readable(text: str) -> str:
    """Text from the command line or a file name as a record can hold it: bytes that are not
    UTF-8 (an old archive's file name, a terminal in another encoding) arrive as surrogate
    escapes, which no UTF-8 record can carry; they become U+FFFD instead of failing it."""
    return os.fsencode(text).decode("utf-8", "replace")


def note_record(
    stamp: Stamp, vantage: str, target: str, text: str, ticket: str | None
) -> dict[str, object]:
    """A support contact or remark, fixed in time by the chain like any measurement."""
    return {
        "type": "note",
        **stamp.fields(),
        "vantage": vantage,
        "target": target,
        "ticket": None if ticket is None else readable(ticket),
        "text": readable(text),
    }


def custody_record(
    stamp: Stamp,
    vantage: str | None,
    event: str,
    *,
    text: str | None = None,
    target: str | None = None,
    period: str | None = None,
    since_ns: int | None = None,
    until_ns: int | None = None,
    path: str | None = None,
    files: Iterable[dict[str, JsonScalar]] = (),
    detail: dict[str, JsonScalar] | None = None,
) -> dict[str, object]:
    """Evidence leaving the collector's hands (an export, a report, a bundle, a hand-over
    in the user's words), chained so that "this file was changed after it was made" can be
    answered: each file's SHA-256 was fixed in the chain when it was written."""
    return {
        "type": "custody",
        **stamp.fields(),
        "vantage": vantage,
        "target": target,
        "event": event,
        "text": None if text is None else readable(text),
        "period": period,
        "since_ns": since_ns,
        "until_ns": until_ns,
        "path": None if path is None else readable(path),
        "files": [dict(entry) for entry in files],
        "detail": dict(detail or {}),
    }
