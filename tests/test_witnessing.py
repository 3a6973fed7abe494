"""The collector asks real `slawitness witness` servers on loopback to cosign its checkpoints.

Cron rounds (`slawitness probe`) with two witnesses and a policy of 2 of 2: both cosign and
`status` names them; a witness that already knows the log at another size answers 409 and
the collector retries from that size; a witness that accepts the connection and never
answers costs one timeout, not the round, and is asked again after `retry`; and a history
the key holder rewrote after it was witnessed is named by `verify` and answered with a
conflict by the witness that saw the first one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from collector.evidence.store import EvidenceStore
from collector.portable.cosignature import CosignerSigningKey
from collector.portable.signed_note import VerifierKey
from collector.portable.witness_wire import add_checkpoint_body
from collector.proving import checkpoints
from collector.proving.witness_client import Answer, send_add_checkpoint
from collector.witnessing.server import RunningWitness, start_witness
from collector.witnessing.trusted_logs import TrustedLogs
from tests.clirun import slawitness, write_config
from tests.rig.loopback import HttpFaultServer, TcpListener
from tests.test_signed_history import _rewrite


@dataclasses.dataclass
class Collector:
    """A config with its key and store, and the witnesses it may name."""

    folder: Path
    config: Path
    log_key: VerifierKey

    @property
    def store(self) -> Path:
        return self.folder / "evidence.db"

    def with_witnesses(self, servers: list[dict[str, str]], **settings: object) -> None:
        data = yaml.safe_load(self.config.read_text())
        data["witnesses"] = {"servers": servers, **settings}
        self.config.write_text(yaml.safe_dump(data, sort_keys=False))

    def probe(self) -> str:
        done = slawitness("probe", "--config", str(self.config))
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr

    def records(self, rtype: str) -> list[dict[str, object]]:
        with EvidenceStore.open(self.store, readonly=True) as store:
            return [r.record for r in store.records(types=[rtype])]


@pytest.fixture
def collector(tmp_path: Path, tcp_listener: TcpListener) -> Collector:
    probe = {"name": "ssh", "kind": "tcp", "port": tcp_listener.port, "timeout": "1s"}
    config = write_config(tmp_path, [{"name": "vps1", "host": "127.0.0.1", "probes": [probe]}])
    data = yaml.safe_load(config.read_text())
    data["checkpoints"] = {"every": "1s"}
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    assert slawitness("init", "--config", str(config), "--key-only").returncode == 0
    pub = checkpoints.public_key_path(tmp_path / "slawitness.key").read_text()
    return Collector(tmp_path, config, VerifierKey.parse(pub))


class Witnesses:
    """Real witnesses on loopback, each trusting the collector's log key."""

    def __init__(self, folder: Path, log_key: VerifierKey) -> None:
        self.folder, self.log_key = folder, log_key
        self.running: list[RunningWitness] = []

    def start(self, name: str) -> tuple[RunningWitness, CosignerSigningKey]:
        key = CosignerSigningKey(name, os.urandom(32))
        logs = TrustedLogs.of_keys([self.log_key])
        witness = start_witness(key, logs, self.folder / f"{name}.sqlite")
        self.running.append(witness)
        return witness, key

    def entry(self, name: str) -> tuple[dict[str, str], RunningWitness]:
        witness, key = self.start(name)
        return {"url": witness.url, "key": key.verifier().encode()}, witness


@pytest.fixture
def witnesses(collector: Collector) -> Iterator[Witnesses]:
    found = Witnesses(collector.folder, collector.log_key)
    yield found
    for witness in found.running:
        witness.stop()


def _next_checkpoint_due() -> None:
    time.sleep(1.1)  # checkpoints.every is 1s: the next round signs a new one


def test_two_witnesses_cosign_and_status_names_both(
    collector: Collector, witnesses: Witnesses
) -> None:
    first, _ = witnesses.entry("w1.example")
    second, _ = witnesses.entry("w2.example")
    collector.with_witnesses([first, second], at_least=2, timeout="2s")
    collector.probe()
    [checkpoint] = collector.records("checkpoint")
    cosigned = collector.records("cosignature")
    assert sorted(str(c["witness"]) for c in cosigned) == ["w1.example", "w2.example"]
    assert {c["size"] for c in cosigned} == {checkpoint["size"]}
    status = slawitness("status", "--config", str(collector.config))
    assert status.returncode == 0, status.stderr
    assert "witnesses: 2 of 2 (w1.example, w2.example)" in status.stdout
    assert "cosigned by w1.example at " in status.stdout and "w2.example at " in status.stdout
    assert "; witnessed (2 of 2" in status.stdout
    verify = slawitness("verify", "--config", str(collector.config))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "cosigned by w1.example" in verify.stdout and "; witnessed (" in verify.stdout
    collector.probe()  # each checkpoint once to each witness, never the same one twice
    pairs = [(c["witness"], c["checkpoint_seq"]) for c in collector.records("cosignature")]
    assert len(pairs) == len(set(pairs)) == 2 * len(collector.records("checkpoint"))


def test_a_witness_that_knows_another_size_answers_409_and_the_retry_is_cosigned(
    collector: Collector, witnesses: Witnesses
) -> None:
    first, _ = witnesses.entry("w1.example")
    collector.with_witnesses([first], timeout="2s")
    collector.probe()
    [known] = collector.records("checkpoint")
    late, late_witness = witnesses.entry("w3.example")
    # someone else (a mirror, an auditor) already showed w3 this log's first checkpoint
    body = add_checkpoint_body(0, [], str(known["note"]))
    assert isinstance(sent := send_add_checkpoint(late_witness.url, body, 2.0), Answer)
    assert sent.status == 200
    collector.with_witnesses([first, late], at_least=2, timeout="2s")
    _next_checkpoint_due()
    collector.probe()
    latest = collector.records("checkpoint")[-1]
    mine = [c for c in collector.records("cosignature") if c["witness"] == "w3.example"]
    assert [c["size"] for c in mine] == [latest["size"]], "409 from 0, retried from its size"
    assert not collector.records("witness_conflict")
    assert not collector.records("cosignature_failed")


def test_a_hanging_witness_fails_alone_and_is_asked_again_after_retry(
    collector: Collector, witnesses: Witnesses
) -> None:
    good, _ = witnesses.entry("w1.example")
    hanging = HttpFaultServer().start()
    hanging.mode = "/hang"
    _, silent_key = witnesses.start("silent.example")
    try:
        silent = {"url": hanging.url(""), "key": silent_key.verifier().encode()}
        collector.with_witnesses([good, silent], at_least=1, timeout="1s", retry="3s")
        data = yaml.safe_load(collector.config.read_text())
        data["checkpoints"] = {"every": "1h"}
        collector.config.write_text(yaml.safe_dump(data, sort_keys=False))
        collector.probe()  # the silent witness never answers: its 1 s timeout ends the round
        assert [c["witness"] for c in collector.records("cosignature")] == ["w1.example"]
        [failed] = collector.records("cosignature_failed")
        assert failed["witness"] == "silent.example"
        assert "no answer within 1 s" in str(failed["error"])
        asked = hanging.connections
        collector.probe()
        assert hanging.connections == asked, "not asked again before `retry`"
        status = slawitness("status", "--config", str(collector.config)).stdout
        assert "silent.example: not cosigned yet: no answer within 1 s" in status
        time.sleep(3.1)
        collector.probe()
        assert hanging.wait_connections(asked + 1) == asked + 1
        assert len(collector.records("cosignature_failed")) == 2
    finally:
        hanging.stop()


def test_a_rewrite_after_a_witnessed_checkpoint_is_named_and_the_witness_conflicts(
    collector: Collector, witnesses: Witnesses
) -> None:
    first, _ = witnesses.entry("w1.example")
    second, _ = witnesses.entry("w2.example")
    collector.with_witnesses([first, second], at_least=2, timeout="2s")
    collector.probe()
    [witnessed] = collector.records("checkpoint")
    before = slawitness("verify", "--config", str(collector.config))
    assert before.returncode == 0, before.stdout + before.stderr
    with EvidenceStore.open(collector.store, readonly=True) as store:
        probe_seq = next(r.seq for r in store.records(types=["probe"]))
        checkpoint_seq = next(r.seq for r in store.records(types=["checkpoint"]))
    key = checkpoints.load_key(collector.folder / "slawitness.key")
    _rewrite(collector.store, probe_seq, key)
    after = slawitness("verify", "--config", str(collector.config))
    out = after.stdout + after.stderr
    assert after.returncode == 1, out
    assert "chain intact" in out
    for name in ("w1.example", "w2.example"):
        assert (
            f"checkpoint seq {checkpoint_seq}: the cosignature by witness {name} (cosigned at "
            in out
        )
    assert out.count("does not verify over it: REWRITTEN after it was witnessed") == 2
    _next_checkpoint_due()
    collector.probe()
    conflicts = collector.records("witness_conflict")
    assert sorted(str(c["witness"]) for c in conflicts) == ["w1.example", "w2.example"]
    assert {c["status"] for c in conflicts} == {422}
    status = slawitness("status", "--config", str(collector.config)).stdout
    assert "WITNESS CONFLICT: witness w1.example" in status
    assert f"it cosigned {witnessed['size']} records" in status
    again = slawitness("verify", "--config", str(collector.config))
    assert again.returncode == 1 and "WITNESS CONFLICT" in again.stdout


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"servers": [{"url": "http://127.0.0.1:1", "key": "w1+00"}]}, "witnesses.servers[0].key:"),
        (
            {"servers": [{"url": "http://127.0.0.1:1", "key": "PLACEHOLDER"}], "at_least": 2},
            "witnesses.at_least: 2 of 1 witnesses cannot be met",
        ),
        (
            {"servers": [{"url": "http://127.0.0.1:1", "key": "PLACEHOLDER"}] * 2},
            "witnesses.servers[1].key: the witness w1.example is listed twice",
        ),
    ],
)
def test_a_bad_witnesses_section_is_one_line_naming_the_key(
    collector: Collector, given: dict[str, object], expected: str
) -> None:
    key = CosignerSigningKey("w1.example", bytes(32)).verifier().encode()
    section = json.loads(json.dumps(given).replace("PLACEHOLDER", key))
    collector.with_witnesses(section.pop("servers"), **section)
    done = slawitness("check-config", "--config", str(collector.config))
    assert done.returncode == 2
    assert expected in done.stderr + done.stdout
    assert "Traceback" not in done.stderr
