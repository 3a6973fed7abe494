"""Signed checkpoints: the note format against Go's reference, keys, incremental roots,
when cron and the daemon write them, and their copies in Prometheus."""

from __future__ import annotations

import base64
import os
import stat
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.evidence.store import EvidenceStore
from collector.portable.merkle import leaf_hash, root
from collector.portable.signed_note import (
    Checkpoint,
    NoteError,
    SigningKey,
    VerifierKey,
    split_note,
    verify_note,
)
from collector.proving import checkpoints
from tests.clirun import slawitness, write_config
from tests.exporter_process import exporter, parse_metrics, value
from tests.rig.loopback import TcpListener
from tests.rig.prometheus import PrometheusServer
from tests.rig.stores import fill

# golang.org/x/mod/sumdb/note's documented example: key, text and the exact signed note.
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_SIG = (
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgK"
    "vqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def test_signing_matches_the_go_reference_byte_for_byte() -> None:
    key = SigningKey.parse(GO_SKEY)
    assert key.encode() == GO_SKEY
    assert key.verifier().encode() == GO_VKEY
    assert key.sign(GO_TEXT) == GO_TEXT + "\n" + GO_SIG
    assert verify_note(GO_TEXT + "\n" + GO_SIG, VerifierKey.parse(GO_VKEY)) == GO_TEXT


@pytest.mark.parametrize(
    "mangle",
    [
        lambda note: note.replace("problem,", "problem;"),  # the text changed
        lambda note: note.replace("x08go", "x08gp"),  # the signature changed
        lambda note: note.replace("PeterNeumann x08", "PaulNeumann x08"),  # another name
        lambda note: note.replace("\n\n", "\n"),  # no blank line before the signatures
    ],
)
def test_a_changed_note_does_not_verify(mangle) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NoteError):
        verify_note(mangle(GO_TEXT + "\n" + GO_SIG), VerifierKey.parse(GO_VKEY))


def test_another_key_of_the_same_name_does_not_verify() -> None:
    other = SigningKey("PeterNeumann", os.urandom(32))
    with pytest.raises(NoteError, match="no signature by key"):
        verify_note(GO_TEXT + "\n" + GO_SIG, other.verifier())


@given(st.integers(0, len(GO_VKEY) - 1), st.integers(1, 255))
def test_every_mangled_verifier_key_is_refused(at: int, delta: int) -> None:
    mangled = GO_VKEY[:at] + chr((ord(GO_VKEY[at]) + delta) % 128) + GO_VKEY[at + 1 :]
    try:
        key = VerifierKey.parse(mangled)
    except NoteError:
        return
    # base64 has spare bits: a few edits decode to the same key, which is then the same key
    assert key == VerifierKey.parse(GO_VKEY)


@given(
    origin=st.from_regex(r"[a-z0-9./-]{1,40}", fullmatch=True),
    size=st.integers(0, 2**63),
    digest=st.binary(min_size=32, max_size=32),
)
@settings(max_examples=50)
def test_checkpoint_text_round_trips(origin: str, size: int, digest: bytes) -> None:
    checkpoint = Checkpoint(origin, size, digest, ("time 2026-11-23T00:00:00Z",))
    text = checkpoint.text()
    assert text == f"{origin}\n{size}\n{base64.b64encode(digest).decode()}\n" + (
        "time 2026-11-23T00:00:00Z\n"
    )
    assert Checkpoint.parse(text) == checkpoint
    assert checkpoint.extension("time") == "2026-11-23T00:00:00Z"


@pytest.mark.parametrize(
    "text",
    ["origin\n", "origin\n12\n", "origin\n012\nAAAA\n", "origin\nx\nAAAA\n", "\n1\nAAAA\n"],
)
def test_malformed_checkpoints_are_refused(text: str) -> None:
    with pytest.raises(NoteError, match="not a checkpoint"):
        Checkpoint.parse(text)


def _leaves(store: EvidenceStore) -> list[bytes]:
    return [leaf_hash(bytes.fromhex(h)) for _, h in store.hashes(0, 10**9)]


def test_each_checkpoint_signs_the_root_of_every_record_before_it(tmp_path: Path) -> None:
    key = checkpoints.create_key(tmp_path / "k.key", "test")
    with EvidenceStore.create(tmp_path / "evidence.db") as store:
        written = []
        for batch in (5, 1, 17, 64):
            fill(store, batch)
            written.append(checkpoints.write(store, key, "v"))
        leaves = _leaves(store)
        for item in written:
            size = item.checkpoint.size
            assert item.seq == size + 1, "appended right after the records it covers"
            assert item.checkpoint.root == root(leaves[:size])
            _, [signature] = split_note(item.note)
            assert Checkpoint.parse(verify_note(item.note, key.verifier())) == item.checkpoint
            assert signature.key_id == key.verifier().id
        assert [c.seq for c in checkpoints.stored(store)] == [c.seq for c in written]
        assert checkpoints.latest(store) == written[-1]
        assert written[-1].checkpoint.origin == checkpoints.origin(store)


def test_the_next_checkpoint_reads_only_the_records_since_the_last(tmp_path: Path) -> None:
    """Appending must not rehash the store: the frontier picks up where the last one ended."""
    key = checkpoints.create_key(tmp_path / "k.key", "test")
    with EvidenceStore.create(tmp_path / "evidence.db") as store:
        fill(store, 40)
        first = checkpoints.write(store, key, "v")
        fill(store, 3)
        read: list[tuple[int, int]] = []
        original = store.hashes

        def counting(after: int, upto: int):  # type: ignore[no-untyped-def]
            read.append((after, upto))
            return original(after, upto)

        store.hashes = counting  # type: ignore[method-assign]
        second = checkpoints.write(store, key, "v")
        assert read == [(first.checkpoint.size, second.checkpoint.size)]
        assert second.checkpoint.size - first.checkpoint.size == 4  # 3 records + the checkpoint


def test_a_frontier_that_disagrees_with_its_root_is_named(tmp_path: Path) -> None:
    key = checkpoints.create_key(tmp_path / "k.key", "test")
    with EvidenceStore.create(tmp_path / "evidence.db") as store:
        fill(store, 3)
        good = checkpoints.write(store, key, "v")
        record = {**store.latest("checkpoint").record, "frontier": [bytes(32).hex()] * 2}  # type: ignore[union-attr]
        store.append([record])
        with pytest.raises(Exception, match=f"seq {good.seq + 1}.*frontier and root disagree"):
            checkpoints.latest(store)


def test_the_key_file_is_private_and_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    key = checkpoints.create_key(path, "test")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert checkpoints.public_key_path(path).read_text() == key.verifier().encode() + "\n"
    assert checkpoints.load_key(path) == key
    with pytest.raises(checkpoints.SigningKeyError, match="already exists"):
        checkpoints.create_key(path, "test")
    path.chmod(0o644)
    with pytest.raises(checkpoints.SigningKeyError, match="readable by others"):
        checkpoints.load_key(path)
    path.chmod(0o600)
    path.write_text("PRIVATE+KEY+test+00000000+AAAA\n")
    malformed = r"k\.key: signing key test: not an Ed25519 key"
    with pytest.raises(checkpoints.SigningKeyError, match=malformed):
        checkpoints.load_key(path)


def _tcp_config(folder: Path, port: int, **checkpoint_settings: object) -> Path:
    path = write_config(
        folder,
        [
            {
                "name": "vps1",
                "host": "127.0.0.1",
                "probes": [
                    {"name": "ssh", "kind": "tcp", "port": port, "interval": "2s", "timeout": "1s"}
                ],
            }
        ],
    )
    if checkpoint_settings:
        import yaml

        data = yaml.safe_load(path.read_text())
        data["checkpoints"] = checkpoint_settings
        path.write_text(yaml.safe_dump(data))
    return path


def test_init_makes_the_key_and_keeps_it_on_force(tmp_path: Path) -> None:
    config = tmp_path / "slawitness.yml"
    done = slawitness("init", "--config", str(config))
    assert done.returncode == 0, done.stderr
    key = checkpoints.load_key(tmp_path / "slawitness.key")
    assert key.verifier().encode() in done.stdout
    again = slawitness("init", "--config", str(config), "--force")
    assert again.returncode == 0 and "keeping the signing key" in again.stdout
    assert checkpoints.load_key(tmp_path / "slawitness.key") == key
    twice = slawitness("init", "--config", str(config), "--key-only")
    assert twice.returncode == 2 and "already exists" in twice.stderr
    assert twice.stderr.count("\n") == 1


def test_cron_rounds_sign_a_checkpoint_when_one_is_due(
    tmp_path: Path, tcp_listener: TcpListener
) -> None:
    config = _tcp_config(tmp_path, tcp_listener.port, every="1h")
    no_key = slawitness("probe", "--config", str(config))
    assert no_key.returncode == 0 and "checkpoint" not in no_key.stderr, "silent without a key"
    assert slawitness("init", "--config", str(config), "--key-only").returncode == 0
    check = slawitness("check-config", "--config", str(config))
    assert "checkpoints every 1h, signed by" in check.stdout
    for _ in range(3):  # however slow the rounds, none of the later two is an hour on
        assert slawitness("probe", "--config", str(config)).returncode == 0
    config = _tcp_config(tmp_path, tcp_listener.port, every="2s")
    time.sleep(2.1)  # the last checkpoint is now at least 2 s old, so the next round signs
    assert slawitness("probe", "--config", str(config)).returncode == 0
    with EvidenceStore.open(tmp_path / "evidence.db", readonly=True) as store:
        signed = checkpoints.stored(store)
        assert len(signed) == 2, "one at the first keyed round, one when 2 s had passed"
        assert signed[1].checkpoint.size > signed[0].checkpoint.size
        assert store.verify().ok


def test_checkpoint_verb_writes_and_saves_one(tmp_path: Path, tcp_listener: TcpListener) -> None:
    config = _tcp_config(tmp_path, tcp_listener.port)
    missing = slawitness("checkpoint", "--config", str(config))
    assert missing.returncode == 2
    assert "no signing key (create one with: slawitness init --key-only)" in missing.stderr
    assert slawitness("init", "--config", str(config), "--key-only").returncode == 0
    assert slawitness("probe", "--config", str(config)).returncode == 0
    out = tmp_path / "saved.txt"
    done = slawitness("checkpoint", "--config", str(config), "--out", str(out))
    assert done.returncode == 0, done.stderr
    with EvidenceStore.open(tmp_path / "evidence.db", readonly=True) as store:
        latest = checkpoints.latest(store)
        assert latest is not None and out.read_text() == latest.note
        assert f"checkpoint of {latest.checkpoint.size} records" in done.stdout


def test_the_daemon_signs_and_prometheus_keeps_the_root(
    tmp_path: Path, tcp_listener: TcpListener, prometheus_factory: object
) -> None:
    config = _tcp_config(tmp_path, tcp_listener.port, every="2s")
    assert slawitness("init", "--config", str(config), "--key-only").returncode == 0
    with exporter("run", config) as url:
        server: PrometheusServer = prometheus_factory(  # type: ignore[operator]
            [{"job_name": "slawitness", "static_configs": [{"targets": [url.split("//")[1]]}]}]
        )
        deadline = time.monotonic() + 30
        while True:  # wait for a second checkpoint: the daemon signs every 2 s
            found = server.query("count_over_time(slawitness_checkpoint_info[5m])")
            roots = {r["metric"]["root"] for r in found}
            served = parse_metrics(httpx_get(url + "/metrics"))
            if len(roots) >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        size = value(served, "slawitness_checkpoint_size")
    assert len(roots) >= 2, "Prometheus holds a copy of more than one checkpoint's root"
    with EvidenceStore.open(tmp_path / "evidence.db", readonly=True) as store:
        signed = {c.checkpoint.root.hex(): c for c in checkpoints.stored(store)}
        assert roots <= set(signed), "every root Prometheus saw is one the store signed"
        assert size in {float(c.checkpoint.size) for c in signed.values()}
        assert store.verify().ok


def httpx_get(url: str) -> str:
    import httpx

    return httpx.get(url, timeout=5).text
