"""Evidence-store rig: fresh stores on real files, raw access for tampering, worker processes.

A pytest plugin (listed in tests/conftest.py). `fresh_store` is the store every test that
needs one starts from, like sqlite-utils' `fresh_db`; `raw_connection` is how tests play
the attacker who edits the file with any SQLite client; `small_tmpfs` gives a real
file system that can be made read-only or run out of space; `append_worker` is the body of
the separate processes that hammer one store at once.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import apsw
import pytest

from collector.evidence.records import Stamp
from collector.evidence.store import Appended, EvidenceStore
from collector.portable.chain import GENESIS, chain_hash
from collector.portable.signed_note import SigningKey
from collector.proving import checkpoints
from collector.proving.checkpoints import StoredCheckpoint
from tests.rig import rig_unavailable

REPO = Path(__file__).resolve().parents[2]
BASE_TS_NS = 1_790_000_000_000_000_000
"""A fixed start time (2026-09) so records and their hashes are reproducible."""


def make_record(i: int, *, target: str | None = "vps1", type: str = "probe") -> dict[str, object]:
    """A probe-like record whose content depends on `i`, one second after the previous."""
    record: dict[str, object] = {
        "ts_ns": BASE_TS_NS + i * 1_000_000_000,
        "type": type,
        "probe": "ping",
        "kind": "icmp",
        "ok": i % 3 != 0,
        "latency_ns": 1_000_000 + i,
        "phases_ns": [1_000_000 + i, None, 990_000],
        "detail": {"message": f"attempt {i} — ok", "code": i},
    }
    if target is not None:
        record["target"] = target
    return record


def fill(store: EvidenceStore, n: int, *, batch: int = 3) -> list[Appended]:
    """Append records 1..n in batches, the way a collector does."""
    out: list[Appended] = []
    for start in range(1, n + 1, batch):
        out += store.append([make_record(i) for i in range(start, min(start + batch, n + 1))])
    return out


def sign(store: EvidenceStore, key: SigningKey, vantage: str = "v") -> StoredCheckpoint:
    """A checkpoint dated a second after the store's newest record, as a collector's is:
    `make_record`'s records carry fixed dates, and a checkpoint signed today after them
    would date them before it (which `verify` names as backdated)."""
    newest = max([BASE_TS_NS, *(int(ts) for _, ts in store.fields(["ts_ns"]))])
    return checkpoints.write(store, key, vantage, Stamp(newest + 10**9, 0, "rig"))


@pytest.fixture
def fresh_store(tmp_path: Path) -> Iterator[EvidenceStore]:
    """An open, empty store on a real file in a test's temporary directory."""
    store = EvidenceStore.create(tmp_path / "evidence.db")
    try:
        yield store
    finally:
        store.close()


@contextlib.contextmanager
def raw_connection(path: str | Path, *, drop_triggers: bool = False) -> Iterator[apsw.Connection]:
    """A plain SQLite connection to a store file, as an attacker or a third party has.

    With `drop_triggers` the append-only triggers are gone, so rows can be edited; the
    edits are committed when the block ends.
    """
    conn = apsw.Connection(os.fspath(path))
    try:
        if drop_triggers:
            conn.execute("DROP TRIGGER records_no_update; DROP TRIGGER records_no_delete")
        yield conn
    finally:
        conn.close()


def rechain_from(conn: apsw.Connection, start: int) -> None:
    """Recompute every hash from `start` on, as an attacker with the tools would after
    editing a row through `raw_connection`: the chain links again, only signatures and
    checkpoints can tell."""
    row = conn.execute("SELECT hash FROM records WHERE seq = ?", (start - 1,)).fetchone()
    prev = GENESIS if row is None else bytes.fromhex(row[0])
    rows = list(conn.execute("SELECT seq, payload FROM records WHERE seq >= ? ORDER BY seq",
                             (start,)))  # fmt: skip
    for seq, payload in rows:
        prev = chain_hash(prev, seq, payload)
        conn.execute("UPDATE records SET hash = ? WHERE seq = ?", (prev.hex(), seq))


def one_row(conn: apsw.Connection, sql: str, *params: object) -> Any:
    """The single row a query must return (a test fails if there is none)."""
    row = conn.execute(sql, params).fetchone()
    assert row is not None, f"no row for {sql} {params}"
    return row


@pytest.fixture
def small_tmpfs() -> Iterator[Callable[[str], Path]]:
    """Mount a real tmpfs of a given size (`"256k"`); unmounted after the test."""
    mounts: list[Path] = []

    def mount(size: str) -> Path:
        where = Path(tempfile.mkdtemp(prefix="slawitness-tmpfs-"))
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            where.rmdir()
            rig_unavailable(f"cannot mount a tmpfs (needs root): {done.stderr.strip()}")
        mounts.append(where)
        return where

    yield mount
    for where in mounts:
        subprocess.run(["umount", str(where)], check=False)
        where.rmdir()


def remount(where: Path, mode: str) -> None:
    """Remount a `small_tmpfs` mount `ro` or `rw`."""
    subprocess.run(["mount", "-o", f"remount,{mode}", str(where)], check=True)


def start_append_worker(
    path: Path, worker: int, batches: int, batch_size: int
) -> subprocess.Popen[str]:
    """A separate Python process running `append_worker`; it waits for a line on stdin."""
    code = "from tests.rig.stores import append_worker; append_worker()"
    args = [str(path), str(worker), str(batches), str(batch_size)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=REPO,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def append_worker() -> None:
    """Worker process body: say `ready`, wait for `go`, append batches, print what committed.

    Each output line is one committed batch as `seq:hash` pairs, written only after
    `append` returned, so a parent that kills the worker knows what must have survived.
    Batches are dated from the store's newest record on, as time passes, so `verify`
    finds none dated before the records stored ahead of them.
    """
    path, worker, batches, batch_size = sys.argv[1], *map(int, sys.argv[2:5])
    with EvidenceStore.open(path) as store:
        newest = max([BASE_TS_NS, *(ts for _, ts in store.fields(["ts_ns"]))])
        print("ready", flush=True)
        sys.stdin.readline()
        started = time.monotonic_ns()
        for b in range(batches):
            now = newest + time.monotonic_ns() - started  # dated as a collector would
            records = [
                {**make_record(i, target=f"w{worker}"), "ts_ns": now,
                 "worker": worker, "batch": b, "i": i}
                for i in range(batch_size)
            ]  # fmt: skip
            done = store.append(records)
            print(" ".join(f"{a.seq}:{a.hash}" for a in done), flush=True)
