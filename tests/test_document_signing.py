"""The report's PDFs are signed and timestamped so that tools slawitness does not own accept
them: `pdfsig` (poppler), `pyhanko sign validate` and `openssl ts -verify`.

Every check here runs a real thing: a PDF/A-3b file from WeasyPrint, the openssl-ts
authority of tests/rig/tsa.py on loopback, a socket that accepts and never answers, the
certificates `init` writes. poppler 22.12 lists an ETSI.RFC3161 document timestamp but
cannot validate one, so the document timestamp's token is checked by `openssl ts -verify`
over the signed byte ranges, and by pyHanko's validator.
"""

from __future__ import annotations

import datetime
import hashlib
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12

from collector.config.loader import load_config
from collector.config.model import Config, Documents
from collector.proving.document_certificate import (
    DocumentCertificateError,
    create_document_certificate,
    issue_self_signed,
    load_document_certificate,
)
from reports.render.pdf_signing import (
    DocumentSigner,
    authority_urls,
    load_document_signer,
    sign_pdf,
    signing_facts,
)
from tests.clirun import slawitness, write_config
from tests.rig.tsa import LocalTsa

TARGET = {
    "name": "vps",
    "host": "127.0.0.1",
    "probes": [{"name": "port", "kind": "tcp", "port": 1}],
}


def _need(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        pytest.skip(f"{tool} is not installed")
    return found


def _config(folder: Path, documents: dict | None = None, tsa: str | None = None) -> Config:
    path = write_config(folder, [TARGET], vantage="fra1")
    data = yaml.safe_load(path.read_text())
    if documents is not None:
        data["documents"] = documents
    if tsa is not None:
        data["checkpoints"] = {"timestamping": {"url": tsa}}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_config(path)


@pytest.fixture
def signer(tmp_path: Path) -> Iterator[tuple[DocumentSigner, Path]]:
    """A signer from a certificate made the way `init` makes it, and that certificate."""
    config = _config(tmp_path)
    create_document_certificate(config.documents, config.vantage)
    loaded = load_document_signer(config)
    assert isinstance(loaded, DocumentSigner), loaded
    yield loaded, config.documents.certificate


def _pdf(path: Path) -> Path:
    import weasyprint

    html = "<html><head><title>SLA report</title></head><body><p>Uptime 99.2 %</p></body></html>"
    weasyprint.HTML(string=html).write_pdf(path, pdf_variant="pdf/a-3b")
    return path


def _pdfsig(path: Path) -> str:
    done = subprocess.run([_need("pdfsig"), str(path)], capture_output=True, text=True, check=False)
    return done.stdout + done.stderr


def _signatures(pdfsig_text: str) -> list[str]:
    return pdfsig_text.split("Signature #")[1:]


def test_a_signed_pdf_is_valid_for_pdfsig_and_a_changed_byte_is_not(
    tmp_path: Path, signer: tuple[DocumentSigner, Path]
) -> None:
    pdf = _pdf(tmp_path / "report.pdf")
    before = pdf.read_bytes()
    outcome = sign_pdf(pdf, signer[0], [], reason="SLA evidence", location="fra1", timeout=5)
    assert outcome.signed and outcome.timestamps == [] and outcome.failures == []
    after = pdf.read_bytes()
    assert after.startswith(before), "an incremental update: the PDF/A bytes stay as they were"
    report = _pdfsig(pdf)
    assert "Signature is Valid." in report and "ETSI.CAdES.detached" in report
    assert "slawitness collector fra1" in report and "Total document signed" in report
    assert not (tmp_path / "report.pdf.partial").exists()
    at = after.index(b"/Producer")
    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(after[:at] + b"/Producex" + after[at + len(b"/Producer") :])
    changed = _pdfsig(tampered)
    assert "Signature is Valid." not in changed
    assert "Signature is Invalid" in changed or "Digest Mismatch" in changed, changed


def test_a_timestamped_pdf_carries_both_and_outside_tools_accept_them(
    tmp_path: Path, signer: tuple[DocumentSigner, Path], local_tsa: LocalTsa
) -> None:
    pdf = _pdf(tmp_path / "report.pdf")
    roots = {local_tsa.url: local_tsa.roots_pem}
    outcome = sign_pdf(
        pdf, signer[0], [local_tsa.url], reason="SLA", location="fra1", timeout=5, roots=roots
    )
    assert outcome.failures == []
    assert [t["kind"] for t in outcome.timestamps] == ["signature", "document"]
    stamped = datetime.datetime.fromisoformat(outcome.timestamps[1]["gen_time"])
    assert abs(stamped - datetime.datetime.now(datetime.UTC)) < datetime.timedelta(minutes=5)
    report = _signatures(_pdfsig(pdf))
    assert len(report) == 2
    assert "Signature is Valid." in report[0] and "Not total document signed" in report[0]
    assert "slawitness test TSA" in report[1] and "Total document signed" in report[1]

    root = tmp_path / "tsa-root.pem"
    root.write_bytes(local_tsa.roots_pem)
    validate = [_need("pyhanko"), "sign", "validate", "--no-revocation-check"]
    validate += ["--trust", str(signer[1]), "--trust", str(root), "--pretty-print", str(pdf)]
    done = subprocess.run(validate, capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "The signature is judged VALID." in done.stdout, done.stdout
    assert "Signature timestamp token:" in done.stdout
    assert "The TSA certificate is trusted." in done.stdout
    _openssl_verifies_the_document_timestamp(pdf, root, local_tsa, tmp_path)


def _openssl_verifies_the_document_timestamp(
    pdf: Path, root: Path, tsa: LocalTsa, tmp_path: Path
) -> None:
    """The last signature's /Contents is an RFC 3161 token over its /ByteRange bytes."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    data = pdf.read_bytes()
    with pdf.open("rb") as stream:
        last = PdfFileReader(stream).embedded_signatures[-1]
        start, first, second, rest = last.sig_object["/ByteRange"]
        token = last.sig_object["/Contents"]
    assert last.sig_object["/SubFilter"] == "/ETSI.RFC3161"
    covered = tmp_path / "covered.bin"
    covered.write_bytes(data[start : start + first] + data[second : second + rest])
    (tmp_path / "token.der").write_bytes(token)
    verify = [_need("openssl"), "ts", "-verify", "-data", str(covered), "-in"]
    verify += [str(tmp_path / "token.der"), "-token_in", "-CAfile", str(root)]
    verify += ["-untrusted", str(tsa.folder / "tsa.pem")]
    done = subprocess.run(verify, capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "Verification: OK" in done.stdout, done.stderr
    covered.write_bytes(covered.read_bytes() + b" ")
    wrong = subprocess.run(verify, capture_output=True, text=True, check=False)
    assert wrong.returncode != 0, "the token is over these bytes, not any bytes"


@pytest.fixture
def hanging_url() -> Iterator[str]:
    """A TSA URL whose server accepts the connection and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/tsa"
    listener.close()


@pytest.mark.parametrize("fault", ["down", "hanging", "http 500", "garbage", "wrong roots"])
def test_an_authority_that_does_not_answer_leaves_a_signed_pdf_and_a_failure_line(
    tmp_path: Path,
    signer: tuple[DocumentSigner, Path],
    local_tsa: LocalTsa,
    hanging_url: str,
    fault: str,
) -> None:
    url, roots = local_tsa.url, None
    if fault == "down":
        local_tsa.stop()
    elif fault == "hanging":
        url = hanging_url
    elif fault == "http 500":
        local_tsa.fail_with(500)
    elif fault == "garbage":
        local_tsa.answer_with(b"not a timestamp", "application/timestamp-reply")
    else:
        roots = {url: signer[1].read_bytes()}  # a certificate that issued no TSA
    pdf = _pdf(tmp_path / "report.pdf")
    outcome = sign_pdf(pdf, signer[0], [url], reason="r", location="l", timeout=1.5, roots=roots)
    assert outcome.signed and outcome.timestamps == []
    assert len(outcome.failures) == 1 and outcome.failures[0].startswith(f"{url}: ")
    expected = {
        "down": "cannot connect",
        "hanging": "timed out after 1.5 s",  # a request is bounded by the timeout
        "http 500": "answered HTTP 500",
        "garbage": "no timestamp",
        "wrong roots": "does not chain to the configured roots",
    }[fault]
    assert expected in outcome.failures[0] and "\n" not in outcome.failures[0]
    report = _signatures(_pdfsig(pdf))
    assert len(report) == 1 and "Signature is Valid." in report[0]


def test_a_failing_authority_does_not_keep_the_next_from_stamping(
    tmp_path: Path, signer: tuple[DocumentSigner, Path], local_tsa: LocalTsa, hanging_url: str
) -> None:
    pdf = _pdf(tmp_path / "report.pdf")
    urls = [hanging_url, local_tsa.url, local_tsa.url + "/second"]
    outcome = sign_pdf(pdf, signer[0], urls, reason="r", location="l", timeout=1)
    assert [t["url"] for t in outcome.timestamps] == [urls[1], urls[1], urls[2]]
    assert outcome.failures == [f"{hanging_url}: timed out after 1 s"]
    assert len(_signatures(_pdfsig(pdf))) == 3


def test_signing_facts_say_who_signs_or_why_nobody_does(tmp_path: Path) -> None:
    config = _config(tmp_path, tsa="http://tsa.example.test/")
    missing = load_document_signer(config)
    assert isinstance(missing, str) and "no document certificate yet" in missing
    assert signing_facts(config, missing) == {"unsigned_because": missing}
    made = create_document_certificate(config.documents, config.vantage)
    signer = load_document_signer(config)
    assert isinstance(signer, DocumentSigner)
    facts = signing_facts(config, signer)
    assert facts["certificate_sha256"] == made.sha256 == signer.certificate_sha256
    assert facts["authorities"] == ["http://tsa.example.test/"]
    assert facts["subject"] == "O=slawitness,CN=slawitness collector fra1"
    assert signer.certificate_sha256 not in repr(signer.key_der) and "key_der" not in repr(signer)
    off = _config(tmp_path, {"sign": False, "timestamp": False}, tsa="http://tsa.example.test/")
    assert load_document_signer(off) == "documents.sign is false in the config"
    assert authority_urls(off) == []


def test_init_creates_the_certificate_keeps_it_and_check_config_prints_it(tmp_path: Path) -> None:
    config = tmp_path / "slawitness.yml"
    first = slawitness("init", "--config", str(config), "--no-timestamping")
    assert first.returncode == 0, first.stderr
    certificate = tmp_path / "slawitness-documents.crt"
    made = load_document_certificate(
        Documents(certificate=certificate, key=tmp_path / "slawitness-documents.key")
    )
    assert f"SHA-256 fingerprint {made.sha256}" in first.stdout
    assert (tmp_path / "slawitness-documents.key").stat().st_mode & 0o777 == 0o600
    pem = x509.load_pem_x509_certificate(certificate.read_bytes())
    usage = pem.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.content_commitment
    assert not pem.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    years = (pem.not_valid_after_utc - pem.not_valid_before_utc).days / 365
    assert 10 <= years < 10.1
    again = slawitness("init", "--config", str(config), "--force", "--no-timestamping")
    assert again.returncode == 0 and "keeping the document certificate" in again.stdout
    assert certificate.read_bytes() == pem.public_bytes(serialization.Encoding.PEM)
    check = slawitness("check-config", "--config", str(config))
    assert check.returncode == 0, check.stderr
    assert f"SHA-256 fingerprint {made.sha256}" in check.stdout
    assert "valid until 20" in check.stdout and "slawitness collector" in check.stdout


def test_init_key_only_adds_a_missing_certificate_to_an_existing_key(tmp_path: Path) -> None:
    config = write_config(tmp_path, [TARGET])
    assert slawitness("init", "--config", str(config), "--key-only").returncode == 0
    (tmp_path / "slawitness-documents.crt").unlink()
    (tmp_path / "slawitness-documents.key").unlink()
    warned = slawitness("check-config", "--config", str(config))
    assert "no document will be signed" in warned.stderr and "init --key-only" in warned.stderr
    added = slawitness("init", "--config", str(config), "--key-only")
    assert added.returncode == 0 and "SHA-256 fingerprint" in added.stdout, added.stderr
    assert "keeping the signing key" in added.stdout
    twice = slawitness("init", "--config", str(config), "--key-only")
    assert twice.returncode == 2 and "already exists" in twice.stderr


def _user_certificate(
    tmp_path: Path, *, days: int = 365
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    certificate = issue_self_signed(key, "user", now)
    if days != 365:
        certificate = (
            x509.CertificateBuilder()
            .subject_name(certificate.subject)
            .issuer_name(certificate.issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=2 * days))
            .not_valid_after(now - datetime.timedelta(days=days))
            .sign(key, hashes.SHA256())
        )
    return certificate, key


def test_a_users_pkcs12_with_the_right_and_the_wrong_passphrase(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    certificate, key = _user_certificate(tmp_path)
    bundle = pkcs12.serialize_key_and_certificates(
        b"me", key, certificate, None, serialization.BestAvailableEncryption(b"right horse")
    )
    (tmp_path / "me.p12").write_bytes(bundle)
    monkeypatch.setenv("DOC_PASS", "right horse")
    documents = {"pkcs12": "me.p12", "passphrase": "${DOC_PASS}"}
    config = _config(tmp_path, documents)
    signer = load_document_signer(config)
    assert isinstance(signer, DocumentSigner), signer
    fingerprint = hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()
    assert signer.certificate_sha256 == fingerprint
    pdf = _pdf(tmp_path / "report.pdf")
    sign_pdf(pdf, signer, [], reason="r", location="l", timeout=1)
    assert "Signature is Valid." in _pdfsig(pdf)
    monkeypatch.setenv("DOC_PASS", "wrong horse")
    wrong = load_document_signer(_config(tmp_path, documents))
    assert wrong == f"{tmp_path / 'me.p12'}: not a PKCS#12 file, or the wrong documents.passphrase"
    checked = slawitness("check-config", "--config", str(tmp_path / "slawitness.yml"))
    assert checked.returncode == 0 and "wrong documents.passphrase" in checked.stderr


@pytest.mark.parametrize("problem", ["not pem", "other key", "expired", "readable key"])
def test_a_users_pem_certificate_that_cannot_sign_is_one_line_naming_the_file(
    tmp_path: Path, problem: str
) -> None:
    certificate, key = _user_certificate(tmp_path, days=30 if problem == "expired" else 365)
    cert_path, key_path = tmp_path / "me.crt", tmp_path / "me.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    if problem == "not pem":
        cert_path.write_text("hello\n")
    if problem == "other key":
        key = ec.generate_private_key(ec.SECP256R1())
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o644 if problem == "readable key" else 0o600)
    documents = Documents(certificate=cert_path, key=key_path)
    with pytest.raises(DocumentCertificateError) as raised:
        load_document_certificate(documents, now=datetime.datetime(2026, 6, 1, tzinfo=datetime.UTC))
    message = str(raised.value)
    expected = {
        "not pem": f"{cert_path}: not a PEM certificate",
        "other key": f"{cert_path}: the key does not belong to the certificate",
        "expired": f"{cert_path}: the certificate expired on 2025-12-02",
        "readable key": f"{key_path}: the document signing key is readable by others",
    }[problem]
    assert message.startswith(expected) and "\n" not in message
    assert raised.value.exit_code == 2
