"""PAdES signatures and document timestamps on the PDFs the report writes.

The reader of a complaint gets the PDF, often without the bundle; what they can check with
the tools they have (Adobe Reader, `pdfsig`, `pyhanko sign validate`) is a PDF signature.
So a finished PDF is signed in place with the document certificate (ETSI.CAdES.detached,
PAdES B-T: the signature carries a timestamp from the first authority that answers, so its
signing time is not the signer's own word), and then every answering authority adds a
document timestamp (ETSI.RFC3161) over the whole signed file, so one authority's word (or
its later distrust) never decides when the report existed.

Each step is an incremental update: the bytes before it never change, so the embedded
files and PDF/A-3b metadata WeasyPrint wrote stay as they were, and the signature has no
visible appearance (no font to embed). Signing never blocks a report: an authority that
refuses, times out (each request bounded by `timeout`) or answers garbage is one failure
line in the outcome, and with none answering the PDF is still signed (B-B), saying it has
no trusted time.

pyHanko is imported inside the functions that use it, like WeasyPrint in `pdf.py`: it is
heavy, and only a report needs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization

from collector.config.model import Config
from collector.core.output_paths import replacing
from collector.proving.document_certificate import (
    CREATE_HINT,
    DocumentCertificateError,
    document_certificate_exists,
    load_document_certificate,
)
from collector.proving.tsa import TsaError

if TYPE_CHECKING:
    from asn1crypto import cms

SIGNATURE_FIELD = "slawitness"
"""The name of the signature field, as `pdfsig` lists it."""


@dataclass(frozen=True)
class DocumentSigner:
    """What signs the PDFs: the certificate (its fingerprint and subject are what the report
    prints), the issuers that came with it, and the key. Plain bytes, so a report's worker
    process can be handed one."""

    certificate_sha256: str
    subject: str
    not_after: str
    """When the certificate expires, ISO 8601 UTC."""
    certificate_der: bytes = field(repr=False)
    chain_der: tuple[bytes, ...] = field(repr=False)
    key_der: bytes = field(repr=False)
    """The private key, unencrypted PKCS#8 DER: never written anywhere by this module."""


@dataclass(frozen=True)
class SigningOutcome:
    """What `sign_pdf` did: whether the PDF is signed, the trusted times it now carries
    (the signature's own timestamp first, then each document timestamp), and one line per
    authority that did not answer."""

    signed: bool
    timestamps: list[dict[str, Any]]
    """Each `{"url", "gen_time", "kind"}`: kind `signature` or `document`."""
    failures: list[str]


def load_document_signer(config: Config) -> DocumentSigner | str:
    """The configured signer, or the one-line reason the PDFs will be unsigned."""
    documents = config.documents
    if not documents.sign:
        return "documents.sign is false in the config"
    if not document_certificate_exists(documents):
        where = documents.pkcs12 or documents.certificate
        return f"{where}: no document certificate yet (create one with: {CREATE_HINT})"
    try:
        loaded = load_document_certificate(documents)
    except DocumentCertificateError as exc:
        return str(exc)
    der = serialization.Encoding.DER
    return DocumentSigner(
        certificate_sha256=loaded.sha256,
        subject=loaded.subject,
        not_after=loaded.not_after.isoformat(timespec="seconds").replace("+00:00", "Z"),
        certificate_der=loaded.certificate.public_bytes(der),
        chain_der=tuple(c.public_bytes(der) for c in loaded.chain),
        key_der=loaded.key_pkcs8_der(),
    )


def authority_urls(config: Config) -> list[str]:
    """The timestamping authorities a report asks, in config order: those of
    `checkpoints.timestamping`, unless `documents.timestamp` is false."""
    stamping = config.checkpoints.timestamping
    if not config.documents.timestamp or stamping is None:
        return []
    return [authority.url for authority in stamping.sources]


def authority_roots(config: Config) -> dict[str, bytes]:
    """URL -> the PEM roots its answers must chain to, for the authorities that name them.
    A roots file that cannot be read is left out here: `check-config` and the checkpoint
    timestamps already report it."""
    stamping = config.checkpoints.timestamping
    roots: dict[str, bytes] = {}
    for authority in [] if stamping is None else stamping.sources:
        if authority.roots is not None:
            try:
                roots[authority.url] = authority.roots.read_bytes()
            except OSError:
                continue
    return roots


def signing_facts(config: Config, signer: DocumentSigner | str) -> dict[str, Any]:
    """What summary.json's `document_signing` says before the PDF is drawn (JSON-able)."""
    if isinstance(signer, str):
        return {"unsigned_because": signer}
    return {
        "certificate_sha256": signer.certificate_sha256,
        "subject": signer.subject,
        "not_after": signer.not_after,
        "authorities": authority_urls(config),
    }


def sign_pdf(
    path: Path,
    signer: DocumentSigner,
    authorities: Sequence[str],
    *,
    reason: str,
    location: str,
    timeout: float,
    roots: Mapping[str, bytes] | None = None,
) -> SigningOutcome:
    """Sign the PDF at `path` in place (through `NAME.partial`), timestamped by the first of
    `authorities` that answers, then add a document timestamp from each that answers.

    `roots` (URL -> PEM) are the certificates an authority's answers must chain to; an
    answer that does not is a failure, like no answer."""
    from pyhanko.sign import fields, signers

    pdf_signer = _pyhanko_signer(signer)
    meta = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason=reason,
        location=location,
    )
    with _pyhanko_quiet():
        signed, outcome = _signed(path.read_bytes(), pdf_signer, meta, authorities, timeout, roots)
    with replacing(path, replace=True) as stream:
        stream.write(signed)
    return outcome


def _signed(
    original: bytes,
    pdf_signer: Any,
    meta: Any,
    authorities: Sequence[str],
    timeout: float,
    roots: Mapping[str, bytes] | None,
) -> tuple[bytes, SigningOutcome]:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    failures: list[str] = []
    timestamps: list[dict[str, Any]] = []
    signed: bytes | None = None
    answering: list[str] = []
    tsa_failures = _tsa_failures()
    for url in authorities:
        stamper = _stamper(url, timeout, (roots or {}).get(url))
        try:
            out = io.BytesIO()
            writer = IncrementalPdfFileWriter(io.BytesIO(original))
            signers.sign_pdf(writer, meta, signer=pdf_signer, timestamper=stamper, output=out)
        except tsa_failures as exc:
            failures.append(failure_line(url, exc, timeout))
            continue
        signed = out.getvalue()
        timestamps.append({"url": url, "gen_time": stamper.gen_times[-1], "kind": "signature"})
        answering.append(url)
        break
    if signed is None:
        out = io.BytesIO()
        writer = IncrementalPdfFileWriter(io.BytesIO(original))
        signers.sign_pdf(writer, meta, signer=pdf_signer, output=out)
        signed = out.getvalue()
    later = [url for url in authorities if url not in answering and not _failed(url, failures)]
    for url in [*answering, *later]:
        name = f"timestamp {len(timestamps) + 1}"
        stamped, line = _document_timestamp(signed, url, name, timeout, (roots or {}).get(url))
        if line is not None:
            failures.append(line)
            continue
        assert stamped is not None
        signed, gen_time = stamped
        timestamps.append({"url": url, "gen_time": gen_time, "kind": "document"})
    return signed, SigningOutcome(signed=True, timestamps=timestamps, failures=failures)


@contextlib.contextmanager
def _pyhanko_quiet() -> Iterator[None]:
    """pyHanko logs each refused answer with its traceback; the outcome's failure lines
    already say it in one line each, so its loggers are held back while signing."""
    loggers = [logging.getLogger(name) for name in ("pyhanko", "pyhanko_certvalidator")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _failed(url: str, failures: Sequence[str]) -> bool:
    """Whether `url` already failed while signing: it is not asked a second time."""
    return any(line.startswith(f"{url}: ") for line in failures)


def _document_timestamp(
    pdf: bytes, url: str, field_name: str, timeout: float, roots_pem: bytes | None
) -> tuple[tuple[bytes, str] | None, str | None]:
    """(the PDF with a document timestamp from `url` added, its time) or the failure line."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    stamper = _stamper(url, timeout, roots_pem)
    out = io.BytesIO()
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        signers.PdfTimeStamper(stamper, field_name=field_name).timestamp_pdf(
            writer, "sha256", output=out
        )
    except _tsa_failures() as exc:
        return None, failure_line(url, exc, timeout)
    return (out.getvalue(), stamper.gen_times[-1]), None


def _pyhanko_signer(signer: DocumentSigner) -> Any:
    from asn1crypto import keys, x509
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    chain = [x509.Certificate.load(der) for der in signer.chain_der]
    return signers.SimpleSigner(
        signing_cert=x509.Certificate.load(signer.certificate_der),
        signing_key=keys.PrivateKeyInfo.load(signer.key_der),
        cert_registry=SimpleCertificateStore.from_certs(chain),
    )


class UntrustedAnswer(TsaError):
    """An authority's token that does not chain to the roots configured for it."""


def _stamper(url: str, timeout: float, roots_pem: bytes | None) -> Any:
    return _recording_stamper_class()(url, timeout=timeout, roots_pem=roots_pem)


def _recording_stamper_class() -> type[Any]:
    """pyHanko's HTTP timestamper, which also keeps each token's time and, given roots,
    refuses a token that does not chain to them (defined late: pyHanko loads late)."""
    from pyhanko.sign.timestamps import HTTPTimeStamper

    class RecordingStamper(HTTPTimeStamper):  # type: ignore[misc]
        def __init__(self, url: str, *, timeout: float, roots_pem: bytes | None) -> None:
            super().__init__(url, timeout=timeout)
            self.roots_pem = roots_pem
            self.gen_times: list[str] = []

        async def async_timestamp(
            self, message_digest: bytes, md_algorithm: str
        ) -> cms.ContentInfo:
            token = await super().async_timestamp(message_digest, md_algorithm)
            if self.roots_pem is not None:
                await _check_chains(token, self.roots_pem)
            self.gen_times.append(token_time(token))
            return token

    return RecordingStamper


def token_time(token: cms.ContentInfo) -> str:
    """The genTime of an RFC 3161 token, ISO 8601 UTC."""
    info = token["content"]["encap_content_info"]["content"].parsed
    when = info["gen_time"].native
    return str(when.isoformat(timespec="seconds").replace("+00:00", "Z"))


async def _check_chains(token: cms.ContentInfo, roots_pem: bytes) -> None:
    from asn1crypto import x509
    from cryptography import x509 as crypto_x509
    from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
    from pyhanko_certvalidator import ValidationContext

    try:
        roots = [
            x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
            for c in crypto_x509.load_pem_x509_certificates(roots_pem)
        ]
    except ValueError:
        raise UntrustedAnswer("its roots file holds no PEM certificate") from None
    context = ValidationContext(
        trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail"
    )
    info = token["content"]["encap_content_info"]["content"].parsed
    imprint = info["message_imprint"]["hashed_message"].native
    status = await validate_tst_signed_data(token["content"], context, lambda _alg: imprint)
    if not (status["intact"] and status["valid"] and status["trust_problem_indic"] is None):
        raise UntrustedAnswer("its answer does not chain to the configured roots")


def failure_line(url: str, exc: BaseException, timeout: float) -> str:
    """One line saying why `url` gave no timestamp, for the outcome and the report."""
    import aiohttp

    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, TimeoutError | aiohttp.ClientError):
        cause = cause.__cause__ or cause.__context__
    exc = cause or exc  # pyHanko wraps what went wrong in "Error while contacting ..."
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return f"{url}: timed out after {timeout:g} s"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"{url}: answered HTTP {exc.status}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"{url}: cannot connect ({exc.os_error.strerror or exc.os_error})"
    if isinstance(exc, UntrustedAnswer):
        return f"{url}: {exc}"
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{url}: no timestamp ({text[:200]})"


def _tsa_failures() -> tuple[type[BaseException], ...]:
    import aiohttp
    from pyhanko.sign.general import SigningError
    from pyhanko.sign.timestamps import TimestampRequestError

    return (
        OSError,
        TimeoutError,
        ValueError,
        TypeError,
        aiohttp.ClientError,
        TimestampRequestError,
        SigningError,
        UntrustedAnswer,
    )
