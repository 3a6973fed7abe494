"""docs/record-format.md holds against the code: its test vectors are read out of the page.

Each fenced block whose info string is `<language> vector:<name>` is parsed here and checked
twice: against the formulas the page states (computed with hashlib and openssl, not with our
modules), and against what slawitness itself writes (a real store, a real bundle staging,
`slawitness prove` run as a user would). Change the format or the page alone and a test here
fails.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from collector.evidence.store import EvidenceStore
from collector.portable.chain import GENESIS, canonical_payload, chain_hash, parse_payload
from collector.portable.merkle import (
    Frontier,
    TreeLevels,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)
from collector.portable.proof_check import check_proof
from collector.portable.signed_note import (
    Checkpoint,
    SigningKey,
    VerifierKey,
    split_note,
    verify_note,
)
from reports.bundle.records import stage_records
from tests.clirun import slawitness

ROOT = Path(__file__).parents[1]
DOC = (ROOT / "docs" / "record-format.md").read_text(encoding="utf-8")
VECTORS = {
    name: body
    for name, body in re.findall(r"^```\w+ vector:([\w-]+)\n(.*?)^```$", DOC, flags=re.M | re.S)
}
STORE_ID = "0f8c2d6e-4a1b-4c3d-8e9f-a0b1c2d3e4f5"
ORIGIN = f"slawitness/{STORE_ID}"
SEED = bytes(range(32))
SPKI_ED25519 = bytes.fromhex("302a300506032b6570032100")
"""RFC 8410's SubjectPublicKeyInfo prefix, so openssl can check the page's signature."""


def _records() -> list[dict[str, Any]]:
    return json.loads(VECTORS["records"])


def _payloads() -> list[bytes]:
    return [line.encode("utf-8") for line in VECTORS["payloads"].splitlines()]


def _chain() -> list[tuple[int, bytes, bytes]]:
    """(seq, prev_hash, hash) rows of the chain vector."""
    rows = [line.split() for line in VECTORS["chain"].splitlines()[1:]]
    return [(int(seq), bytes.fromhex(prev), bytes.fromhex(h)) for seq, prev, h in rows]


def _merkle() -> dict[str, list[bytes]]:
    """Each line of the merkle vector: its label and the hashes after it."""
    found = {}
    for line in VECTORS["merkle"].splitlines():
        label, _, hashes = re.split(r"(\s{2,})", line, maxsplit=1)
        found[label] = [bytes.fromhex(h) for h in hashes.split()]
    return found


def _key() -> SigningKey:
    return SigningKey(ORIGIN, SEED)


def _store(folder: Path, records: list[dict[str, Any]]) -> Path:
    """A real store holding `records`, given the page's store id before its first record
    (a new store draws a random one), so its checkpoints have the page's origin."""
    path = folder / "evidence.db"
    EvidenceStore.create(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'store_id'", (STORE_ID,))
    conn.close()
    with EvidenceStore.open(path) as store:
        assert store.meta()["store_id"] == STORE_ID
        store.append(records)
    return path


def test_the_page_holds_every_vector_the_tests_read() -> None:
    assert set(VECTORS) == {
        "records", "payloads", "chain", "merkle", "keys", "checkpoint", "inclusion-proof",
        "consistency-proof", "chain-json", "non-canonical",
    }  # fmt: skip


def test_each_payload_is_the_canonical_form_of_its_record() -> None:
    records, payloads = _records(), _payloads()
    assert len(records) == len(payloads) == 3
    for record, payload in zip(records, payloads, strict=True):
        assert canonical_payload(record) == payload
        assert parse_payload(payload) == record
        # The rules as the page states them, with the standard library's JSON encoder.
        again = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert again.encode("utf-8") == payload
    assert "已提交工单".encode() in payloads[1] and b'\\"we are' in payloads[1]
    assert b"\\n" in payloads[1] and b"\n" not in payloads[1]


@pytest.mark.parametrize("line", VECTORS["non-canonical"].splitlines())
def test_a_non_canonical_payload_is_refused(line: str) -> None:
    json.loads(line)  # it is JSON; only its form is wrong
    with pytest.raises(ValueError, match="payload is not"):
        parse_payload(line.encode("utf-8"))


def test_the_chain_hashes_follow_the_formula_from_genesis() -> None:
    prev = GENESIS
    for (seq, stated_prev, stated), payload in zip(_chain(), _payloads(), strict=True):
        assert stated_prev == prev
        by_formula = hashlib.sha256(prev + seq.to_bytes(8, "big") + payload).digest()
        assert by_formula == stated == chain_hash(prev, seq, payload)
        prev = stated


def test_a_real_store_stores_and_chains_the_records_as_the_page_says(tmp_path: Path) -> None:
    path = _store(tmp_path, _records())
    with EvidenceStore.open(path, readonly=True) as store:
        assert store.verify().ok
        for (seq, _, stated), payload in zip(_chain(), _payloads(), strict=True):
            assert store.raw(seq) == (payload, stated.hex())


def test_the_merkle_tree_is_rfc_9162_over_the_chain_hashes() -> None:
    hashes = [h for _, _, h in _chain()]
    tree = _merkle()
    leaves = [hashlib.sha256(b"\x00" + h).digest() for h in hashes]
    assert [tree[f"leaf({i})"] for i in (1, 2, 3)] == [[leaf] for leaf in leaves]
    assert [leaf_hash(h) for h in hashes] == leaves
    two = hashlib.sha256(b"\x01" + leaves[0] + leaves[1]).digest()
    three = hashlib.sha256(b"\x01" + two + leaves[2]).digest()
    assert tree["MTH(D[2])"] == [two] and tree["MTH(D[3])"] == [three]
    assert root(leaves) == three == node_hash(two, leaves[2])
    frontier = Frontier()
    for leaf in leaves:
        frontier.append(leaf)
    assert frontier.root() == three and frontier.hashes == [two, leaves[2]]
    levels = TreeLevels(b"".join(leaves))
    for index in (0, 2):
        path = tree[f"PATH({index}, D[3])"]
        assert inclusion_proof(index, leaves) == path == levels.inclusion_proof(index)
        assert verify_inclusion(index, 3, leaves[index], path, three)
    proof = tree["PROOF(2, D[3])"]
    assert consistency_proof(2, leaves) == proof == levels.consistency_proof(2)
    assert verify_consistency(2, 3, proof, two, three)


def test_the_keys_use_the_note_encodings() -> None:
    signing, verifier = VECTORS["keys"].splitlines()
    key = _key()
    assert key.encode() == signing and SigningKey.parse(signing) == key
    assert key.verifier().encode() == verifier
    public = VerifierKey.parse(verifier).public_key
    key_id = hashlib.sha256(ORIGIN.encode() + b"\n\x01" + public).digest()[:4]
    blob = base64.b64encode(b"\x01" + public).decode()
    assert verifier == f"{ORIGIN}+{key_id.hex()}+{blob}"
    assert signing.startswith(f"PRIVATE+KEY+{ORIGIN}+{key_id.hex()}+")
    assert base64.b64decode(signing.rpartition("+")[2]) == b"\x01" + SEED


def test_the_checkpoint_is_the_signed_tlog_checkpoint_of_the_three_records() -> None:
    note = VECTORS["checkpoint"]
    tree_root = _merkle()["MTH(D[3])"][0]
    body = f"{ORIGIN}\n3\n{base64.b64encode(tree_root).decode()}\ntime 2026-10-02T10:12:00Z\n"
    assert note.startswith(body + "\n\u2014 " + ORIGIN + " ")
    checkpoint = Checkpoint(ORIGIN, 3, tree_root, ("time 2026-10-02T10:12:00Z",))
    assert checkpoint.text() == body
    assert _key().sign(body) == note
    assert verify_note(note, _key().verifier()) == body
    assert Checkpoint.parse(body) == checkpoint
    assert checkpoint.extension("time") == "2026-10-02T10:12:00Z"
    text, (signature,) = split_note(note)
    assert text == body and signature.key_id == _key().verifier().id


def test_openssl_verifies_the_checkpoint_signature(tmp_path: Path) -> None:
    """An outside tool agrees: the signature is Ed25519 over the text's bytes."""
    note = VECTORS["checkpoint"]
    body, _, line = note.rstrip("\n").rpartition("\n\n")
    raw = base64.b64decode(line.rpartition(" ")[2])
    public = VerifierKey.parse(VECTORS["keys"].splitlines()[1]).public_key
    der = base64.b64encode(SPKI_ED25519 + public).decode()
    (tmp_path / "key.pem").write_text(
        f"-----BEGIN PUBLIC KEY-----\n{der}\n-----END PUBLIC KEY-----\n"
    )
    (tmp_path / "msg").write_bytes(body.encode() + b"\n")
    (tmp_path / "sig").write_bytes(raw[4:])
    done = subprocess.run(
        ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "key.pem", "-rawin", "-in", "msg",
         "-sigfile", "sig"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0 and "Signature Verified Successfully" in done.stdout


def test_the_proof_files_check_out_and_say_what_the_page_says() -> None:
    key = _key().verifier()
    inclusion = json.loads(VECTORS["inclusion-proof"])
    result = check_proof(inclusion, key)
    assert result.ok and not result.unchecked, result.problems
    _, prev, digest = _chain()[2]
    assert (inclusion["prev_hash"], inclusion["hash"]) == (prev.hex(), digest.hex())
    assert inclusion["payload"].encode() == _payloads()[2]
    assert inclusion["checkpoint"] == VECTORS["checkpoint"]
    assert [bytes.fromhex(h) for h in inclusion["proof"]] == _merkle()["PATH(2, D[3])"]
    consistency = json.loads(VECTORS["consistency-proof"])
    assert check_proof(consistency, key).ok
    assert consistency["new"] == VECTORS["checkpoint"]
    old = Checkpoint.parse(verify_note(consistency["old"], key))
    assert (old.size, old.root) == (2, _merkle()["MTH(D[2])"][0])


def test_slawitness_prove_writes_the_pages_proof_files(tmp_path: Path) -> None:
    """The store holds the three records and the checkpoint record as the collector writes
    it (with the page's signed note), so `prove` makes its files from the real store."""
    leaves = [leaf_hash(h) for _, _, h in _chain()]
    frontier = Frontier()
    for leaf in leaves:
        frontier.append(leaf)
    stored = {
        "type": "checkpoint", "ts_ns": 1790935920000000000, "mono_ns": 87120000000000,
        "boot_id": "6a1d3f5e-2c4b-4d8e-9f10-3b2a1c0d9e8f", "clock_synced": True,
        "vantage": "office", "target": None, "size": 3, "root": root(leaves).hex(),
        "frontier": [h.hex() for h in frontier.hashes], "note": VECTORS["checkpoint"],
        "key": _key().verifier().encode(),
    }  # fmt: skip
    store = _store(tmp_path, [*_records(), stored])
    done = slawitness("prove", "--store", str(store), "--seq", "3", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == VECTORS["inclusion-proof"]
    old = json.loads(VECTORS["consistency-proof"])["old"]
    (tmp_path / "old.txt").write_text(old, encoding="utf-8")
    done = slawitness("prove", "--store", str(store), "--since", "old.txt", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == VECTORS["consistency-proof"]


def test_a_bundle_stages_the_pages_chain_json_with_no_folder_of_the_machine(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "home" / "alice" / "private" / "slawitness"
    folder.mkdir(parents=True)
    store = _store(folder, _records())
    staging = tmp_path / "staging"
    staging.mkdir()
    first, last = _records()[0]["ts_ns"], _records()[2]["ts_ns"]
    staged = stage_records(staging, [store], ["vps1"], first, last + 1)
    text = staged.chain_bytes.decode("utf-8")
    assert str(tmp_path) not in text and "alice" not in text
    assert text == VECTORS["chain-json"]
    (segment,) = json.loads(text)["segments"].values()
    assert segment["store"] == "evidence.db" and segment["vantage"] == "office"


def test_no_code_points_to_a_design_document_that_is_not_there() -> None:
    missing = "DESIGN" + ".md"
    found = [
        f"{path.relative_to(ROOT)}"
        for top in ("cli", "collector", "reports", "tests")
        for path in (ROOT / top).rglob("*.py")
        if missing in path.read_text(encoding="utf-8")
    ]
    assert found == []
    for module in (
        "collector/portable/chain.py",
        "collector/portable/signed_note.py",
        "collector/portable/proof_check.py",
        "reports/bundle/verify_script.py",
    ):
        assert "docs/record-format.md" in (ROOT / module).read_text()
