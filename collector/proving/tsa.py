"""RFC 3161 trusted timestamps: proof from a third party that evidence existed at a time.

A provider can claim that evidence was written after the fact; a timestamp authority (TSA)
signing SHA-256 of the evidence settles that. This module builds the request, sends it,
and checks the answer; storing the raw answer is the caller's business, and `describe`
lists a stored one again.

Errors: every failure is a `TsaError` with a one-line message (`TSA <url>: <what>` when a
URL is involved). httpx's exceptions are translated in `send_request` and rfc3161_client's
in `check_response`; nothing else escapes.

rfc3161_client does the ASN.1 and the CMS signature check. Three of its gaps are filled
here: it has no public parser for requests (the nonce must be read back from the request
we sent); its parser refuses a certificate set not in DER order, as real TSAs send it
(`tsa_der` sorts a copy); and its verifier needs roots, so without roots the token's
signature is not checked (see `check_response`). A refused token is named by what failed:
the TSA's status, the nonce, the imprint, the signature or the TSA's certificate.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import re
import time
from typing import NamedTuple

import httpx
import rfc3161_client
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from rfc3161_client import _rust as rfc3161_rust

from collector.portable.errors import SlawitnessError
from collector.proving.tsa_der import with_sets_in_der_order

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPES = frozenset({"application/timestamp-reply", "application/timestamp-response"})
"""`-reply` is RFC 3161's; `-response` is what some TSAs sent under its drafts."""
MAX_RESPONSE_BYTES = 1 << 20
"""A timestamp with a certificate chain is a few KiB; more is not an answer to keep."""
SHA256_OID = "2.16.840.1.101.3.4.2.1"


class TsaError(SlawitnessError):
    """A timestamp could not be had or does not check out, printed on one line."""

    def __init__(self, problem: str, url: str = "") -> None:
        self.url, self.problem = url, " ".join(problem.split())
        super().__init__(f"TSA {url}: {self.problem}" if url else self.problem)


@dataclasses.dataclass(frozen=True)
class Timestamp:
    """What a granted timestamp says, for checks and for the report's listing."""

    gen_time: datetime.datetime
    """When the TSA signed, timezone-aware UTC."""
    serial_number: int
    tsa_name: str
    """The TSA's name from the token (an RFC 4514 string for a directory name), or ''."""
    policy: str
    """The TSA policy OID, dotted."""
    hash_algorithm: str
    """The message imprint's hash algorithm OID, dotted (SHA-256 for our requests)."""
    hashed: bytes
    """The message imprint: the digest the TSA signed."""
    nonce: int | None
    accuracy_seconds: float | None
    """How far gen_time may be from the true time, as the TSA states it; None if unstated."""
    certificates: tuple[bytes, ...]
    """The DER certificates carried in the token, the signer's first when it is among them."""
    verified_with_roots: bool
    """True only when `check_response` verified signature and chain against given roots."""


def timestamp_request(data: bytes) -> bytes:
    """The DER TimeStampReq for SHA-256(data), with a random nonce and certReq set.

    certReq makes the TSA put its certificate in the token, so a stored answer can be
    checked later with nothing but the TSA's root. The builder is called directly rather
    than through `.data()`, which refuses empty data although its digest is well defined.
    """
    builder = rfc3161_client.TimestampRequestBuilder(
        data=data, hash_algorithm=rfc3161_client.HashAlgorithm.SHA256, nonce=True, cert_req=True
    )
    return builder.build().as_bytes()


def send_request(url: str, request_der: bytes, *, timeout: float = 10.0) -> bytes:
    """POST `request_der` to the TSA at `url` and return the raw answer body, unchecked.

    One attempt, no redirects, no proxies or netrc from the environment (as the probes);
    `timeout` bounds the whole exchange. Anything but a 200 of a timestamp reply type,
    at most MAX_RESPONSE_BYTES long, is a TsaError naming the URL.
    """
    deadline = time.monotonic() + timeout
    headers = {"Content-Type": QUERY_TYPE, "Accept": "application/timestamp-reply"}
    try:
        with (
            httpx.Client(timeout=timeout, trust_env=False, follow_redirects=False) as client,
            client.stream("POST", url, content=request_der, headers=headers) as response,
        ):
            _check_answer_head(url, response)
            return _read_body(url, response, deadline)
    except httpx.TimeoutException as exc:
        raise TsaError(f"no answer within {timeout:g} s ({_phase(exc)})", url) from None
    except httpx.ConnectError as exc:
        raise TsaError(f"cannot connect ({exc or type(exc).__name__})", url) from None
    except httpx.HTTPError as exc:
        raise TsaError(f"HTTP exchange failed ({type(exc).__name__}: {exc})", url) from None
    except httpx.InvalidURL as exc:
        raise TsaError(f"invalid URL ({exc})", url) from None


def _check_answer_head(url: str, response: httpx.Response) -> None:
    if response.status_code != 200:
        raise TsaError(f"answered HTTP {response.status_code} {response.reason_phrase}", url)
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in REPLY_TYPES:
        shown = content_type or "none"
        raise TsaError(f"answered content type {shown}, not application/timestamp-reply", url)
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_RESPONSE_BYTES:
        raise TsaError(f"answer of {length} bytes is over {MAX_RESPONSE_BYTES} bytes", url)


def _read_body(url: str, response: httpx.Response, deadline: float) -> bytes:
    """The body, cut off at the size limit and at the deadline (httpx's timeouts are per
    read, so a server dripping bytes would otherwise hold the caller for ever)."""
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > MAX_RESPONSE_BYTES:
            raise TsaError(f"answer is over {MAX_RESPONSE_BYTES} bytes", url)
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout("deadline passed while reading the answer")
    return bytes(body)


def _phase(exc: httpx.TimeoutException) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return "connect"
    if isinstance(exc, httpx.WriteTimeout):
        return "sending the request"
    if isinstance(exc, httpx.PoolTimeout):
        return "waiting for a connection"
    return "waiting for the answer"


def check_response(
    request_der: bytes, response_der: bytes, data: bytes, *, roots_pem: bytes | None = None
) -> Timestamp:
    """The timestamp in `response_der` once it is shown to answer `request_der` for `data`.

    Always checked: both parse (strict DER, but for the order of the token's certificate
    set: see `_parse_response`); the status is `granted`; the request and the
    token's message imprint are SHA-256 and equal SHA-256(data); the token's nonce is the
    request's; if the request asked for certificates, the token carries the certificate
    its SignerInfo names.

    With `roots_pem` (one or more PEM CA certificates), rfc3161_client's Verifier also
    checks the token's CMS signature and the signer's chain up to one of those roots, with
    certificates valid at gen_time (not now), and that the signer's certificate has the
    critical extendedKeyUsage timeStamping.

    Without roots the token's signature is NOT checked: rfc3161_client verifies only up to
    a self-signed trust anchor (no partial chains), so it cannot verify against the leaf
    certificate the token carries. Such a Timestamp has `verified_with_roots=False`, and
    proves nothing until checked again with the TSA's root.

    Never checked: revocation (no CRL or OCSP is fetched), and whether gen_time is
    plausible against the local clock (that is the clock checks' business).
    """
    query = _parse_request(request_der)
    response = _parse_response(response_der)
    stamp = _timestamp(response, verified_with_roots=False)
    digest = hashlib.sha256(data).digest()
    _check_imprint("request", query.hash_algorithm, query.hashed, digest)
    _check_imprint("TSA's answer", stamp.hash_algorithm, stamp.hashed, digest)
    if stamp.nonce != query.nonce:
        raise TsaError("nonce does not match: the answer is for another request")
    if query.cert_req and _signer_certificate(response) is None:
        raise TsaError("the token does not carry the TSA's certificate that certReq asked for")
    if roots_pem is None:
        return stamp
    _verify_with_roots(query.parsed, response, digest, roots_pem)
    return dataclasses.replace(stamp, verified_with_roots=True)


def describe(response_der: bytes) -> Timestamp:
    """What a stored granted answer says, without any check (for listing in a report)."""
    return _timestamp(_parse_response(response_der), verified_with_roots=False)


class _Query(NamedTuple):
    """What check_response needs of the request, read once."""

    parsed: rfc3161_client.TimeStampRequest
    hash_algorithm: str
    hashed: bytes
    nonce: int | None
    cert_req: bool


def _parse_request(request_der: bytes) -> _Query:
    try:
        # rfc3161_client exports no request parser; its Rust module has one
        parsed = rfc3161_rust.parse_timestamp_request(request_der)
        imprint = parsed.message_imprint
        algorithm = imprint.hash_algorithm.dotted_string
        return _Query(parsed, algorithm, imprint.message, parsed.nonce, parsed.cert_req)
    except (ValueError, KeyError):
        raise TsaError("not an RFC 3161 request") from None


def _parse_response(response_der: bytes) -> rfc3161_client.TimeStampResponse:
    """The answer as rfc3161_client reads it: strict DER, except that a certificate set in
    the order real TSAs send it is read from a copy sorted into DER order (see tsa_der)."""
    try:
        return rfc3161_client.decode_timestamp_response(response_der)
    except ValueError as exc:
        error = exc
    if "InvalidSetOrdering" in str(error):
        reordered = with_sets_in_der_order(response_der)
        if reordered is not None:
            try:
                return rfc3161_client.decode_timestamp_response(reordered)
            except ValueError as exc:
                error = exc
    raise TsaError(f"not an RFC 3161 response ({_asn1_problem(error)})")


_ASN1_KIND = re.compile(r"kind: (\w+)")
_ASN1_PLACE = re.compile(r'"([^"]+)"')


def _asn1_problem(exc: ValueError) -> str:
    """What the parser stumbled on and where, from its debug dump: `ASN.1 ShortData`, or
    `ASN.1 UnexpectedTag at RawTimeStampResp::status`."""
    text = str(exc)
    kind = _ASN1_KIND.search(text)
    if kind is None:
        return text
    places = _ASN1_PLACE.findall(text)
    return f"ASN.1 {kind.group(1)}" + (f" at {places[-1]}" if places else "")


def _check_granted(response: rfc3161_client.TimeStampResponse) -> None:
    """Refuse all but `granted`, saying why the TSA did not simply grant (grantedWithMods
    too: the library's verifier refuses it as well)."""
    texts = "; ".join(response.status_string)
    if response.status == rfc3161_client.PKIStatus.GRANTED_WITH_MODS:
        raise TsaError(f"TSA granted only with modifications: {texts or 'none stated'}")
    if response.status != rfc3161_client.PKIStatus.GRANTED:
        try:
            name = rfc3161_client.PKIStatus(response.status).name.lower().replace("_", " ")
        except ValueError:
            name = f"unknown status {response.status}"
        raise TsaError(f"TSA refused: {texts or name}")


def _check_imprint(whose: str, algorithm: str, hashed: bytes, digest: bytes) -> None:
    if algorithm != SHA256_OID:
        raise TsaError(f"the {whose} is for another hash: not SHA-256 ({algorithm})")
    if hashed != digest:
        got, want = hashed.hex()[:16], digest.hex()[:16]
        raise TsaError(f"the {whose} is for another hash: sha256 {got}…, expected {want}…")


def _signer_certificate(response: rfc3161_client.TimeStampResponse) -> x509.Certificate | None:
    """The carried certificate that the (single) SignerInfo names by issuer and serial.

    Names and certificates are decoded lazily (by rfc3161_client and by cryptography), so
    a damaged one raises only when compared: it is then not the signer's.
    """
    unreadable = (ValueError, KeyError, x509.InvalidVersion)
    try:
        signers = list(response.signed_data.signer_infos)
        if len(signers) != 1:
            return None
        wanted = (signers[0].issuer, signers[0].serial_number)
        carried = list(response.signed_data.certificates)
    except unreadable:
        return None
    for der in carried:
        try:
            certificate = x509.load_der_x509_certificate(der)
            if (certificate.issuer, certificate.serial_number) == wanted:
                return certificate
        except unreadable:
            continue
    return None


def _verify_with_roots(
    request: rfc3161_client.TimeStampRequest,
    response: rfc3161_client.TimeStampResponse,
    digest: bytes,
    roots_pem: bytes,
) -> None:
    try:
        roots = x509.load_pem_x509_certificates(roots_pem)
    except ValueError:
        raise TsaError("roots: no PEM certificate could be read") from None
    builder = rfc3161_client.VerifierBuilder.from_request(request)
    for root in {root.public_bytes(Encoding.DER): root for root in roots}.values():
        builder = builder.add_root_certificate(root)  # it refuses duplicates, hence the dict
    try:
        builder.build().verify(response, digest)
    except (rfc3161_client.VerificationError, ValueError, KeyError, x509.InvalidVersion) as exc:
        raise TsaError(_verification_problem(exc)) from None


_OPENSSL_ERROR = re.compile(r'reason: "([^"]*)"[^}]*?(?:data: "([^"]*)")?\s*\}')
_SIGNATURE_REASONS = frozenset({"signature failure", "digest failure"})


def _verification_problem(exc: Exception) -> str:
    """One line naming what failed: the signature, or the TSA's certificate (its chain to
    the roots, or its fitness for timestamping), with the library's reason.

    The verifier's error may embed a dump of OpenSSL's error stack, whose last entry is the
    outermost: its reason, and the X.509 verify error it carries for a chain problem.
    """
    text = " ".join(str(exc).split())
    errors = _OPENSSL_ERROR.findall(text)
    if errors:
        reason, data = errors[-1]
        if reason in _SIGNATURE_REASONS:
            return f"the token's signature does not verify ({reason})"
        if reason == "certificate verify error":
            detail = data.removeprefix("Verify error: ") or reason
            return f"the TSA's certificate does not chain to the given roots ({detail})"
        if reason == "signer certificate not found":
            return "the TSA's certificate is neither in the token nor among the given roots"
        return f"the token does not verify against the given roots ({data or reason})"
    if "EKU" in text:
        return f"the TSA's certificate is not fit for timestamping ({text})"
    if "certificate" in text.lower():
        return f"the TSA's certificate is missing or not the signer's ({text})"
    return f"the token does not verify against the given roots ({text})"


def _timestamp(
    response: rfc3161_client.TimeStampResponse, *, verified_with_roots: bool
) -> Timestamp:
    """The fields of a granted answer's token. rfc3161_client decodes them lazily, on
    access, and a damaged field raises ValueError or KeyError only then: this is the
    boundary for those."""
    _check_granted(response)
    try:
        return _read_token(response, verified_with_roots=verified_with_roots)
    except (ValueError, KeyError) as exc:
        problem = f"unreadable token ({type(exc).__name__}: {exc})"
        raise TsaError(f"not an RFC 3161 response: {problem}") from None


def _read_token(
    response: rfc3161_client.TimeStampResponse, *, verified_with_roots: bool
) -> Timestamp:
    info = response.tst_info
    gen_time = info.gen_time
    if gen_time.tzinfo is None:
        gen_time = gen_time.replace(tzinfo=datetime.UTC)
    signer = _signer_certificate(response)
    first = (signer.public_bytes(Encoding.DER),) if signer is not None else ()
    # the library returns a set: the order is made stable here
    others = tuple(sorted(set(response.signed_data.certificates) - set(first)))
    return Timestamp(
        gen_time=gen_time.astimezone(datetime.UTC),
        serial_number=info.serial_number,
        tsa_name=_tsa_name(info),
        policy=info.policy.dotted_string,
        hash_algorithm=info.message_imprint.hash_algorithm.dotted_string,
        hashed=info.message_imprint.message,
        nonce=info.nonce,
        accuracy_seconds=_accuracy_seconds(info),
        certificates=first + others,
        verified_with_roots=verified_with_roots,
    )


def _tsa_name(info: rfc3161_client.TimeStampTokenInfo) -> str:
    """The TSA's name, informative only: '' when absent or in a form the library cannot
    read (it raises ValueError or KeyError for those), rather than refusing the token."""
    try:
        # typed as GeneralName, but None when the token has no tsa field
        name: x509.GeneralName | None = info.name
    except (ValueError, KeyError):
        return ""
    if name is None:
        return ""
    if isinstance(name, x509.DirectoryName):
        return name.value.rfc4514_string()
    return str(name.value)


def _accuracy_seconds(info: rfc3161_client.TimeStampTokenInfo) -> float | None:
    # typed as Accuracy, but None when the token states none
    accuracy: rfc3161_client.Accuracy | None = info.accuracy
    if accuracy is None:
        return None
    return (accuracy.seconds or 0) + (accuracy.millis or 0) / 1e3 + (accuracy.micros or 0) / 1e6
