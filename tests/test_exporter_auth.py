"""The exporter behind TLS and basic auth, scraped by a real Prometheus with credentials."""

from __future__ import annotations

import ssl
from pathlib import Path

import bcrypt
import httpx
import pytest
import trustme
import yaml

from tests.clirun import slawitness, write_config
from tests.exporter_process import exporter, parse_metrics, value
from tests.rig.loopback import TcpListener
from tests.rig.prometheus import PrometheusServer, sample_values

PASSWORD = "scrape-secret-4f2a"


@pytest.fixture
def secured(tmp_path: Path, tcp_listener: TcpListener) -> tuple[Path, Path, Path]:
    """A config, a web config with TLS and one bcrypt user, and the CA that signed the cert."""
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    leaf.private_key_pem.write_to_path(str(tmp_path / "server.key"))
    leaf.cert_chain_pems[0].write_to_path(str(tmp_path / "server.crt"))
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    web = tmp_path / "web.yml"
    web.write_text(
        yaml.safe_dump(
            {
                "tls_server_config": {"cert_file": "server.crt", "key_file": "server.key"},
                "basic_auth_users": {"prometheus": hashed},
            }
        )
    )
    config = write_config(
        tmp_path,
        [
            {
                "name": "vps1",
                "host": "127.0.0.1",
                "probes": [
                    {
                        "name": "ssh",
                        "kind": "tcp",
                        "port": tcp_listener.port,
                        "interval": "2s",
                        "timeout": "1s",
                    }
                ],
            }
        ],
    )
    return config, web, tmp_path / "ca.pem"


def test_wrong_or_missing_credentials_get_401(secured: tuple[Path, Path, Path]) -> None:
    config, web, ca = secured
    assert slawitness("probe", "--config", str(config)).returncode == 0
    with exporter(
        "serve",
        config,
        "--web-config",
        str(web),
        scheme="https",
        verify=ssl.create_default_context(cafile=str(ca)),
    ) as url:
        for auth in (None, ("prometheus", "wrong"), ("nobody", PASSWORD)):
            denied = httpx.get(
                url + "/metrics", auth=auth, verify=ssl.create_default_context(cafile=str(ca))
            )
            assert denied.status_code == 401
            assert denied.headers["WWW-Authenticate"] == 'Basic realm="slawitness"'
            assert "probe_success" not in denied.text
        probe = httpx.get(
            url + "/probe?target=vps1&probe=ssh", verify=ssl.create_default_context(cafile=str(ca))
        )
        assert probe.status_code == 401, "/probe must not run without credentials"
        allowed = httpx.get(
            url + "/metrics",
            auth=("prometheus", PASSWORD),
            verify=ssl.create_default_context(cafile=str(ca)),
        )
        assert allowed.status_code == 200
        assert value(parse_metrics(allowed.text), "probe_success", target="vps1") == 1.0
        with pytest.raises(httpx.HTTPError):
            httpx.get(url.replace("https", "http") + "/metrics", timeout=3)


def test_prometheus_scrapes_through_tls_and_basic_auth(
    secured: tuple[Path, Path, Path], prometheus_factory: object
) -> None:
    config, web, ca = secured
    with exporter(
        "run",
        config,
        "--web-config",
        str(web),
        scheme="https",
        verify=ssl.create_default_context(cafile=str(ca)),
    ) as url:
        job = {
            "job_name": "slawitness",
            "scheme": "https",
            "tls_config": {"ca_file": str(ca)},
            "basic_auth": {"username": "prometheus", "password": PASSWORD},
            "static_configs": [{"targets": [url.split("//")[1]]}],
        }
        wrong = {
            **job,
            "job_name": "wrong_password",
            "basic_auth": {"username": "prometheus", "password": "nope"},
        }
        server: PrometheusServer = prometheus_factory([job, wrong])  # type: ignore[operator]
        server.wait_for(
            'probe_success{job="slawitness",target="vps1"}', lambda r: sample_values(r) == [1.0]
        )
        server.wait_for('up{job="wrong_password"}', lambda r: sample_values(r) == [0.0])
        [target] = [t for t in server.targets() if t["labels"]["job"] == "wrong_password"]
        assert "401" in target["lastError"]


def test_an_invalid_web_config_is_one_line(tmp_path: Path, tcp_listener: TcpListener) -> None:
    config = write_config(
        tmp_path,
        [
            {
                "name": "vps1",
                "host": "127.0.0.1",
                "probes": [{"name": "ssh", "kind": "tcp", "port": tcp_listener.port}],
            }
        ],
    )
    web = tmp_path / "web.yml"
    web.write_text(yaml.safe_dump({"basic_auth_users": {"prometheus": "plaintext-password"}}))
    done = slawitness("serve", "--config", str(config), "--web-config", str(web))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(f"{web}: basic_auth_users")
    assert "plaintext-password" not in done.stderr
