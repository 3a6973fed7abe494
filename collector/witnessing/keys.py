"""A witness's cosigning key: a C2SP `PRIVATE+KEY+name+keyid+base64(0x04 || seed)` file.

The key is the witness's whole identity: whoever holds it can cosign any history, so it is
created 0600, never overwritten, and refused when others can read it. Its public half, the
vkey line printed by `slawitness witness init` and written beside it as `.pub`, is what a
collector puts in its `witnesses:` list and a reader in its policy.
"""

from __future__ import annotations

import os
from pathlib import Path

from collector.core.bounded_read import SMALL_FILE_LIMIT, read_text_bounded
from collector.portable.cosignature import CosignerSigningKey
from collector.portable.errors import UsageError
from collector.portable.signed_note import NoteError


class WitnessKeyError(UsageError):
    """The witness key file is missing, unreadable, readable by others or malformed."""


def public_path(key_path: Path) -> Path:
    return key_path.with_name(key_path.name + ".pub")


def create_witness_key(key_path: Path, name: str) -> CosignerSigningKey:
    """A fresh key named `name` at `key_path` (0600, never replaced) and its `.pub`."""
    if not name or any(c.isspace() or c == "+" for c in name):
        raise WitnessKeyError(f"witness name {name!r}: no spaces or '+' (e.g. example.org/w1)")
    key = CosignerSigningKey(name, os.urandom(32))
    try:
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise WitnessKeyError(
            f"{key_path}: a witness key already exists; not replacing it"
        ) from None
    except OSError as exc:
        raise WitnessKeyError(
            f"{key_path}: cannot create the witness key: {exc.strerror}"
        ) from None
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(key.encode() + "\n")
        out.flush()
        os.fsync(out.fileno())
    public_path(key_path).write_text(key.verifier().encode() + "\n", encoding="ascii")
    return key


def load_witness_key(key_path: Path) -> CosignerSigningKey:
    try:
        mode = key_path.stat().st_mode
        text = read_text_bounded(key_path, SMALL_FILE_LIMIT, encoding="ascii")
    except FileNotFoundError:
        raise WitnessKeyError(
            f"{key_path}: no witness key (create one with: slawitness witness init --name NAME)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise WitnessKeyError(f"{key_path}: cannot read the witness key: {exc}") from None
    if mode & 0o077:
        raise WitnessKeyError(f"{key_path}: the witness key is readable by others (chmod 600)")
    try:
        return CosignerSigningKey.parse(text)
    except NoteError as exc:
        raise WitnessKeyError(f"{key_path}: {exc}") from None
