"""RFC 3161 timestamps (collector/proving/tsa.py), by real round trips to the local TSA.

The TSA is `openssl ts -reply` behind a loopback HTTP server (tests/rig/tsa.py); nothing
is mocked. Broken answers are made by breaking real ones, byte by byte.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest
import rfc3161_client
from cryptography import x509

from collector.proving.tsa import (
    MAX_RESPONSE_BYTES,
    Timestamp,
    TsaError,
    check_response,
    describe,
    send_request,
    timestamp_request,
)
from tests.rig.tsa import POLICY, TSA_COMMON_NAME, LocalTsa, root_pem

DATA = b'{"seq": 1042, "hash": "9f2c"}: the evidence chain head at the end of a round'
SHA256_OID = "2.16.840.1.101.3.4.2.1"
TSR = "application/timestamp-reply"


class Stamp(NamedTuple):
    """One real exchange with the local TSA, in check_response's argument order."""

    request: bytes
    response: bytes
    data: bytes


def stamp(tsa: LocalTsa, data: bytes = DATA) -> Stamp:
    request = timestamp_request(data)
    return Stamp(request, send_request(tsa.url, request), data)


def assert_one_line(error: TsaError, *fragments: str) -> None:
    """Every TsaError is one line without a traceback, saying what went wrong."""
    text = str(error)
    assert "\n" not in text and "Traceback" not in text and "ErrorStack" not in text, text
    for fragment in fragments:
        assert fragment in text


def openssl_text(kind: str, der: bytes, folder: Path) -> str:
    """`openssl ts -query|-reply -text` of `der`: an opinion independent of rfc3161_client."""
    path = folder / f"{kind}.der"
    path.write_bytes(der)
    done = subprocess.run(
        ["openssl", "ts", f"-{kind}", "-in", str(path), "-text"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_request_asks_for_sha256_a_nonce_and_the_certificate(tmp_path: Path) -> None:
    first, second = timestamp_request(DATA), timestamp_request(DATA)
    text = openssl_text("query", first, tmp_path)
    assert "Hash Algorithm: sha256" in text
    assert "Certificate required: yes" in text
    assert "Nonce: 0x" in text
    imprint = "".join(
        line.split(" - ")[1][:47].replace("-", " ").replace(" ", "")
        for line in text.splitlines()
        if " - " in line
    )
    assert imprint == hashlib.sha256(DATA).hexdigest()
    assert first != second, "two requests for the same data must differ by their nonce"


def test_empty_data_is_stamped_too(local_tsa: LocalTsa) -> None:
    exchange = stamp(local_tsa, b"")
    checked = check_response(*exchange, roots_pem=local_tsa.roots_pem)
    assert checked.hashed == hashlib.sha256(b"").digest()


def test_granted_token_checks_out_with_roots(local_tsa: LocalTsa) -> None:
    exchange = stamp(local_tsa)
    checked = check_response(*exchange, roots_pem=local_tsa.roots_pem)

    now = datetime.datetime.now(datetime.UTC)
    assert checked.gen_time.utcoffset() == datetime.timedelta(0)
    assert abs(checked.gen_time - now) < datetime.timedelta(minutes=1)
    assert checked.hashed == hashlib.sha256(DATA).digest()
    assert checked.hash_algorithm == SHA256_OID
    assert checked.policy == POLICY
    assert checked.tsa_name == f"CN={TSA_COMMON_NAME}"
    assert checked.nonce is not None and checked.nonce > 0
    assert checked.accuracy_seconds == pytest.approx(1.5)
    assert checked.verified_with_roots
    assert checked.certificates, "certReq was set: the token carries the TSA's certificate"
    signer = x509.load_der_x509_certificate(checked.certificates[0])
    assert signer.subject.rfc4514_string() == f"CN={TSA_COMMON_NAME}"
    usage = signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert usage.critical and x509.ExtendedKeyUsageOID.TIME_STAMPING in usage.value
    assert local_tsa.requests == 1


def test_without_roots_the_same_facts_but_not_verified(local_tsa: LocalTsa) -> None:
    exchange = stamp(local_tsa)
    with_roots = check_response(*exchange, roots_pem=local_tsa.roots_pem)
    without = check_response(*exchange)
    assert without == dataclasses.replace(with_roots, verified_with_roots=False)


def test_serial_numbers_increase(local_tsa: LocalTsa) -> None:
    serials = [check_response(*stamp(local_tsa)).serial_number for _ in range(3)]
    assert serials == sorted(set(serials))


@pytest.mark.parametrize(
    "roots",
    [
        pytest.param(lambda own: own, id="own-root"),
        pytest.param(lambda own: root_pem("stranger") + own, id="stranger-then-own"),
        pytest.param(lambda own: own + own, id="own-twice"),
    ],
)
def test_any_bundle_holding_the_root_verifies(
    local_tsa: LocalTsa, roots: Callable[[bytes], bytes]
) -> None:
    checked = check_response(*stamp(local_tsa), roots_pem=roots(local_tsa.roots_pem))
    assert checked.verified_with_roots


Breakage = Callable[[Stamp, LocalTsa], Stamp]
"""Turns a real exchange into a broken one."""


def _intact(s: Stamp, tsa: LocalTsa) -> Stamp:
    return s


def _other_data(s: Stamp, tsa: LocalTsa) -> Stamp:
    return s._replace(data=b"other evidence")


def _answer_for_other_data(s: Stamp, tsa: LocalTsa) -> Stamp:
    return s._replace(response=stamp(tsa, b"other evidence").response)


def _answer_reused(s: Stamp, tsa: LocalTsa) -> Stamp:
    return s._replace(request=timestamp_request(s.data))


def _response(body: bytes) -> Breakage:
    return lambda s, tsa: s._replace(response=body)


ROOTS: dict[str, Callable[[LocalTsa], bytes]] = {
    "own": lambda tsa: tsa.roots_pem,
    "unrelated": lambda tsa: root_pem("unrelated root"),
    "not-pem": lambda tsa: b"-----BEGIN CERTIFICATE-----\nnot base64\n",
}

FAILURES = [
    pytest.param(_other_data, "own", "the request is for another hash", id="data-not-requested"),
    pytest.param(_answer_for_other_data, "own", "the TSA's answer is for another hash", id="hash"),
    pytest.param(_answer_reused, "own", "nonce does not match", id="nonce"),
    pytest.param(
        _intact,
        "unrelated",
        "the TSA's certificate does not chain to the given roots (unable to get local issuer",
        id="unrelated-root",
    ),
    pytest.param(_intact, "not-pem", "roots: no PEM certificate", id="roots-not-pem"),
    pytest.param(_response(b"garbage"), "own", "not an RFC 3161 response", id="garbage"),
    pytest.param(_response(b""), "own", "not an RFC 3161 response", id="empty"),
    pytest.param(
        lambda s, tsa: s._replace(response=s.response[:-1]),
        "own",
        "not an RFC 3161 response",
        id="truncated",
    ),
    pytest.param(
        lambda s, tsa: s._replace(response=s.response + b"\0"),
        "own",
        "not an RFC 3161 response",
        id="trailing-byte",
    ),
    pytest.param(
        lambda s, tsa: s._replace(response=s.request),
        "own",
        "not an RFC 3161 response",
        id="request-as-response",
    ),
    pytest.param(
        lambda s, tsa: s._replace(request=s.response),
        "own",
        "not an RFC 3161 request",
        id="response-as-request",
    ),
]


@pytest.mark.parametrize(("breakage", "roots", "fragment"), FAILURES)
def test_bad_answers_are_one_line_errors(
    local_tsa: LocalTsa, breakage: Breakage, roots: str, fragment: str
) -> None:
    broken = breakage(stamp(local_tsa), local_tsa)
    with pytest.raises(TsaError) as caught:
        check_response(*broken, roots_pem=ROOTS[roots](local_tsa))
    assert_one_line(caught.value, fragment)


@pytest.mark.parametrize(
    ("breakage", "line"),
    [
        pytest.param(lambda s: s.response[:-1], "ASN.1 ShortData", id="truncated"),
        pytest.param(lambda s: s.response + b"\0", "ASN.1 ExtraData", id="trailing-byte"),
        pytest.param(
            lambda s: s.request, "ASN.1 UnexpectedTag at RawTimeStampResp::status", id="request"
        ),
    ],
)
def test_an_unparsable_answer_names_what_the_parser_stumbled_on(
    local_tsa: LocalTsa, breakage: Callable[[Stamp], bytes], line: str
) -> None:
    """The parser's debug dump becomes its error kind and the field it was reading."""
    exchange = stamp(local_tsa)
    with pytest.raises(TsaError) as caught:
        check_response(exchange.request, breakage(exchange), exchange.data)
    assert str(caught.value) == f"not an RFC 3161 response ({line})"


def test_refusal_is_reported_with_the_tsa_status_text(local_tsa: LocalTsa) -> None:
    """The local TSA takes SHA-256 only: a SHA-512 query gets a real `rejection`."""
    sha512 = rfc3161_client.TimestampRequestBuilder(
        data=DATA, hash_algorithm=rfc3161_client.HashAlgorithm.SHA512
    ).build()
    response = send_request(local_tsa.url, sha512.as_bytes())
    with pytest.raises(TsaError) as caught:
        check_response(sha512.as_bytes(), response, DATA)
    assert_one_line(caught.value, "TSA refused: Message digest algorithm is not supported")
    with pytest.raises(TsaError) as caught:
        describe(response)
    assert_one_line(caught.value, "TSA refused")


def test_malformed_query_gets_a_refusal(local_tsa: LocalTsa) -> None:
    response = send_request(local_tsa.url, b"this is not a TimeStampReq")
    with pytest.raises(TsaError) as caught:
        check_response(timestamp_request(DATA), response, DATA)
    assert_one_line(caught.value, "TSA refused: Bad request format")


def test_without_certreq_the_token_cannot_be_verified_by_root_alone(local_tsa: LocalTsa) -> None:
    """Why timestamp_request sets certReq: a token without the TSA's certificate cannot be
    checked later with the root alone."""
    bare = rfc3161_client.TimestampRequestBuilder(
        data=DATA, hash_algorithm=rfc3161_client.HashAlgorithm.SHA256, cert_req=False
    ).build()
    response = send_request(local_tsa.url, bare.as_bytes())
    assert check_response(bare.as_bytes(), response, DATA).certificates == ()
    with pytest.raises(TsaError) as caught:
        check_response(bare.as_bytes(), response, DATA, roots_pem=local_tsa.roots_pem)
    assert_one_line(
        caught.value, "the TSA's certificate is neither in the token nor among the given roots"
    )


def _gen_time_moved(response: bytes) -> bytes:
    """The answer with one digit of its GeneralizedTime (the token's genTime) changed."""
    start = response.index(b"\x18\x0f") + 2  # tag and length of "YYYYMMDDhhmmssZ"
    digit = start + 13
    moved = str((int(chr(response[digit])) + 1) % 10).encode()
    return response[:digit] + moved + response[digit + 1 :]


def _signature_flipped(response: bytes) -> bytes:
    """The answer with its last byte, the end of the ECDSA signature, changed."""
    return response[:-1] + bytes([response[-1] ^ 0x01])


@pytest.mark.parametrize("forge", [_gen_time_moved, _signature_flipped])
def test_forgery_passes_without_roots_and_fails_with_them(
    local_tsa: LocalTsa, forge: Callable[[bytes], bytes]
) -> None:
    """What `verified_with_roots=False` means: the signature was not looked at."""
    exchange = stamp(local_tsa)
    forged = forge(exchange.response)
    assert forged != exchange.response
    unverified = check_response(exchange.request, forged, exchange.data)
    assert not unverified.verified_with_roots
    with pytest.raises(TsaError) as caught:
        check_response(exchange.request, forged, exchange.data, roots_pem=local_tsa.roots_pem)
    assert_one_line(caught.value, "the token's signature does not verify (signature failure)")


def test_gen_time_forgery_changes_the_reported_time(local_tsa: LocalTsa) -> None:
    exchange = stamp(local_tsa)
    honest = check_response(*exchange)
    forged = check_response(exchange.request, _gen_time_moved(exchange.response), exchange.data)
    assert forged.gen_time != honest.gen_time


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
def test_every_single_byte_corruption_is_caught_or_harmless(local_tsa: LocalTsa) -> None:
    """Flip each byte of a real answer: with roots, check_response raises TsaError (never
    anything else) or reports exactly what the intact answer says."""
    exchange = stamp(local_tsa)
    intact = check_response(*exchange, roots_pem=local_tsa.roots_pem)
    caught = 0
    for index in range(len(exchange.response)):
        broken = bytearray(exchange.response)
        broken[index] ^= 0x01
        try:
            got = check_response(
                exchange.request, bytes(broken), exchange.data, roots_pem=local_tsa.roots_pem
            )
        except TsaError as error:
            assert_one_line(error)
            caught += 1
        else:
            assert got == intact, f"byte {index} changed the verified timestamp"
    assert caught > len(exchange.response) * 0.9


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
def test_every_single_byte_corruption_without_roots_is_a_tsa_error_or_a_timestamp(
    local_tsa: LocalTsa,
) -> None:
    exchange = stamp(local_tsa)
    for index in range(len(exchange.response)):
        broken = bytearray(exchange.response)
        broken[index] ^= 0x80
        try:
            got = check_response(exchange.request, bytes(broken), exchange.data)
        except TsaError as error:
            assert_one_line(error)
        else:
            assert isinstance(got, Timestamp) and not got.verified_with_roots


def _down(tsa: LocalTsa) -> None:
    tsa.stop()


FAULT_TIMEOUT = 3.0
"""Long enough that a loaded machine still answers each fault in time; only the `timeout`
case waits it out (its authority holds every answer back longer)."""
HTTP_FAULTS = [
    pytest.param(lambda tsa: tsa.fail_with(500), "answered HTTP 500", 1, id="http-500"),
    pytest.param(lambda tsa: tsa.fail_with(404), "answered HTTP 404", 1, id="http-404"),
    pytest.param(lambda tsa: tsa.fail_with(302), "answered HTTP 302", 1, id="redirect"),
    pytest.param(_down, "cannot connect", 0, id="down"),
    pytest.param(
        lambda tsa: tsa.answer_with(b"<html>busy</html>", "text/html"),
        "answered content type text/html",
        1,
        id="content-type",
    ),
    pytest.param(
        lambda tsa: tsa.answer_with(b"\0" * 3, ""),
        "answered content type none",
        1,
        id="no-content-type",
    ),
    pytest.param(
        lambda tsa: tsa.answer_with(b"\0" * (MAX_RESPONSE_BYTES + 1), TSR),
        f"answer of {MAX_RESPONSE_BYTES + 1} bytes is over {MAX_RESPONSE_BYTES} bytes",
        1,
        id="too-big",
    ),
    pytest.param(
        lambda tsa: tsa.answer_with(b"\0" * (MAX_RESPONSE_BYTES + 1), TSR, send_length=False),
        f"answer is over {MAX_RESPONSE_BYTES} bytes",
        1,
        id="too-big-unannounced",
    ),
    pytest.param(
        lambda tsa: setattr(tsa, "delay", 3 * FAULT_TIMEOUT),
        f"no answer within {FAULT_TIMEOUT:g} s (waiting for the answer)",
        1,
        id="timeout",
    ),
]


@pytest.mark.parametrize(("fault", "fragment", "attempts"), HTTP_FAULTS)
def test_http_faults_are_one_line_errors_naming_the_url(
    local_tsa: LocalTsa, fault: Callable[[LocalTsa], None], fragment: str, attempts: int
) -> None:
    fault(local_tsa)
    with pytest.raises(TsaError) as caught:
        send_request(local_tsa.url, timestamp_request(DATA), timeout=FAULT_TIMEOUT)
    assert_one_line(caught.value, fragment)
    assert str(caught.value).startswith(f"TSA {local_tsa.url}: ")
    assert caught.value.url == local_tsa.url
    assert local_tsa.requests == attempts, "one attempt, no retries"


def test_tsa_back_up_after_an_outage(local_tsa: LocalTsa) -> None:
    url = local_tsa.url
    local_tsa.stop()
    with pytest.raises(TsaError):
        stamp(local_tsa)
    local_tsa.start()
    assert local_tsa.url == url
    assert check_response(*stamp(local_tsa), roots_pem=local_tsa.roots_pem).verified_with_roots


def test_invalid_url_is_a_tsa_error() -> None:
    with pytest.raises(TsaError) as caught:
        send_request("ftp://127.0.0.1/tsa", timestamp_request(DATA))
    assert_one_line(caught.value, "TSA ftp://127.0.0.1/tsa: ")


def test_describe_a_stored_response(local_tsa: LocalTsa, tmp_path: Path) -> None:
    exchange = stamp(local_tsa)
    checked = check_response(*exchange, roots_pem=local_tsa.roots_pem)
    stored = tmp_path / "round-1042.tsr"
    stored.write_bytes(exchange.response)

    described = describe(stored.read_bytes())
    assert described == dataclasses.replace(checked, verified_with_roots=False)
    fields = dict(
        line.split(": ", 1)
        for line in openssl_text("reply", stored.read_bytes(), tmp_path).splitlines()
        if ": " in line
    )
    assert int(fields["Serial number"], 16) == described.serial_number
    assert fields["Policy OID"] == described.policy == POLICY
    stamped_at = datetime.datetime.strptime(fields["Time stamp"], "%b %d %H:%M:%S %Y %Z")
    assert stamped_at.replace(tzinfo=datetime.UTC) == described.gen_time
    assert int(fields["Nonce"], 16) == described.nonce


def test_describe_refuses_garbage() -> None:
    with pytest.raises(TsaError) as caught:
        describe(b"\x30\x03\x02\x01\x00")
    assert_one_line(caught.value, "not an RFC 3161 response")
