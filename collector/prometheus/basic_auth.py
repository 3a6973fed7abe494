"""HTTP basic auth for the exporter: bcrypt hashes, checked fast on repeat scrapes.

Prometheus sends the same credentials on every scrape, and bcrypt is slow on purpose, so a
success is remembered. Every other request does the same bcrypt work whoever it names: one
check at each cost found among the configured hashes (against the user's own hash at its
cost, against a dummy hash at the others, and only dummies for a user who does not exist),
so neither whether a user exists nor which cost their hash has can be learnt from timing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
from collections.abc import Mapping

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
    """bcrypt's verdict, compared in constant time by the library; passwords it refuses (over
    72 bytes, NUL) simply do not match, as fast for every user."""
    try:
        return bool(bcrypt.checkpw(password, hashed))
    except ValueError:
        return False


def _cost(hashed: bytes) -> int:
    """The cost (log2 of the rounds) of a `$2b$10$...` hash, as web_config validated it."""
    return int(hashed[4:6])


def _dummy_hash(cost: int) -> bytes:
    """A hash of a random password nobody knows, checked where no real hash of `cost` is."""
    return bytes(bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(rounds=cost)))


class BasicAuthGate:
    """Checks `Authorization` headers against bcrypt hashes, fast on repeat scrapes.

    bcrypt at cost 10 takes ~60 ms; Prometheus sends the same credentials every scrape, so a
    success is remembered per user as an HMAC-SHA-256 of the password under a per-gate random
    key (one entry per user: bounded, and no plaintext kept). Everything else costs the same
    bcrypt checks, one per distinct cost of the configured hashes, whether the user exists
    or not (see the module docstring). Safe to share between the threads of a threaded server.
    """

    def __init__(self, users: Mapping[str, str]) -> None:
        self._hashes = {user: hashed.encode("ascii") for user, hashed in users.items()}
        costs = sorted({_cost(hashed) for hashed in self._hashes.values()})
        self._dummies = {cost: _dummy_hash(cost) for cost in costs}
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
        digest = hmac.new(self._cache_key, password, hashlib.sha256).digest()
        with self._lock:
            remembered = self._verified.get(user)
        if remembered is not None and hmac.compare_digest(remembered, digest):
            return True
        if not self._bcrypt_verdict(user, password):
            return False
        with self._lock:
            self._verified[user] = digest
        return True

    def _bcrypt_verdict(self, user: str, password: bytes) -> bool:
        """Whether `password` is `user`'s, after the same checks as for any other user: at
        each configured cost in turn, the user's own hash if it has that cost, else a dummy."""
        own = self._hashes.get(user)
        matched = False
        for cost, dummy in self._dummies.items():
            if own is not None and _cost(own) == cost:
                matched = _checkpw(password, own)
            else:
                _checkpw(password, dummy)
        return matched
