"""A compacted store is invisible to a third party: the same records, hashes, Merkle roots,
checkpoints, proofs, bundles and published log as the raw store.

One real store of three fixed days (probe records from the record builders, notes, a
checkpoint signed after each day, dated as the records are) is copied; the copy's first
two days are compacted into blocks of at most 2,048 records, the third day left raw.
Tampering is done with SQLite after dropping the
triggers, as an attacker with the file would."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from collector.config.loader import load_config
from collector.evidence.compaction import compact
from collector.evidence.records import Stamp, note_record
from collector.evidence.store import EvidenceStore
from collector.proving import checkpoints, consistency
from collector.proving.document_certificate import create_document_certificate
from reports.report_run import PeriodChoice, make_bundle
from tests.clirun import slawitness
from tests.month_store import ns, write_month
from tests.rig.stores import raw_connection
from tests.vps1_config import CONFIG

DAYS = ["2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04"]
HOSTS = [
    ("vps1", "ping", "icmp", "target"),
    ("vps1", "web", "tcp", "target"),
    ("resolver", "ping", "icmp", "control"),
]
DOWN = {"vps1": [("2026-10-02T10:00:00", "2026-10-02T10:30:00")]}
CHOICE = PeriodChoice(start="2026-10-01T00:00:00Z", end="2026-10-04T00:00:00Z")


@dataclass(frozen=True)
class Pair:
    raw: Path
    packed: Path

    def store(self, which: str) -> Path:
        return (self.raw if which == "raw" else self.packed) / "evidence.db"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Pair:
    raw = tmp_path_factory.mktemp("raw")
    (raw / "slawitness.yml").write_text(yaml.safe_dump(CONFIG))
    key = checkpoints.create_key(raw / "slawitness.key", "office")
    create_document_certificate(load_config(raw / "slawitness.yml").documents, "office")
    for n, (day, after) in enumerate(itertools.pairwise(DAYS)):
        write_month(raw / "evidence.db", vantage="office", start=f"{day}T00:00:00",
                    end=f"{after}T00:00:00", hosts=HOSTS, down=DOWN)  # fmt: skip
        at = ns(f"{after}T00:00:00") - 10**9  # dated as the records are: no clock warning
        with EvidenceStore.open(raw / "evidence.db") as store:
            stamp = Stamp(at - 2 * 10**9, at - 2 * 10**9, "boot")
            store.append([note_record(stamp, "office", "vps1", f"day {n + 1} seen", f"T-{n}")])
            signed = checkpoints.write(store, key, "office", Stamp(at, at, "boot"))
        (raw / f"checkpoint-{n + 1}.txt").write_text(signed.note)
    packed = tmp_path_factory.mktemp("packed")
    shutil.copytree(raw, packed, dirs_exist_ok=True)
    with EvidenceStore.open(packed / "evidence.db") as store:
        result = compact(store, ns("2026-11-01T00:00:00"), until_ns=ns("2026-10-03T00:00:00"),
                         max_records=2048)  # fmt: skip
    assert result.blocks >= 6
    return Pair(raw, packed)


def _blocks(pair: Pair) -> list[tuple[int, int]]:
    with EvidenceStore.open(pair.store("packed"), readonly=True) as store:
        return [(b.first_seq, b.last_seq) for b in store.blocks.blocks()]


def _seqs(pair: Pair) -> list[int]:
    """Inside a block, at both edges of the first blocks, across a boundary, in the raw tail."""
    spans = _blocks(pair)
    with EvidenceStore.open(pair.store("raw"), readonly=True) as store:
        head = store.head()
    assert head is not None and spans[-1][1] < head.seq - 10
    (_, a1), (b0, b1) = spans[0], spans[1]
    return [1, 300, a1, b0, (b0 + b1) // 2, b1, spans[-1][1], spans[-1][1] + 1, head.seq - 3]


def _reads(path: Path) -> tuple[object, ...]:
    with EvidenceStore.open(path, readonly=True) as store:
        head = store.head()
        assert head is not None
        tree = consistency.leaves(store, head.seq)
        return (
            head,
            store.count(),
            list(store.records()),
            list(store.hashes(0, head.seq)),
            [store.raw(seq) for seq in range(1, head.seq + 1, 97)],
            list(store.records(target="vps1")),
            list(
                store.records(
                    since_ns=ns("2026-10-01T23:00:00"), until_ns=ns("2026-10-02T01:00:00")
                )
            ),
            list(store.records(newest_first=True, limit=3000)),
            list(store.records(newest_first=True, limit=7, target="resolver")),
            list(store.fields(["ok", "latency_ns", "target", "error"])),
            [tree.root(size) for size in (1, 255, 256, 2048, 2049, 4000, 9000, head.seq)],
            checkpoints.latest(store),
            store.verify(),
        )


def test_every_read_path_returns_the_same_records_hashes_and_roots(pair: Pair) -> None:
    assert _reads(pair.store("raw")) == _reads(pair.store("packed"))
    with EvidenceStore.open(pair.store("packed"), readonly=True) as store:
        assert store.verify().ok and store.first_raw() is not None


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    done = slawitness(*args)
    assert "Traceback" not in done.stderr
    return done


def test_verify_says_the_same_of_both(pair: Pair) -> None:
    outs = []
    for which in ("raw", "packed"):
        done = _cli("verify", "--store", str(pair.store(which)))
        assert done.returncode == 0, done.stderr
        outs.append(done.stdout.replace(str(pair.store(which)), "STORE"))
    assert outs[0] == outs[1]


def test_proofs_are_the_same_and_check_proof_accepts_the_compacted_ones(
    pair: Pair, tmp_path: Path
) -> None:
    pub = str(pair.raw / "slawitness.key.pub")
    for seq in _seqs(pair):
        made = [
            _cli("prove", "--store", str(pair.store(which)), "--seq", str(seq))
            for which in ("raw", "packed")
        ]
        assert made[0].returncode == 0 and made[0].stdout == made[1].stdout, seq
        (tmp_path / "proof.json").write_text(made[1].stdout)
        checked = _cli("check-proof", str(tmp_path / "proof.json"), "--key", pub)
        assert checked.returncode == 0 and "proof OK" in checked.stdout, checked.stdout
    for saved in ("checkpoint-1.txt", "checkpoint-2.txt"):
        made = [
            _cli("prove", "--store", str(pair.store(w)), "--since", str(pair.raw / saved))
            for w in ("raw", "packed")
        ]
        assert made[0].returncode == 0 and made[0].stdout == made[1].stdout
        (tmp_path / "since.json").write_text(made[1].stdout)
        checked = _cli("check-proof", str(tmp_path / "since.json"), "--key", pub)
        assert checked.returncode == 0 and "extend" in checked.stdout, checked.stdout


def _bundle(pair: Pair, which: str, out: Path) -> Path:
    folder = pair.raw if which == "raw" else pair.packed
    config = load_config(folder / "slawitness.yml")
    make_bundle(
        config, folder / "slawitness.yml", "vps1", CHOICE, [pair.store(which)],
        out / f"{which}.zip", {"en"}, warn=lambda _: None, formats={"json", "csv"},
    )  # fmt: skip
    unzipped = out / which
    with zipfile.ZipFile(out / f"{which}.zip") as archive:
        archive.extractall(unzipped)
    return unzipped


def test_a_bundle_of_the_compacted_store_verifies_with_its_own_verify_py(
    pair: Pair, tmp_path: Path
) -> None:
    raw, packed = _bundle(pair, "raw", tmp_path), _bundle(pair, "packed", tmp_path)
    done = subprocess.run(
        [sys.executable, "verify.py"], cwd=packed, capture_output=True, text=True,
        timeout=120, check=False, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    chain = [json.loads((f / "records" / "chain.json").read_text()) for f in (raw, packed)]
    assert chain[0] == chain[1]
    member = "records/office.jsonl"
    assert (raw / member).read_bytes() == (packed / member).read_bytes()


def test_the_published_log_is_byte_for_byte_the_same(pair: Pair, tmp_path: Path) -> None:
    """The tiles and checkpoint Go's x/mod tlog reads (tests/test_publish.py runs it on them)."""
    files = []
    for which in ("raw", "packed"):
        log = tmp_path / which
        assert _cli("publish", "--store", str(pair.store(which)), str(log)).returncode == 0
        files.append({p.relative_to(log): p.read_bytes() for p in log.rglob("*") if p.is_file()})
    signed = [f.pop(Path("checkpoint")).split(b"\n")[:3] for f in files]
    assert signed[0] == signed[1]  # origin, size, root (the signature dates itself)
    assert files[0] == files[1] and len(files[0]) > 3


@pytest.fixture
def tampered(pair: Pair, tmp_path: Path) -> Path:
    shutil.copy(pair.store("packed"), tmp_path / "evidence.db")
    return tmp_path / "evidence.db"


def _second_block(path: Path) -> tuple[int, int]:
    with EvidenceStore.open(path, readonly=True) as store:
        block = list(store.blocks.blocks())[1]
        return block.first_seq, block.last_seq


def _flip(value: bytes, at: int) -> bytes:
    return value[:at] + bytes([value[at] ^ 0x01]) + value[at + 1 :]


@pytest.mark.parametrize("column", ["data", "prev_hash", "anchors", "last_hash"])
def test_a_changed_block_fails_verify_in_one_line_naming_its_span(
    tampered: Path, column: str
) -> None:
    first, last = _second_block(tampered)
    with raw_connection(tampered, drop_triggers=True) as conn:
        conn.execute("DROP TRIGGER IF EXISTS blocks_no_update")
        (value,) = conn.execute(
            f"SELECT {column} FROM blocks WHERE first_seq = ?", (first,)
        ).fetchone()
        at = {"data": len(value) // 2, "anchors": 32 * 2 + 7}.get(column, 5)
        conn.execute(
            f"UPDATE blocks SET {column} = ? WHERE first_seq = ?", (_flip(value, at), first)
        )
    done = _cli("verify", "--store", str(tampered))
    assert done.returncode == 1, done.stdout + done.stderr
    line = next(x for x in (done.stdout + done.stderr).splitlines() if "damaged" in x)
    assert f"block {first}-{last} is damaged" in line, line
    spans = {"prev_hash": first, "anchors": first + 2 * 256, "last_hash": last - 255}
    span = spans.get(column)
    if span is not None:
        assert f"seq {span}:" in line, line
    report = _cli("report", "--config", str(tampered.parent.parent / "none.yml"),
                  "--store", str(tampered), "--target", "vps1", "--from",
                  "2026-10-01T00:00:00Z", "--to", "2026-10-04T00:00:00Z", "--format", "json",
                  "--out", str(tampered.parent / "report"))  # fmt: skip
    assert report.returncode != 0


def test_a_deleted_block_is_a_gap_verify_names(tampered: Path) -> None:
    first, _ = _second_block(tampered)
    with raw_connection(tampered, drop_triggers=True) as conn:
        conn.execute("DROP TRIGGER IF EXISTS blocks_no_delete")
        conn.execute("DELETE FROM blocks WHERE first_seq = ?", (first,))
    done = _cli("verify", "--store", str(tampered))
    assert done.returncode == 1
    assert str(first) in done.stdout + done.stderr, done.stdout + done.stderr


def test_raw_rows_deleted_with_no_block_are_a_gap_verify_names(tampered: Path) -> None:
    with EvidenceStore.open(tampered, readonly=True) as store:
        first = store.first_raw()
    assert first is not None
    with raw_connection(tampered, drop_triggers=True) as conn:
        conn.execute("DELETE FROM records WHERE seq BETWEEN ? AND ?", (first[0] + 5, first[0] + 9))
    done = _cli("verify", "--store", str(tampered))
    assert done.returncode == 1
    assert str(first[0] + 5) in done.stdout + done.stderr, done.stdout + done.stderr
