"""A local RFC 3161 timestamp authority: `openssl ts -reply` behind http.server on loopback.

A pytest plugin (listed in tests/conftest.py). `local_tsa` is built once per session: a
root CA and a TSA certificate (critical extendedKeyUsage timeStamping) made with
`cryptography`, an `openssl ts` config, and a threaded HTTP server on 127.0.0.1, port 0,
that answers each POSTed query with what `openssl ts -reply` makes of it. Every test that
uses it finds it up, answering, with a zero request count: `_local_tsa_reset` restores it
around each such test.

`chained_tsa` is the same authority as real ones are set up: its certificate is issued by an
intermediate CA under the root, and `certs` makes every token carry that chain after the
signer's certificate, in an order that is not DER's (SET OF sorted by encoding), as
`openssl ts`, Microsoft's and BouncyCastle's TSAs send it.

Faults on demand: `fail_with(status)` answers that HTTP status, `answer_with(body, type)`
answers fixed bytes, `delay` holds each answer back, and `stop()` closes the listening
socket so connections are refused (`start()` opens it again on the same port). The TSA
accepts SHA-256 imprints only, so a SHA-512 query gets a real `rejection` answer.
"""

from __future__ import annotations

import contextlib
import datetime
import http.server
import itertools
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.rig import rig_unavailable

POLICY = "1.3.6.1.4.1.99999.1"
"""The TSA policy OID the local TSA puts in every token (a private, made-up arc)."""
TSA_COMMON_NAME = "slawitness test TSA"
MAX_QUERY_BYTES = 64 * 1024

_CONFIG = """\
[ tsa ]
default_tsa = tsa_config

[ tsa_config ]
serial = {folder}/serial
crypto_device = builtin
signer_cert = {folder}/tsa.pem
signer_key = {folder}/tsa.key
signer_digest = sha256
default_policy = {policy}
other_policies = {policy}.2
digests = sha256
accuracy = secs:1, millisecs:500
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _validity(builder: x509.CertificateBuilder) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return builder.not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(
        now + datetime.timedelta(days=30)
    )


def make_root(common_name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A self-signed CA certificate and its key (P-256: fast to make)."""
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    return _validity(builder).sign(key, hashes.SHA256()), key


def root_pem(common_name: str) -> bytes:
    """The PEM certificate of a fresh root CA that signed nothing (an unrelated root)."""
    certificate, _key = make_root(common_name)
    return certificate.public_bytes(serialization.Encoding.PEM)


def _issued(
    root: x509.Certificate,
    root_key: ec.EllipticCurvePrivateKey,
    common_name: str,
    extensions: list[tuple[x509.ExtensionType, bool]],
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A certificate under `root` with a fresh key, its key ids and `extensions`."""
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
            critical=False,
        )
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return _validity(builder).sign(root_key, hashes.SHA256()), key


def issue_signing_certificate(
    root: x509.Certificate,
    root_key: ec.EllipticCurvePrivateKey,
    common_name: str,
    usages: list[x509.ObjectIdentifier],
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """An end-entity certificate under `root` for digital signatures, with a critical
    extendedKeyUsage of `usages` (none at all when empty)."""
    extensions: list[tuple[x509.ExtensionType, bool]] = [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (x509.KeyUsage(True, False, False, False, False, False, False, False, False), True),
    ]
    if usages:
        extensions.append((x509.ExtendedKeyUsage(usages), True))
    return _issued(root, root_key, common_name, extensions)


def issue_tsa_certificate(
    root: x509.Certificate, root_key: ec.EllipticCurvePrivateKey, common_name: str
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A TSA certificate under `root`: extendedKeyUsage timeStamping, critical (RFC 3161 2.3)."""
    return issue_signing_certificate(
        root, root_key, common_name, [ExtendedKeyUsageOID.TIME_STAMPING]
    )


def issue_intermediate(
    root: x509.Certificate, root_key: ec.EllipticCurvePrivateKey, common_name: str
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A CA certificate under `root` that may issue end-entity certificates only."""
    key_usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
    return _issued(root, root_key, common_name, [
        (x509.BasicConstraints(ca=True, path_length=0), True), (key_usage, True),
    ])  # fmt: skip


def write_tsa_files(folder: Path, *, chained: bool = False) -> bytes:
    """Write the TSA's certificate, key, serial file and `openssl ts` config into `folder`
    (the config is `folder/ts.cnf`); return the root CA's PEM certificate.

    `chained`: the TSA's certificate comes from an intermediate CA, and `certs` puts the
    intermediate and the root in every token after the signer's certificate, written in
    descending byte order so that the token's certificate set is never in DER order.
    """
    root, root_key = make_root("slawitness test TSA root")
    issuer, issuer_key = root, root_key
    if chained:
        issuer, issuer_key = issue_intermediate(root, root_key, "slawitness test TSA CA")
    certificate, key = issue_tsa_certificate(issuer, issuer_key, TSA_COMMON_NAME)
    (folder / "tsa.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "tsa.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (folder / "serial").write_text("01\n")
    config = _CONFIG.format(folder=folder, policy=POLICY)
    if chained:
        chain = sorted(
            (issuer, root), key=lambda c: c.public_bytes(serialization.Encoding.DER), reverse=True
        )
        (folder / "chain.pem").write_bytes(
            b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)
        )
        config += f"certs = {folder}/chain.pem\n"
    (folder / "ts.cnf").write_text(config)
    return root.public_bytes(serialization.Encoding.PEM)


class LocalTsa:
    """The TSA server: one `openssl ts -reply` per query, run one at a time (the serial
    file is not safe to share between concurrent runs)."""

    def __init__(self, folder: Path, openssl: str, *, chained: bool = False) -> None:
        self.folder, self.openssl = folder, openssl
        self.roots_pem = write_tsa_files(folder, chained=chained)
        self.requests = 0
        """The POSTs answered since the last reset, faults included."""
        self.delay = 0.0
        """Seconds to hold each answer back (cut short by `reset` and `stop`)."""
        self._status: int | None = None
        self._fixed: tuple[bytes, str, bool] | None = None
        self._numbers = itertools.count(1)
        """Names each query's and reply's files, for the session (kept for post-mortems)."""
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/tsa"

    @property
    def running(self) -> bool:
        return self._server is not None

    def fail_with(self, status: int | None) -> None:
        """Answer every POST with this HTTP status (None: answer normally again)."""
        self._status = status

    def answer_with(
        self, body: bytes | None, content_type: str = "", *, send_length: bool = True
    ) -> None:
        """Answer every POST with these bytes and type, status 200 (None: normally again);
        without `send_length`, no Content-Length: the body ends when the connection closes."""
        self._fixed = None if body is None else (body, content_type, send_length)

    def reset(self) -> None:
        """Normal answers, no delay, a zero count, and the server running."""
        self._status, self._fixed, self.delay, self.requests = None, None, 0.0, 0
        self._wake.set()
        if self.running:
            self._wake = threading.Event()
        else:
            self.start()

    def start(self) -> LocalTsa:
        """Listen on 127.0.0.1: the same port as before a `stop()`, else a fresh one."""
        self._wake = threading.Event()
        handler = type("Handler", (_TsaHandler,), {"tsa": self})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        # a short poll: shutdown() waits for it, and tests stop the TSA to simulate outages
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the listening socket: until `start()`, connections are refused."""
        if self._server is None:
            return
        self._wake.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def answer(self, content_type: str, query: bytes) -> tuple[int, str, bytes, bool]:
        """Status, content type, body, and whether to send its length, for one POST."""
        with self._lock:
            self.requests += 1
        self._wake.wait(self.delay)
        if self._status is not None:
            return self._status, "text/plain", b"failing on purpose\n", True
        if self._fixed is not None:
            body, fixed_type, send_length = self._fixed
            return 200, fixed_type, body, send_length
        if content_type != "application/timestamp-query":
            return 415, "text/plain", b"expected application/timestamp-query\n", True
        return self._run_openssl(query)

    def _run_openssl(self, query: bytes) -> tuple[int, str, bytes, bool]:
        with self._lock:
            number = next(self._numbers)
            query_path = self.folder / f"query-{number}.tsq"
            reply_path = self.folder / f"reply-{number}.tsr"
            query_path.write_bytes(query)
            command = [self.openssl, "ts", "-reply", "-config", str(self.folder / "ts.cnf")]
            command += ["-queryfile", str(query_path), "-out", str(reply_path)]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not reply_path.exists():
            return 500, "text/plain", f"openssl ts failed: {done.stderr}".encode(), True
        return 200, "application/timestamp-reply", reply_path.read_bytes(), True


class _TsaHandler(http.server.BaseHTTPRequestHandler):
    tsa: LocalTsa
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_QUERY_BYTES:
            self._send(413, "text/plain", b"query too large\n", True)
            return
        query = self.rfile.read(length)
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        answer = self.tsa.answer(content_type, query)
        with contextlib.suppress(ConnectionError):  # the client gave up: a timeout, a size cap
            self._send(*answer)

    def _send(self, status: int, content_type: str, body: bytes, send_length: bool) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        if send_length:
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: pytest's output is for the tests."""


def _started_tsa(tmp_path_factory: pytest.TempPathFactory, *, chained: bool) -> LocalTsa:
    openssl = shutil.which("openssl")
    if openssl is None:
        rig_unavailable("openssl(1) not found: the local TSA runs `openssl ts -reply`")
    folder = tmp_path_factory.mktemp("chained-tsa" if chained else "tsa")
    return LocalTsa(folder, openssl, chained=chained).start()


@pytest.fixture(scope="session")
def local_tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTsa]:
    """The session's TSA (making keys and certificates once); reset around each test."""
    tsa = _started_tsa(tmp_path_factory, chained=False)
    yield tsa
    tsa.stop()


@pytest.fixture(scope="session")
def chained_tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTsa]:
    """A TSA under an intermediate CA whose tokens carry the chain, not in DER order."""
    tsa = _started_tsa(tmp_path_factory, chained=True)
    yield tsa
    tsa.stop()


@pytest.fixture(autouse=True)
def _local_tsa_reset(request: pytest.FixtureRequest) -> Iterator[None]:
    """Before and after every test that uses a local TSA: normal answers, count zero, up."""
    names = [name for name in ("local_tsa", "chained_tsa") if name in request.fixturenames]
    tsas: list[LocalTsa] = [request.getfixturevalue(name) for name in names]
    for tsa in tsas:
        tsa.reset()
    yield
    for tsa in tsas:
        tsa.reset()
