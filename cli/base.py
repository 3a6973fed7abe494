"""What every `slawitness` verb shares: exit codes, output, the config and store options.

The verbs live in `cli.main` and, for the provable-evidence verbs, `cli.proofs`;
both speak through these helpers so quiet mode, one-line errors and exit codes are the same
everywhere.
"""

from __future__ import annotations

import io
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import click

from collector.config.loader import load_config
from collector.config.model import DEFAULT_CONFIG, Config
from collector.portable.errors import EXIT_BUG as EXIT_BUG
from collector.portable.errors import EXIT_REPORT as EXIT_REPORT
from collector.portable.errors import EXIT_STORE as EXIT_STORE
from collector.portable.errors import EXIT_TAMPERED as EXIT_TAMPERED
from collector.portable.errors import EXIT_USAGE as EXIT_USAGE

# The exit codes are the error tree's (collector.portable.errors), named here for the verbs
# that end with a code of their own instead of raising.


def fail(message: str, code: int) -> NoReturn:
    """End the verb with one line and `code`, for a problem found here rather than raised
    (an error of ours is raised instead and ends the same way at the boundary)."""
    click.echo(f"slawitness: {message}", err=True)
    sys.exit(code)


EXIT_CLOSED_OUTPUT = 128 + signal.SIGPIPE
"""The status a shell shows for a Unix tool that SIGPIPE stopped (`yes | head -1`)."""


def quit_on_closed_output() -> NoReturn:
    """Whoever read our output has gone (`slawitness export | head -1`): stop quietly, as
    Unix tools do, instead of a traceback or an "internal error" about a broken pipe.
    Standard output is pointed at /dev/null first, so the interpreter's own final flush
    of what is still buffered cannot fail a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, io.UnsupportedOperation):
        pass  # not a real file (a test's capture): nothing is left to flush into a pipe
    sys.exit(EXIT_CLOSED_OUTPUT)


config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=DEFAULT_CONFIG,
    show_default=True,
    help="The config file.",
)
store_option = click.option(
    "--store",
    "store_path",
    type=click.Path(path_type=Path),
    default=None,
    help="The evidence store, overriding the config's `store`.",
)


def load(config_path: Path, store_path: Path | None) -> Config:
    config = load_config(config_path)
    if store_path is not None:
        config = config.model_copy(update={"store": store_path})
    return config


def store_path_of(config_path: Path, store_path: Path | None) -> Path:
    """Verbs that only read need no config when the store is named."""
    if store_path is not None:
        return store_path
    return load_config(config_path, resolve_secrets=False).store


class Output:
    """Whether informational output is wanted (not with --quiet or a level above info)."""

    quiet = False


OUTPUT = Output()


def say(message: str) -> None:
    """An informational line on stdout: a summary, what was written; none when quiet."""
    if not OUTPUT.quiet:
        click.echo(message)


def progress_wanted() -> bool:
    """A progress bar only for a person watching: a terminal, and not --quiet."""
    return not OUTPUT.quiet and sys.stdout.isatty()


def exit_on_sigterm() -> None:
    """SIGTERM ends a writing verb as Ctrl-C does, through Python: its partial files are
    removed and its worker processes shut down (the default action skips both). Exit 143."""

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)


def announce(verb: str, *, warning: bool = False) -> Callable[[str], None]:
    """Messages of a verb on stderr through logging: info, or warnings (shown even quiet)."""
    log = logging.getLogger(f"slawitness.{verb}")
    emit = log.warning if warning else log.info
    return lambda message: emit(f"slawitness {verb}: {message}")
