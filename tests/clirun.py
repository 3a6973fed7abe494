"""Running a `slawitness` verb as a test sees it: its exit code, stdout and stderr as text.

Most tests only read what a verb printed and what it left on disk, and a child process would
cost each of them Python's start-up plus click, pydantic, apsw, httpx (and pandas and
matplotlib for reports). `slawitness()` therefore runs the verb inside the test process,
through the real command group and its error boundary, and hands back the same
`subprocess.CompletedProcess` a child would. `slawitness_process()` keeps the child for
tests where the process itself is the point: rounds that overlap, signals, a clean
interpreter, timeouts that must kill. `slawitness_installed()` runs the console script that
`pip install` put beside the interpreter, as cron or a user would.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from click import formatting
from click.testing import CliRunner

from cli.base import OUTPUT
from cli.main import cli

_SIGNALS = sorted(signal.valid_signals() - {signal.SIGKILL, signal.SIGSTOP})


def slawitness(
    *args: str, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`slawitness ARGS...` run in this process, its output captured as text.

    A run that takes longer than `timeout` raises `subprocess.TimeoutExpired` once it ends,
    so a test that relied on a child being killed still fails when the verb hangs."""
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("verbs run in-process only on the main thread; use slawitness_process")
    command = ["slawitness", *args]
    started = time.monotonic()
    before = set(threading.enumerate())
    with _process_state_kept(cwd):
        result = _ChildLikeRunner().invoke(cli, list(args), prog_name="slawitness")
        _join_threads_started_since(before, started + timeout)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        # what the interpreter prints for an exception nothing caught
        assert result.exc_info is not None
        stderr += "".join(traceback.format_exception(*result.exc_info))
    if time.monotonic() - started > timeout:
        raise subprocess.TimeoutExpired(command, timeout, output=result.stdout, stderr=stderr)
    return subprocess.CompletedProcess(command, result.exit_code, result.stdout, stderr)


class _ChildLikeRunner(CliRunner):
    """CliRunner, with help text wrapped as a child whose output is a pipe wraps it (to
    $COLUMNS, else 80 columns) rather than at CliRunner's fixed 80."""

    @contextlib.contextmanager
    def isolation(self, *args: Any, **kwargs: Any) -> Iterator[tuple[io.BytesIO, ...]]:
        with super().isolation(*args, **kwargs) as streams:
            columns = shutil.get_terminal_size((80, 24)).columns if "COLUMNS" in os.environ else 80
            formatting.FORCED_WIDTH = max(min(columns, 80) - 2, 50)
            yield streams  # the isolation puts the width back as it found it


def slawitness_process(
    *args: str, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`python3 -m cli ARGS...` in a child process, killed after `timeout` seconds."""
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def slawitness_installed(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The installed `slawitness` console script, the entry point cron and users run."""
    script = Path(sys.executable).with_name("slawitness")
    return subprocess.run(
        [str(script), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


@contextlib.contextmanager
def _process_state_kept(cwd: Path | None) -> Iterator[None]:
    """What a verb may change in the process that would have died with a child: the
    working directory, umask, environment, signal handlers, logging set-up (the group points
    the `slawitness` logger at the captured stderr; the root logger is bare during the run, as
    in a new interpreter), warning filters and quiet mode. All of
    it is put back, so the next test starts as if no verb had run here."""
    folder = os.getcwd()
    umask = os.umask(0o022)
    os.umask(umask)
    environ = dict(os.environ)
    handlers = {sig: signal.getsignal(sig) for sig in _SIGNALS}
    loggers = [logging.getLogger(), logging.getLogger("slawitness")]
    logging_state = [(log.handlers[:], log.level, log.propagate, log.disabled) for log in loggers]
    output = dict(vars(OUTPUT))
    try:
        # as in a fresh interpreter: no root handlers, so a library's warning reaches the
        # captured stderr through logging's last resort instead of pytest's log capture
        loggers[0].handlers[:] = []
        loggers[0].setLevel(logging.WARNING)
        if cwd is not None:
            os.chdir(cwd)
        with warnings.catch_warnings():
            yield
    finally:
        os.chdir(folder)
        os.umask(umask)
        if dict(os.environ) != environ:
            os.environ.clear()
            os.environ.update(environ)
        for sig, handler in handlers.items():
            if handler is not None and signal.getsignal(sig) is not handler:
                signal.signal(sig, handler)
        for log, (kept, level, propagate, disabled) in zip(loggers, logging_state, strict=True):
            log.handlers[:] = kept
            log.setLevel(level)
            log.propagate, log.disabled = propagate, disabled
        vars(OUTPUT).clear()
        vars(OUTPUT).update(output)


def _join_threads_started_since(before: set[threading.Thread], deadline: float) -> None:
    """A child's interpreter waits for the non-daemon threads its verb started before it
    exits; so does this, up to the run's deadline."""
    for thread in set(threading.enumerate()) - before:
        if not thread.daemon:
            thread.join(max(0.0, deadline - time.monotonic()))


def write_config(
    folder: Path,
    targets: list[dict],
    controls: list[dict] | None = None,
    vantage: str = "test-vantage",
) -> Path:
    """A config file in `folder` with a store beside it."""
    path = folder / "slawitness.yml"
    data: dict = {"vantage": vantage, "store": "evidence.db", "targets": targets}
    if controls:
        data["controls"] = controls
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
