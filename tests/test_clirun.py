"""The in-process runner tells a test what a child process would, and leaves nothing behind.

Most CLI tests run verbs through `tests.clirun.slawitness()` inside the test process; these
checks are what lets them: the same exit code, stdout and stderr as `python3 -m cli` for
successes, usage errors and the error boundary's one-line failures, and the process state a
verb changes (signal handlers, logging, cwd, umask, environment) as it was before.
"""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

import pytest

from tests.clirun import slawitness, slawitness_process, write_config
from tests.rig.loopback import TcpListener


def _cases(folder: Path) -> list[list[str]]:
    missing = str(folder / "missing.yml")
    return [
        ["--version"],
        ["--help"],
        ["probe", "--help"],
        ["no-such-verb"],
        ["check-config", "--config", missing],
        ["--quiet", "probe", "--config", missing],
        ["export", "--store", str(folder / "missing.db")],
        ["verify", "--store", str(folder / "not-a-store.db")],
        ["export", "--config", missing, "--format", "docx"],
    ]


def test_in_process_and_child_say_the_same(tmp_path: Path) -> None:
    (tmp_path / "not-a-store.db").write_text("plain text, not SQLite\n")
    for args in _cases(tmp_path):
        inside = slawitness(*args)
        child = slawitness_process(*args)
        assert (inside.returncode, inside.stdout, inside.stderr) == (
            child.returncode,
            child.stdout,
            child.stderr,
        ), args


def test_a_round_in_process_says_what_a_child_says(
    tmp_path: Path, tcp_listener: TcpListener
) -> None:
    target = {"name": "vps1", "host": "127.0.0.1",
              "probes": [{"name": "ssh", "kind": "tcp", "port": tcp_listener.port}]}  # fmt: skip
    config = str(write_config(tmp_path, [target]))
    inside = slawitness("--quiet", "probe", "--config", config)
    child = slawitness_process("--quiet", "probe", "--config", config)
    assert (inside.returncode, inside.stdout, inside.stderr) == (0, "", "")
    assert (child.returncode, child.stdout, child.stderr) == (0, "", "")
    assert slawitness("verify", "--config", config).stdout == (
        slawitness_process("verify", "--config", config).stdout
    )


def test_a_verb_leaves_the_process_as_it_found_it(
    tmp_path: Path, tcp_listener: TcpListener, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = {"name": "vps1", "host": "127.0.0.1",
              "probes": [{"name": "ssh", "kind": "tcp", "port": tcp_listener.port}]}  # fmt: skip
    config = write_config(tmp_path, [target])
    monkeypatch.chdir(tmp_path)
    before = _process_state()
    umask = os.umask(0o022)
    os.umask(umask)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert slawitness("--log-level", "debug", "probe", "--config", str(config)).returncode == 0
    done = slawitness("backup", "--config", str(config), "copy.db", cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    assert (elsewhere / "copy.db").is_file(), "cwd= is where relative paths land"
    assert _process_state() == before
    assert os.umask(umask) == umask


def _process_state() -> tuple[object, ...]:
    """What a verb run in-process could leave changed that a child process never would."""
    own = logging.getLogger("slawitness")
    return (
        signal.getsignal(signal.SIGTERM),
        own.handlers[:],
        own.level,
        own.propagate,
        logging.getLogger().handlers[:],
        os.getcwd(),
        dict(os.environ),
    )
