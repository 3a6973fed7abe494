"""Every kind of tampering against the chain and the checkpoints, each named as what it is.

The store is built and signed the way a collector does it; a checkpoint is saved as a file
(the copy that left the machine); then the attacker works on the file with plain SQLite, the
append-only triggers dropped. `slawitness verify --checkpoint` must name the chain's first
bad seq for row edits, and TRUNCATED, REWRITTEN or FORKED for a history cut, recomputed or
signed twice, with exit 1.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from collector.evidence.store import EvidenceStore
from collector.portable.chain import canonical_payload
from collector.portable.signed_note import SigningKey
from collector.proving import checkpoints, consistency
from tests.clirun import slawitness
from tests.rig.stores import fill, make_record, raw_connection, rechain_from, sign
from tests.test_store_tamper import TAMPERS

SIGNED = 20
"""Records covered by the saved checkpoint; 10 more (and the store's own checkpoints) follow."""


def _signed_store(folder: Path) -> tuple[Path, Path, SigningKey]:
    """A store with its own checkpoints at 8 and 20 records, the second saved to a file,
    and records after it; the key's .pub sits beside the store, where --key finds it."""
    key = checkpoints.create_key(folder / "slawitness.key", "test-collector")
    path = folder / "evidence.db"
    with EvidenceStore.create(path) as store:
        fill(store, 7)
        sign(store, key)
        fill(store, SIGNED - 8)
        saved = sign(store, key)
        fill(store, 10)
    assert saved.checkpoint.size == SIGNED
    note = folder / "checkpoint.txt"
    note.write_text(saved.note)
    return path, note, key


def _verify(path: Path, note: Path) -> tuple[int, str]:
    done = slawitness(
        "verify", "--store", str(path), "--checkpoint", str(note),
        "--key", str(checkpoints.public_key_path(path.parent / "slawitness.key")),
    )  # fmt: skip
    assert "Traceback" not in done.stderr
    return done.returncode, done.stdout + done.stderr


def _hashes(path: Path, upto: int) -> list[str]:
    with raw_connection(path) as conn:
        return [h for (h,) in conn.execute("SELECT hash FROM records WHERE seq <= ?", (upto,))]


@pytest.mark.parametrize("kind", sorted(TAMPERS))
def test_row_edits_are_named_at_their_seq(tmp_path: Path, kind: str) -> None:
    path, note, _ = _signed_store(tmp_path)
    before = _hashes(path, SIGNED)
    with raw_connection(path, drop_triggers=True) as conn:
        expected = TAMPERS[kind](conn, 5)
    code, out = _verify(path, note)
    assert code == 1
    assert f"chain BROKEN at seq {expected}:" in out
    if _hashes(path, SIGNED) == before:  # only the payload or a column changed
        assert "consistent: the store holds the 20 records" in out
    else:  # the stored hashes of signed records changed: the signed tree is not there
        assert "REWRITTEN" in out or "TRUNCATED" in out


def _truncate(path: Path, keep: int) -> None:
    with raw_connection(path, drop_triggers=True) as conn:
        conn.execute("DELETE FROM records WHERE seq > ?", (keep,))


def test_a_truncated_tail_is_named(tmp_path: Path) -> None:
    path, note, _ = _signed_store(tmp_path)
    _truncate(path, 14)
    with EvidenceStore.open(path, readonly=True) as store:
        assert store.verify().ok, "a cut chain still links: only the checkpoint shows the cut"
    code, out = _verify(path, note)
    assert code == 1
    assert "chain intact, 14 records" in out
    assert "TRUNCATED: the checkpoint signed 20 records, the store holds 14: seq 15-20" in out


def test_a_rewritten_tail_is_named(tmp_path: Path) -> None:
    """Cut at 14 and write new records through the store itself: a valid chain, longer than
    the checkpoint, that is not the history it signed."""
    path, note, _ = _signed_store(tmp_path)
    _truncate(path, 14)
    with EvidenceStore.open(path) as store:
        store.append([{**make_record(100 + i), "detail": {"message": "host was up"}}
                      for i in range(12)])  # fmt: skip
        assert store.verify().ok
    code, out = _verify(path, note)
    assert code == 1
    assert "REWRITTEN: the store's first 20 records are not the ones the checkpoint signed" in out


def test_a_fork_signed_by_the_same_key_is_named(tmp_path: Path) -> None:
    """Two copies of one store go on separately and both are signed: the key signed two
    histories, and the checkpoint of one held against the other proves it."""
    path, _, key = _signed_store(tmp_path)
    other = tmp_path / "fork"
    other.mkdir()
    shutil.copy(tmp_path / "slawitness.key", other / "slawitness.key")
    shutil.copy(tmp_path / "slawitness.key.pub", other / "slawitness.key.pub")
    with EvidenceStore.open(path) as store:
        store.close()
    shutil.copy(path, other / "evidence.db")
    with EvidenceStore.open(path) as store:
        fill(store, 5)
        mine = sign(store, key)
    with EvidenceStore.open(other / "evidence.db") as store:
        store.append([{**make_record(500 + i), "ok": True} for i in range(9)])
        sign(store, key)
    note = tmp_path / "mine.txt"
    note.write_text(mine.note)
    code, out = _verify(other / "evidence.db", note)
    assert code == 1
    assert (
        f"FORKED: key test-collector signed two histories: this checkpoint of "
        f"{mine.checkpoint.size} records" in out
    )


def test_a_checkpoint_of_another_store_is_named(tmp_path: Path) -> None:
    _, note, _ = _signed_store(tmp_path)
    elsewhere = tmp_path / "elsewhere.db"
    with EvidenceStore.create(elsewhere) as store:
        fill(store, 30)
    code, out = _verify(elsewhere, note)
    assert code == 1 and "the checkpoint is of another store" in out


def test_a_consistent_store_passes_with_its_proof(tmp_path: Path) -> None:
    path, note, key = _signed_store(tmp_path)
    code, out = _verify(path, note)
    assert code == 0, out
    assert "consistent: the store holds the 20 records the checkpoint signed and 11 after" in out
    with EvidenceStore.open(path, readonly=True) as store:
        found = consistency.against(store, note.read_text(), key.verifier())
        assert found.verdict == "consistent" and found.proof


@pytest.mark.parametrize(
    "edit",
    [
        lambda text: text.replace("\n20\n", "\n19\n"),  # the size changed after signing
        lambda text: text[:-10] + ("A" if text[-10] != "A" else "B") + text[-9:],  # signature
    ],
)
def test_a_changed_checkpoint_file_is_refused(tmp_path: Path, edit: Callable[[str], str]) -> None:
    path, note, _ = _signed_store(tmp_path)
    note.write_text(edit(note.read_text()))
    code, out = _verify(path, note)
    assert code == 1
    assert "does not verify" in out or "malformed" in out or "no signature" in out


def test_a_recomputed_chain_is_caught_by_the_stores_own_checkpoints(tmp_path: Path) -> None:
    """Edit seq 12 and recompute every later hash: the chain verifies again, but the store's
    own checkpoint of 20 records no longer matches, and the one of 7 still does."""
    path, _, _ = _signed_store(tmp_path)
    with raw_connection(path, drop_triggers=True) as conn:
        (payload,) = conn.execute("SELECT payload FROM records WHERE seq = 12").fetchone()
        record = json.loads(payload)
        record["ok"] = not record["ok"]
        conn.execute("UPDATE records SET payload = ? WHERE seq = 12", (canonical_payload(record),))
        rechain_from(conn, 12)
    done = slawitness("verify", "--store", str(path))
    assert done.returncode == 1
    assert "chain intact" in done.stdout
    assert "REWRITTEN between seq 8 and seq 20" in done.stdout
