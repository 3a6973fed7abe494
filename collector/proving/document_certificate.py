"""The certificate the report's PDFs are signed with: made by `init`, or one the user has.

A checkpoint's Ed25519 signature convinces someone who runs verify.py; the reader of a
complaint opens the PDF in Adobe Reader or `pdfsig` instead, which check PAdES signatures
made with an X.509 certificate. So the collector's key owner gets a certificate of their
own: self-issued (no authority vouches for it, and the report does not pretend one does),
identified by the SHA-256 fingerprint of its DER, which the report and the letter print so
that a reader can compare it with the one in the PDF's signature panel. A user whose company
or a certificate authority issued them a signing certificate names it in the config instead
(PEM certificate and key, or a PKCS#12 file with its passphrase), and the same checks hold:
the key must match the certificate and the certificate must be valid today.

Only `cryptography` here (the collector side, no pyHanko): the PDF is signed on the report
side, from the `DocumentCertificate` this module loads.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from collector.config.model import Documents
from collector.core.bounded_read import SMALL_FILE_LIMIT, read_bounded
from collector.core.key_files import create_private_file, read_key_file
from collector.core.output_paths import OutputPathError, write_text
from collector.portable.errors import UsageError

VALID_YEARS = 10
"""How long a self-issued certificate is valid: longer than any claim takes to settle."""
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.4.1.311.10.3.12")
"""Microsoft's document-signing purpose, the one Adobe Reader looks for; emailProtection is
listed beside it because older validators know only that one for signed documents."""
CREATE_HINT = "slawitness init --key-only"
SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
"""The key types pyHanko signs PDFs with."""


class DocumentCertificateError(UsageError):
    """The document certificate or its key cannot be used (one line naming the file)."""


@dataclass(frozen=True)
class DocumentCertificate:
    """A signing certificate, its key and the issuers that came with it, checked together."""

    certificate: x509.Certificate
    key: SigningKey
    chain: tuple[x509.Certificate, ...]
    source: Path
    """The file it was read from (the certificate, or the PKCS#12 file), for messages."""

    @property
    def sha256(self) -> str:
        """The fingerprint the report prints: SHA-256 of the certificate's DER, lowercase hex."""
        return hashlib.sha256(self.certificate.public_bytes(serialization.Encoding.DER)).hexdigest()

    @property
    def subject(self) -> str:
        return self.certificate.subject.rfc4514_string()

    @property
    def not_after(self) -> datetime.datetime:
        return self.certificate.not_valid_after_utc

    def key_pkcs8_der(self) -> bytes:
        """The private key as unencrypted PKCS#8 DER, the form pyHanko's signer loads."""
        return self.key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def _subject(vantage: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"slawitness collector {vantage}"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "slawitness"),
        ]
    )


def issue_self_signed(
    key: ec.EllipticCurvePrivateKey, vantage: str, now: datetime.datetime
) -> x509.Certificate:
    """A certificate for `key` that names the vantage and is fit for signing documents only
    (no CA, critical key usage), valid from a minute before `now` for `VALID_YEARS`."""
    name = _subject(vantage)
    public = key.public_key()
    not_before = now - datetime.timedelta(minutes=1)  # a reader's clock a little behind ours
    usage = x509.KeyUsage(True, True, False, False, False, False, False, False, False)
    purposes = [ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING]
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + datetime.timedelta(days=365 * VALID_YEARS + 2))
        .add_extension(usage, critical=True)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(purposes), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )
    return builder.sign(key, hashes.SHA256())


def create_document_certificate(documents: Documents, vantage: str) -> DocumentCertificate:
    """A new P-256 key (0600) and its self-issued certificate at the configured paths; the
    key file is made first and exclusively, so an existing key is never replaced."""
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = issue_self_signed(key, vantage, datetime.datetime.now(datetime.UTC))
    try:
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        create_private_file(
            documents.key, pem.decode("ascii"), "document signing key", DocumentCertificateError
        )
        text = certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
        write_text(documents.certificate, text, replace=False, hint=None)
    except OutputPathError as exc:
        raise DocumentCertificateError(str(exc)) from None
    except OSError as exc:
        where = documents.certificate
        raise DocumentCertificateError(f"{where}: cannot write the certificate: {exc}") from None
    return DocumentCertificate(certificate, key, (), documents.certificate)


def document_certificate_exists(documents: Documents) -> bool:
    """Whether the config names a certificate that is there (it may still be unusable)."""
    if documents.pkcs12 is not None:
        return documents.pkcs12.exists()
    return documents.certificate.exists() or documents.key.exists()


def load_document_certificate(
    documents: Documents, now: datetime.datetime | None = None
) -> DocumentCertificate:
    """The configured certificate and key, checked: they parse, belong together, and the
    certificate is valid at `now` (default: the current time)."""
    loaded = _from_pem(documents) if documents.pkcs12 is None else _from_pkcs12(documents)
    _check(loaded, now or datetime.datetime.now(datetime.UTC))
    return loaded


def _read(path: Path, what: str) -> bytes:
    try:
        return read_bounded(path, SMALL_FILE_LIMIT)
    except FileNotFoundError:
        raise DocumentCertificateError(
            f"{path}: no {what} (create one with: {CREATE_HINT})"
        ) from None
    except OSError as exc:
        raise DocumentCertificateError(f"{path}: cannot read the {what}: {exc}") from None


def _from_pem(documents: Documents) -> DocumentCertificate:
    path = documents.certificate
    data = _read(path, "document certificate")
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise DocumentCertificateError(f"{path}: not a PEM certificate") from None
    text = read_key_file(
        documents.key, "document signing key", CREATE_HINT, DocumentCertificateError
    )
    try:
        key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
    except (ValueError, TypeError) as exc:
        why = (
            "it is encrypted (use a pkcs12 file with a passphrase)"
            if "encrypted" in str(exc)
            else "not a PEM private key"
        )
        raise DocumentCertificateError(f"{documents.key}: {why}") from None
    return DocumentCertificate(
        certificates[0], _signing_key(key, documents.key), tuple(certificates[1:]), path
    )


def _from_pkcs12(documents: Documents) -> DocumentCertificate:
    assert documents.pkcs12 is not None
    path = documents.pkcs12
    data = _read(path, "PKCS#12 file")
    secret = documents.passphrase
    passphrase = None if secret is None else secret.reveal().encode("utf-8")
    try:
        key, certificate, chain = pkcs12.load_key_and_certificates(data, passphrase)
    except ValueError:
        raise DocumentCertificateError(
            f"{path}: not a PKCS#12 file, or the wrong documents.passphrase"
        ) from None
    if key is None or certificate is None:
        raise DocumentCertificateError(f"{path}: the PKCS#12 file holds no key and certificate")
    return DocumentCertificate(certificate, _signing_key(key, path), tuple(chain), path)


def _signing_key(key: object, path: Path) -> SigningKey:
    if isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        return key
    kind = "Ed448" if isinstance(key, ed448.Ed448PrivateKey) else type(key).__name__
    raise DocumentCertificateError(f"{path}: a {kind} key cannot sign PDFs (use ECDSA or RSA)")


def _public_der(key: object) -> bytes:
    assert hasattr(key, "public_bytes")
    der: bytes = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return der


def _check(loaded: DocumentCertificate, now: datetime.datetime) -> None:
    certificate = loaded.certificate
    if _public_der(loaded.key.public_key()) != _public_der(certificate.public_key()):
        raise DocumentCertificateError(
            f"{loaded.source}: the key does not belong to the certificate"
        )
    if now > certificate.not_valid_after_utc:
        expired = certificate.not_valid_after_utc.date().isoformat()
        raise DocumentCertificateError(f"{loaded.source}: the certificate expired on {expired}")
    if now < certificate.not_valid_before_utc:
        start = certificate.not_valid_before_utc.isoformat(timespec="seconds")
        raise DocumentCertificateError(
            f"{loaded.source}: the certificate is not valid before {start}"
        )
