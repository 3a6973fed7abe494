"""Cutting a diagnosis short: its deadline, or the collector stopping, kills the trace under way.

A trace is a subprocess (mtr) or our own ICMP loop; either can take tens of seconds on a path
that drops everything. A cron round's traces get a time budget and the daemon has seconds to
stop under systemd, so each diagnosis carries a `Cancel`: the trace waits no later than its
deadline, and `stop` kills the subprocess from another thread. The reason it was cut short
("budget" or "stopping") goes into the record, so a reader can tell why a path is missing.
"""

from __future__ import annotations

import subprocess
import threading
import time


class Cancel:
    """A deadline (monotonic seconds) and a stop from outside, for one diagnosis."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.reason: str | None = None
        self._lock = threading.Lock()
        self._running: subprocess.Popen[str] | None = None

    def left(self) -> float:
        """Seconds until the deadline (never below zero)."""
        return max(0.0, self.deadline - time.monotonic())

    def cut(self) -> bool:
        """Whether the diagnosis must stop here: stopped, or out of time (reason "budget")."""
        if self.reason is None and self.left() <= 0:
            self.reason = "budget"
        return self.reason is not None

    def stop(self, reason: str) -> None:
        """Cut short now, from any thread: the trace under way is killed."""
        with self._lock:
            if self.reason is None:
                self.reason = reason
            running = self._running
        if running is not None and running.poll() is None:
            running.kill()

    def run(self, command: list[str], timeout_s: float) -> tuple[str, str, int] | None:
        """`command`'s stdout, stderr and exit status; None when it was cut short (killed at
        the deadline or by `stop`). subprocess.TimeoutExpired past `timeout_s`."""
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   stdin=subprocess.DEVNULL, text=True)  # fmt: skip
        with self._lock:
            self._running = process
            stopped = self.reason is not None
        if stopped:
            process.kill()
        limit = min(timeout_s, self.left())
        try:
            out, err = process.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            if limit < timeout_s:
                self.cut()
                return None
            raise
        finally:
            with self._lock:
                self._running = None
        if self.reason is not None:
            return None
        return out, err, process.returncode
