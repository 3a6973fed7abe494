"""The C2SP formats every witness of the network must agree on: cosignature/v1 lines, key
IDs, tlog-policy files and the add-checkpoint body.

Our encoder and decoder could agree with each other and still be wrong, so the checks that
matter go around them: the cosigned message is rebuilt by hand from tlog-cosignature's text
and checked with the `openssl` command, the key ID is recomputed from its definition, and
the request body is the spec's own example, byte for byte.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
from pathlib import Path

import pytest

from collector.portable.cosignature import (
    CosignerKey,
    CosignerSigningKey,
    check_cosignature,
    cosignatures_in,
)
from collector.portable.signature_check import public_key_pem
from collector.portable.signed_note import Checkpoint, NoteError, SigningKey, split_note
from collector.portable.tlog_policy import PolicyError, parse_policy, quorum_of
from collector.portable.witness_wire import (
    WireError,
    add_checkpoint_body,
    parse_add_checkpoint,
    parse_size_answer,
)

LOG = SigningKey("example.com/behind-the-sofa", bytes(range(32)))
WITNESS = CosignerSigningKey("witness.example/w1", bytes(range(32, 64)))
OTHER = CosignerSigningKey("witness.example/w2", bytes(range(64, 96)))
CHECKPOINT = Checkpoint(
    "example.com/behind-the-sofa",
    20852163,
    base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="),
    ("time 2026-10-03T04:05:06Z",),
)

SPEC_REQUEST = (
    "old 20852014\n"
    "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"
    "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n"
    "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n"
    "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n"
    "\n"
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5"
    "/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
)
"""tlog-witness's example add-checkpoint body (one of its two log signature lines)."""


def test_a_witness_key_id_is_computed_over_type_0x04() -> None:
    key = WITNESS.verifier()
    wanted = hashlib.sha256(b"witness.example/w1\n\x04" + key.public_key).digest()[:4]
    assert key.id == wanted
    name, hex_id, blob = key.encode().split("+", 2)
    assert (name, hex_id) == ("witness.example/w1", wanted.hex())
    assert base64.b64decode(blob)[0] == 4
    assert CosignerKey.parse(key.encode()) == key
    assert CosignerSigningKey.parse(WITNESS.encode()) == WITNESS


def test_a_log_key_is_not_taken_for_a_witness_key() -> None:
    with pytest.raises(NoteError, match="type 0x04"):
        CosignerKey.parse(LOG.verifier().encode())
    wrong_id = WITNESS.verifier().encode().replace(WITNESS.verifier().id.hex(), "00000000")
    with pytest.raises(NoteError, match="key ID does not match"):
        CosignerKey.parse(wrong_id)


def test_the_cosignature_is_openssls_ed25519_over_the_message_the_spec_spells(
    tmp_path: Path,
) -> None:
    line = WITNESS.cosign(CHECKPOINT.text(), 1679315147)
    name, _, blob = line.removeprefix("\u2014 ").rpartition(" ")
    raw = base64.b64decode(blob)
    assert name == "witness.example/w1" and len(raw) == 4 + 8 + 64
    assert raw[:4] == WITNESS.verifier().id
    assert int.from_bytes(raw[4:12], "big") == 1679315147
    message = (
        "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"
        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\ntime 2026-10-03T04:05:06Z\n"
    )
    (tmp_path / "key.pem").write_text(public_key_pem(WITNESS.verifier().public_key))
    (tmp_path / "message").write_bytes(message.encode())
    (tmp_path / "signature").write_bytes(raw[12:])
    verify = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "key.pem", "-rawin"]
    done = subprocess.run(
        [*verify, "-in", "message", "-sigfile", "signature"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert "Signature Verified Successfully" in done.stdout, done.stdout + done.stderr


def test_cosignatures_in_a_note_are_checked_per_trusted_key_and_others_ignored() -> None:
    text = CHECKPOINT.text()
    note = LOG.sign(text) + WITNESS.cosign(text, 1700000000) + "\n"
    note += OTHER.cosign(text, 1700000001) + "\n"
    good, problems = cosignatures_in(note, [WITNESS.verifier()])
    assert [(c.key.name, c.timestamp) for c in good] == [("witness.example/w1", 1700000000)]
    assert problems == []
    changed = note.replace("20852163", "20852164")
    good, problems = cosignatures_in(changed, [WITNESS.verifier(), OTHER.verifier()])
    assert good == []
    assert problems == [
        "the cosignature by witness witness.example/w1 does not verify",
        "the cosignature by witness witness.example/w2 does not verify",
    ]


def test_a_cosignature_binds_its_timestamp() -> None:
    line = WITNESS.cosign(CHECKPOINT.text(), 1700000000)
    name, _, blob = line.removeprefix("\u2014 ").rpartition(" ")
    raw = bytearray(base64.b64decode(blob))
    raw[11] ^= 1  # one second later
    forged = f"\u2014 {name} {base64.b64encode(bytes(raw)).decode()}\n"
    _, [signature] = split_note(CHECKPOINT.text() + "\n" + forged)
    with pytest.raises(NoteError, match="does not verify"):
        check_cosignature(CHECKPOINT.text(), signature, WITNESS.verifier())


def test_the_spec_example_request_body_parses_and_round_trips() -> None:
    request = parse_add_checkpoint(SPEC_REQUEST.encode())
    assert request.old_size == 20852014
    assert len(request.proof) == 4
    assert request.note.startswith("example.com/behind-the-sofa\n20852163\n")
    assert add_checkpoint_body(request.old_size, request.proof, request.note) == (
        SPEC_REQUEST.encode()
    )
    assert add_checkpoint_body(0, [], "x\n\n\u2014 y AAAA\n").startswith(b"old 0\n\nx\n")


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"old 01\n\nx\n", "no leading zeroes"),
        (b"old 5\nnot-base64!\n\nx\n", "not a base64 SHA-256"),
        (b"old 5\nAAAA\n\nx\n", "not a base64 SHA-256"),
        (b"old 5\n", "no empty line"),
        (b"new 5\n\nx\n", "the first line must be"),
        (b"old 5\n" + b"PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n" * 64 + b"\nx\n", "63"),
        (b"\xff\n\n", "not UTF-8"),
    ],
)
def test_malformed_request_bodies_are_refused(body: bytes, why: str) -> None:
    with pytest.raises(WireError, match=why):
        parse_add_checkpoint(body)


def test_a_conflict_answer_carries_one_decimal_size() -> None:
    assert parse_size_answer(b"20852014\n") == 20852014
    for bad in (b"20852014", b"-1\n", b"012\n", b"size 5\n"):
        with pytest.raises(WireError):
            parse_size_answer(bad)


def test_the_spec_example_policy_shape_evaluates_its_nested_quorum() -> None:
    keys = [CosignerSigningKey(f"w{i}.example", bytes([i]) * 32).verifier() for i in range(6)]
    lines = [f"log {LOG.verifier().encode()}"]
    lines += [f"witness X{i + 1} {keys[i].encode()}" for i in range(3)]
    lines += ["group X-witnesses 2 X1 X2 X3", "  # a comment"]
    lines += [f"witness Y{i + 1}\t{keys[i + 3].encode()} https://y.example/" for i in range(3)]
    lines += ["group Y-witnesses any Y1 Y2 Y3", "group X-and-Y all X-witnesses Y-witnesses"]
    policy = parse_policy("\n".join([*lines, "quorum X-and-Y", ""]))
    assert policy.logs == [LOG.verifier()]
    assert policy.satisfied({"w0.example", "w1.example", "w5.example"})
    assert not policy.satisfied({"w0.example", "w5.example"})
    assert not policy.satisfied({"w0.example", "w1.example", "w2.example"})
    assert policy.describe() == "2 of 2 (X-witnesses, Y-witnesses)"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("quorum none\nquorum none\n", "exactly one quorum line, found 2"),
        ("", "exactly one quorum line, found 0"),
        ("group g 1 a\nquorum g\n", "line 1: group g: members must be defined earlier"),
        ("quorum x\n", "line 1: quorum x: not defined"),
        ("witness a {w}\ngroup g 2 a\nquorum g\n", "line 2: threshold '2'"),
        ("witness a {w}\nwitness b {w}\nquorum a\n", "line 2: the same public key"),
        ("witness a {log}\nquorum a\n", "line 1: .*type 0x04"),
        ("wittness a b\nquorum none\n", "line 1: not a policy line"),
    ],
)
def test_policy_mistakes_name_their_line(text: str, why: str) -> None:
    text = text.format(w=WITNESS.verifier().encode(), log=LOG.verifier().encode())
    with pytest.raises(PolicyError, match=r"^my\.policy[ :]"):
        parse_policy(text, "my.policy")
    with pytest.raises(PolicyError, match=why):
        parse_policy(text, "my.policy")


def test_the_config_form_is_k_of_its_servers() -> None:
    keys = [WITNESS.verifier(), OTHER.verifier()]
    policy = quorum_of(keys, 2)
    assert policy.describe() == "2 of 2 (witness.example/w1, witness.example/w2)"
    assert policy.satisfied({"witness.example/w1", "witness.example/w2"})
    assert not policy.satisfied({"witness.example/w1"})
    with pytest.raises(PolicyError, match="at least 3 of 2"):
        quorum_of(keys, 3)
