"""No writer replaces what is not its own: devices, folders, FIFOs, earlier evidence.

Every verb that writes a user-named path is run through the real CLI (click's runner, in
this process) against each kind of path it must refuse: a character device (a node made
here with mknod, never the machine's own /dev/full), a directory where a file goes, a FIFO,
an existing file without --force, and a symbolic link to a device. Each refusal is one
line and the verb's exit code, and the path is exactly as it was: the device still a
device, the folder's listing unchanged, the file's bytes the same, the store untouched.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import stat
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from cli.main import cli
from collector.documents.attachments import folder_of
from collector.evidence.store import EvidenceStore
from collector.proving import checkpoints
from tests.month_store import write_month
from tests.rig.loopback import closed_port

NULL_DEVICE = os.makedev(1, 3)
"""The numbers of /dev/null: writes vanish, so a writer that goes through is not stopped."""


@dataclass(frozen=True)
class Case:
    """A folder with a config, a store of six hours of September 2020 and a signing key."""

    folder: Path
    config: Path

    @property
    def store(self) -> Path:
        return self.folder / "evidence.db"

    def count(self) -> int:
        with EvidenceStore.open(self.store, readonly=True) as store:
            return store.count()


@pytest.fixture(autouse=True)
def _sigterm_restored() -> Iterator[None]:
    """report, bundle, seal and backup make SIGTERM an exit; give pytest its own back."""
    before = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, before)


@pytest.fixture
def case(tmp_path: Path) -> Case:
    folder = tmp_path / "case"
    folder.mkdir()
    probe = {"name": "web", "kind": "tcp", "port": closed_port(), "interval": "60s",
             "timeout": "1s"}  # fmt: skip
    config = {
        "vantage": "office",
        "store": "evidence.db",
        "targets": [{"name": "vps1", "host": "127.0.0.1", "probes": [probe],
                     "sla": {"uptime": 99.9, "timezone": "UTC"}}],
    }  # fmt: skip
    (folder / "slawitness.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    write_month(folder / "evidence.db", vantage="office", start="2020-09-01T00:00:00",
                end="2020-09-01T06:00:00", hosts=[("vps1", "web", "tcp", "target")],
                down={"vps1": [("2020-09-01T02:00:00", "2020-09-01T02:30:00")]})  # fmt: skip
    with EvidenceStore.open(folder / "evidence.db") as store:
        key = checkpoints.create_key(folder / "slawitness.key", checkpoints.origin(store))
        checkpoints.write(store, key, "office")
    # the document certificate, as `init` makes it beside the key: the PDFs are signed
    assert run("init", "--config", str(folder / "slawitness.yml"), "--key-only")[0] == 0
    return Case(folder, folder / "slawitness.yml")


def run(*args: str) -> tuple[int, str, str]:
    """`slawitness ARGS` in this process: exit code, stdout, stderr."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


Argv = Callable[[Case, Path], list[str]]


@dataclass(frozen=True)
class Writer:
    """A verb writing a user-named path: how to name the path, its exit code for a refused
    one, whether the path is a folder, and whether it may replace an existing file."""

    name: str
    argv: Argv
    code: int
    folder: bool = False
    replaces: bool = False
    appends: bool = False
    """The verb appends to the store whatever happens to its output (a probe round)."""


def _with_config(*args: str) -> Argv:
    return lambda case, path: [args[0], "--config", str(case.config), *args[1:], str(path)]


WRITERS = [
    Writer("bundle", _with_config("bundle", "--target", "vps1", "--period", "2020-09",
                                  "--out"), 4),
    Writer("report", _with_config("report", "--target", "vps1", "--period", "2020-09",
                                  "--format", "json", "--out"), 4, folder=True),
    Writer("seal", _with_config("seal", "--period", "2020-09", "--out"), 4),
    Writer("checkpoint", _with_config("checkpoint", "--out"), 2),
    Writer("prove", _with_config("prove", "--seq", "3", "--out"), 2),
    Writer("prove folder", _with_config("prove", "--seq", "3", "--seq", "4", "--out"), 2,
           folder=True),
    Writer("backup", _with_config("backup"), 3),
    Writer("probe --textfile", _with_config("probe", "--textfile"), 2, replaces=True,
           appends=True),
    Writer("init", lambda case, path: ["init", "--config", str(path), "--store",
                                       str(case.store)], 2),
    Writer("init --deploy", lambda case, path: ["init", "--config", str(case.config),
                                                "--deploy", "cron", str(path)], 2, folder=True),
]  # fmt: skip


def _device(path: Path) -> Path:
    os.mknod(path, 0o666 | stat.S_IFCHR, NULL_DEVICE)
    return path


def _directory(path: Path) -> Path:
    path.mkdir()
    (path / "keep.txt").write_text("mine\n")
    return path


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _existing(path: Path) -> Path:
    path.write_bytes(b"an earlier file, not to be lost\n")
    return path


def _link_to_device(path: Path) -> Path:
    device = _device(path.with_name("device"))
    path.symlink_to(device)
    return path


PLANTED: dict[str, Callable[[Path], Path]] = {
    "device": _device,
    "directory": _directory,
    "fifo": _fifo,
    "existing file": _existing,
    "link to a device": _link_to_device,
}


def _snapshot(path: Path) -> object:
    """Everything that must not change: the kind of node, its device numbers, its bytes or
    listing, where a link points."""
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        return ("link", os.readlink(path), _snapshot(path.resolve()))
    if stat.S_ISDIR(info.st_mode):
        return ("dir", sorted((p.name, p.read_bytes()) for p in path.iterdir() if p.is_file()))
    if stat.S_ISREG(info.st_mode):
        return ("file", path.read_bytes())
    return (stat.S_IFMT(info.st_mode), info.st_rdev)


def _cases() -> list[object]:
    found = []
    for writer in WRITERS:
        for planted in PLANTED:
            if planted == "directory" and writer.folder:
                continue  # a folder is what it writes; its own cases are below
            if planted == "existing file" and writer.replaces:
                continue  # the textfile is replaced every round: that is its job
            found.append(pytest.param(writer, planted, id=f"{writer.name}-{planted}"))
    return found


@pytest.mark.parametrize(("writer", "planted"), _cases())
def test_a_writer_refuses_what_is_not_its_own(case: Case, writer: Writer, planted: str) -> None:
    target = PLANTED[planted](case.folder.parent / "out")
    before, records = _snapshot(target), case.count()
    code, _, stderr = run(*writer.argv(case, target))
    assert code == writer.code, stderr
    assert stderr.count("\n") == 1 and str(target) in stderr, stderr
    assert "Traceback" not in stderr and "internal error" not in stderr
    assert _snapshot(target) == before
    if not writer.appends:
        assert case.count() == records, "a refused output changed the store"
    assert not list(case.folder.parent.glob("*.partial"))


FOLDER_WRITERS = [writer for writer in WRITERS if writer.folder]


@pytest.mark.parametrize("writer", FOLDER_WRITERS, ids=[w.name for w in FOLDER_WRITERS])
def test_a_folder_writer_keeps_an_earlier_output_and_never_writes_through_a_link(
    case: Case, writer: Writer
) -> None:
    folder = case.folder.parent / "out"
    code, _, stderr = run(*writer.argv(case, folder))
    assert code == 0, stderr
    written = sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())
    first = _snapshot(folder)
    again, _, stderr = run(*writer.argv(case, folder))
    assert again == writer.code and stderr.count("\n") == 1 and "--force" in stderr, stderr
    assert _snapshot(folder) == first
    victim = folder / written[0]
    victim.unlink()
    victim.symlink_to(_device(case.folder.parent / "device"))
    forced, _, stderr = run(*writer.argv(case, folder), "--force")
    assert forced == writer.code and "character device" in stderr, stderr
    assert stat.S_ISCHR(os.stat(victim).st_mode)


@pytest.mark.parametrize(
    "writer", [w for w in WRITERS if not w.replaces and w.name != "backup"],
    ids=[w.name for w in WRITERS if not w.replaces and w.name != "backup"],
)  # fmt: skip
def test_force_replaces_an_earlier_output_of_ours(case: Case, writer: Writer) -> None:
    target = case.folder.parent / "out"
    code, _, stderr = run(*writer.argv(case, target))
    assert code == 0, stderr
    code, _, stderr = run(*writer.argv(case, target), "--force")
    assert code == 0, stderr
    assert not list(target.parent.glob("**/*.partial"))


def test_a_backup_never_replaces_even_its_own(case: Case) -> None:
    target = case.folder.parent / "copy.db"
    assert run("backup", "--config", str(case.config), str(target))[0] == 0
    before = target.read_bytes()
    code, _, stderr = run("backup", "--config", str(case.config), str(target))
    assert code == 3 and "never replaced" in stderr and target.read_bytes() == before


HOLDER = """
import sys, time
from pathlib import Path
from collector.core.output_paths import replacing
with replacing(Path(sys.argv[1]), replace=True) as out:
    out.write(b"half a bundle")
    out.flush()
    print("ready", flush=True)
    time.sleep(600)
"""
"""A writer that stops in the middle of its file, as one killed there would have."""

INCOMING_HOLDER = """
import sys, time
from pathlib import Path
from collector.documents.attachments import copy_in
copy_in(Path(sys.argv[1]), Path(sys.argv[2]), 2**20)
print("ready", flush=True)
time.sleep(600)
"""
"""An attach that has copied its file into the folder and not yet linked it."""


@contextlib.contextmanager
def _writer_in_the_middle(script: str, *args: Path) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen([sys.executable, "-c", script, *map(str, args)],
                               stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        yield process
    finally:
        process.kill()
        process.wait()


def _bundle(case: Case, out: Path, *extra: str) -> tuple[int, str, str]:
    return run("bundle", "--config", str(case.config), "--target", "vps1", "--period",
               "2020-09", "--lang", "en", "--out", str(out), *extra)  # fmt: skip


def test_a_partial_left_by_a_killed_writer_is_removed_by_the_next(case: Case) -> None:
    out = case.folder / "bundle.zip"
    with _writer_in_the_middle(HOLDER, out) as writer:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    partial = case.folder / "bundle.zip.partial"
    assert partial.read_bytes() == b"half a bundle", "the kill left its partial behind"
    code, _, stderr = _bundle(case, out)
    assert code == 0, stderr
    assert not partial.exists() and zipfile.is_zipfile(out)


def test_a_partial_another_live_writer_holds_is_left_alone(case: Case) -> None:
    out = case.folder / "bundle.zip"
    partial = case.folder / "bundle.zip.partial"
    records = case.count()
    with _writer_in_the_middle(HOLDER, out):
        code, _, stderr = _bundle(case, out, "--force")
        assert code == 4 and stderr.count("\n") == 1, stderr
        assert "another slawitness is writing" in stderr and str(partial) in stderr
        assert partial.read_bytes() == b"half a bundle" and not out.exists()
    assert case.count() == records


def test_a_failed_write_leaves_no_partial(case: Case, small_tmpfs: Callable[[str], Path]) -> None:
    full = small_tmpfs("64k")
    code, _, stderr = _bundle(case, full / "bundle.zip")
    assert code == 4 and stderr.count("\n") == 1 and "No space left" in stderr, stderr
    assert sorted(full.iterdir()) == []


def test_an_incoming_copy_left_by_a_killed_attach_is_removed_by_the_next(case: Case) -> None:
    folder = folder_of(case.store)
    contract = case.folder / "contract.pdf"
    contract.write_bytes(b"%PDF-1.4 the contract\n")
    with _writer_in_the_middle(INCOMING_HOLDER, contract, folder) as attach:
        [held] = folder.glob(".incoming-*")
        invoice = case.folder / "invoice.pdf"
        invoice.write_bytes(b"%PDF-1.4 an invoice\n")
        code, _, stderr = run("attach", "--config", str(case.config), "--target", "vps1",
                              "--kind", "invoice", str(invoice))  # fmt: skip
        assert code == 0, stderr
        assert held.exists(), "the copy of a live attach was taken for a leftover"
        attach.send_signal(signal.SIGKILL)
        attach.wait()
    assert held.exists()
    code, _, stderr = run("attach", "--config", str(case.config), "--target", "vps1",
                          "--kind", "contract", str(contract))  # fmt: skip
    assert code == 0, stderr
    assert not list(folder.glob(".incoming-*"))
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        hashlib.sha256(p.read_bytes()).hexdigest() for p in (contract, invoice)
    )


def test_a_backup_removes_the_partial_and_journal_a_killed_one_left(case: Case) -> None:
    dest = case.folder.parent / "copy.db"
    for leftover in ("copy.db.partial", "copy.db.partial-journal"):
        (dest.parent / leftover).write_bytes(b"left by a killed backup")
    code, _, stderr = run("backup", "--config", str(case.config), str(dest))
    assert code == 0, stderr
    assert sorted(p.name for p in dest.parent.iterdir() if p.name.startswith("copy")) == ["copy.db"]


def test_a_device_under_the_partial_name_is_named_not_removed(case: Case) -> None:
    planted = _device(case.folder / "bundle.zip.partial")
    code, _, stderr = _bundle(case, case.folder / "bundle.zip")
    assert code == 4 and "character device" in stderr and str(planted) in stderr, stderr
    assert stat.S_ISCHR(os.lstat(planted).st_mode)


@pytest.mark.parametrize("name", ["slawitness.yml", "report", "bundle.zip"])
def test_the_demo_refuses_a_folder_holding_what_it_would_write(tmp_path: Path, name: str) -> None:
    held = _existing(tmp_path / name) if name != "report" else _directory(tmp_path / name)
    before = _snapshot(held)
    code, _, stderr = run("demo", "--out", str(tmp_path), "--minutes", "0.5")
    assert code == 2 and stderr.count("\n") == 1 and str(held) in stderr, stderr
    assert _snapshot(held) == before and not (tmp_path / "evidence.db").exists()
