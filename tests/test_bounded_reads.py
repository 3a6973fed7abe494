"""A file the user names is read only as far as such a file can go.

`--config /dev/zero` once read until memory ran out. Each case names an endless device or
a 10 GB file (sparse: no disk is used) where slawitness reads a config, web config, secret
file, key, saved checkpoint or proof. The real command runs in a child process whose
address space is capped at 1 GiB, so a read that is not bounded fails the test (a
MemoryError is an "internal error", exit 70) instead of taking the machine's memory.
"""

from __future__ import annotations

import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from collector.evidence.store import EvidenceStore
from collector.proving import checkpoints
from tests.rig.loopback import closed_port

MEMORY_CAP = 1 << 30
TEN_GB = 10 * 10**9


def _capped() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def slawitness_capped(*args: str) -> subprocess.CompletedProcess[str]:
    """`slawitness ARGS` in a child process that cannot use more than MEMORY_CAP."""
    return subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True,
                          text=True, timeout=120, preexec_fn=_capped, check=False)  # fmt: skip


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config and a store with a signed checkpoint (saved), a proof and a 10 GB file."""
    where = tmp_path_factory.mktemp("reads")
    probe = {"name": "ssh", "kind": "tcp", "port": closed_port(), "interval": "60s",
             "timeout": "1s"}  # fmt: skip
    config = {"vantage": "office", "store": "evidence.db",
              "targets": [{"name": "vps1", "host": "127.0.0.1", "probes": [probe]}]}  # fmt: skip
    (where / "slawitness.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    with EvidenceStore.open(where / "evidence.db", create=True) as store:
        store.append([{"type": "note", "ts_ns": 1_790_000_000_000_000_000, "target": "vps1"}])
        key = checkpoints.create_key(where / "slawitness.key", checkpoints.origin(store))
        written = checkpoints.write(store, key, "office")
    (where / "checkpoint.txt").write_text(written.note)
    with open(where / "big", "wb") as big:
        big.truncate(TEN_GB)
    return where


def _secret_file(folder: Path, huge: str) -> list[str]:
    config = yaml.safe_load((folder / "slawitness.yml").read_text())
    config["targets"][0]["probes"].append(
        {"name": "web", "kind": "http", "url": "http://127.0.0.1:1/",
         "headers": {"Authorization": {"file": huge}}}
    )  # fmt: skip
    path = folder / "with-secret-file.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return ["check-config", "--config", str(path)]


def _key_at(folder: Path, huge: str) -> list[str]:
    config = yaml.safe_load((folder / "slawitness.yml").read_text())
    config["checkpoints"] = {"key": huge}
    path = folder / "with-key.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return ["checkpoint", "--config", str(path)]


def _in(folder: Path, *args: str) -> list[str]:
    return [arg.replace("{conf}", str(folder / "slawitness.yml"))
            .replace("{checkpoint}", str(folder / "checkpoint.txt")) for arg in args]  # fmt: skip


READERS: dict[str, Callable[[Path, str], list[str]]] = {
    "config": lambda folder, huge: ["check-config", "--config", huge],
    "web config": lambda folder, huge: _in(folder, "serve", "--config", "{conf}",
                                           "--listen", "127.0.0.1:0", "--web-config", huge),
    "secret file": _secret_file,
    "signing key": _key_at,
    "saved checkpoint": lambda folder, huge: _in(folder, "verify", "--config", "{conf}",
                                                 "--checkpoint", huge),
    "public key": lambda folder, huge: _in(folder, "verify", "--config", "{conf}",
                                           "--checkpoint", "{checkpoint}", "--key", huge),
    "proof": lambda folder, huge: _in(folder, "check-proof", "--config", "{conf}", huge),
    "earlier checkpoint": lambda folder, huge: _in(folder, "prove", "--config", "{conf}",
                                                   "--since", huge),
}  # fmt: skip


@pytest.mark.parametrize("source", ["/dev/zero", "10 GB file"])
@pytest.mark.parametrize("reader", list(READERS))
def test_an_endless_or_huge_file_is_one_line(folder: Path, reader: str, source: str) -> None:
    huge = "/dev/zero" if source == "/dev/zero" else str(folder / "big")
    done = slawitness_capped(*READERS[reader](folder, huge))
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and huge in done.stderr, done.stderr
    assert "more than" in done.stderr and "too large" in done.stderr, done.stderr
