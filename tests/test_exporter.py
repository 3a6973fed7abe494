"""The exporter in every mode, against real targets, checked by promtool and a real Prometheus."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from collector.evidence.store import EvidenceStore
from collector.prometheus.metrics import METRIC_NAMES
from tests.clirun import slawitness, write_config
from tests.diagnoses_settled import settled_diagnoses
from tests.exporter_process import exporter, parse_metrics, value
from tests.rig import rig_unavailable
from tests.rig.dns_server import DnsServer
from tests.rig.loopback import HttpFaultServer, TcpListener, closed_port
from tests.rig.prometheus import PrometheusServer, sample_values


def promtool_check_metrics(text: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("promtool") is None:
        rig_unavailable("promtool is not installed (Debian package prometheus)")
    return subprocess.run(
        ["promtool", "check", "metrics"],
        input=text,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.fixture
def mixed_config(
    tmp_path: Path, http_server: HttpFaultServer, tcp_listener: TcpListener, dns_server: DnsServer
) -> Path:
    """One up host with every kind of probe, one down host, one control."""
    web = {
        "name": "web",
        "kind": "http",
        "url": http_server.url("/ok"),
        "interval": "2s",
        "timeout": "1s",
    }
    return write_config(
        tmp_path,
        [
            {
                "name": "vps1",
                "host": "127.0.0.1",
                "probes": [
                    web,
                    {
                        "name": "ssh",
                        "kind": "tcp",
                        "port": tcp_listener.port,
                        "interval": "2s",
                        "timeout": "1s",
                    },
                    {
                        "name": "ping",
                        "kind": "icmp",
                        "count": 2,
                        "spacing": "10ms",
                        "interval": "2s",
                        "timeout": "500ms",
                    },
                    {
                        "name": "dns",
                        "kind": "dns",
                        "query_name": "www.example.test",
                        "port": dns_server.port,
                        "interval": "2s",
                        "timeout": "1s",
                    },
                ],
            },
            {
                "name": "vps2",
                "host": "127.0.0.1",
                "probes": [
                    {**web, "url": http_server.url("/status/503")},
                    {
                        "name": "ssh",
                        "kind": "tcp",
                        "port": closed_port(),
                        "interval": "2s",
                        "timeout": "1s",
                    },
                ],
            },
        ],
        controls=[
            {
                "name": "loop",
                "host": "127.0.0.1",
                "probes": [
                    {
                        "name": "ping",
                        "kind": "icmp",
                        "count": 1,
                        "interval": "2s",
                        "timeout": "500ms",
                    }
                ],
            }
        ],
    )


def test_textfile_series_follow_blackbox_and_pass_promtool(
    mixed_config: Path, tmp_path: Path
) -> None:
    textfile = tmp_path / "slawitness.prom"
    for _ in range(2):
        done = slawitness("probe", "--config", str(mixed_config), "--textfile", str(textfile))
        assert done.returncode == 0, done.stderr
    text = textfile.read_text()
    checked = promtool_check_metrics(text)
    assert checked.returncode == 0 and checked.stdout + checked.stderr == "", checked
    samples = parse_metrics(text)
    assert {name.removesuffix("_created") for name, _ in samples} - {
        "slawitness_probes_total"
    } <= METRIC_NAMES
    assert value(samples, "probe_success", target="vps1", probe="web") == 1.0
    assert value(samples, "probe_success", target="vps2", probe="web") == 0.0
    assert value(samples, "probe_http_status_code", target="vps2", probe="web") == 503.0
    assert value(samples, "probe_success", target="loop", role="control") == 1.0
    for phase in ("resolve", "connect", "tls", "processing", "transfer"):
        assert value(samples, "probe_http_duration_seconds", target="vps1", phase=phase) >= 0
    assert value(samples, "probe_http_duration_seconds", target="vps1", phase="connect") > 0
    assert value(samples, "probe_icmp_duration_seconds", target="vps1", phase="rtt") > 0
    assert value(samples, "slawitness_probe_loss_ratio", target="vps1") == 0.0
    assert value(samples, "probe_dns_duration_seconds", target="vps1", phase="request") > 0
    assert value(samples, "probe_ip_protocol", target="vps1", probe="ssh") == 4.0
    assert value(samples, "slawitness_probe_interval_seconds", target="vps1", probe="ssh") == 2.0
    # counters carry over from the previous textfile: two rounds, two attempts each
    assert (
        value(
            samples,
            "slawitness_probes_total",
            target="vps2",
            probe="ssh",
            result="failure",
            error="refused",
        )
        == 2.0
    )
    assert (
        value(
            samples,
            "slawitness_probes_total",
            target="vps1",
            probe="web",
            result="success",
            error="none",
        )
        == 2.0
    )
    with EvidenceStore.open(tmp_path / "evidence.db", readonly=True) as store:
        head = store.head()
    assert head is not None
    assert value(samples, "slawitness_store_head_seq") == float(head.seq)
    assert value(samples, "slawitness_store_append_ok") == 1.0


def test_textfile_that_cannot_be_written_is_one_line(mixed_config: Path, tmp_path: Path) -> None:
    done = slawitness(
        "probe", "--config", str(mixed_config), "--textfile", str(tmp_path / "missing" / "x.prom")
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "cannot write the textfile" in done.stderr
    settled_diagnoses(tmp_path / "evidence.db")
    with EvidenceStore.open(tmp_path / "evidence.db", readonly=True) as store:
        kept = store.count() - len(list(store.records(types=["diagnosis", "diagnosis_due"])))
        assert kept == 8, "the round's records are kept even when the textfile fails"


def test_serve_follows_the_store_and_probe_appends(mixed_config: Path, tmp_path: Path) -> None:
    assert slawitness("probe", "--config", str(mixed_config)).returncode == 0
    with exporter("serve", mixed_config) as url:
        first = httpx.get(url + "/metrics").text
        assert promtool_check_metrics(first).returncode == 0
        samples = parse_metrics(first)
        assert value(samples, "probe_success", target="vps1", probe="ssh") == 1.0
        assert value(samples, "probe_success", target="vps2", probe="ssh") == 0.0
        assert slawitness("probe", "--config", str(mixed_config)).returncode == 0
        settled_diagnoses(tmp_path / "evidence.db")
        after = parse_metrics(httpx.get(url + "/metrics").text)
        # up: the round just stored is fresh (checked here, not after the server's start-up,
        # which a loaded machine may stretch past three probe intervals)
        assert value(after, "slawitness_collector_up") == 1.0
        # two rounds of 8 records, and one trace of the failing vps2 (at most one per 10 min):
        # its diagnosis_due record and the diagnosis the detached process appended
        assert value(after, "slawitness_store_head_seq") == 18.0
        assert (
            value(after, "slawitness_probes_total", target="vps2", probe="ssh", error="refused")
            == 1.0
        )

        answer = httpx.get(url + "/probe", params={"target": "vps2", "probe": "web"})
        assert answer.status_code == 200
        probed = parse_metrics(answer.text)
        assert value(probed, "probe_success", target="vps2", probe="web") == 0.0
        assert value(probed, "probe_http_status_code", target="vps2") == 503.0
        assert {name for name, _ in probed} <= METRIC_NAMES
        bad = httpx.get(url + "/probe", params={"target": "nope", "probe": "web"})
        assert bad.status_code == 400 and "nope" in bad.text
        assert httpx.get(url + "/probe").status_code == 400
        assert httpx.get(url + "/elsewhere").status_code == 404
    with EvidenceStore.open(tmp_path / "evidence.db", readonly=True) as store:
        records = [r.record for r in store.records(types=["probe"])]
        assert store.verify().ok
    assert len(records) == 15 and records[-1]["target"] == "vps2"


def test_daemon_serves_its_latest_results(mixed_config: Path) -> None:
    with exporter("run", mixed_config) as url:
        samples: dict = {}
        for _ in range(100):
            samples = parse_metrics(httpx.get(url + "/metrics").text)
            if sum(1 for n, _ in samples if n == "probe_success") == 7:
                break
            import time

            time.sleep(0.1)
        assert value(samples, "probe_success", target="vps1", probe="dns") == 1.0
        assert value(samples, "probe_success", target="vps2", probe="web") == 0.0
        assert value(samples, "slawitness_collector_up") == 1.0
        probed = parse_metrics(httpx.get(url + "/probe?target=vps1&probe=ping").text)
        assert value(probed, "probe_success", target="vps1", probe="ping") == 1.0


def test_bad_listen_addresses_are_one_line(mixed_config: Path) -> None:
    for listen, message in (("9925", "expected HOST:PORT"), (":9925", "name the address")):
        done = slawitness("serve", "--config", str(mixed_config), "--listen", listen)
        assert done.returncode == 2 and message in done.stderr
        assert done.stderr.count("\n") == 1


def _scrape(job: str, url: str, **extra: object) -> dict:
    return {"job_name": job, "static_configs": [{"targets": [url.split("//")[1]]}], **extra}


def test_prometheus_scrapes_the_daemon_serve_and_probe(
    mixed_config: Path, prometheus_factory: object
) -> None:
    assert slawitness("probe", "--config", str(mixed_config)).returncode == 0
    with exporter("run", mixed_config) as daemon_url, exporter("serve", mixed_config) as serve_url:
        probe_job = _scrape(
            "slawitness_probe",
            serve_url,
            metrics_path="/probe",
            params={"target": ["vps1"], "probe": ["ssh"]},
            scrape_interval="2s",  # the probe's interval, as deploy/prometheus/ says
        )
        server: PrometheusServer = prometheus_factory(  # type: ignore[operator]
            [_scrape("slawitness", daemon_url), _scrape("slawitness_serve", serve_url), probe_job]
        )
        for job in ("slawitness", "slawitness_serve"):
            up = server.wait_for(
                f'probe_success{{job="{job}",target="vps1",probe="ssh"}}',
                lambda r: sample_values(r) == [1.0],
            )
            down = server.wait_for(
                f'probe_success{{job="{job}",target="vps2",probe="ssh"}}',
                lambda r: sample_values(r) == [0.0],
            )
            assert up[0]["metric"]["vantage"] == "test-vantage" and down
        server.wait_for(
            'probe_success{job="slawitness_probe"}', lambda r: sample_values(r) == [1.0]
        )


@pytest.mark.parametrize("verb", ["serve", "run"])
def test_stopping_while_scrapes_run_exits_cleanly(mixed_config: Path, verb: str) -> None:
    """SIGTERM lands while scrapes are running: the server lets them finish before the
    stores close (closing a connection another thread is using used to end in exit 70)."""
    assert slawitness("probe", "--config", str(mixed_config)).returncode == 0
    stop, answered = threading.Event(), []

    def scrape(url: str) -> None:
        with httpx.Client(timeout=5) as client:
            while not stop.is_set():
                try:
                    answered.append(client.get(url + "/metrics").status_code)
                except httpx.HTTPError:
                    time.sleep(0.01)

    with exporter(verb, mixed_config) as url:  # exits with SIGTERM; asserts exit status 0
        scrapers = [threading.Thread(target=scrape, args=(url,)) for _ in range(4)]
        for thread in scrapers:
            thread.start()
        while len(answered) < 20:
            time.sleep(0.01)
    stop.set()
    for thread in scrapers:
        thread.join(timeout=10)
    assert set(answered) <= {200, 503} and answered.count(200) >= 20
