"""`/probe` runs each probe at most once per its spacing: sooner is 429 and appends nothing."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest
import yaml

from collector.config.loader import load_config
from collector.evidence.store import EvidenceStore
from collector.prometheus.probe_spacing import ProbeSpacing, ProbeTooSoon, spacings_from
from tests.clirun import slawitness, write_config
from tests.exporter_process import exporter
from tests.rig.loopback import TcpListener


class HandClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_probe_runs_again_only_after_its_spacing() -> None:
    clock = HandClock()
    spacing = ProbeSpacing({("vps1", "ssh"): 54.0, ("vps1", "web"): 54.0}, clock)
    spacing.admit(("vps1", "ssh"))
    clock.now += 10.2
    with pytest.raises(ProbeTooSoon) as refused:
        spacing.admit(("vps1", "ssh"))
    assert refused.value.retry_after_s == 44  # 43.8 s, rounded up to whole seconds
    assert str(refused.value) == (
        "vps1/ssh runs on demand at most once every 54s; ask again in 44s"
    )
    spacing.admit(("vps1", "web"))  # the limit is per probe
    clock.now += 43.8
    spacing.admit(("vps1", "ssh"))
    with pytest.raises(ProbeTooSoon) as again:
        spacing.admit(("vps1", "ssh"))
    assert again.value.retry_after_s == 54


def test_a_refusal_waits_at_least_one_second() -> None:
    clock = HandClock()
    spacing = ProbeSpacing({("vps1", "ssh"): 1.8}, clock)
    spacing.admit(("vps1", "ssh"))
    clock.now += 1.7
    with pytest.raises(ProbeTooSoon) as refused:
        spacing.admit(("vps1", "ssh"))
    assert refused.value.retry_after_s == 1


def test_a_spacing_of_zero_admits_every_request() -> None:
    spacing = ProbeSpacing({("vps1", "ssh"): 0.0}, HandClock())
    for _ in range(5):
        spacing.admit(("vps1", "ssh"))


def test_requests_arriving_together_get_one_turn() -> None:
    spacing = ProbeSpacing({("vps1", "ssh"): 60.0})
    start, admitted, refused = threading.Barrier(16), [], []

    def ask() -> None:
        start.wait()
        try:
            spacing.admit(("vps1", "ssh"))
            admitted.append(1)
        except ProbeTooSoon:
            refused.append(1)

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert (len(admitted), len(refused)) == (1, 15)


def _config(folder: Path, port: int, exporter_section: dict | None = None) -> Path:
    """vps1 with ssh (60 s) and web (30 s) tcp probes, vps2 with ssh; optional `exporter:`."""
    probe = {"kind": "tcp", "port": port, "timeout": "1s"}
    path = write_config(
        folder,
        [
            {
                "name": "vps1",
                "host": "127.0.0.1",
                "probes": [
                    {"name": "ssh", **probe},
                    {"name": "web", **probe, "interval": "30s"},
                ],
            },
            {"name": "vps2", "host": "127.0.0.1", "probes": [{"name": "ssh", **probe}]},
        ],
    )
    if exporter_section is not None:
        data = yaml.safe_load(path.read_text())
        path.write_text(yaml.safe_dump({**data, "exporter": exporter_section}, sort_keys=False))
    return path


def test_the_default_spacing_is_nine_tenths_of_the_interval(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, 22))
    default = spacings_from(config, config.intervals())
    assert default == {("vps1", "ssh"): 54.0, ("vps1", "web"): 27.0, ("vps2", "ssh"): 54.0}
    config = load_config(_config(tmp_path, 22, {"probe_min_spacing": "5s"}))
    fixed = spacings_from(config, config.intervals())
    assert set(fixed.values()) == {5.0}


def _probe_records(store_path: Path) -> int:
    with EvidenceStore.open(store_path, readonly=True) as store:
        return len(list(store.records(types=["probe"])))


def test_probe_sooner_than_its_spacing_is_429_and_appends_nothing(
    tmp_path: Path, tcp_listener: TcpListener
) -> None:
    config = _config(tmp_path, tcp_listener.port)
    store = tmp_path / "evidence.db"
    with exporter("serve", config) as url:
        first = httpx.get(url + "/probe", params={"target": "vps1", "probe": "ssh"})
        assert first.status_code == 200 and "probe_success" in first.text
        kept = _probe_records(store)
        for _ in range(20):
            refused = httpx.get(url + "/probe", params={"target": "vps1", "probe": "ssh"})
            assert refused.status_code == 429
            assert 1 <= int(refused.headers["Retry-After"]) <= 54
            assert refused.text.count("\n") == 1 and refused.text.startswith("vps1/ssh ")
            assert "probe_success" not in refused.text
        assert _probe_records(store) == kept
        other = httpx.get(url + "/probe", params={"target": "vps2", "probe": "ssh"})
        assert other.status_code == 200, "another probe has its own turn"
        unknown = httpx.get(url + "/probe", params={"target": "vps9", "probe": "ssh"})
        assert unknown.status_code == 400, "an unknown probe is named, not rate-limited"
        assert _probe_records(store) == kept + 1
    assert tcp_listener.connections == 2


def test_a_spacing_of_zero_lets_every_probe_request_append(
    tmp_path: Path, tcp_listener: TcpListener
) -> None:
    config = _config(tmp_path, tcp_listener.port, {"probe_min_spacing": "0s"})
    with exporter("serve", config) as url:
        for _ in range(3):
            answer = httpx.get(url + "/probe", params={"target": "vps1", "probe": "ssh"})
            assert answer.status_code == 200
        assert _probe_records(tmp_path / "evidence.db") == 3


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("2d", "less than or equal to 86400"),
        (-1, "negative"),
        (float("inf"), "a duration is at most 366d"),  # YAML's .inf
        ("often", "expected a duration"),
    ],
)
def test_a_bad_spacing_is_one_line_at_load(tmp_path: Path, value: object, problem: str) -> None:
    config = _config(tmp_path, 22, {"probe_min_spacing": value})
    done = slawitness("check-config", "--config", str(config))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert "exporter.probe_min_spacing" in done.stderr and problem in done.stderr
