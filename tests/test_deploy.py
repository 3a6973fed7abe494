"""The cron, systemd and docker deploy files, as `slawitness init --deploy` fills them in,
checked by the tools that own their formats, and the cron line run as cron would run it."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from cli.deploy_files import CONFIG, PROGRAM, SOURCE
from collector.evidence.store import EvidenceStore
from tests.clirun import slawitness, write_config
from tests.rig import rig_unavailable
from tests.rig.loopback import TcpListener


def tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        rig_unavailable(f"{name} is not installed (apt-get install {package})")
    return found


def deploy(kind: str, folder: Path, config: Path) -> Path:
    done = slawitness("init", "--config", str(config), "--deploy", kind, str(folder))
    assert done.returncode == 0, done.stderr
    return folder


@pytest.fixture
def config(tmp_path: Path, tcp_listener: TcpListener) -> Path:
    """A config probing a loopback TCP listener, with its store beside it."""
    return write_config(
        tmp_path,
        [{"name": "vps1", "host": "127.0.0.1",
          "probes": [{"name": "ssh", "kind": "tcp", "port": tcp_listener.port, "timeout": "2s"}]}],
    )  # fmt: skip


def test_systemd_units_verify(tmp_path: Path, config: Path) -> None:
    analyze = tool("systemd-analyze", "systemd")
    folder = deploy("systemd", tmp_path / "systemd", config)
    units = sorted(folder.iterdir())
    assert [u.name for u in units] == [
        "slawitness-probe.service", "slawitness-probe.timer", "slawitness.service",
    ]  # fmt: skip
    done = subprocess.run([analyze, "verify", *map(str, units)], capture_output=True, text=True)
    assert (done.returncode, done.stderr.strip()) == (0, "")
    daemon = (folder / "slawitness.service").read_text()
    assert PROGRAM not in daemon and CONFIG not in daemon and str(config.resolve()) in daemon
    for line in ("User=slawitness", "AmbientCapabilities=CAP_NET_RAW", "NoNewPrivileges=yes",
                 "ProtectSystem=strict", "CapabilityBoundingSet=CAP_NET_RAW"):  # fmt: skip
        assert line in daemon.splitlines()


def test_a_broken_unit_is_caught(tmp_path: Path, config: Path) -> None:
    analyze = tool("systemd-analyze", "systemd")
    unit = deploy("systemd", tmp_path / "systemd", config) / "slawitness.service"
    unit.write_text(unit.read_text().replace("NoNewPrivileges=", "NoNewPrivilege="))
    done = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True)
    assert "Unknown key" in done.stderr


def test_the_cron_line_runs_a_probe_round(tmp_path: Path, config: Path) -> None:
    line = (deploy("cron", tmp_path / "cron", config) / "slawitness.cron").read_text()
    (entry,) = [row for row in line.splitlines() if row and not row.startswith("#")
                and "=" not in row.split()[0]]  # fmt: skip
    fields = entry.split(None, 6)
    assert fields[:5] == ["*"] * 5 and fields[5] == "slawitness"
    command = shlex.split(fields[6])
    assert Path(command[0]).is_file() and command[1:4] == ["probe", "--config", str(config)]
    textfile, log = tmp_path / "slawitness.prom", tmp_path / "probe.log"
    command[command.index("--textfile") + 1] = str(textfile)
    run = [c for c in command if not c.startswith(">>") and c != "2>&1"]
    with log.open("w") as out:
        done = subprocess.run(run, stdout=out, stderr=subprocess.STDOUT, timeout=60)
    assert done.returncode == 0, log.read_text()
    assert 'probe_success{kind="tcp",probe="ssh"' in textfile.read_text()
    with EvidenceStore.open(tmp_path / "evidence.db", readonly=True) as store:
        assert store.count() >= 2 and store.verify().ok


def test_docker_compose_and_its_prometheus_config_validate(tmp_path: Path, config: Path) -> None:
    compose = tool("docker-compose", "docker-compose")
    promtool = tool("promtool", "prometheus")
    folder = deploy("docker", tmp_path / "docker", config)
    for where in (folder, SOURCE / "docker"):
        done = subprocess.run(
            [compose, "-f", str(where / "docker-compose.yml"), "config", "-q"],
            capture_output=True, text=True, cwd=where,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    checked = subprocess.run(
        [promtool, "check", "config", str(folder / "prometheus.yml")],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert (folder / "slawitness.yml").read_text() == config.read_text()
    dockerfile = (folder / "Dockerfile").read_text()
    assert (
        "USER slawitness" in dockerfile
        and "cap_add: [NET_RAW]" in (folder / "docker-compose.yml").read_text()
    )


def test_fleet_compose_validates_and_points_grafana_at_its_engine() -> None:
    compose = tool("docker-compose", "docker-compose")
    where = SOURCE / "fleet"
    done = subprocess.run(
        [compose, "-f", str(where / "docker-compose.yml"), "config", "-q"],
        capture_output=True, text=True, cwd=where,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "url: http://victoriametrics:8428" in (where / "grafana-datasource.yml").read_text()


def test_deploy_files_are_never_overwritten_silently(tmp_path: Path, config: Path) -> None:
    folder = deploy("cron", tmp_path / "cron", config)
    before = (folder / "slawitness.cron").read_text()
    again = slawitness("init", "--config", str(config), "--deploy", "cron", str(folder))
    assert again.returncode == 2 and "already exists" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    assert (folder / "slawitness.cron").read_text() == before
