"""Whose certificate signed a token, and whether it may sign timestamps (collector/proving/tsa.py).

RFC 3161 2.3: a TSA's certificate carries a critical extendedKeyUsage of timeStamping
alone. `openssl ts -reply` refuses to sign with any other, so a token from an unfit
certificate is made the way a misconfigured authority would make it: the local TSA's
genuine TSTInfo (for our request, nonce and hash) signed again by `openssl cms` with a
certificate of our own, and wrapped in a granted TimeStampResp. The same re-signing with a
fit certificate is accepted, so the refusal is the certificate's alone.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import rfc3161_client
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from collector.proving.tsa import TsaError, check_response, send_request, timestamp_request
from tests.rig.tsa import TSA_COMMON_NAME, LocalTsa, issue_signing_certificate, make_root

DATA = b'{"seq": 9, "hash": "ab12"}: a head whose timestamp a bad TSA signed'
GRANTED = bytes.fromhex("3003020100")
"""PKIStatusInfo { status granted }, DER."""


def _openssl(*args: str) -> bytes:
    done = subprocess.run(["openssl", *args], capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def _der_sequence(body: bytes) -> bytes:
    """A DER SEQUENCE around `body` (definite length, short or long form)."""
    size = len(body)
    if size < 0x80:
        return b"\x30" + bytes([size]) + body
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return b"\x30" + bytes([0x80 | len(octets)]) + octets + body


def resigned(
    response: bytes, usages: list[x509.ObjectIdentifier], folder: Path
) -> tuple[bytes, bytes]:
    """`response`'s TSTInfo signed by a fresh certificate with these extended key usages
    under a fresh root: the new TimeStampResp, and that root's PEM."""
    (folder / "reply.tsr").write_bytes(response)
    token = folder / "token.p7"
    _openssl("ts", "-reply", "-in", str(folder / "reply.tsr"), "-token_out", "-out", str(token))
    (folder / "tst_info.der").write_bytes(
        _openssl("cms", "-verify", "-noverify", "-inform", "DER", "-in", str(token))
    )
    root, root_key = make_root("a root of our own")
    certificate, key = issue_signing_certificate(root, root_key, TSA_COMMON_NAME, usages)
    (folder / "signer.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "signer.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    signed = _openssl(
        "cms", "-sign", "-binary", "-nodetach", "-md", "sha256",
        "-econtent_type", "id-smime-ct-TSTInfo", "-in", str(folder / "tst_info.der"),
        "-signer", str(folder / "signer.pem"), "-inkey", str(folder / "signer.key"),
        "-outform", "DER",
    )  # fmt: skip
    return _der_sequence(GRANTED + signed), root.public_bytes(serialization.Encoding.PEM)


def test_a_token_re_signed_by_a_fit_certificate_is_accepted(
    local_tsa: LocalTsa, tmp_path: Path
) -> None:
    request = timestamp_request(DATA)
    response, roots = resigned(
        send_request(local_tsa.url, request), [ExtendedKeyUsageOID.TIME_STAMPING], tmp_path
    )
    assert check_response(request, response, DATA, roots_pem=roots).verified_with_roots


@pytest.mark.parametrize(
    "usages",
    [
        pytest.param([], id="no-extended-key-usage"),
        pytest.param([ExtendedKeyUsageOID.CODE_SIGNING], id="code-signing"),
        pytest.param(
            [ExtendedKeyUsageOID.TIME_STAMPING, ExtendedKeyUsageOID.CODE_SIGNING],
            id="timestamping-among-others",
        ),
    ],
)
def test_a_token_signed_by_a_certificate_unfit_for_timestamping_is_refused(
    local_tsa: LocalTsa, tmp_path: Path, usages: list[x509.ObjectIdentifier]
) -> None:
    """OpenSSL's chain check, run with the timestamping purpose, refuses such a signer
    before rfc3161_client's own EKU check is reached; the line says what OpenSSL said."""
    request = timestamp_request(DATA)
    response, roots = resigned(send_request(local_tsa.url, request), usages, tmp_path)
    assert check_response(request, response, DATA).certificates  # it parses and carries it
    with pytest.raises(TsaError) as caught:
        check_response(request, response, DATA, roots_pem=roots)
    assert str(caught.value) == (
        "the TSA's certificate does not chain to the given roots (unsuitable certificate purpose)"
    )


def test_roots_holding_the_tsa_certificate_do_not_stand_in_for_the_token_carrying_it(
    local_tsa: LocalTsa,
) -> None:
    """A token without certificates (certReq unset) checked against the root and the TSA's
    own certificate: the chain verifies, but the signer must be in the token."""
    bare = rfc3161_client.TimestampRequestBuilder(
        data=DATA, hash_algorithm=rfc3161_client.HashAlgorithm.SHA256, cert_req=False
    ).build()
    response = send_request(local_tsa.url, bare.as_bytes())
    roots = local_tsa.roots_pem + (local_tsa.folder / "tsa.pem").read_bytes()
    with pytest.raises(TsaError) as caught:
        check_response(bare.as_bytes(), response, DATA, roots_pem=roots)
    assert str(caught.value) == (
        "the TSA's certificate is missing or not the signer's (Certificates neither found in"
        " the answer or in the Verification Options.)"
    )
