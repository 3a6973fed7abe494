"""C2SP tlog-cosignature/v1: a witness's timestamped Ed25519 statement about a checkpoint.

A checkpoint signed only by the collector's key proves nothing against the key holder: they
can sign a second history. A witness that checked consistency before cosigning holds the
other end: its cosignature says "as of this time, the largest consistent tree I have seen
of this log has this root", so a history rewritten after that point no longer matches a
cosignature anyone kept. The format is C2SP's, so any witness of the public network (and
Go's, sigsum's or our own `slawitness witness`) speaks it:

- a witness's verifier key is `name+keyid+base64(0x04 || public key)`, its key ID the first
  four bytes of SHA-256(name || "\\n" || 0x04 || public key);
- the signature line is a note signature line whose blob is key ID || u64 big-endian
  timestamp || Ed25519 signature;
- the signed message is `cosignature/v1\\n`, `time <timestamp>\\n`, then the checkpoint's
  whole note body (extension lines included, signatures not).

Standard library only, like the rest of this package: verify.py embeds it. Signing needs
`cryptography` and imports it only when a witness signs.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from collector.portable.signature_check import Unverifiable, ed25519_verifies
from collector.portable.signed_note import (
    CryptoMissing,
    NoteError,
    Signature,
    check_text,
    encode_key,
    key_id,
    parse_key_text,
    split_note,
)

COSIGNATURE_V1 = 4
"""The signature type byte of timestamped Ed25519 witness cosignatures (tlog-cosignature)."""
COSIGNATURE_HEADER = "cosignature/v1"
_MAX_TIMESTAMP = 2**63 - 1
_COSIGNATURE_LENGTH = 8 + 64


def cosigner_key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte ID of a cosigner key: the type byte 0x04 makes it differ from a log key's."""
    return key_id(name, public_key, COSIGNATURE_V1)


def cosigned_message(checkpoint_text: str, timestamp: int) -> bytes:
    """The bytes a cosigner signs: header line, time line, then the whole checkpoint body."""
    check_text(checkpoint_text)
    return f"{COSIGNATURE_HEADER}\ntime {timestamp}\n{checkpoint_text}".encode()


def _cosigner_key_parts(text: str, what: str) -> tuple[str, bytes, bytes]:
    return parse_key_text(text.strip(), what, COSIGNATURE_V1, "an Ed25519 cosigner key (type 0x04)")


@dataclass(frozen=True)
class CosignerKey:
    """A witness's public key and name: what a reader trusts cosignatures against."""

    name: str
    public_key: bytes

    @property
    def id(self) -> bytes:
        return cosigner_key_id(self.name, self.public_key)

    def encode(self) -> str:
        return encode_key(self.name, self.id, COSIGNATURE_V1, self.public_key)

    @classmethod
    def parse(cls, text: str) -> CosignerKey:
        name, wanted, public = _cosigner_key_parts(text, "witness key")
        key = cls(name, public)
        if wanted != key.id:
            raise NoteError(f"witness key {name}: its key ID does not match the key")
        return key

    def matches(self, signature: Signature) -> bool:
        return signature.name == self.name and signature.key_id == self.id


@dataclass(frozen=True)
class Cosignature:
    """One verified cosignature: who, when (POSIX seconds, the witness's clock), the line."""

    key: CosignerKey
    timestamp: int
    line: str


def signature_line(key: CosignerKey, timestamp: int, signature: bytes) -> str:
    """The note signature line of a cosignature (no trailing newline)."""
    blob = key.id + timestamp.to_bytes(8, "big") + signature
    return f"\u2014 {key.name} {base64.b64encode(blob).decode()}"


def check_cosignature(checkpoint_text: str, signature: Signature, key: CosignerKey) -> Cosignature:
    """`signature` (a line of a note) checked as `key`'s cosignature of `checkpoint_text`;
    NoteError when it is not one, CryptoMissing when nothing here can check Ed25519."""
    if not key.matches(signature):
        raise NoteError(f"the signature line is not by witness {key.name} ({key.id.hex()})")
    if len(signature.signature) != _COSIGNATURE_LENGTH:
        raise NoteError(f"witness {key.name}: not a cosignature/v1 (wrong length)")
    timestamp = int.from_bytes(signature.signature[:8], "big")
    if timestamp > _MAX_TIMESTAMP:
        raise NoteError(f"witness {key.name}: cosignature timestamp out of range")
    message = cosigned_message(checkpoint_text, timestamp)
    try:
        good = ed25519_verifies(key.public_key, signature.signature[8:], message)
    except Unverifiable as exc:
        raise CryptoMissing(str(exc)) from None
    if not good:
        raise NoteError(f"the cosignature by witness {key.name} does not verify")
    return Cosignature(key, timestamp, signature_line(key, timestamp, signature.signature[8:]))


def cosignatures_in(note: str, keys: list[CosignerKey]) -> tuple[list[Cosignature], list[str]]:
    """The good cosignatures of `note` by `keys` (one per key, the first that verifies),
    and one line per line by a trusted key that does not verify. Lines by other keys
    (the log's own, unknown witnesses) are ignored, as the spec says."""
    text, signatures = split_note(note)
    good: dict[str, Cosignature] = {}
    problems = []
    for signature in signatures:
        for key in keys:
            if not key.matches(signature) or key.name in good:
                continue
            try:
                good[key.name] = check_cosignature(text, signature, key)
            except CryptoMissing:
                raise
            except NoteError as exc:
                problems.append(str(exc))
    return list(good.values()), problems


@dataclass(frozen=True)
class CosignerSigningKey:
    """A witness's Ed25519 seed: `PRIVATE+KEY+name+keyid+base64(0x04 || seed)`."""

    name: str
    seed: bytes

    def verifier(self) -> CosignerKey:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        public = Ed25519PrivateKey.from_private_bytes(self.seed).public_key()
        return CosignerKey(self.name, public.public_bytes_raw())

    def encode(self) -> str:
        return "PRIVATE+KEY+" + encode_key(self.name, self.verifier().id, COSIGNATURE_V1, self.seed)

    @classmethod
    def parse(cls, text: str) -> CosignerSigningKey:
        body = text.strip()
        if not body.startswith("PRIVATE+KEY+"):
            raise NoteError("not a witness signing key (expected PRIVATE+KEY+name+keyid+key)")
        name, wanted, seed = _cosigner_key_parts(
            body.removeprefix("PRIVATE+KEY+"), "witness signing key"
        )
        key = cls(name, seed)
        if wanted != key.verifier().id:
            raise NoteError(f"witness signing key {name}: its key ID does not match the key")
        return key

    def cosign(self, checkpoint_text: str, timestamp: int) -> str:
        """The cosignature line of `checkpoint_text` at `timestamp` (no trailing newline)."""
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        if not 0 <= timestamp <= _MAX_TIMESTAMP:
            raise ValueError(f"cosignature timestamp out of range: {timestamp}")
        message = cosigned_message(checkpoint_text, timestamp)
        signature = Ed25519PrivateKey.from_private_bytes(self.seed).sign(message)
        return signature_line(self.verifier(), timestamp, signature)
