"""Proof files: made by `slawitness prove`, checked offline by `check-proof`; forgeries fail."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.evidence.store import EvidenceStore
from collector.portable.chain import canonical_payload, chain_hash
from collector.portable.proof_check import check_proof
from collector.portable.signed_note import SigningKey
from collector.proving import checkpoints
from collector.proving.proofs import inclusion_proofs
from tests.clirun import slawitness
from tests.rig.stores import fill


def _store(folder: Path, records: int = 25) -> tuple[Path, SigningKey]:
    key = checkpoints.create_key(folder / "slawitness.key", "test-collector")
    path = folder / "evidence.db"
    with EvidenceStore.create(path) as store:
        fill(store, records)
        checkpoints.write(store, key, "v")
    return path, key


def _prove(path: Path, *args: str) -> dict:
    done = slawitness("prove", "--store", str(path), *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _check(folder: Path, proof: dict, *args: str) -> tuple[int, str]:
    file = folder / "proof.json"
    file.write_text(json.dumps(proof))
    done = slawitness("check-proof", str(file), "--config", str(folder / "none.yml"), *args)
    assert "Traceback" not in done.stderr
    return done.returncode, done.stdout + done.stderr


def test_a_record_proved_and_checked_offline(tmp_path: Path) -> None:
    path, _ = _store(tmp_path)
    proof = _prove(path, "--seq", "7")
    assert (proof["seq"], proof["tree_size"]) == (7, 25)
    code, out = _check(tmp_path, proof, "--key", str(tmp_path / "slawitness.key.pub"))
    assert code == 0, out
    assert "seq 7 is record 7 of the 25 signed" in out
    assert "signed by test-collector" in out and "the trusted key" in out
    assert "proof OK" in out
    code, out = _check(tmp_path, proof)
    assert code == 0 and "compare its ID with the one the collector published" in out


def _forge_payload(proof: dict) -> dict:
    record = json.loads(proof["payload"])
    record["ok"] = not record["ok"]
    return {**proof, "payload": canonical_payload(record).decode()}


def _forge_and_rehash(proof: dict) -> dict:
    forged = _forge_payload(proof)
    digest = chain_hash(bytes.fromhex(proof["prev_hash"]), proof["seq"], forged["payload"].encode())
    return {**forged, "hash": digest.hex()}


def _bend_path(proof: dict) -> dict:
    return {**proof, "proof": ["00" * 32, *proof["proof"][1:]]}


def _other_seq(proof: dict) -> dict:
    return {**proof, "seq": proof["seq"] + 1}


def _bigger_tree(proof: dict) -> dict:
    note = proof["checkpoint"].replace("\n25\n", "\n26\n")
    return {**proof, "checkpoint": note}


@pytest.mark.parametrize(
    ("forge", "complaint"),
    [
        (_forge_payload, "the hash does not match the payload"),
        (_forge_and_rehash, "is not in the checkpoint's tree of 25 records"),
        (_bend_path, "is not in the checkpoint's tree"),
        (_other_seq, "the hash does not match the payload"),
        (_bigger_tree, "does not verify"),
    ],
)
def test_a_forged_proof_is_refused(tmp_path: Path, forge, complaint: str) -> None:  # type: ignore[no-untyped-def]
    path, _ = _store(tmp_path)
    code, out = _check(tmp_path, forge(_prove(path, "--seq", "7")))
    assert code == 1
    assert "FAILED" in out and complaint in out


def test_a_proof_signed_by_another_key_is_refused(tmp_path: Path) -> None:
    path, _ = _store(tmp_path)
    other = checkpoints.create_key(tmp_path / "other.key", "test-collector")
    assert other.verifier() != checkpoints.load_key(tmp_path / "slawitness.key").verifier()
    proof = _prove(path, "--seq", "3")
    code, out = _check(tmp_path, proof, "--key", str(tmp_path / "other.key.pub"))
    assert code == 1 and "no signature by key test-collector" in out


def test_prove_needs_a_checkpoint_that_covers_the_seq(tmp_path: Path) -> None:
    path, _ = _store(tmp_path)
    done = slawitness("prove", "--store", str(path), "--seq", "27")
    assert done.returncode == 2
    assert "no checkpoint covers seq 27 yet (run: slawitness checkpoint)" in done.stderr
    neither = slawitness("prove", "--store", str(path))
    assert neither.returncode == 2 and "give either --seq N" in neither.stderr


def test_several_seqs_go_into_a_folder(tmp_path: Path) -> None:
    path, _ = _store(tmp_path)
    out = tmp_path / "proofs"
    done = slawitness("prove", "--store", str(path), "--seq", "1", "--seq", "25", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["seq-1.json", "seq-25.json"]
    for file in out.iterdir():
        assert check_proof(json.loads(file.read_text())).ok


def test_a_consistency_proof_from_a_saved_checkpoint(tmp_path: Path) -> None:
    path, key = _store(tmp_path)
    with EvidenceStore.open(path) as store:
        saved = checkpoints.latest(store)
        assert saved is not None
        fill(store, 9)
        checkpoints.write(store, key, "v")
    (tmp_path / "saved.txt").write_text(saved.note)
    proof = _prove(path, "--since", str(tmp_path / "saved.txt"))
    code, out = _check(tmp_path, proof, "--key", str(tmp_path / "slawitness.key.pub"))
    assert code == 0, out
    assert "the 35 records extend the 25 signed earlier" in out
    bent = {**proof, "proof": [h[::-1] for h in proof["proof"]]}
    code, out = _check(tmp_path, bent)
    assert code == 1 and "does not extend the tree of 25" in out


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ("not json", "not a proof file (not JSON"),
        ("[1, 2]", "not a proof file (not a JSON object)"),
        ('{"format": "x"}', "not a slawitness proof file"),
        ('{"format": "slawitness-inclusion-proof/1"}', "checkpoint is missing"),
    ],
)
def test_bad_proof_files_are_one_line(tmp_path: Path, content: str, complaint: str) -> None:
    file = tmp_path / "p.json"
    file.write_text(content)
    done = slawitness("check-proof", str(file), "--config", str(tmp_path / "none.yml"))
    assert done.returncode in (1, 2) and complaint in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(size=st.integers(1, 80), data=st.data())
def test_every_record_of_random_stores_proves(size: int, data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as where:
        folder = Path(where)
        key = checkpoints.create_key(folder / "k.key", "test")
        with EvidenceStore.create(folder / "evidence.db") as store:
            fill(store, size, batch=data.draw(st.integers(1, 7)))
            at = checkpoints.write(store, key, "v")
            seqs = data.draw(st.lists(st.integers(1, size), min_size=1, max_size=5))
            for proof in inclusion_proofs(store, seqs, at):
                result = check_proof(proof, key.verifier())
                assert result.ok, result.problems
