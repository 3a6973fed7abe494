"""A bundle's members, read from its zip or from the folder it was unzipped into.

The same checks run in two places: `slawitness verify-bundle FILE` reads the zip, and the
bundle's own `verify.py` (which embeds this module) reads the unzipped folder a reader has in
front of them. Both see a bundle as names mapped to byte streams, so every check is written
once. Nothing is ever extracted: a zip member's name that is absolute or climbs out with
`..` is a problem, not a path; a folder is only walked, never followed through a link.
Standard library only: the standalone verifier embeds this file.
"""

from __future__ import annotations

import hashlib
import os
import re
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

READ_ERRORS = (
    zipfile.BadZipFile, zlib.error, OSError, RuntimeError, NotImplementedError, EOFError
)  # fmt: skip
"""What reading one damaged, encrypted or oddly compressed member can raise."""


def unsafe_name(name: str) -> str | None:
    """Why a member name could escape an extraction folder (or confuse sha256sum), or None."""
    if not name or "\\" in name or "\n" in name or "\r" in name or "\0" in name:
        return "contains a backslash, a line break or a NUL"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "is an absolute path"
    if any(part in ("", ".", "..") for part in name.rstrip("/").split("/")):
        return "has an empty, '.' or '..' path component"
    return None


class Members:
    """The bundle's files by name; subclasses say where the bytes come from."""

    def __init__(self, names: list[str]) -> None:
        self.names = sorted(names)

    def open(self, name: str) -> IO[bytes]:
        raise NotImplementedError

    def read(self, name: str, problems: list[str]) -> bytes | None:
        """The member's bytes, or None with the reason added to `problems`."""
        try:
            with self.open(name) as stream:
                return stream.read()
        except READ_ERRORS as exc:
            problems.append(f"{name}: cannot be read ({exc})")
            return None

    def sha256(self, name: str, problems: list[str]) -> str | None:
        digest = hashlib.sha256()
        try:
            with self.open(name) as stream:
                for chunk in iter(lambda: stream.read(1 << 20), b""):
                    digest.update(chunk)
        except READ_ERRORS as exc:
            problems.append(f"{name}: cannot be read ({exc})")
            return None
        return digest.hexdigest()

    def lines(self, name: str) -> Iterator[bytes]:
        """Lines split at b"\\n" only: a payload may hold U+2028, which str.splitlines splits
        at. Raises one of READ_ERRORS when the member cannot be read."""
        with self.open(name) as stream:
            for line in stream:
                yield line.rstrip(b"\n")


class ZipMembers(Members):
    """The file members of an open zip; unsafe and duplicated names become problems."""

    def __init__(self, archive: zipfile.ZipFile, problems: list[str]) -> None:
        self.archive = archive
        self.infos: dict[str, zipfile.ZipInfo] = {}
        for info in archive.infolist():
            why = unsafe_name(info.filename)
            if why is not None:
                problems.append(f"{info.filename!r}: unsafe member name ({why})")
            elif info.filename in self.infos:
                problems.append(f"{info.filename}: appears twice in the zip")
            elif not info.is_dir():
                self.infos[info.filename] = info
        super().__init__(list(self.infos))

    def open(self, name: str) -> IO[bytes]:
        return self.archive.open(self.infos[name])


class FolderMembers(Members):
    """The files under an unzipped bundle's folder; a symbolic link is a problem (it could
    point anywhere), and so is a name the zip could not have held."""

    def __init__(self, root: Path, problems: list[str]) -> None:
        self.root = root
        names = []
        for top, dirs, files in os.walk(root):
            here = Path(top)
            for entry in sorted([*dirs, *files]):
                name = (here / entry).relative_to(root).as_posix()
                if (here / entry).is_symlink():
                    problems.append(f"{name}: a symbolic link, not a file of the bundle")
                elif entry in files:
                    why = unsafe_name(name)
                    if why is None:
                        names.append(name)
                    else:
                        problems.append(f"{name!r}: unsafe file name ({why})")
        super().__init__(names)

    def open(self, name: str) -> IO[bytes]:
        return (self.root / name).open("rb")
