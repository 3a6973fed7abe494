"""C2SP signed notes and tlog checkpoints, so any transparency-log tooling can read ours.

A checkpoint is a short text (origin, tree size, base64 root hash, optional extension lines)
followed by a blank line and one signature line per key: an em dash, the key's name, and
base64 of the 4-byte key ID followed by the Ed25519 signature of the text. The key ID is the
first four bytes of SHA-256(name || "\\n" || 0x01 || public key); a verifier key is written
`name+keyid+base64(0x01 || public key)` and a signing key `PRIVATE+KEY+name+keyid+base64(0x01
|| seed)`, the encodings of golang.org/x/mod/sumdb/note, so Go's tools can check our notes.

Everything here but signing and signature checks is the standard library: the bundle's
standalone verifier embeds this module and checks signatures with `cryptography`, else with
the `openssl` command (`signature_check`), and says so plainly when neither is there (the
Ed25519 arithmetic is never hand-written). docs/record-format.md specifies the checkpoint.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from collector.portable.errors import TamperedError
from collector.portable.signature_check import Unverifiable, ed25519_verifies

ED25519 = 1
"""The signature type byte of Ed25519 keys in the note encodings."""
_DASH = "\u2014 "
_NAME = re.compile(r"^[^\s+]+$")
_UINT64 = re.compile(r"0|[1-9][0-9]{0,19}")
"""A tree size: decimal, no leading zero, at most 20 digits (C2SP: a uint64)."""


class NoteError(TamperedError):
    """A note, key or checkpoint that is malformed or does not verify (one line)."""


class CryptoMissing(NoteError):
    """Neither `cryptography` nor the `openssl` command can check a signature here."""


def key_id(name: str, public_key: bytes, key_type: int = ED25519) -> bytes:
    """The 4-byte ID that ties a signature line to a key: SHA-256(name || "\\n" || type ||
    public key)[:4], the type byte telling a log key (0x01) from a cosigner's (0x04)."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([key_type]) + public_key).digest()[:4]


def encode_key(name: str, ident: bytes, key_type: int, material: bytes) -> str:
    """`name+keyid+base64(type || material)`: a verifier key, or a signing key's tail."""
    return f"{name}+{ident.hex()}+{base64.b64encode(bytes([key_type]) + material).decode()}"


@dataclass(frozen=True)
class VerifierKey:
    """A public key with its name: what a third party needs to check our checkpoints."""

    name: str
    public_key: bytes

    @property
    def id(self) -> bytes:
        return key_id(self.name, self.public_key)

    def encode(self) -> str:
        return encode_key(self.name, self.id, ED25519, self.public_key)

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        name, wanted, public = parse_key_text(text.strip(), "verifier key")
        key = cls(name, public)
        if wanted != key.id:
            raise NoteError(f"verifier key {name}: its key ID does not match the key")
        return key


def parse_key_text(
    text: str, what: str, key_type: int = ED25519, kind: str = "an Ed25519 key"
) -> tuple[str, bytes, bytes]:
    """(name, key ID, key bytes) of `name+keyid+base64(type || key)`; NoteError naming
    `what` when it is not one, or `kind` when its type byte is not `key_type`."""
    parts = text.split("+", 2)  # base64 may hold "+" itself
    if len(parts) != 3 or not _NAME.match(parts[0]):
        raise NoteError(f"not a {what} (expected name+keyid+key)")
    name, hex_id, blob = parts
    try:
        raw = base64.b64decode(blob, validate=True)
        wanted = bytes.fromhex(hex_id)
    except (binascii.Error, ValueError):
        raise NoteError(f"not a {what} (bad hex or base64)") from None
    if len(raw) != 33 or raw[0] != key_type:
        raise NoteError(f"{what} {name}: not {kind}")
    return name, wanted, raw[1:]


@dataclass(frozen=True)
class SigningKey:
    """An Ed25519 seed with its name; the public half is derived on demand."""

    name: str
    seed: bytes

    def verifier(self) -> VerifierKey:
        return VerifierKey(self.name, _private(self.seed).public_key().public_bytes_raw())

    def encode(self) -> str:
        return "PRIVATE+KEY+" + encode_key(self.name, self.verifier().id, ED25519, self.seed)

    @classmethod
    def parse(cls, text: str) -> SigningKey:
        body = text.strip()
        if not body.startswith("PRIVATE+KEY+"):
            raise NoteError("not a signing key (expected PRIVATE+KEY+name+keyid+key)")
        name, wanted, seed = parse_key_text(body.removeprefix("PRIVATE+KEY+"), "signing key")
        key = cls(name, seed)
        if wanted != key.verifier().id:
            raise NoteError(f"signing key {name}: its key ID does not match the key")
        return key

    def sign(self, text: str) -> str:
        """`text` (ending in a newline) as a signed note with this key's signature line."""
        check_text(text)
        signature = _private(self.seed).sign(text.encode())
        line = base64.b64encode(self.verifier().id + signature).decode()
        return f"{text}\n{_DASH}{self.name} {line}\n"


def _private(seed: bytes):  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(seed)


def check_text(text: str) -> None:
    if not text.endswith("\n") or "\n\n" in text or any(c < " " and c != "\n" for c in text):
        raise NoteError("a note's text must end in a newline and hold no blank lines")


@dataclass(frozen=True)
class Signature:
    name: str
    key_id: bytes
    signature: bytes


def split_note(note: str) -> tuple[str, list[Signature]]:
    """The signed text and its signature lines, or NoteError when it is not a signed note."""
    text, sep, lines = note.rpartition("\n\n")
    if not sep or not lines.endswith("\n"):
        raise NoteError("not a signed note (no blank line before signatures)")
    text += "\n"
    signatures = []
    for line in lines[:-1].split("\n"):
        name, _, blob = line.removeprefix(_DASH).rpartition(" ")
        try:
            raw = base64.b64decode(blob, validate=True)
        except binascii.Error:
            raw = b""
        if not line.startswith(_DASH) or not _NAME.match(name) or len(raw) < 5:
            raise NoteError("not a signed note (malformed signature line)")
        signatures.append(Signature(name, raw[:4], raw[4:]))
    check_text(text)
    return text, signatures


def verify_note(note: str, key: VerifierKey) -> str:
    """The note's text when `key` signed it; NoteError (or CryptoMissing) otherwise."""
    text, signatures = split_note(note)
    mine = [s for s in signatures if s.name == key.name and s.key_id == key.id]
    if not mine:
        raise NoteError(f"the note carries no signature by key {key.name} ({key.id.hex()})")
    try:
        good = ed25519_verifies(key.public_key, mine[0].signature, text.encode())
    except Unverifiable as exc:
        raise CryptoMissing(str(exc)) from None
    if not good:
        raise NoteError(f"the signature by key {key.name} does not verify")
    return text


@dataclass(frozen=True)
class Checkpoint:
    """A tlog checkpoint's body: which log, how many records, the Merkle root of them."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode()]
        return "\n".join([*lines, *self.extensions]) + "\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "" or not lines[0]:
            raise NoteError("not a checkpoint (expected origin, size and root lines)")
        origin, size, root = lines[:3]
        try:
            raw = base64.b64decode(root, validate=True)
        except binascii.Error:
            raw = b""
        if not _UINT64.fullmatch(size) or int(size) >= 2**64 or len(raw) != 32:
            raise NoteError("not a checkpoint (bad tree size or root hash)")
        return cls(origin, int(size), raw, tuple(lines[3:-1]))

    def extension(self, key: str) -> str | None:
        """The value of the extension line `key value`, when there is one."""
        for line in self.extensions:
            name, _, value = line.partition(" ")
            if name == key:
                return value
        return None
