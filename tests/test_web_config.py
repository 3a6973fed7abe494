"""The `--web-config` file: loading, every refusal as one line, real TLS handshakes, basic auth."""

from __future__ import annotations

import base64
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt
import pytest
import trustme
from cryptography.hazmat.primitives import serialization
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.config.loader import ConfigError
from collector.prometheus.basic_auth import BasicAuthGate, challenge_headers
from collector.prometheus.web_config import WebConfig, load_web_config

ALICE_PASSWORD = "correct horse"
ALICE_HASH = bcrypt.hashpw(ALICE_PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
BOB_HASH = bcrypt.hashpw(b"bob's secret", bcrypt.gensalt(rounds=4, prefix=b"2a")).decode()


@dataclass(frozen=True)
class Pki:
    """A CA with a server leaf and a client leaf on disk, plus a CA nobody trusts."""

    folder: Path
    ca: trustme.CA
    client: trustme.LeafCert
    stranger: trustme.LeafCert


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    ca = trustme.CA()
    server = ca.issue_cert("localhost", "127.0.0.1")
    server.cert_chain_pems[0].write_to_path(str(tmp_path / "server.pem"))
    server.private_key_pem.write_to_path(str(tmp_path / "server.key"))
    ca.cert_pem.write_to_path(str(tmp_path / "clients-ca.pem"))
    client = ca.issue_cert("prometheus@example.test")
    stranger = trustme.CA().issue_cert("prometheus@example.test")
    return Pki(tmp_path, ca, client, stranger)


def write(folder: Path, text: str, name: str = "web.yml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


TLS = "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n"
MTLS = TLS + "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: clients-ca.pem\n"
USERS = f"basic_auth_users:\n  alice: '{ALICE_HASH}'\n  bob: '{BOB_HASH}'\n"


# --- valid files ---------------------------------------------------------------------------


def test_tls_only_resolves_paths_against_the_files_folder(
    pki: Pki, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    config = load_web_config(write(pki.folder, TLS))
    assert config.tls_server_config is not None
    assert config.tls_server_config.cert_file == pki.folder.resolve() / "server.pem"
    assert config.tls_server_config.min_version == "TLS12"
    assert config.basic_auth_users == {}
    assert not config.auth_gate().required
    assert config.auth_gate().allows(None)
    context = config.ssl_context()
    assert context is not None
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.verify_mode == ssl.CERT_NONE


def test_auth_only_has_no_tls_and_requires_credentials(tmp_path: Path) -> None:
    config = load_web_config(write(tmp_path, USERS))
    assert config.tls_server_config is None
    assert config.ssl_context() is None
    assert set(config.basic_auth_users) == {"alice", "bob"}
    gate = config.auth_gate()
    assert gate.required
    assert not gate.allows(None)
    assert gate.allows(basic("alice", ALICE_PASSWORD))
    assert ALICE_HASH not in repr(config)


def test_tls_auth_and_headers_together(pki: Pki) -> None:
    text = (
        MTLS
        + "  min_version: TLS13\n  prefer_server_cipher_suites: false\n"
        + "http_server_config:\n  http2: false\n  headers:\n"
        + "    x-frame-options: DENY\n    X-Content-Type-Options: nosniff\n"
        + "    X-XSS-Protection: ''\n"
        + USERS
    )
    config = load_web_config(write(pki.folder, text))
    assert config.http_server_config.headers == {
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
    }
    context = config.ssl_context()
    assert context is not None
    assert context.minimum_version == ssl.TLSVersion.TLSv1_3
    assert not context.options & ssl.OP_CIPHER_SERVER_PREFERENCE
    assert config.auth_gate().allows(basic("bob", "bob's secret"))


@pytest.mark.parametrize(
    ("auth_type", "with_ca", "mode"),
    [
        ("NoClientCert", False, ssl.CERT_NONE),
        ("RequestClientCert", False, ssl.CERT_NONE),
        ("RequestClientCert", True, ssl.CERT_OPTIONAL),
        ("VerifyClientCertIfGiven", True, ssl.CERT_OPTIONAL),
        ("RequireAnyClientCert", True, ssl.CERT_REQUIRED),
        ("RequireAndVerifyClientCert", True, ssl.CERT_REQUIRED),
    ],
)
def test_client_auth_types_map_onto_verify_modes_trusting_only_the_given_ca(
    pki: Pki, auth_type: str, with_ca: bool, mode: ssl.VerifyMode
) -> None:
    text = TLS + f"  client_auth_type: {auth_type}\n"
    if with_ca:
        text += "  client_ca_file: clients-ca.pem\n"
    context = load_web_config(write(pki.folder, text)).ssl_context()
    assert context is not None
    assert context.verify_mode == mode
    trusted = context.get_ca_certs()
    assert len(trusted) == (1 if mode != ssl.CERT_NONE else 0)  # never the system's CAs


# --- invalid files: one clean line naming the key ------------------------------------------

INVALID = [
    ("tls_server_config: {cert_file: server.pem}\n", "tls_server_config.key_file", "missing"),
    ("tls_config: {}\n", "tls_config", "unknown key"),
    (TLS + "  certfile: x.pem\n", "tls_server_config.certfile", "unknown key"),
    (TLS + "  client_auth_type: Always\n", "tls_server_config.client_auth_type", "'Always'"),
    ("basic_auth_users: {alice: hunter2}\n", "basic_auth_users.alice", "not a bcrypt hash"),
    (
        "tls_server_config: {cert_file: gone.pem, key_file: server.key}\n",
        "tls_server_config.cert_file",
        "file not found",
    ),
    (
        "tls_server_config: {cert_file: server.pem, key_file: gone.key}\n",
        "tls_server_config.key_file",
        "file not found",
    ),
    (
        TLS + "  client_auth_type: VerifyClientCertIfGiven\n",
        "tls_server_config.client_ca_file",
        "required when client_auth_type",
    ),
    (
        TLS + "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: nope.pem\n",
        "tls_server_config.client_ca_file",
        "file not found",
    ),
    (TLS + "  min_version: TLS10\n", "tls_server_config.min_version", "'TLS10'"),
    (
        TLS + "  min_version: TLS13\n  max_version: TLS12\n",
        "tls_server_config.max_version",
        "below min_version",
    ),
    (
        TLS + "  cipher_suites: [TLS_AES_128_GCM_SHA256]\n",
        "tls_server_config.cipher_suites",
        "not supported",
    ),
    (
        TLS + "  curve_preferences: [X25519]\n",
        "tls_server_config.curve_preferences",
        "not supported",
    ),
    (
        "tls_server_config: {cert: '-----BEGIN', key_file: server.key}\n",
        "tls_server_config.cert",
        "inline PEM",
    ),
    ("rate_limit: {interval: 1s, burst: 20}\n", "rate_limit", "not supported"),
    ("tls_server_config:\n", "tls_server_config", "empty"),
    ("basic_auth_users: {}\n", "basic_auth_users", "no users"),
    (f"basic_auth_users: {{'a:b': '{ALICE_HASH}'}}\n", "basic_auth_users", "contains ':'"),
    (
        f"basic_auth_users: {{x: '{ALICE_HASH.replace('$2b$', '$2x$')}'}}\n",
        "basic_auth_users.x",
        "not a bcrypt hash",
    ),
    (
        "http_server_config: {headers: {Server: nginx}}\n",
        "http_server_config.headers",
        "cannot be configured",
    ),
    (
        "http_server_config: {headers: {X-Frame-Options: allow-all}}\n",
        "http_server_config.headers",
        "deny or sameorigin",
    ),
    (
        'http_server_config: {headers: {Content-Security-Policy: "a\\r\\nSet-Cookie: x"}}\n',
        "http_server_config.headers",
        "control characters",
    ),
    ("http_server_config: {http3: true}\n", "http_server_config.http3", "unknown key"),
    ("- tls_server_config\n", "", "expected a mapping"),
]


@pytest.mark.parametrize(("text", "key", "problem"), INVALID)
def test_an_invalid_file_is_one_line_naming_the_key(
    pki: Pki, text: str, key: str, problem: str
) -> None:
    path = write(pki.folder, text)
    with pytest.raises(ConfigError) as caught:
        load_web_config(path)
    assert len(caught.value.lines) == 1, caught.value.lines
    line = caught.value.lines[0]
    assert line.startswith(f"{path}: {key}: " if key else f"{path}: "), line
    assert problem in line
    assert "Traceback" not in line


def test_a_duplicate_yaml_key_names_the_key_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, USERS + f"basic_auth_users:\n  carol: '{ALICE_HASH}'\n")
    with pytest.raises(ConfigError) as caught:
        load_web_config(path)
    assert caught.value.lines == [
        f"{path}:4:1: invalid YAML: duplicate key 'basic_auth_users' (line 4)"
    ]


@pytest.mark.parametrize("password", ["hunter2", "12345", "$2b$10$short"])
def test_a_plaintext_password_is_never_echoed(tmp_path: Path, password: str) -> None:
    path = write(tmp_path, f"basic_auth_users:\n  alice: {password}\n")
    with pytest.raises(ConfigError) as caught:
        load_web_config(path)
    assert caught.value.lines[0].startswith(f"{path}: basic_auth_users.alice: not a bcrypt hash")
    assert password not in str(caught.value)


def test_a_certificate_that_does_not_match_its_key_is_refused_at_load(pki: Pki) -> None:
    other = pki.ca.issue_cert("localhost")
    other.private_key_pem.write_to_path(str(pki.folder / "other.key"))
    path = write(pki.folder, TLS.replace("server.key", "other.key"))
    with pytest.raises(ConfigError) as caught:
        load_web_config(path)
    assert caught.value.lines[0].startswith(f"{path}: tls_server_config.cert_file: cannot load")
    assert "KEY_VALUES_MISMATCH" in caught.value.lines[0]


def test_an_encrypted_key_is_refused_at_load_without_prompting(pki: Pki) -> None:
    key = serialization.load_pem_private_key((pki.folder / "server.key").read_bytes(), None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )
    (pki.folder / "server.key").write_bytes(encrypted)
    path = write(pki.folder, TLS)
    with pytest.raises(ConfigError) as caught:
        load_web_config(path)
    assert caught.value.lines[0].startswith(f"{path}: tls_server_config.cert_file: cannot load")
    assert "encrypted key is not supported" in caught.value.lines[0]


def test_a_file_that_is_not_pem_is_refused_at_load(pki: Pki) -> None:
    (pki.folder / "clients-ca.pem").write_text("not a certificate\n")
    path = write(pki.folder, MTLS)
    with pytest.raises(ConfigError) as caught:
        load_web_config(path)
    assert caught.value.lines[0].startswith(f"{path}: tls_server_config.client_ca_file: cannot")


def test_a_missing_web_config_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_web_config(tmp_path / "absent.yml")
    assert caught.value.lines == [f"{tmp_path / 'absent.yml'}: web config file not found"]


def test_the_model_is_frozen(tmp_path: Path) -> None:
    config = load_web_config(write(tmp_path, USERS))
    with pytest.raises(ValueError, match="frozen"):
        config.basic_auth_users = {}  # type: ignore[misc]


# --- real TLS handshakes on loopback -------------------------------------------------------


@dataclass
class Outcome:
    """What the server side of one connection saw."""

    version: str | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def settled(self) -> Outcome:
        """This outcome once the server thread has finished with the connection."""
        assert self.done.wait(timeout=10), "the server thread did not finish"
        return self


@pytest.fixture
def serve_once() -> Iterator[Callable[[ssl.SSLContext], tuple[int, Outcome]]]:
    """Accepts one TLS connection on 127.0.0.1 with the given context and replies b"ok"."""
    threads: list[threading.Thread] = []
    listeners: list[socket.socket] = []

    def start(context: ssl.SSLContext) -> tuple[int, Outcome]:
        listener = socket.create_server(("127.0.0.1", 0))
        listener.settimeout(10)
        listeners.append(listener)
        outcome = Outcome()

        def serve() -> None:
            try:
                conn, _ = listener.accept()
                conn.settimeout(10)
                with context.wrap_socket(conn, server_side=True) as tls:
                    outcome.version = tls.version()
                    tls.sendall(b"ok")
            except (OSError, ssl.SSLError) as exc:
                outcome.error = exc
            finally:
                outcome.done.set()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        threads.append(thread)
        return listener.getsockname()[1], outcome

    yield start
    for thread in threads:
        thread.join(timeout=10)
    for listener in listeners:
        listener.close()


def exchange(port: int, client: ssl.SSLContext) -> tuple[str | None, bytes]:
    """(negotiated version, reply) seen by a client; a refused client gets no reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        try:
            with client.wrap_socket(raw, server_hostname="localhost") as tls:
                return tls.version(), tls.recv(16)
        except (OSError, ssl.SSLError):
            return None, b""


def trusting_client(pki: Pki) -> ssl.SSLContext:
    client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    client.load_verify_locations(cadata=pki.ca.cert_pem.bytes().decode())
    return client


def test_a_client_trusting_the_ca_completes_a_handshake_at_tls12_or_newer(
    pki: Pki, serve_once: Callable[[ssl.SSLContext], tuple[int, Outcome]]
) -> None:
    context = load_web_config(write(pki.folder, TLS)).ssl_context()
    assert context is not None
    port, outcome = serve_once(context)
    version, reply = exchange(port, trusting_client(pki))
    assert reply == b"ok"
    assert version in ("TLSv1.2", "TLSv1.3")
    assert outcome.settled().error is None


@pytest.mark.parametrize(
    ("server_limits", "client_max", "served"),
    [
        ("  max_version: TLS12\n", None, "TLSv1.2"),
        ("  min_version: TLS13\n", ssl.TLSVersion.TLSv1_2, None),
    ],
)
def test_version_limits_hold_in_a_real_handshake(
    pki: Pki,
    serve_once: Callable[[ssl.SSLContext], tuple[int, Outcome]],
    server_limits: str,
    client_max: ssl.TLSVersion | None,
    served: str | None,
) -> None:
    context = load_web_config(write(pki.folder, TLS + server_limits)).ssl_context()
    assert context is not None
    port, outcome = serve_once(context)
    client = trusting_client(pki)
    if client_max is not None:
        client.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        client.maximum_version = client_max
    version, _ = exchange(port, client)
    assert version == served
    assert (outcome.settled().error is None) == (served is not None)


def _client_with(pki: Pki, leaf: trustme.LeafCert | None) -> ssl.SSLContext:
    client = trusting_client(pki)
    if leaf is not None:
        leaf.configure_cert(client)
    return client


@pytest.mark.parametrize(
    ("who", "accepted"),
    [("none", False), ("client", True), ("stranger", False)],
)
def test_require_and_verify_client_cert_admits_only_certs_from_the_client_ca(
    pki: Pki,
    serve_once: Callable[[ssl.SSLContext], tuple[int, Outcome]],
    who: str,
    accepted: bool,
) -> None:
    context = load_web_config(write(pki.folder, MTLS)).ssl_context()
    assert context is not None
    port, outcome = serve_once(context)
    leaf = {"none": None, "client": pki.client, "stranger": pki.stranger}[who]
    _, reply = exchange(port, _client_with(pki, leaf))
    assert (reply == b"ok") is accepted
    if not accepted:
        assert isinstance(outcome.settled().error, ssl.SSLError)


# --- basic auth ----------------------------------------------------------------------------


@pytest.fixture
def gate() -> BasicAuthGate:
    return BasicAuthGate({"alice": ALICE_HASH, "bob": BOB_HASH})


@pytest.fixture
def bcrypt_calls(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Counts bcrypt checks (which hash each was against) while still running the real one."""
    calls: list[bytes] = []
    real = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        calls.append(hashed)
        return bool(real(password, hashed))

    monkeypatch.setattr(bcrypt, "checkpw", counting)
    return calls


def test_the_right_password_is_allowed_and_wrong_ones_are_refused(gate: BasicAuthGate) -> None:
    assert gate.required
    assert gate.allows(basic("alice", ALICE_PASSWORD))
    assert gate.allows(basic("bob", "bob's secret"))
    assert not gate.allows(basic("alice", "correct horse "))
    assert not gate.allows(basic("alice", "bob's secret"))
    assert not gate.allows(basic("alice", ""))


def test_an_unknown_user_is_refused_after_a_bcrypt_check(
    gate: BasicAuthGate, bcrypt_calls: list[bytes]
) -> None:
    assert not gate.allows(basic("mallory", ALICE_PASSWORD))
    assert len(bcrypt_calls) == 1
    assert bcrypt_calls[0] not in (ALICE_HASH.encode(), BOB_HASH.encode())
    assert bcrypt_calls[0].startswith(b"$2b$04$")  # as costly as the configured hashes


CAROL_PASSWORD = "carol's secret"
CAROL_HASH = bcrypt.hashpw(CAROL_PASSWORD.encode(), bcrypt.gensalt(rounds=5)).decode()
"""A user whose hash costs more than alice's and bob's (cost 5 against 4)."""


def _costs(calls: list[bytes]) -> list[int]:
    return [int(hashed[4:6]) for hashed in calls]


@pytest.mark.parametrize(
    ("user", "password"),
    [
        ("alice", "guess"),  # a wrong password, cost-4 user
        ("carol", "guess"),  # a wrong password, cost-5 user
        ("mallory", "guess"),  # no such user
        ("mallory", ALICE_PASSWORD),
        ("alice", CAROL_PASSWORD),
    ],
)
def test_every_refusal_does_the_same_bcrypt_work(
    bcrypt_calls: list[bytes], user: str, password: str
) -> None:
    """Hashes of different costs: a wrong password for a cheap user used to answer in 1/40 of
    the time an unknown user took, which told the two apart. Now every refusal checks once at
    each configured cost, in the same order."""
    gate = BasicAuthGate({"alice": ALICE_HASH, "bob": BOB_HASH, "carol": CAROL_HASH})
    assert not gate.allows(basic(user, password))
    assert _costs(bcrypt_calls) == [4, 5]
    real = {ALICE_HASH.encode(), BOB_HASH.encode(), CAROL_HASH.encode()}
    own = {"alice": ALICE_HASH, "carol": CAROL_HASH}.get(user)
    assert real.intersection(bcrypt_calls) == ({own.encode()} if own else set())


@pytest.mark.parametrize(
    ("user", "password"), [("alice", ALICE_PASSWORD), ("carol", CAROL_PASSWORD)]
)
def test_a_first_success_does_the_same_work_and_then_comes_from_the_cache(
    bcrypt_calls: list[bytes], user: str, password: str
) -> None:
    gate = BasicAuthGate({"alice": ALICE_HASH, "carol": CAROL_HASH})
    assert gate.allows(basic(user, password))
    assert _costs(bcrypt_calls) == [4, 5]
    assert gate.allows(basic(user, password))
    assert len(bcrypt_calls) == 2
    assert not gate.allows(basic(user, "guess"))  # a wrong password is checked in full
    assert _costs(bcrypt_calls) == [4, 5, 4, 5]


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Basic",
        "Basic ",
        base64.b64encode(f"alice:{ALICE_PASSWORD}".encode()).decode(),  # no scheme
        "Bearer " + base64.b64encode(f"alice:{ALICE_PASSWORD}".encode()).decode(),
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(f"alice:{ALICE_PASSWORD}".encode()).decode()[:-3],
        "Basic " + base64.b64encode(b"alice").decode(),  # no colon
        "Basic " + base64.b64encode(b"alice:\xff\xfe").decode(),  # not UTF-8
        "Basic " + base64.b64encode(b"alice:" + b"x" * 100).decode(),  # beyond bcrypt's 72
        "Basic " + base64.b64encode(b"alice:a\x00b").decode(),
        "Basic \u00e9\u00e9\u00e9\u00e9",
    ],
)
def test_malformed_headers_are_refused(gate: BasicAuthGate, header: str | None) -> None:
    assert not gate.allows(header)


def test_the_scheme_is_case_insensitive(gate: BasicAuthGate) -> None:
    assert gate.allows(basic("alice", ALICE_PASSWORD).replace("Basic", "bAsIc"))


def test_a_repeated_success_is_answered_from_the_cache(
    gate: BasicAuthGate, bcrypt_calls: list[bytes]
) -> None:
    header = basic("alice", ALICE_PASSWORD)
    assert gate.allows(header)
    assert gate.allows(header)
    assert gate.allows(header)
    assert len(bcrypt_calls) == 1
    assert not gate.allows(basic("alice", "guess"))  # a wrong password is checked anew
    assert len(bcrypt_calls) == 2
    assert gate.allows(header)
    assert len(bcrypt_calls) == 2


def test_failures_are_not_cached(gate: BasicAuthGate, bcrypt_calls: list[bytes]) -> None:
    for _ in range(3):
        assert not gate.allows(basic("alice", "guess"))
    assert len(bcrypt_calls) == 3


def test_concurrent_checks_agree(gate: BasicAuthGate, bcrypt_calls: list[bytes]) -> None:
    headers = [basic("alice", ALICE_PASSWORD), basic("bob", "bob's secret"), basic("bob", "no")]
    results: list[tuple[int, bool]] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        for _ in range(20):
            verdict = gate.allows(headers[index % 3])
            with lock:
                results.append((index % 3, verdict))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 180
    assert all(verdict == (which != 2) for which, verdict in results)
    assert len(bcrypt_calls) < 180  # the successes mostly came from the cache


def test_a_gate_without_users_allows_everything() -> None:
    gate = BasicAuthGate({})
    assert not gate.required
    assert gate.allows(None)
    assert gate.allows("Basic garbage")


def test_the_challenge_names_the_realm() -> None:
    assert challenge_headers() == {"WWW-Authenticate": 'Basic realm="slawitness"'}


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=80))
def test_no_header_text_raises_or_gets_in(header: str) -> None:
    gate = BasicAuthGate({"alice": ALICE_HASH})
    assert gate.allows(header) is False


SALT_AND_HASH = r"[./A-Za-z0-9]{21}[.Oeu][./A-Za-z0-9]{31}"


@settings(max_examples=60, deadline=None)
@given(st.sampled_from("aby"), st.from_regex(rf"\A{SALT_AND_HASH}\Z"))
def test_every_hash_accepted_at_load_is_one_bcrypt_can_check(variant: str, rest: str) -> None:
    hashed = f"$2{variant}$04${rest}"
    config = WebConfig.model_validate({"basic_auth_users": {"alice": hashed}})
    assert bcrypt.checkpw(b"anything", config.basic_auth_users["alice"].encode()) is False
