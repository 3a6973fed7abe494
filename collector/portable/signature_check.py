"""Checking an Ed25519 signature with what the reader's machine has, never by hand.

The bundle's `verify.py` runs on a stranger's machine with nothing installed, and a check
that skips signatures there passes a bundle whose signatures were forged. So a signature is
checked with the Python package `cryptography` when it imports, else with the `openssl`
command (OpenSSL 3 verifies raw Ed25519 with `pkeyutl -rawin`, and nearly every Unix has
it). Only the key is encoded here, as the fixed 12-byte SubjectPublicKeyInfo prefix of RFC
8410 followed by the raw 32-byte key; the signature arithmetic is always the library's or
openssl's. When neither can check, `Unverifiable` says why, and the caller decides whether
an unchecked signature is acceptable (the reader has to ask for that explicitly).
"""

from __future__ import annotations

import base64
import functools
import os
import shutil
import subprocess
import tempfile

from collector.portable.errors import TamperedError

ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")
"""DER of SubjectPublicKeyInfo{id-Ed25519} up to the key's 32 bytes (RFC 8410, section 4)."""
UNCHECKED = "signatures not checked"
"""How every message about a signature that could not be checked begins."""
_OPENSSL_TIMEOUT_S = 60


class Unverifiable(TamperedError):
    """Neither `cryptography` nor a working `openssl` can check the signature (one line)."""


@functools.cache
def signature_checker() -> str | None:
    """What checks signatures here: "cryptography", "openssl", or None (nothing can).

    Found once per process: a bundle of many proofs would otherwise retry the import and
    search PATH for every one."""
    try:
        from cryptography.hazmat.primitives.asymmetric import ed25519  # noqa: F401
    except ImportError:
        return "openssl" if shutil.which("openssl") else None
    return "cryptography"


def checked_with(subject: str = "") -> str:
    """` (checked with the openssl command)`, with `subject` before "checked", when the
    openssl command checks signatures here; "" when `cryptography` does. A verdict resting
    on a command found on PATH says so, in these words wherever it is printed."""
    if signature_checker() != "openssl":
        return ""
    return f" ({subject}checked with the openssl command)"


def ed25519_verifies(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """Whether `signature` is `public_key`'s Ed25519 signature of `message`, checked with
    `signature_checker()`'s tool.

    Unverifiable when neither `cryptography` nor the `openssl` command can say.
    """
    if len(public_key) != 32 or len(signature) != 64:
        return False
    if signature_checker() == "cryptography":
        return _cryptography_verifies(public_key, signature, message)
    return _openssl_verifies(public_key, signature, message)


def _cryptography_verifies(public_key: bytes, signature: bytes, message: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def public_key_pem(public_key: bytes) -> str:
    """The raw 32-byte Ed25519 key as the PEM `PUBLIC KEY` file openssl reads."""
    der = base64.b64encode(ED25519_SPKI_PREFIX + public_key).decode("ascii")
    return f"-----BEGIN PUBLIC KEY-----\n{der}\n-----END PUBLIC KEY-----\n"


@functools.lru_cache(maxsize=64)
def _openssl_verifies(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """One `openssl pkeyutl -verify` run (cached: every proof of a bundle repeats the
    signature of its one checkpoint)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise Unverifiable(
            f"{UNCHECKED}: neither the Python package `cryptography` nor the `openssl`"
            " command is available to check Ed25519 signatures"
        )
    with tempfile.TemporaryDirectory(prefix="slawitness-verify-") as folder:
        key, text, sig = (os.path.join(folder, n) for n in ("key.pem", "message", "signature"))
        with open(key, "w", encoding="ascii") as out:
            out.write(public_key_pem(public_key))
        for path, data in ((text, message), (sig, signature)):
            with open(path, "wb") as out:
                out.write(data)
        command = [openssl, "pkeyutl", "-verify", "-pubin", "-inkey", key, "-rawin"]
        try:
            done = subprocess.run(
                [*command, "-in", text, "-sigfile", sig],
                capture_output=True, text=True, errors="replace",
                timeout=_OPENSSL_TIMEOUT_S, check=False,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise Unverifiable(f"{UNCHECKED}: `openssl` could not be run ({exc})") from None
    if done.returncode == 0 and "Signature Verified Successfully" in done.stdout:
        return True
    if "Signature Verification Failure" in done.stdout:
        return False
    why = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[0]
    raise Unverifiable(
        f"{UNCHECKED}: `openssl` could not check an Ed25519 signature (OpenSSL 3 is needed): {why}"
    )
