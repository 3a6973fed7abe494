"""HTTP basic auth for the exporter: bcrypt hashes, checked fast on repeat scrapes.

Prometheus sends the same credentials on every scrape, and bcrypt is slow on purpose, so a
success is remembered; an unknown user still pays one bcrypt check, so which users exist
cannot be learnt from timing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
from collections.abc import Iterable, Mapping

import bcrypt


def challenge_headers() -> dict[str, str]:
    """The headers of a 401 reply, so that browsers and curl know to send credentials."""
    return {"WWW-Authenticate": 'Basic realm="slawitness"'}


def _basic_credentials(authorization: str | None) -> tuple[str, bytes] | None:
    """(user, password) from `Basic base64(user:password)`, or None when malformed."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        text = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        return None
    user, colon, password = text.partition(":")
    return (user, password.encode("utf-8")) if colon else None


def _checkpw(password: bytes, hashed: bytes) -> bool:
    """bcrypt's verdict; passwords it refuses (over 72 bytes, NUL) simply do not match."""
    try:
        return bool(bcrypt.checkpw(password, hashed))
    except ValueError:
        return False


def _dummy_hash(hashes: Iterable[bytes]) -> bytes:
    """A hash as costly as the costliest real one, checked for unknown users."""
    cost = max(int(hashed[4:6]) for hashed in hashes)
    return bytes(bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(rounds=cost)))


class BasicAuthGate:
    """Checks `Authorization` headers against bcrypt hashes, fast on repeat scrapes.

    bcrypt at cost 10 takes ~100 ms; Prometheus sends the same credentials every scrape, so a
    success is remembered per user as an HMAC-SHA-256 of the password under a per-gate random
    key (one entry per user: bounded, and no plaintext kept). An unknown user still pays one
    bcrypt check against a dummy hash, so which users exist cannot be learnt from timing.
    Safe to share between the threads of a threaded server.
    """

    def __init__(self, users: Mapping[str, str]) -> None:
        self._hashes = {user: hashed.encode("ascii") for user, hashed in users.items()}
        self._dummy = _dummy_hash(self._hashes.values()) if self._hashes else b""
        self._cache_key = secrets.token_bytes(32)
        self._verified: dict[str, bytes] = {}
        self._lock = threading.Lock()

    @property
    def required(self) -> bool:
        """Whether requests must authenticate at all (False when no users are configured)."""
        return bool(self._hashes)

    def allows(self, authorization: str | None) -> bool:
        """Whether a request with this `Authorization` header value may proceed."""
        if not self._hashes:
            return True
        credentials = _basic_credentials(authorization)
        if credentials is None:
            return False
        user, password = credentials
        hashed = self._hashes.get(user)
        if hashed is None:
            _checkpw(password, self._dummy)
            return False
        digest = hmac.new(self._cache_key, password, hashlib.sha256).digest()
        with self._lock:
            remembered = self._verified.get(user)
        if remembered is not None and hmac.compare_digest(remembered, digest):
            return True
        if not _checkpw(password, hashed):
            return False
        with self._lock:
            self._verified[user] = digest
        return True
