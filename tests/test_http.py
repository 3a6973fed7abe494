"""The http probe against real loopback HTTP(S) servers that fail on purpose."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from collector.core.results import ErrorClass, Result
from collector.probes import http, http_exchange
from collector.probes.base import ProbeEnv
from collector.probes.http import HttpSpec
from collector.probes.http_client import MAX_NS, shared_client
from collector.probes.http_spec import normalize_pin
from tests.rig.loopback import HttpFaultServer, closed_port, run_probe
from tests.rig.servers import ServerFactory, TlsFiles

PASSWORD = "hunter2-very-secret"
TOKEN = "Bearer tok-0123456789abcdef"


def spec(url: str, **extra: object) -> HttpSpec:
    return HttpSpec.model_validate(
        {"name": "web", "kind": "http", "url": url, "timeout": "2s", **extra}
    )


def attempt(url: str, **extra: object) -> Result:
    return run_probe(http.probe, "ignored.example", spec(url, **extra))[0]


def fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


# --- config -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "complaint"),
    [
        ({"url": "/health"}, "absolute"),
        ({"url": "ftp://host/file"}, "absolute"),
        ({"url": "https://user:pw@host/"}, "basic_auth"),
        ({"expect_body_regex": "(unclosed"}, "regular expression"),
        ({"expect_status": []}, "status codes"),
        ({"expect_status": [99]}, "status codes"),
        ({"method": "GE T"}, "method"),
        ({"headers": {"Host": "x"}}, "cannot be set"),
        ({"tls_pin_sha256": "abc"}, "SHA-256"),
        ({"tls_ca": "/no/such/ca.pem"}, "CA bundle"),
        ({"max_body_bytes": -1}, "max_body_bytes"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_config_is_rejected_at_load(extra: dict[str, object], complaint: str) -> None:
    fields = {"url": "http://127.0.0.1/", **extra}
    with pytest.raises(ValidationError, match=complaint):
        spec(str(fields.pop("url")), **fields)


def test_config_normalises_method_pin_and_relative_ca(tls_files: TlsFiles) -> None:
    pin = ":".join(["AB"] * 32)
    loaded = HttpSpec.model_validate(
        {
            "name": "w",
            "kind": "http",
            "url": "https://localhost/",
            "method": "head",
            "tls_pin_sha256": pin,
            "tls_ca": tls_files.ca_path.name,
        },
        context={"base_dir": str(tls_files.ca_path.parent)},
    )
    assert loaded.method == "HEAD"
    assert loaded.tls_pin_sha256 == "ab" * 32
    assert loaded.tls_mode() == "pin"
    assert Path(str(loaded.tls_ca)) == tls_files.ca_path


@given(st.binary(min_size=32, max_size=32), st.booleans(), st.booleans())
def test_any_spelling_of_a_fingerprint_normalises_to_lowercase_hex(
    digest: bytes, colons: bool, upper: bool
) -> None:
    text = digest.hex()
    spelled = ":".join(text[i : i + 2] for i in range(0, 64, 2)) if colons else text
    assert normalize_pin(spelled.upper() if upper else spelled) == text


# --- success, phases, connections ---------------------------------------------------------


def test_ok_records_status_version_address_and_phases(http_server: HttpFaultServer) -> None:
    result = attempt(http_server.url("/ok"), expect_body="ok")
    assert result.ok, result.detail
    assert result.detail["status"] == 200
    assert result.detail["http_version"] == "HTTP/1.1"
    assert result.detail["address"] == "127.0.0.1"
    assert "tls_verify" not in result.detail  # plain http has no TLS mode
    phases = result.phases_ns
    assert isinstance(phases, dict)
    assert list(phases) == ["resolve", "connect", "processing", "transfer"]
    assert phases["resolve"] == 0 and all(phases[p] > 0 for p in list(phases)[1:])
    assert result.latency_ns == sum(phases.values()) - phases["resolve"]


def test_each_attempt_opens_a_fresh_connection(http_server: HttpFaultServer) -> None:
    """The server keeps connections alive; only the probe can make the count rise."""
    results = run_probe(http.probe, "x", spec(http_server.url("/ok")), times=3)
    assert [r.ok for r in results] == [True, True, True]
    assert http_server.wait_connections(3) == 3
    assert http_server.wait_connections(4, timeout=0.2) == 3
    assert [r.headers.get("connection") for r in http_server.requests] == ["close"] * 3


def test_one_client_is_shared_per_tls_setting() -> None:
    async def clients() -> tuple[object, object, object]:
        env = ProbeEnv()
        try:
            first = await shared_client(env, "verify", None)
            again = await shared_client(env, "verify", None)
            other = await shared_client(env, "skip", None)
            return first, again, other
        finally:
            await env.aclose()

    first, again, other = asyncio.run(clients())
    assert first is again
    assert other is not first


def test_host_header_keeps_the_name_while_connecting_to_the_address(
    http_server: HttpFaultServer,
) -> None:
    url = http_server.url("/host", host="localhost")
    result = attempt(url, ip_version="4", expect_body=f"localhost:{http_server.port}")
    assert result.ok, result.detail
    assert result.detail["address"] == "127.0.0.1"
    assert isinstance(result.phases_ns, dict) and result.phases_ns["resolve"] > 0


def test_ipv6_loopback(http_servers: ServerFactory) -> None:
    server = http_servers("::1")
    result = attempt(server.url("/ok"), ip_version="6")
    assert result.ok, result.detail
    assert result.detail["address"] == "::1"


def test_user_agent_names_the_product_unless_configured(http_server: HttpFaultServer) -> None:
    assert attempt(http_server.url("/ok")).ok
    assert attempt(http_server.url("/ok"), headers={"user-agent": "probe/2"}).ok
    agents = [r.headers.get("user-agent") for r in http_server.requests]
    assert agents == ["slawitness", "probe/2"]


def test_https_url_on_a_plain_http_port_is_a_tls_error(http_server: HttpFaultServer) -> None:
    result = attempt(f"https://127.0.0.1:{http_server.port}/ok")
    assert result.error is ErrorClass.TLS
    assert result.detail["tls_verify"] == "verify"


def test_expected_status_other_than_2xx_is_ok(http_server: HttpFaultServer) -> None:
    assert attempt(http_server.url("/status/503"), expect_status=[503]).ok


def test_redirects_are_not_followed_by_default(http_server: HttpFaultServer) -> None:
    result = attempt(http_server.url("/redirect?to=/ok"))
    assert result.error is ErrorClass.HTTP_STATUS
    assert result.detail["status"] == 302


def test_followed_redirect_opens_a_connection_per_hop(http_server: HttpFaultServer) -> None:
    result = attempt(http_server.url("/redirect?to=/ok"), follow_redirects=True)
    assert result.ok, result.detail
    assert result.detail["redirects"] == 1
    assert http_server.wait_connections(2) == 2


# --- TLS ----------------------------------------------------------------------------------


def test_https_verified_with_a_private_ca_records_expiry(
    https_server: HttpFaultServer, tls_files: TlsFiles
) -> None:
    url = https_server.url("/ok", host="localhost")
    result = attempt(url, tls_ca=str(tls_files.ca_path), ip_version="4")
    assert result.ok, result.detail
    assert result.detail["tls_verify"] == "verify"
    expiry = int(tls_files.valid_not_after.timestamp()) * 1_000_000_000
    assert result.detail["cert_not_after_ns"] == expiry
    phases = result.phases_ns
    assert isinstance(phases, dict)
    assert list(phases) == ["resolve", "connect", "tls", "processing", "transfer"]
    assert phases["tls"] > 0


@pytest.mark.parametrize(
    ("cert", "host", "reason"),
    [
        ("self_signed", "localhost", "self-signed"),
        ("expired", "localhost", "expired"),
        ("wrong_name", "localhost", "mismatch"),
        ("wrong_name", None, "mismatch"),
    ],
)
def test_bad_certificates_are_tls_errors(
    http_servers: ServerFactory, tls_files: TlsFiles, cert: str, host: str | None, reason: str
) -> None:
    server = http_servers(ssl_context=getattr(tls_files, cert))
    result = attempt(server.url("/ok", host=host), tls_ca=str(tls_files.ca_path), ip_version="4")
    assert result.error is ErrorClass.TLS
    assert reason in str(result.detail["message"])
    assert server.requests == []  # nothing was sent to a server that failed verification


def test_skip_verification_accepts_self_signed_and_records_expiry(
    http_servers: ServerFactory, tls_files: TlsFiles
) -> None:
    server = http_servers(ssl_context=tls_files.self_signed)
    result = attempt(server.url("/ok"), tls_verify=False)
    assert result.ok, result.detail
    assert result.detail["tls_verify"] == "skip"
    assert result.detail["cert_not_after_ns"] == MAX_NS  # valid until 3000: clamped to int64


def test_expiry_of_an_expired_certificate_is_recorded_when_not_verifying(
    http_servers: ServerFactory, tls_files: TlsFiles
) -> None:
    server = http_servers(ssl_context=tls_files.expired)
    result = attempt(server.url("/ok"), tls_verify=False)
    assert result.ok, result.detail
    expiry = int(tls_files.expired_not_after.timestamp()) * 1_000_000_000
    assert result.detail["cert_not_after_ns"] == expiry


def test_matching_pin_accepts_a_self_signed_certificate(
    http_servers: ServerFactory, tls_files: TlsFiles
) -> None:
    server = http_servers(ssl_context=tls_files.self_signed)
    result = attempt(server.url("/ok"), tls_pin_sha256=fingerprint(tls_files.self_signed_der))
    assert result.ok, result.detail
    assert result.detail["tls_verify"] == "pin"


def test_wrong_pin_is_refused_before_any_secret_is_sent(
    http_servers: ServerFactory, tls_files: TlsFiles
) -> None:
    server = http_servers(ssl_context=tls_files.self_signed)
    result = attempt(
        server.url("/ok"),
        tls_pin_sha256="00" * 32,
        headers={"Authorization": TOKEN},
    )
    assert result.error is ErrorClass.TLS
    assert "tls_pin_sha256" in str(result.detail["message"])
    assert server.wait_connections(1) == 1
    assert server.requests == []


# --- faults -> error classes --------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "extra", "error"),
    [
        ("/status/500", {}, ErrorClass.HTTP_STATUS),
        ("/status/404", {"expect_status": [200, 204]}, ErrorClass.HTTP_STATUS),
        ("/wrong", {"expect_body": "ok"}, ErrorClass.CONTENT),
        ("/wrong", {"expect_body_regex": "^ok$"}, ErrorClass.CONTENT),
        ("/big/5000", {"max_body_bytes": 4096}, ErrorClass.CONTENT),
        ("/stream/300000", {"max_body_bytes": 100000}, ErrorClass.CONTENT),
        ("/reset", {}, ErrorClass.RESET),
        ("/close", {}, ErrorClass.RESET),
        ("/hang", {"timeout": "300ms"}, ErrorClass.TIMEOUT),
        ("/delay/2", {"timeout": "300ms"}, ErrorClass.TIMEOUT),
        ("/garbage", {}, ErrorClass.OTHER),
        ("/loop", {"follow_redirects": True}, ErrorClass.OTHER),
    ],
)
def test_server_faults_map_to_error_classes(
    http_server: HttpFaultServer, path: str, extra: dict[str, object], error: ErrorClass
) -> None:
    result = attempt(http_server.url(path), **extra)
    assert result.error is error, result.detail
    assert not result.ok
    assert result.detail["address"] == "127.0.0.1"
    if error in (ErrorClass.HTTP_STATUS, ErrorClass.CONTENT):
        assert isinstance(result.detail["status"], int)
        assert result.latency_ns is not None and result.latency_ns > 0
    else:
        assert result.latency_ns is None


def test_a_failed_hop_does_not_report_the_previous_hop_status(
    http_server: HttpFaultServer,
) -> None:
    target = f"http://127.0.0.1:{closed_port()}/ok"
    result = attempt(http_server.url(f"/redirect?to={target}"), follow_redirects=True)
    assert result.error is ErrorClass.REFUSED
    assert result.detail["redirects"] == 1
    assert "status" not in result.detail


def test_deadline_bounds_the_whole_attempt_not_each_hop(http_server: HttpFaultServer) -> None:
    """Two hops of 0.35 s each fit a 0.5 s timeout one by one, but not together."""
    url = http_server.url("/redirect?delay=0.35&to=/delay/0.35")
    result = attempt(url, follow_redirects=True, timeout="500ms")
    assert result.error is ErrorClass.TIMEOUT
    assert result.detail["redirects"] == 1


def test_small_body_within_the_limit_is_ok(http_server: HttpFaultServer) -> None:
    assert attempt(http_server.url("/big/4096"), max_body_bytes=4096).ok


def test_closed_port_is_refused() -> None:
    assert attempt(f"http://127.0.0.1:{closed_port()}/").error is ErrorClass.REFUSED


def test_no_route_is_unreachable(unreachable_address: str) -> None:
    result = attempt(f"http://{unreachable_address}/", timeout="1s")
    assert result.error is ErrorClass.UNREACHABLE


@pytest.mark.parametrize("host", ["bad..host", "-dash-.example", "x" * 64 + ".example"])
def test_a_host_no_resolver_could_answer_is_refused_at_load(host: str) -> None:
    """Probed, it would be recorded as the provider's `dns` failure, round after round."""
    with pytest.raises(ValidationError, match="not an IP address or host name"):
        HttpSpec.model_validate({"name": "web", "kind": "http", "url": f"http://{host}/"})


# --- secrets ------------------------------------------------------------------------------


def test_secrets_reach_the_server_but_never_the_result(http_server: HttpFaultServer) -> None:
    http_server.expect_auth = ("alice", PASSWORD)
    extra = {
        "basic_auth": {"username": "alice", "password": PASSWORD},
        "headers": {"X-Token": TOKEN},
    }
    good = attempt(http_server.url("/auth"), **extra)
    http_server.expect_auth = ("alice", "another-password")
    bad = attempt(http_server.url("/auth"), **extra)
    assert good.ok, good.detail
    assert bad.error is ErrorClass.HTTP_STATUS and bad.detail["status"] == 401
    assert http_server.requests[0].headers["x-token"] == TOKEN
    for result in (good, bad):
        text = repr(result) + str(result.detail)
        assert PASSWORD not in text and TOKEN not in text and "tok-0123" not in text


def test_secrets_do_not_follow_a_redirect_to_another_origin(
    http_servers: ServerFactory,
) -> None:
    first, second = http_servers(), http_servers()
    url = first.url(f"/redirect?to={second.url('/ok')}")
    extra = {"basic_auth": {"username": "a", "password": PASSWORD}, "headers": {"X-Token": TOKEN}}
    result = attempt(url, follow_redirects=True, **extra)
    assert result.ok, result.detail
    assert "authorization" in first.requests[0].headers
    assert "authorization" not in second.requests[0].headers
    assert "x-token" not in second.requests[0].headers


def test_secret_in_an_error_message_is_redacted() -> None:
    """A message built from an exception that quotes a secret is scrubbed before storing."""
    loaded = spec("http://127.0.0.1/", headers={"X-Token": TOKEN})
    error, message = http_exchange.classify(ValueError(f"bad header {TOKEN}"), 1.0)
    assert error is ErrorClass.OTHER
    assert TOKEN in message  # classify does not know the secrets; the probe redacts
    from collector.config.secrets import redact

    assert TOKEN not in redact(message, loaded.secrets())
