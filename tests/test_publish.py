"""`slawitness publish DIR`: the store's log as C2SP tlog-tiles, checked by hand and by Go.

The layout is held to tlog-tiles' own text (paths, widths, what a tile's bytes are), a
second publish to what it may write (the new tiles only; a full tile already there is never
touched), and the folder to what a reader we did not write accepts: Go's
golang.org/x/mod/sumdb/tlog (Debian's golang-golang-x-mod-dev, built offline in GOPATH mode)
verifies the checkpoint with note.Open, then an inclusion and a consistency proof computed
from the published tiles alone. Go's tile paths carry the height (`tile/8/0/000`,
`tile/8/data/000`) where C2SP's do not (`tile/0/000`, `tile/entries/000`): the Go program's
tile reader (tests/go/tlogcheck) maps one onto the other.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from collector.evidence.store import EvidenceStore
from collector.portable.cosignature import CosignerSigningKey, check_cosignature
from collector.portable.merkle import TreeLevels, leaf_hash, root
from collector.portable.signed_note import Checkpoint, SigningKey, split_note
from collector.proving import checkpoints
from collector.proving.checkpoints import StoredCheckpoint
from collector.proving.cosignatures import cosignature_record
from collector.publishing.tile_paths import decode_bundle, index_path
from collector.publishing.tiling import EMPTY_EDGE, grow
from tests.clirun import slawitness
from tests.rig import rig_unavailable
from tests.rig.stores import fill, make_record

GO_PROGRAM = Path(__file__).parent / "go" / "tlogcheck"
WITNESS = CosignerSigningKey("witness.example/w1", bytes(range(32, 64)))


def _store(folder: Path, records: int, name: str = "evidence.db") -> tuple[Path, SigningKey]:
    key = checkpoints.create_key(folder / f"{name}.key", "test-collector")
    path = folder / name
    with EvidenceStore.create(path) as store:
        fill(store, records)
        checkpoints.write(store, key, "v")
    return path, key


def _grow(path: Path, key: SigningKey, records: int, cosign: bool = False) -> StoredCheckpoint:
    """`records` more records and a checkpoint of them (cosigned by WITNESS if asked)."""
    with EvidenceStore.open(path) as store:
        store.append([make_record(10_000 + i) for i in range(records)])
        written = checkpoints.write(store, key, "v")
        if cosign:
            text = written.checkpoint.text()
            line = WITNESS.cosign(text, 1_790_000_000)
            _, [signature] = split_note(text + "\n" + line + "\n")
            cosignature = check_cosignature(text, signature, WITNESS.verifier())
            store.append([cosignature_record(written, cosignature, "http://w1.test/", "v")])
    return written


def _publish(path: Path, folder: Path) -> subprocess.CompletedProcess[str]:
    done = slawitness("publish", "--store", str(path), str(folder))
    assert "Traceback" not in done.stderr
    return done


def _files(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under `folder`: its bytes and its mtime in ns."""
    return {
        p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _record_hashes(path: Path, size: int) -> list[bytes]:
    with EvidenceStore.open(path, readonly=True) as store:
        return [bytes.fromhex(digest) for _, digest in store.hashes(0, size)]


@pytest.mark.parametrize(
    ("index", "path"),
    [(0, "000"), (7, "007"), (999, "999"), (1000, "x001/000"), (1234067, "x001/x234/067")],
)
def test_tile_indexes_are_written_as_the_spec_writes_them(index: int, path: str) -> None:
    assert index_path(index) == path


@pytest.mark.parametrize(
    ("size", "partials"),
    [
        # tlog-tiles' own example: 273 full level-0 tiles and one of 112, one full level-1
        # tile and one of 17, one level-2 tile of width 1
        (70_000, {"tile/0/273.p/112", "tile/1/001.p/17", "tile/2/000.p/1"}),
        (256, {"tile/1/000.p/1"}),  # "a full level 0 tile and a partial level 1 tile"
        (255, {"tile/0/000.p/255"}),
    ],
)
def test_the_tiles_of_the_spec_examples(size: int, partials: set[str]) -> None:
    entries = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(size)]
    files, edge = grow(EMPTY_EDGE, entries)
    hashes = {f.path: f.data for f in files if not f.path.startswith("tile/entries/")}
    assert {f.path for f in files if not f.full and "entries" not in f.path} == partials
    full = sorted(p for p in hashes if ".p/" not in p)
    assert len([p for p in full if p.startswith("tile/0/")]) == size // 256
    assert len([p for p in full if p.startswith("tile/1/")]) == size // 65536
    assert edge.frontier().root() == root([leaf_hash(e) for e in entries])


def test_a_first_publish_lays_the_log_out_as_tlog_tiles(tmp_path: Path) -> None:
    path, _ = _store(tmp_path, 600)
    done = _publish(path, tmp_path / "log")
    assert done.returncode == 0, done.stderr
    assert "published the tree of 600 records (checkpoint seq 601)" in done.stdout
    assert "which held nothing: 7 tiles and the checkpoint written" in done.stdout
    files = {name: data for name, (data, _) in _files(tmp_path / "log").items()}
    assert set(files) == {
        "checkpoint",
        "tile/0/000", "tile/0/001", "tile/0/002.p/88", "tile/1/000.p/2",
        "tile/entries/000", "tile/entries/001", "tile/entries/002.p/88",
    }  # fmt: skip
    hashes = _record_hashes(path, 600)
    leaves = [leaf_hash(h) for h in hashes]
    # level 0: the leaf hashes, 256 to a full tile (8,192 bytes); the partial one holds 88
    assert files["tile/0/000"] == b"".join(leaves[:256]) and len(files["tile/0/000"]) == 8192
    assert files["tile/0/002.p/88"] == b"".join(leaves[512:600])
    # level 1: the Merkle root of each full level-0 tile, never of a partial one
    assert files["tile/1/000.p/2"] == root(leaves[:256]) + root(leaves[256:512])
    # entry bundles: uint16 big-endian length, then the record's 32-byte chain hash
    assert files["tile/entries/001"] == b"".join(b"\x00\x20" + h for h in hashes[256:512])
    assert decode_bundle(files["tile/entries/002.p/88"]) == hashes[512:600]
    with EvidenceStore.open(path, readonly=True) as store:
        latest = checkpoints.latest(store)
        payload = store.raw(5)[0]
    assert latest is not None and files["checkpoint"].decode() == latest.note
    # the records themselves are never published: no field of theirs is in any file
    assert not any(b"vps1" in data or b"attempt" in data for data in files.values())
    assert payload not in b"".join(files.values())


def test_a_second_publish_writes_only_the_new_tiles(tmp_path: Path) -> None:
    path, key = _store(tmp_path, 600)
    log = tmp_path / "log"
    assert _publish(path, log).returncode == 0
    before = _files(log)
    time.sleep(0.01)  # a rewritten file would show a later mtime
    grown = _grow(path, key, 299)  # 600 + the checkpoint record + 299 = 900
    assert grown.checkpoint.size == 900
    done = _publish(path, log)
    assert done.returncode == 0, done.stderr
    assert "tree of 900 records" in done.stdout and "which held 600 records" in done.stdout
    assert "5 tiles and the checkpoint written" in done.stdout
    after = _files(log)
    changed = {name for name in after if before.get(name) != after[name]}
    assert changed == {
        "checkpoint",
        "tile/0/002", "tile/0/003.p/132", "tile/1/000.p/3",
        "tile/entries/002", "tile/entries/003.p/132",
    }  # fmt: skip
    for name in ("tile/0/000", "tile/0/001", "tile/entries/000", "tile/0/002.p/88"):
        assert after[name] == before[name], f"{name} was written again"
    written = sum(len(after[name][0]) for name in changed)
    assert f"{written} bytes" in done.stdout
    # growing in place gives byte for byte the tiles a fresh publish of the same tree gives
    fresh = tmp_path / "fresh"
    assert _publish(path, fresh).returncode == 0
    grown_files = {n: d for n, (d, _) in after.items() if ".p/88" not in n and ".p/2" not in n}
    assert grown_files == {n: d for n, (d, _) in _files(fresh).items()}
    again = _publish(path, log)
    assert again.returncode == 0 and "already serves the tree of 900 records" in again.stdout
    assert _files(log) == after


def test_the_checkpoint_carries_the_witness_cosignatures(tmp_path: Path) -> None:
    path, key = _store(tmp_path, 40)
    grown = _grow(path, key, 10, cosign=True)
    assert _publish(path, tmp_path / "log").returncode == 0
    note = (tmp_path / "log" / "checkpoint").read_text()
    text, signatures = split_note(note)
    assert Checkpoint.parse(text) == grown.checkpoint
    assert [s.name for s in signatures] == ["test-collector", WITNESS.verifier().name]


def _forged_checkpoint(folder: Path, key: SigningKey) -> None:
    served = Checkpoint.parse((folder / "checkpoint").read_text().partition("\n\n")[0] + "\n")
    other = Checkpoint(served.origin, served.size, bytes(32), served.extensions)
    (folder / "checkpoint").write_text(key.sign(other.text()))


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[5] ^= 1
    path.write_bytes(bytes(data))


REFUSALS = {
    "another store": "it holds the log of another store",
    "another history": "that no checkpoint of this store signed: a different history",
    "a damaged partial tile": "tile/0/000.p/40: its hashes do not rebuild the checkpoint's tree",
    "a damaged partial bundle": "000.p/40: its entries do not hash to its tile",
    "an interrupted publish of other tiles": "000.p/41: it holds other hashes than this store's",
    "a folder that is no log": "not a published log (no checkpoint file, but it holds notes",
    "a file": "not a directory",
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_folder_that_is_not_this_stores_log_is_refused(tmp_path: Path, case: str) -> None:
    path, key = _store(tmp_path, 40)
    log = tmp_path / "log"
    assert _publish(path, log).returncode == 0
    if case == "another store":
        other, _ = _store(tmp_path, 40, name="other.db")
        log.rename(tmp_path / "moved")
        assert _publish(other, log).returncode == 0
    elif case == "another history":
        _forged_checkpoint(log, key)
    elif case == "a damaged partial tile":
        _flip(log / "tile/0/000.p/40")
    elif case == "a damaged partial bundle":
        _flip(log / "tile/entries/000.p/40")
    elif case == "an interrupted publish of other tiles":
        other, _ = _store(tmp_path, 41, name="other.db")
        shutil.rmtree(log)
        assert _publish(other, log).returncode == 0
        (log / "checkpoint").unlink()  # as if that publish had stopped before its checkpoint
    elif case == "a folder that is no log":
        shutil.rmtree(log)
        log.mkdir()
        (log / "notes.txt").write_text("mine")
    elif case == "a file":
        shutil.rmtree(log)
        log.write_text("a file")
    _grow(path, key, 0)  # one more checkpoint (its own record): something new to publish
    held = _files(log) if log.is_dir() else {}
    done = _publish(path, log)
    assert done.returncode == 2, done.stdout
    [line] = done.stderr.splitlines()
    assert REFUSALS[case] in line
    assert (_files(log) if log.is_dir() else {}) == held, "something was written"


def test_a_store_without_a_checkpoint_has_nothing_to_publish(tmp_path: Path) -> None:
    path = tmp_path / "evidence.db"
    with EvidenceStore.create(path) as store:
        fill(store, 5)
    done = _publish(path, tmp_path / "log")
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert "holds no checkpoint yet" in line and "slawitness checkpoint" in line
    assert not (tmp_path / "log").exists()


@pytest.fixture(scope="session")
def tlogcheck(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/go/tlogcheck built once per session against Debian's x/mod, offline."""
    go = shutil.which("go")
    gopath = Path("/usr/share/gocode/src/golang.org/x/mod/sumdb/tlog")
    if go is None or not gopath.is_dir():
        rig_unavailable("go or x/mod is not installed (apt-get install golang-go "
                        "golang-golang-x-mod-dev)")  # fmt: skip
    out = tmp_path_factory.mktemp("go")
    env = {
        **os.environ,
        "GOPATH": "/usr/share/gocode",
        "GO111MODULE": "off",
        "GOFLAGS": "",
        "GOCACHE": str(out / "cache"),
        "GOPROXY": "off",
        "CGO_ENABLED": "0",
    }
    binary = out / "tlogcheck"
    started = time.monotonic()
    done = subprocess.run(
        [go, "build", "-o", str(binary), "."],
        cwd=GO_PROGRAM, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    print(f"go build of tlogcheck: {time.monotonic() - started:.1f} s")
    return binary


def _go_check(
    binary: Path, log: Path, vkey: str, old: Path, index: int
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary), str(log), vkey, str(old), str(index)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_gos_tlog_checks_the_published_log(tmp_path: Path, tlogcheck: Path) -> None:
    path, key = _store(tmp_path, 600)
    log = tmp_path / "log"
    assert _publish(path, log).returncode == 0
    old = tmp_path / "old-checkpoint"
    shutil.copy(log / "checkpoint", old)
    grown = _grow(path, key, 700, cosign=True)
    assert _publish(path, log).returncode == 0
    size = grown.checkpoint.size
    vkey = (tmp_path / "evidence.db.key.pub").read_text().strip()
    index = 100
    record_hash = _record_hashes(path, index + 1)[index].hex()
    started = time.monotonic()
    done = _go_check(tlogcheck, log, vkey, old, index)
    print(f"Go check of a tree of {size}: {time.monotonic() - started:.2f} s")
    assert done.returncode == 0, done.stderr
    leaves = TreeLevels(b"".join(leaf_hash(h) for h in _record_hashes(path, size)))
    signers = "signed by test-collector (1 other signatures not checked)"
    assert done.stdout.splitlines() == [
        f"checkpoint {grown.checkpoint.origin} size {size} {signers}",
        f"inclusion ok: entry {index} = {record_hash}, {len(leaves.inclusion_proof(index))} hashes",
        f"consistency ok: 600 -> {size}, {len(leaves.consistency_proof(600))} hashes",
    ]
    # one byte flipped in a full tile: Go's tile reader no longer gets the signed root
    bad = tmp_path / "flipped"
    shutil.copytree(log, bad)
    _flip(bad / "tile/0/000")
    failed = _go_check(tlogcheck, bad, vkey, old, index)
    assert failed.returncode == 1
    assert failed.stderr == "tlogcheck: check the inclusion proof: invalid transparency proof\n"
