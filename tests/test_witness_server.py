"""`slawitness witness` speaks C2SP tlog-witness: driven over loopback HTTP with request
bodies written out by hand as the spec's examples show (never through our own encoder, so
encoder and decoder cannot agree on a mistake), real signed checkpoints and real Merkle
trees; its cosignatures checked by our verifier and independently by `openssl`."""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from collector.portable import merkle
from collector.portable.cosignature import CosignerSigningKey, cosignatures_in
from collector.portable.signed_note import Checkpoint, SigningKey
from collector.witnessing.decision import Refused, admit
from collector.witnessing.server import RunningWitness, start_witness
from collector.witnessing.state import WitnessState
from collector.witnessing.trusted_logs import TrustedLogs, parse_trusted_logs
from tests.clirun import slawitness, slawitness_process

ORIGIN = "slawitness/0c6f1e2a-witness-test"
LOG_KEY = SigningKey(ORIGIN, bytes(range(32)))
WITNESS_KEY = CosignerSigningKey("witness.example/w1", bytes(range(32, 64)))
LEAVES = [merkle.leaf_hash(f"record {i}".encode()) for i in range(40)]
ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")
"""DER SubjectPublicKeyInfo of an Ed25519 key, before its 32 bytes (RFC 8410)."""


def note(size: int, key: SigningKey = LOG_KEY, leaves: list[bytes] = LEAVES) -> bytes:
    return key.sign(Checkpoint(key.name, size, merkle.root(leaves[:size])).text()).encode()


def proof_lines(old: int, new: int, leaves: list[bytes] = LEAVES) -> bytes:
    hashes = merkle.consistency_proof(old, leaves[:new])
    return b"".join(base64.b64encode(h) + b"\n" for h in hashes)


def logs() -> TrustedLogs:
    return parse_trusted_logs(f"# a friend's collector\nlog {LOG_KEY.verifier().encode()}\n")


@pytest.fixture
def witness(tmp_path: Path) -> Iterator[RunningWitness]:
    running = start_witness(WITNESS_KEY, logs(), tmp_path / "witness.db")
    yield running
    running.stop()


class Client:
    """One keep-alive connection to the witness, as the spec asks clients to use."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.path = parts.path
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)

    def send(
        self, body: bytes, method: str = "POST", path: str = "/add-checkpoint"
    ) -> tuple[int, bytes, str]:
        self.connection.request(method, self.path + path, body=body)
        answer = self.connection.getresponse()
        return answer.status, answer.read(), answer.getheader("Content-Type", "")


def post(witness: RunningWitness, body: bytes) -> tuple[int, bytes, str]:
    return Client(witness.url).send(body)


def test_the_first_checkpoint_is_cosigned_and_the_cosignature_verifies(
    witness: RunningWitness,
) -> None:
    checkpoint = note(5)
    status, body, _ = post(witness, b"old 0\n\n" + checkpoint)
    assert status == 200
    assert body.startswith("\u2014 witness.example/w1 ".encode()) and body.endswith(b"\n")
    good, problems = cosignatures_in(checkpoint.decode() + body.decode(), [WITNESS_KEY.verifier()])
    assert [c.key.name for c in good] == ["witness.example/w1"] and problems == []


def test_openssl_verifies_the_cosignature_over_the_message_the_spec_describes(
    witness: RunningWitness, tmp_path: Path
) -> None:
    checkpoint = note(7)
    status, body, _ = post(witness, b"old 0\n\n" + checkpoint)
    assert status == 200
    blob = base64.b64decode(body.decode().split(" ")[2])
    key_id, timestamp, signature = blob[:4], int.from_bytes(blob[4:12], "big"), blob[12:]
    public = WITNESS_KEY.verifier().public_key
    assert key_id == hashlib.sha256(b"witness.example/w1\n\x04" + public).digest()[:4]
    text = checkpoint.split(b"\n\n")[0] + b"\n"
    (tmp_path / "message").write_bytes(b"cosignature/v1\ntime %d\n" % timestamp + text)
    (tmp_path / "signature").write_bytes(signature)
    (tmp_path / "key.der").write_bytes(ED25519_SPKI_PREFIX + public)
    checked = subprocess.run(
        ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(tmp_path / "key.der"),
         "-keyform", "DER", "-rawin", "-in", str(tmp_path / "message"),
         "-sigfile", str(tmp_path / "signature")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Signature Verified Successfully" in checked.stdout


BAD_BODIES = {
    "no blank line before the checkpoint": b"old 0\n" + note(5),
    "a size with a leading zero": b"old 05\n\n" + note(5),
    "a proof line that is not a hash": b"old 0\nnot-base64!\n\n" + note(5),
    "not UTF-8": b"old 0\n\n\xff\xfe" + note(5),
    "no signature lines": b"old 0\n\n" + Checkpoint(ORIGIN, 5, LEAVES[0]).text().encode(),
    "old size past the checkpoint": b"old 9\n\n" + note(5),
}


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_a_malformed_request_is_400(witness: RunningWitness, body: bytes) -> None:
    assert post(witness, body)[0] == 400


def test_an_unknown_origin_is_404(witness: RunningWitness) -> None:
    stranger = SigningKey("slawitness/someone-else", os.urandom(32))
    assert post(witness, b"old 0\n\n" + note(5, stranger))[0] == 404


def test_no_trusted_signature_is_403_and_unknown_signatures_are_ignored(
    witness: RunningWitness,
) -> None:
    impostor = SigningKey(ORIGIN, os.urandom(32))  # the log's name, another key
    assert post(witness, b"old 0\n\n" + note(5, impostor))[0] == 403
    text = Checkpoint(ORIGIN, 5, merkle.root(LEAVES[:5])).text()
    both = LOG_KEY.sign(text) + impostor.sign(text).split("\n\n")[1]
    assert post(witness, b"old 0\n\n" + both.encode())[0] == 200


def test_a_stale_old_size_is_409_with_the_latest_cosigned_size(witness: RunningWitness) -> None:
    assert post(witness, b"old 0\n\n" + note(5))[0] == 200
    status, body, content_type = post(witness, b"old 0\n\n" + note(8))
    assert (status, body, content_type) == (409, b"5\n", "text/x.tlog.size")
    status, body, content_type = post(witness, b"old 3\n" + proof_lines(3, 8) + b"\n" + note(8))
    assert (status, body, content_type) == (409, b"5\n", "text/x.tlog.size")


def test_the_same_size_with_another_root_is_409_and_kept_as_evidence(
    witness: RunningWitness,
) -> None:
    assert post(witness, b"old 0\n\n" + note(5))[0] == 200
    forked = [merkle.leaf_hash(b"rewritten"), *LEAVES[1:]]
    status, body, content_type = post(witness, b"old 5\n\n" + note(5, leaves=forked))
    assert (status, body, content_type) == (409, b"5\n", "text/x.tlog.size")
    assert post(witness, b"old 5\n\n" + note(5))[0] == 200  # the same view, cosigned again
    refused = witness.server.state.refused(ORIGIN)
    assert [(old, size, status) for old, size, status, _ in refused] == [(5, 5, 409)]


def test_a_proof_that_does_not_verify_is_422_and_kept(witness: RunningWitness) -> None:
    assert post(witness, b"old 0\n" + proof_lines(3, 5) + b"\n" + note(5))[0] == 422
    assert post(witness, b"old 0\n\n" + note(5))[0] == 200
    forked = [*LEAVES[:5], merkle.leaf_hash(b"inserted"), *LEAVES[5:]]
    wrong = proof_lines(5, 9, forked)
    assert post(witness, b"old 5\n" + wrong + b"\n" + note(9))[0] == 422
    assert post(witness, b"old 5\n\n" + note(9))[0] == 422
    statuses = [status for _, _, status, _ in witness.server.state.refused(ORIGIN)]
    assert statuses == [422, 422, 422]
    assert witness.server.state.latest(ORIGIN).size == 5  # type: ignore[union-attr]


def test_an_extending_checkpoint_with_its_proof_is_cosigned_and_recorded(
    witness: RunningWitness,
) -> None:
    client = Client(witness.url)  # one connection for all three: keep-alive
    assert client.send(b"old 0\n\n" + note(5))[0] == 200
    assert client.send(b"old 5\n" + proof_lines(5, 13) + b"\n" + note(13))[0] == 200
    status, body, _ = client.send(b"old 13\n" + proof_lines(13, 32) + b"\n" + note(32))
    assert status == 200
    good, _ = cosignatures_in(note(32).decode() + body.decode(), [WITNESS_KEY.verifier()])
    assert len(good) == 1
    latest = witness.server.state.latest(ORIGIN)
    assert latest is not None and (latest.size, latest.root) == (32, merkle.root(LEAVES[:32]))
    assert witness.server.state.cosigned_count(ORIGIN) == 3


def test_other_methods_are_405_and_other_paths_404(witness: RunningWitness) -> None:
    client = Client(witness.url)
    status, _, _ = client.send(b"", method="GET")
    assert status == 405
    assert client.send(b"old 0\n\n" + note(5), path="/add-checkpoints")[0] == 404
    assert client.send(b"", method="GET", path="/")[0] == 404


def test_a_body_past_the_bound_is_refused_unread(witness: RunningWitness) -> None:
    assert post(witness, b"old 0\n\n" + b"x" * (65 * 1024))[0] == 413


def test_a_prefix_is_part_of_the_submission_url(tmp_path: Path) -> None:
    running = start_witness(WITNESS_KEY, logs(), tmp_path / "w.db", prefix="/witness/")
    try:
        assert running.url.endswith("/witness")
        assert post(running, b"old 0\n\n" + note(5))[0] == 200
        assert Client(running.url.removesuffix("/witness")).send(b"")[0] == 404
    finally:
        running.stop()


def test_the_state_survives_a_restart(tmp_path: Path) -> None:
    first = start_witness(WITNESS_KEY, logs(), tmp_path / "witness.db")
    try:
        assert post(first, b"old 0\n\n" + note(9))[0] == 200
    finally:
        first.stop()
    second = start_witness(WITNESS_KEY, logs(), tmp_path / "witness.db")
    try:
        assert post(second, b"old 0\n\n" + note(12)) == (409, b"9\n", "text/x.tlog.size")
        assert post(second, b"old 9\n" + proof_lines(9, 12) + b"\n" + note(12))[0] == 200
    finally:
        second.stop()


def _race(states: list[WitnessState], old: int, sizes: tuple[int, int]) -> dict[int, int]:
    """Both requests admitted, then released together into two connections to one file."""
    requests = [
        admit(logs(), f"old {old}\n".encode() + proof_lines(old, size) + b"\n" + note(size))
        for size in sizes
    ]
    results: dict[int, int] = {}
    barrier = threading.Barrier(2)

    def submit(i: int) -> None:
        barrier.wait()
        try:
            states[i].cosign(requests[i], _fixed_time_cosign)
            results[sizes[i]] = 200
        except Refused as refusal:
            results[sizes[i]] = int(refusal.status)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _fixed_time_cosign(text: str) -> str:
    return WITNESS_KEY.cosign(text, 1_800_000_000) + "\n"


def test_two_racing_requests_cannot_roll_the_size_back(tmp_path: Path) -> None:
    """The spec's race, over two connections to one state file (as two processes would
    hold): both requests extend the same size; the first to commit wins, the other is 409."""
    path = tmp_path / "witness.db"
    states = [WitnessState(path), WitnessState(path)]
    try:
        states[0].cosign(admit(logs(), b"old 0\n\n" + note(4)), _fixed_time_cosign)
        old = 4
        for round_ in range(10):
            results = _race(states, old, (old + 1 + round_ % 2, old + 3))
            assert sorted(results.values()) == [200, 409], results
            winner = next(size for size, status in results.items() if status == 200)
            latest = states[round_ % 2].latest(ORIGIN)
            assert latest is not None and latest.size == winner > old
            old = winner
        assert states[0].cosigned_count(ORIGIN) == 11
    finally:
        for state in states:
            state.close()


def test_witness_init_makes_a_private_key_once_and_prints_its_verifier_key(
    tmp_path: Path,
) -> None:
    key = tmp_path / "witness.key"
    made = slawitness("witness", "init", "--name", "friend.example/w", "--key", str(key))
    assert made.returncode == 0, made.stderr
    vkey = made.stdout.strip().splitlines()[-1]
    assert vkey.startswith("friend.example/w+") and (tmp_path / "witness.key.pub").exists()
    assert key.stat().st_mode & 0o777 == 0o600
    again = slawitness("witness", "init", "--name", "friend.example/w", "--key", str(key))
    assert again.returncode == 2 and "already exists" in again.stderr
    assert vkey in (tmp_path / "witness.key.pub").read_text()


@pytest.mark.parametrize(
    ("logs_text", "wanted"),
    [("log not-a-key\n", "line 1: not a verifier key"),
     ("# ok\nwitness x y\n", "line 2: expected `log <verifier key> [url]`"),
     ("# nothing\n", "nothing to witness")],
)  # fmt: skip
def test_serve_names_a_bad_logs_line_in_one_line(
    tmp_path: Path, logs_text: str, wanted: str
) -> None:
    key = tmp_path / "witness.key"
    assert slawitness("witness", "init", "--name", "w", "--key", str(key)).returncode == 0
    (tmp_path / "logs").write_text(logs_text)
    ran = slawitness("witness", "serve", "--key", str(key), "--logs", str(tmp_path / "logs"))
    assert ran.returncode == 2 and wanted in ran.stderr and len(ran.stderr.splitlines()) == 1


def test_serve_says_so_when_the_key_is_missing_or_the_port_is_taken(tmp_path: Path) -> None:
    (tmp_path / "logs").write_text(f"log {LOG_KEY.verifier().encode()}\n")
    ran = slawitness(
        "witness", "serve", "--key", str(tmp_path / "none"), "--logs", str(tmp_path / "logs")
    )
    assert ran.returncode == 2 and "no witness key" in ran.stderr
    key = tmp_path / "witness.key"
    assert slawitness("witness", "init", "--name", "w", "--key", str(key)).returncode == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ran = slawitness_process(
            "witness", "serve", "--key", str(key), "--logs", str(tmp_path / "logs"),
            "--state", str(tmp_path / "w.db"), "--listen", f"127.0.0.1:{port}",
        )  # fmt: skip
    assert ran.returncode == 2, ran.stderr
    assert (
        ran.stderr.strip()
        == f"slawitness: cannot listen on 127.0.0.1:{port}: Address already in use"
    )
