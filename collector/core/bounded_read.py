"""Reading a file the user named, never more of it than such a file can be.

`Path.read_text` reads to the end whatever the path is: `--config /dev/zero` or a 10 GB
file by mistake takes all the memory there is before the first line of a message. Every
user-named input (config, web config, secret files, keys, checkpoints, proofs, TSA roots,
the previous textfile) is read through `read_bounded` with a limit that fits what that
file is: a regular file larger than the limit is refused from its size alone, and a stream
(a pipe, `<(...)`, a character device) is read up to one byte past the limit and no further.

The refusal is a `FileTooLarge`, an OSError whose `strerror` and `str()` are the one line
to print, so callers that already turn OSError into a message need no new branch.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from pathlib import Path

from collector.portable.errors import UsageError

KIB, MIB = 1 << 10, 1 << 20
CONFIG_LIMIT = 8 * MIB
"""A config of thousands of targets is well under a megabyte."""
SMALL_FILE_LIMIT = 1 * MIB
"""Keys, secret files, web configs and saved checkpoints: a few hundred bytes each."""
DOCUMENT_LIMIT = 64 * MIB
"""Proof files (a record and its Merkle path), TSA root bundles, the previous textfile."""
_CHUNK = 1 * MIB


class FileTooLarge(OSError, UsageError):
    """The file holds more than its kind of file can; nothing past the limit was read."""

    def __init__(self, path: Path, limit: int) -> None:
        super().__init__(errno.EFBIG, f"more than {_size(limit)}, too large for this kind of file")
        self.filename = str(path)

    def __str__(self) -> str:
        return str(self.strerror)


def read_bounded(path: Path, limit: int) -> bytes:
    """The bytes of `path`, at most `limit`; FileTooLarge past it, OSError when unreadable.

    The file is opened without blocking (a FIFO nobody writes to reads as empty instead of
    hanging) and then read in blocking mode, so a slow writer on a pipe is still waited for.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        if stat.S_ISREG(info.st_mode) and info.st_size > limit:
            raise FileTooLarge(path, limit)
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
        chunks: list[bytes] = []
        held = 0
        while held <= limit:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - held))
            if not chunk:
                break
            chunks.append(chunk)
            held += len(chunk)
        if held > limit:
            raise FileTooLarge(path, limit)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_text_bounded(path: Path, limit: int, encoding: str = "utf-8") -> str:
    """`read_bounded` decoded with universal newlines, as `Path.read_text` does (a CRLF
    checkpoint or key file reads the same); UnicodeDecodeError as it raises it."""
    text = read_bounded(path, limit).decode(encoding)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _size(limit: int) -> str:
    return f"{limit // MIB} MiB" if limit >= MIB else f"{limit // KIB} KiB"
