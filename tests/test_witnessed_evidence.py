"""A collector that does not vouch for itself, end to end: two real `slawitness witness`
servers and two real `openssl ts` authorities on loopback, each at a policy of 2 of 2.

What a provider's lawyer would try, and what answers it:
- the key holder rewrites a record before a witnessed checkpoint and re-signs everything:
  `verify` names it, and so does the bundle's verify.py from the bundle alone;
- the key holder showed a witness another history of the same log: that witness answers
  409 when the collector asks it, and `status` shows the conflict;
- the tlog-proof of a record the report cites verifies with the standard library alone
  (verify.py under `python3 -I -S`: signatures by the openssl command) against the policy;
- a witness and an authority that accept connections and never answer hold up neither a
  probe round nor the other witness and authority.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from collector.evidence.store import EvidenceStore
from collector.portable.cosignature import CosignerSigningKey
from collector.portable.signed_note import Checkpoint, VerifierKey
from collector.portable.witness_wire import add_checkpoint_body
from collector.proving import checkpoints
from collector.proving.witness_client import Answer, send_add_checkpoint
from collector.witnessing.server import RunningWitness, start_witness
from collector.witnessing.trusted_logs import TrustedLogs
from tests.clirun import slawitness, write_config
from tests.rig.loopback import HttpFaultServer
from tests.rig.tsa import LocalTsa
from tests.test_signed_history import _rewrite

WITNESS_NAMES = ("w1.witness.example", "w2.witness.example")


@dataclasses.dataclass
class Setup:
    folder: Path
    config: Path
    log_key: VerifierKey
    witnesses: list[tuple[RunningWitness, CosignerSigningKey]]

    @property
    def store(self) -> Path:
        return self.folder / "evidence.db"

    def run(self, *args: str, expect: int = 0) -> str:
        done = slawitness(*args, "--config", str(self.config))
        out = done.stdout + done.stderr
        assert done.returncode == expect, out
        return out

    def records(self, rtype: str) -> list[dict[str, object]]:
        with EvidenceStore.open(self.store, readonly=True) as store:
            return [{"seq": r.seq, **r.record} for r in store.records(types=[rtype])]

    def policy(self) -> Path:
        lines = [f"log {self.log_key.encode()}"]
        lines += [
            f"witness W{i} {key.verifier().encode()}" for i, (_, key) in enumerate(self.witnesses)
        ]
        lines += ["group both all W0 W1", "quorum both"]
        path = self.folder / "reader.policy"
        path.write_text("\n".join(lines) + "\n")
        return path

    def bundle(self, name: str) -> Path:
        now = datetime.now(UTC)
        window = [(now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")]
        window.append((now + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ"))
        out = self.folder / f"{name}.zip"
        self.run("bundle", "--target", "vps1", "--from", window[0], "--to", window[1],
                 "--out", str(out), "--lang", "en")  # fmt: skip
        unzipped = self.folder / name
        with zipfile.ZipFile(out) as archive:
            archive.extractall(unzipped)
        return unzipped


def _configure(folder: Path, tsas: list[LocalTsa]) -> Path:
    """A target that refuses every connection (each round an outage the report cites),
    checkpoints every second, all its authorities required; the keys made by `init`."""
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed_port = unused.getsockname()[1]
    sla = {"uptime": 99.9, "credits": [{"below": 99.9, "credit": 10}], "monthly_fee": 5,
           "currency": "USD"}  # fmt: skip
    probe = {"name": "ssh", "kind": "tcp", "port": closed_port, "timeout": "1s"}
    path = write_config(folder, [{"name": "vps1", "host": "127.0.0.1", "probes": [probe],
                                  "sla": sla}])  # fmt: skip
    authorities = []
    for index, tsa in enumerate(tsas):
        (folder / f"tsa-{index}.pem").write_bytes(tsa.roots_pem)
        authorities.append({"url": tsa.url, "roots": f"tsa-{index}.pem"})
    data = yaml.safe_load(path.read_text())
    data["checkpoints"] = {
        "every": "1s",
        "timestamping": {"at_least": len(tsas), "authorities": authorities, "timeout": "2s"},
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert slawitness("init", "--config", str(path), "--key-only").returncode == 0
    return path


def _add_witnesses(config: Path, servers: list[dict[str, str]]) -> None:
    data = yaml.safe_load(config.read_text())
    data["witnesses"] = {"servers": servers, "at_least": 2, "timeout": "2s"}
    config.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.fixture
def setup(tmp_path: Path, local_tsa: LocalTsa, chained_tsa: LocalTsa) -> Iterator[Setup]:
    config = _configure(tmp_path, [local_tsa, chained_tsa])
    pub = checkpoints.public_key_path(tmp_path / "slawitness.key").read_text()
    log_key = VerifierKey.parse(pub)
    started = []
    for name in WITNESS_NAMES:
        key = CosignerSigningKey(name, os.urandom(32))
        logs = TrustedLogs.of_keys([log_key])
        started.append((start_witness(key, logs, tmp_path / f"{name}.sqlite"), key))
    _add_witnesses(config, [{"url": w.url, "key": k.verifier().encode()} for w, k in started])
    try:
        yield Setup(tmp_path, config, log_key, started)
    finally:
        for witness, _ in started:
            witness.stop()


def _verify_py(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The bundle's verify.py with no site-packages (no `cryptography`): the standard
    library and the openssl command only, as on a stranger's machine."""
    return subprocess.run(
        [sys.executable, "-I", "-S", "verify.py", *args],
        cwd=folder, env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip


def _two_witnessed_rounds(setup: Setup) -> None:
    """Two rounds a checkpoint apart: the second checkpoint covers the first round's
    failures and is cosigned by both witnesses and stamped by both authorities."""
    setup.run("probe")
    time.sleep(1.1)  # checkpoints.every is 1 s: the next round signs a new checkpoint
    setup.run("probe")


def test_a_witnessed_history_verifies_and_its_proofs_meet_the_policy_offline(
    setup: Setup,
) -> None:
    _two_witnessed_rounds(setup)
    cosigned = setup.records("cosignature")
    latest = setup.records("checkpoint")[-1]
    assert sorted(str(c["witness"]) for c in cosigned if c["checkpoint_seq"] == latest["seq"]) == (
        list(WITNESS_NAMES)
    )
    assert len(setup.records("timestamp")) >= 2
    status = setup.run("status")
    for name in WITNESS_NAMES:
        assert name in status
    verify = setup.run("verify")
    assert "REWRITTEN" not in verify and "CONFLICT" not in verify

    unzipped = setup.bundle("witnessed")
    proofs = sorted((unzipped / "proofs").rglob("seq-*.tlog-proof"))
    assert proofs, "every cited record has a tlog-proof"
    text = proofs[0].read_text()
    assert text.startswith("c2sp.org/tlog-proof@v1\n")
    assert all(f"\u2014 {name} " in text for name in WITNESS_NAMES)
    done = _verify_py(unzipped, "--policy", str(setup.policy()))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1].startswith("OK")
    zipped = str(setup.folder / "witnessed.zip")
    assert slawitness("verify-bundle", zipped, "--policy", str(setup.policy())).returncode == 0
    stranger = CosignerSigningKey("stranger.witness.example", os.urandom(32)).verifier()
    stricter = setup.folder / "stricter.policy"
    stricter.write_text(
        setup.policy()
        .read_text()
        .replace("group both all W0 W1", f"witness W2 {stranger.encode()}\ngroup both all W0 W1 W2")
    )
    refused = slawitness("verify-bundle", zipped, "--policy", str(stricter))
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "stranger.witness.example" in refused.stdout


def test_a_key_holders_rewrite_after_a_witnessed_checkpoint_is_named_from_the_bundle_alone(
    setup: Setup,
) -> None:
    _two_witnessed_rounds(setup)
    [first_probe, *_] = setup.records("probe")
    key = checkpoints.load_key(setup.folder / "slawitness.key")
    _rewrite(setup.store, int(str(first_probe["seq"])), key)
    verify = setup.run("verify", expect=1)
    assert "chain intact" in verify
    assert "REWRITTEN after it was witnessed" in verify
    unzipped = setup.bundle("rewritten")
    done = _verify_py(unzipped)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "REWRITTEN after it was witnessed" in done.stdout
    assert done.stdout.splitlines()[-1].startswith("FAILED")


def test_a_witness_shown_another_history_answers_409_and_status_shows_it(
    setup: Setup,
) -> None:
    """The key holder showed the second witness a history of 1000 records of this log (the
    collector's key, its origin) before the collector first asked it."""
    key = checkpoints.load_key(setup.folder / "slawitness.key")
    other = Checkpoint(key.name, 1000, os.urandom(32), ("time 2026-01-01T00:00:00Z",))
    witness, _ = setup.witnesses[1]
    body = add_checkpoint_body(0, [], key.sign(other.text()))
    sent = send_add_checkpoint(witness.url, body, 2.0)
    assert isinstance(sent, Answer) and sent.status == 200
    setup.run("probe")
    [conflict] = setup.records("witness_conflict")
    assert conflict["witness"] == WITNESS_NAMES[1] and conflict["status"] == 409
    assert [c["witness"] for c in setup.records("cosignature")] == [WITNESS_NAMES[0]]
    status = setup.run("status")
    assert f"WITNESS CONFLICT: witness {WITNESS_NAMES[1]}" in status
    assert "it cosigned 1000 records" in status
    verify = slawitness("verify", "--config", str(setup.config))
    assert verify.returncode == 1 and "WITNESS CONFLICT" in verify.stdout


def test_a_hanging_witness_and_a_hanging_authority_block_no_round(
    setup: Setup, local_tsa: LocalTsa
) -> None:
    hanging = HttpFaultServer().start()
    hanging.mode = "/hang"
    try:
        data = yaml.safe_load(setup.config.read_text())
        silent = CosignerSigningKey("silent.witness.example", os.urandom(32)).verifier()
        data["witnesses"]["servers"][1] = {"url": hanging.url(""), "key": silent.encode()}
        data["witnesses"]["at_least"] = 1
        tsa = data["checkpoints"]["timestamping"]
        tsa["authorities"][1] = {"url": hanging.url("/hang")}
        tsa["at_least"] = 1
        setup.config.write_text(yaml.safe_dump(data, sort_keys=False))
        # neither ever answers: the round ends only because each 2 s timeout holds
        setup.run("probe")
        probes = setup.records("probe")
        assert probes, "the round's records are stored"
        assert [c["witness"] for c in setup.records("cosignature")] == [WITNESS_NAMES[0]]
        [failed] = setup.records("cosignature_failed")
        assert failed["witness"] == "silent.witness.example"
        assert "no answer within 2 s" in str(failed["error"])
        asked = {r["seq"]: r["url"] for r in setup.records("timestamp_request")}
        failures = setup.records("timestamp_failed")
        assert [asked[t["request_seq"]] for t in failures] == [hanging.url("/hang")]
        assert len(setup.records("timestamp")) == 1
        first_after = min(
            int(str(r["seq"]))
            for t in ("checkpoint", "cosignature", "timestamp_request")
            for r in setup.records(t)
        )
        assert max(int(str(p["seq"])) for p in probes) < first_after
    finally:
        hanging.stop()
