"""The CLI end to end, in child processes, against real loopback and namespace hosts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from collector.evidence.store import EvidenceStore
from tests.clirun import slawitness, slawitness_process, write_config
from tests.diagnoses_settled import settled_diagnoses
from tests.rig.loopback import HttpFaultServer, TcpListener, closed_port
from tests.rig.netns import NetnsHost, drop_echo_requests


def tcp_target(name: str, port: int, host: str = "127.0.0.1") -> dict:
    return {
        "name": name,
        "host": host,
        "probes": [
            {"name": "port", "kind": "tcp", "port": port, "interval": "1s", "timeout": "500ms"}
        ],
    }


def export_jsonl(config: Path, *extra: str) -> list[dict]:
    done = slawitness("export", "--config", str(config), "--format", "jsonl", *extra)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_init_writes_a_valid_config_and_an_empty_store(tmp_path: Path) -> None:
    done = slawitness("init", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "slawitness.yml").exists() and (tmp_path / "evidence.db").exists()
    checked = slawitness("check-config", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "target vps1 [203.0.113.10]" in checked.stdout
    assert "SLA 99.9% per month (UTC)" in checked.stdout
    again = slawitness("init", cwd=tmp_path)
    assert again.returncode == 2
    assert again.stderr.strip().endswith("already exists (use --force to overwrite)")


def test_probe_round_records_up_and_down_and_the_chain_verifies(
    tmp_path: Path, tcp_listener: TcpListener, netns_host: NetnsHost
) -> None:
    drop_echo_requests(netns_host, [netns_host.address])
    icmp = {
        "name": "ping",
        "kind": "icmp",
        "count": 2,
        "spacing": "50ms",
        "timeout": "500ms",
        "interval": "10s",
    }
    config = write_config(
        tmp_path,
        [
            tcp_target("open", tcp_listener.port),
            tcp_target("closed", closed_port()),
            {"name": "silent", "host": netns_host.address, "probes": [icmp]},
        ],
        controls=[{"name": "loop", "host": "127.0.0.1", "probes": [icmp]}],
    )
    done = slawitness("probe", "--config", str(config))
    assert done.returncode == 0, done.stderr
    lines = {line.split()[0]: line.split() for line in done.stdout.splitlines()}
    assert lines["open"][1:3] == ["target", "UP"]
    assert lines["closed"][1:4] == ["target", "DOWN", "port"] and "refused" in lines["closed"]
    assert lines["silent"][2] == "DOWN" and "timeout" in lines["silent"]
    assert lines["loop"][1:3] == ["control", "UP"]

    records = export_jsonl(config, "--type", "probe")
    by_target = {r["target"]: r for r in records}
    assert by_target["open"]["ok"] is True and by_target["open"]["error"] is None
    assert by_target["closed"]["error"] == "refused"
    assert by_target["silent"]["error"] == "timeout"
    assert by_target["silent"]["phases_ns"] == [None, None]
    assert by_target["silent"]["loss_ppm"] == 1_000_000
    assert by_target["loop"]["role"] == "control" and len(by_target["loop"]["phases_ns"]) == 2
    for record in records:
        assert record["vantage"] == "test-vantage" and record["origin"] == "native"
        assert isinstance(record["ts_ns"], int) and isinstance(record["mono_ns"], int)
    [round_record] = export_jsonl(config, "--type", "collector")
    assert round_record["event"] == "round" and round_record["detail"]["probes"] == 4

    settled_diagnoses(tmp_path / "evidence.db")
    traced = [r["target"] for r in export_jsonl(config, "--type", "diagnosis")]
    assert sorted(traced) == ["closed", "silent"], "each failing target's path is traced once"
    verified = slawitness("verify", "--config", str(config))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    # 5 records of the round, 2 diagnoses due and their 2 traces, then each of the 3 exports
    # chained as a custody event
    assert "chain intact, 12 records, head seq 12" in verified.stdout


def test_eight_overlapping_rounds_keep_one_chain(tmp_path: Path, tcp_listener: TcpListener) -> None:
    targets = [tcp_target(f"t{i}", tcp_listener.port) for i in range(5)]
    targets.append(tcp_target("closed", closed_port()))
    config = write_config(tmp_path, targets)
    with ThreadPoolExecutor(8) as pool:
        # eight processes, as eight cron rounds would be: eight pids, eight store connections
        results = list(
            pool.map(lambda _: slawitness_process("probe", "--config", str(config)), range(8))
        )
    for done in results:
        assert done.returncode == 0, done.stderr
    settled_diagnoses(tmp_path / "evidence.db")
    with EvidenceStore.open(tmp_path / "evidence.db", readonly=True) as store:
        report = store.verify()
        assert report.ok, report.problem
        rounds = list(store.records(types=["probe", "collector"]))
        assert len(rounds) == 8 * (len(targets) + 1)
        due = len(list(store.records(types=["diagnosis_due"])))
        traced = len(list(store.records(types=["diagnosis"])))
        assert due == traced == 1, "the closed target is claimed and traced by one round only"
        assert report.count == len(rounds) + due + traced
        seqs = [row.seq for row in store.records()]
        assert seqs == list(range(1, report.count + 1))
        pids = {row.record["pid"] for row in store.records(types=["collector"])}
        assert len(pids) == 8


def test_daemon_probes_on_schedule_and_writes_start_heartbeat_stop(
    tmp_path: Path, tcp_listener: TcpListener
) -> None:
    config = write_config(tmp_path, [tcp_target("open", tcp_listener.port)])
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen(
        [sys.executable, "-m", "cli", "run", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    store_path = tmp_path / "evidence.db"
    deadline = time.monotonic() + 30
    probes = 0
    while time.monotonic() < deadline and probes < 3:
        time.sleep(0.5)
        if store_path.exists():
            with EvidenceStore.open(store_path, readonly=True) as store:
                probes = sum(1 for _ in store.records(types=["probe"]))
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=30)
    assert child.returncode == 0, err
    assert probes >= 3, "the daemon did not probe every second"
    with EvidenceStore.open(store_path, readonly=True) as store:
        assert store.verify().ok
        events = [r.record["event"] for r in store.records(types=["collector"])]
    assert events[0] == "start" and events[-1] == "stop"
    assert "stopped (SIGTERM)" in err


def test_note_is_chained_and_exported(tmp_path: Path, tcp_listener: TcpListener) -> None:
    config = write_config(tmp_path, [tcp_target("vps1", tcp_listener.port)])
    done = slawitness(
        "note",
        "add",
        "--config",
        str(config),
        "--target",
        "vps1",
        "--ticket",
        "48213",
        "Opened ticket: 服务器无法访问",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("note recorded as seq 1 ")
    [note] = export_jsonl(config, "--type", "note")
    assert note["ticket"] == "48213" and note["text"] == "Opened ticket: 服务器无法访问"
    assert note["target"] == "vps1" and note["seq"] == 1 and len(note["hash"]) == 64


def test_export_csv_and_time_filters(tmp_path: Path, tcp_listener: TcpListener) -> None:
    config = write_config(tmp_path, [tcp_target("vps1", tcp_listener.port)])
    for _ in range(2):
        assert slawitness("probe", "--config", str(config)).returncode == 0
    rows = export_jsonl(config, "--type", "probe")
    assert len(rows) == 2
    later = rows[1]["ts"]
    assert [r["seq"] for r in export_jsonl(config, "--since", later, "--type", "probe")] == [
        rows[1]["seq"]
    ]
    assert export_jsonl(config, "--until", rows[0]["ts"], "--type", "probe") == []
    csv_out = slawitness("export", "--config", str(config), "--format", "csv", "--type", "probe")
    header, *lines = csv_out.stdout.splitlines()
    assert header.startswith("seq,ts,type,vantage,target,probe,kind,role,ok,latency_s")
    assert len(lines) == 2 and lines[0].split(",")[4] == "vps1"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["export", "--since", "yesterday"],
            "slawitness: invalid value for '--since': 'yesterday' is not an ISO 8601 date or time",
        ),
        (
            ["probe", "--target", "nope"],
            "slawitness: no target or control named 'nope' (known: vps1)",
        ),
        (["note", "add", "--target", "vps1", "  "], "slawitness: note text is empty"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    config = write_config(tmp_path, [tcp_target("vps1", closed_port())])
    done = slawitness(*args, "--config", str(config))
    assert done.returncode == 2
    assert done.stderr.strip() == message


def test_bad_config_is_one_line_per_mistake_and_exit_2(tmp_path: Path) -> None:
    config = write_config(tmp_path, [tcp_target("vps1", 22)])
    config.write_text(config.read_text().replace("timeout: 500ms", "timeout: 90s"))
    done = slawitness("probe", "--config", str(config))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"{config}: targets[0].probes[0].timeout: must be shorter than interval (got 90s >= 1s)"
    )
    assert not (tmp_path / "evidence.db").exists()


@pytest.mark.parametrize("content", [os.urandom(4096), b"SQLite format 3\x00" + bytes(100)])
def test_a_file_that_is_not_a_store_is_refused_and_left_alone(
    tmp_path: Path, content: bytes
) -> None:
    store = tmp_path / "evidence.db"
    store.write_bytes(content)
    config = write_config(tmp_path, [tcp_target("vps1", closed_port())])
    for verb in (["probe"], ["verify"], ["export"]):
        done = slawitness(*verb, "--config", str(config))
        assert done.returncode == 3, (verb, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1
        assert str(store) in done.stderr and "Traceback" not in done.stderr
    assert store.read_bytes() == content


def test_an_empty_file_becomes_a_store_on_the_first_round(tmp_path: Path) -> None:
    (tmp_path / "evidence.db").write_bytes(b"")
    config = write_config(tmp_path, [tcp_target("vps1", closed_port())])
    assert slawitness("verify", "--config", str(config)).returncode == 3
    assert slawitness("probe", "--config", str(config)).returncode == 0
    settled_diagnoses(tmp_path / "evidence.db")
    verified = slawitness("verify", "--config", str(config))
    assert verified.returncode == 0 and "chain intact, 4 records" in verified.stdout
    kinds = [r["type"] for r in export_jsonl(config)]
    assert kinds == ["probe", "collector", "diagnosis_due", "diagnosis"]


def test_verify_names_the_first_tampered_record(tmp_path: Path, tcp_listener: TcpListener) -> None:
    import apsw

    config = write_config(tmp_path, [tcp_target("vps1", tcp_listener.port)])
    for _ in range(3):
        assert slawitness("probe", "--config", str(config)).returncode == 0
    raw = apsw.Connection(str(tmp_path / "evidence.db"))
    triggers = [
        name for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
    ]
    for name in triggers:
        raw.execute(f"DROP TRIGGER {name}")
    payload = bytes(next(raw.execute("SELECT payload FROM records WHERE seq = 3"))[0])
    raw.execute(
        "UPDATE records SET payload = ? WHERE seq = 3",
        (payload.replace(b'"ok":true', b'"ok":false'),),
    )
    raw.close()
    done = slawitness("verify", "--config", str(config))
    assert done.returncode == 1
    assert "chain BROKEN at seq 3" in done.stdout


def test_secrets_reach_the_target_but_never_the_evidence(
    tmp_path: Path, http_server: HttpFaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    token, password = "tok-7c1f0e5a9b", "pw-93d1a4e6c2"
    (tmp_path / "password.txt").write_text(password + "\n")
    http_server.expect_auth = ("me", password)

    def web(name: str, path: str) -> dict:
        return {
            "name": name,
            "kind": "http",
            "url": http_server.url(path),
            "headers": {"X-Api-Token": "${SW_TEST_API_TOKEN}"},
            "basic_auth": {"username": "me", "password": {"file": "password.txt"}},
            "interval": "10s",
            "timeout": "2s",
        }

    config = write_config(
        tmp_path,
        [
            {
                "name": "vps1",
                "host": "127.0.0.1",
                "probes": [
                    web("auth", "/auth"),
                    web("broken", "/status/503"),
                    web("echo", "/host"),
                ],
            }
        ],
    )
    monkeypatch.setenv("SW_TEST_API_TOKEN", token)
    done = slawitness("probe", "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert {r.headers.get("x-api-token") for r in http_server.requests} == {token}
    records = {r["probe"]: r for r in export_jsonl(config, "--type", "probe")}
    assert records["auth"]["ok"] is True and records["auth"]["detail"]["status"] == 200
    assert records["broken"]["error"] == "http_status"
    evidence = b"".join(
        path.read_bytes() for path in tmp_path.iterdir() if path.name.startswith("evidence.db")
    )
    exported = slawitness("export", "--config", str(config), "--format", "csv").stdout
    for secret in (token, password):
        assert secret.encode() not in evidence
        assert secret not in exported and secret not in done.stdout + done.stderr
