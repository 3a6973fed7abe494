"""A witness's cosigning key: a C2SP `PRIVATE+KEY+name+keyid+base64(0x04 || seed)` file.

The key is the witness's whole identity: whoever holds it can cosign any history, so it is
created 0600, never overwritten, and refused when others can read it. Its public half, the
vkey line printed by `slawitness witness init` and written beside it as `.pub`, is what a
collector puts in its `witnesses:` list and a reader in its policy.
"""

from __future__ import annotations

import os
from pathlib import Path

from collector.core.key_files import create_key_file, read_key_file
from collector.portable.cosignature import CosignerSigningKey
from collector.portable.errors import UsageError
from collector.portable.signed_note import NoteError


class WitnessKeyError(UsageError):
    """The witness key file is missing, unreadable, readable by others or malformed."""


def create_witness_key(key_path: Path, name: str) -> CosignerSigningKey:
    """A fresh key named `name` at `key_path` (0600, never replaced) and its `.pub`."""
    if not name or any(c.isspace() or c == "+" for c in name):
        raise WitnessKeyError(f"witness name {name!r}: no spaces or '+' (e.g. example.org/w1)")
    key = CosignerSigningKey(name, os.urandom(32))
    create_key_file(key_path, key.encode(), key.verifier().encode(), "witness key", WitnessKeyError)
    return key


def load_witness_key(key_path: Path) -> CosignerSigningKey:
    hint = "slawitness witness init --name NAME"
    text = read_key_file(key_path, "witness key", hint, WitnessKeyError)
    try:
        return CosignerSigningKey.parse(text)
    except NoteError as exc:
        raise WitnessKeyError(f"{key_path}: {exc}") from None
