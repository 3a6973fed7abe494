"""Private key files: created 0600 and never replaced, refused when others can read them.

A signing key is an identity: whoever holds the collector's key can sign a history, whoever
holds a witness's key can cosign one. Both are one line of text in a file beside its `.pub`
(the public half a third party compares), and both must be kept the same careful way, so
the file handling lives here once; the caller names the key in its errors ("signing key",
"witness key") and says how to make one.
"""

from __future__ import annotations

import os
from pathlib import Path

from collector.core.bounded_read import SMALL_FILE_LIMIT, read_text_bounded
from collector.core.output_paths import OutputPathError, check_file_target, write_text
from collector.portable.errors import UsageError


def public_key_path(key_path: Path) -> Path:
    """Where a key's public half lives: beside it, `.pub` appended."""
    return key_path.with_name(key_path.name + ".pub")


def create_key_file(
    key_path: Path, private: str, public: str, what: str, error: type[UsageError]
) -> None:
    """`private` as a new 0600 file at `key_path` (never overwriting one), fsynced, and
    `public` beside it as `.pub`; `error` (one line naming the file and the `what`) when
    either cannot be written."""
    public_path = public_key_path(key_path)
    try:
        check_file_target(public_path, replace=True)
    except OutputPathError as exc:
        raise error(str(exc)) from None
    create_private_file(key_path, private + "\n", what, error)
    write_text(public_path, public + "\n", replace=True)


def create_private_file(path: Path, text: str, what: str, error: type[UsageError]) -> None:
    """`text` as a new 0600 file at `path` (never overwriting one), fsynced: a key whose
    public half travels in a file of its own (a certificate) has no `.pub` beside it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise error(f"{path}: a {what} already exists; not replacing it") from None
    except OSError as exc:
        raise error(f"{path}: cannot create the {what}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())


def read_key_file(key_path: Path, what: str, create_hint: str, error: type[UsageError]) -> str:
    """The text of the private key file at `key_path`; `error` when it is missing (saying
    `create_hint`), unreadable, or readable by anyone but its owner."""
    try:
        mode = key_path.stat().st_mode
        text = read_text_bounded(key_path, SMALL_FILE_LIMIT, encoding="ascii")
    except FileNotFoundError:
        raise error(f"{key_path}: no {what} (create one with: {create_hint})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{key_path}: cannot read the {what}: {exc}") from None
    if mode & 0o077:
        raise error(f"{key_path}: the {what} is readable by others (chmod 600 it)")
    return text
