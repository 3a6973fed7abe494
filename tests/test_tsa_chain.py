"""Tokens from a TSA that embeds its chain, the way real authorities send them.

The local `chained_tsa` (tests/rig/tsa.py) is `openssl ts -reply` with an intermediate CA and
`certs`: its tokens carry signer, intermediate and root, in an order that is not DER's. The
order is read back with openssl itself, not with the code under test. Each verdict is held
against `openssl ts -verify`: what it accepts is accepted, what it refuses is refused with a
line naming what failed.
"""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import rfc3161_client
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from collector.proving.tsa import (
    TsaError,
    check_response,
    describe,
    send_request,
    timestamp_request,
)
from tests.rig.tsa import TSA_COMMON_NAME, LocalTsa, root_pem

DATA = b'{"seq": 77, "hash": "c0ffee"}: a checkpoint note to be stamped'


def _openssl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)


def wire_order(response: bytes, folder: Path) -> list[bytes]:
    """The DER certificates of the token in the order they were sent, as openssl lists them."""
    (folder / "reply.tsr").write_bytes(response)
    token = folder / "token.p7"
    done = _openssl(
        "ts", "-reply", "-in", str(folder / "reply.tsr"), "-token_out", "-out", str(token)
    )
    assert done.returncode == 0, done.stderr
    listed = _openssl("pkcs7", "-inform", "DER", "-in", str(token), "-print_certs")
    assert listed.returncode == 0, listed.stderr
    pems = x509.load_pem_x509_certificates(listed.stdout.encode())
    return [certificate.public_bytes(Encoding.DER) for certificate in pems]


def openssl_verifies(request: bytes, response: bytes, roots: bytes, folder: Path) -> bool:
    """`openssl ts -verify` of the answer against the request it names and the roots."""
    paths = {name: folder / name for name in ("query.tsq", "reply.tsr", "roots.pem")}
    for path, data in zip(paths.values(), (request, response, roots), strict=True):
        path.write_bytes(data)
    done = _openssl(
        "ts", "-verify", "-queryfile", str(paths["query.tsq"]), "-in", str(paths["reply.tsr"]),
        "-CAfile", str(paths["roots.pem"]),
    )  # fmt: skip
    return done.returncode == 0 and "Verification: OK" in done.stdout


def test_the_chained_tsa_sends_its_chain_out_of_der_order(
    chained_tsa: LocalTsa, tmp_path: Path
) -> None:
    request = timestamp_request(DATA)
    response = send_request(chained_tsa.url, request)
    sent = wire_order(response, tmp_path)
    assert len(sent) == 3, "signer, intermediate and root"
    assert x509.load_der_x509_certificate(sent[0]).subject.rfc4514_string() == (
        f"CN={TSA_COMMON_NAME}"
    )
    assert sent != sorted(sent), "a SET OF in DER order would be sorted by encoding"
    with pytest.raises(ValueError, match="InvalidSetOrdering"):
        rfc3161_client.decode_timestamp_response(response)  # what the workaround is for
    assert openssl_verifies(request, response, chained_tsa.roots_pem, tmp_path)


def test_a_token_carrying_its_chain_out_of_der_order_is_accepted(
    chained_tsa: LocalTsa, tmp_path: Path
) -> None:
    request = timestamp_request(DATA)
    response = send_request(chained_tsa.url, request)
    checked = check_response(request, response, DATA, roots_pem=chained_tsa.roots_pem)
    assert checked.verified_with_roots
    assert checked.tsa_name == f"CN={TSA_COMMON_NAME}"
    assert sorted(checked.certificates) == sorted(wire_order(response, tmp_path))
    assert checked.certificates[0] == wire_order(response, tmp_path)[0], "the signer first"
    assert describe(response) == dataclasses.replace(checked, verified_with_roots=False)
    assert check_response(request, response, DATA) == describe(response)


Triple = tuple[bytes, bytes, bytes]
Breakage = Callable[[bytes, bytes, LocalTsa], Triple]
"""(request, response, tsa) -> (request, response, roots): one way a token must fail."""


def _signature_flipped(request: bytes, response: bytes, tsa: LocalTsa) -> Triple:
    return request, response[:-1] + bytes([response[-1] ^ 0x01]), tsa.roots_pem


def _unrelated_root(request: bytes, response: bytes, tsa: LocalTsa) -> Triple:
    return request, response, root_pem("an unrelated root")


def _answer_reused(request: bytes, response: bytes, tsa: LocalTsa) -> Triple:
    return timestamp_request(DATA), response, tsa.roots_pem


def _answer_for_other_data(request: bytes, response: bytes, tsa: LocalTsa) -> Triple:
    other = send_request(tsa.url, timestamp_request(b"other evidence"))
    return request, other, tsa.roots_pem


REFUSALS = [
    pytest.param(_signature_flipped, "the token's signature does not verify", id="signature"),
    pytest.param(
        _unrelated_root, "the TSA's certificate does not chain to the given roots", id="cert"
    ),
    pytest.param(_answer_reused, "nonce does not match", id="nonce"),
    pytest.param(_answer_for_other_data, "the TSA's answer is for another hash", id="imprint"),
]


@pytest.mark.parametrize(("breakage", "fragment"), REFUSALS)
def test_a_bad_chained_token_is_refused_as_openssl_refuses_it_naming_what_failed(
    chained_tsa: LocalTsa, tmp_path: Path, breakage: Breakage, fragment: str
) -> None:
    request, response = (req := timestamp_request(DATA)), send_request(chained_tsa.url, req)
    request, response, roots = breakage(request, response, chained_tsa)
    assert not openssl_verifies(request, response, roots, tmp_path)
    with pytest.raises(TsaError) as caught:
        check_response(request, response, DATA, roots_pem=roots)
    text = str(caught.value)
    assert "\n" not in text and fragment in text, text
    assert "not an RFC 3161 response" not in text


def test_a_refusal_by_the_chained_tsa_names_its_status(chained_tsa: LocalTsa) -> None:
    sha512 = rfc3161_client.TimestampRequestBuilder(
        data=DATA, hash_algorithm=rfc3161_client.HashAlgorithm.SHA512
    ).build()
    response = send_request(chained_tsa.url, sha512.as_bytes())
    with pytest.raises(TsaError, match="TSA refused: Message digest algorithm is not supported"):
        check_response(sha512.as_bytes(), response, DATA)
