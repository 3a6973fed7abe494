"""Our own unfinished files: `NAME.partial` beside an output, `.incoming-*` among attachments.

A writer makes its unfinished file exclusively (O_EXCL, never through a symbolic link) and
holds an flock on it until the file is renamed into place or removed. The kernel drops that
lock when the process dies, SIGKILL included, so the next writer tells a leftover (nobody
holds it) from a file another process is still writing (locked), and removes only
leftovers. Only regular files are ever removed: a device, FIFO or link planted under a
partial name is named and left alone.
"""

from __future__ import annotations

import fcntl
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from collector.portable.errors import UsageError

_ATTEMPTS = 3
"""A leftover removed by a concurrent writer between our create and our lock: try again."""


BUSY = "another slawitness is writing here now; try again later"
_NEW_FILE = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class PartialFileError(UsageError):
    """An unfinished file cannot be made or cleaned up; one line naming it."""


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words for a message."""
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISLNK, "a symbolic link"),
    )
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def claim(path: Path, mode: int = 0o600, companions: Iterable[str] = ()) -> int:
    """Create `path` exclusively and hold its lock; a leftover there is removed first, with
    its `companions` (as `remove_leftover` takes them).

    Returns the open, locked descriptor (closing it releases the lock). PartialFileError
    when another live process is writing the same file."""
    suffixes = tuple(companions)
    for _ in range(_ATTEMPTS):
        remove_leftover(path, suffixes)
        try:
            fd = os.open(path, _NEW_FILE, mode)
        except FileExistsError:
            continue
        if hold(fd, path):
            return fd
    raise PartialFileError(f"{path}: {BUSY}")


def claim_temporary(folder: Path, prefix: str) -> tuple[int, Path]:
    """A fresh `prefix*` file in `folder`, created and locked as `claim` does."""
    for _ in range(_ATTEMPTS):
        fd, name = tempfile.mkstemp(dir=folder, prefix=prefix)
        if hold(fd, Path(name)):
            return fd, Path(name)
    raise PartialFileError(
        f"{folder}: temporary files keep disappearing; another process removes them"
    )


def hold(fd: int, path: Path) -> bool:
    """Lock `fd`; False (and `fd` closed) when `path` no longer names it: a cleaner took the
    new file for a leftover in the moment before the lock."""
    fcntl.flock(fd, fcntl.LOCK_EX)
    if still_named(fd, path):
        return True
    os.close(fd)
    return False


def still_named(fd: int, path: Path) -> bool:
    """Whether `path` is still the file open as `fd` (not renamed away or replaced)."""
    try:
        now = os.lstat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (now.st_dev, now.st_ino) == (mine.st_dev, mine.st_ino)


def busy_problem(path: Path) -> str | None:
    """Why `path` cannot be claimed now (a live writer holds it, or it is not a regular
    file), or None: absent, or a leftover `claim` will remove. Looks, changes nothing."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return _not_ours(info.st_mode)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return BUSY
    finally:
        os.close(fd)
    return None


def _not_ours(mode: int) -> str:
    """Why a non-regular file under an unfinished file's name is left alone."""
    return f"is {file_kind(mode)}, not an unfinished file of ours; move it aside"


def remove_leftover(path: Path, companions: Iterable[str] = ()) -> bool:
    """Remove `path` if it is a file nobody holds (left by a killed writer); True if removed.

    `companions` are suffixes of files that go with it (SQLite's `-journal`), removed too.
    PartialFileError when a live process holds it or it is not a regular file."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(info.st_mode):
        raise PartialFileError(f"{path}: {_not_ours(info.st_mode)}")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PartialFileError(f"{path}: {BUSY}") from None
        if not still_named(fd, path):
            return False
        os.unlink(path)
        for suffix in companions:
            companion = Path(f"{path}{suffix}")
            if companion.is_file() and not companion.is_symlink():
                companion.unlink(missing_ok=True)
        return True
    finally:
        os.close(fd)


def sweep(folder: Path, prefix: str) -> int:
    """Remove every leftover `prefix*` file in `folder`; files live writers hold stay."""
    removed = 0
    try:
        entries = [entry.name for entry in os.scandir(folder) if entry.name.startswith(prefix)]
    except OSError:
        return 0
    for name in entries:
        try:
            removed += remove_leftover(folder / name)
        except (PartialFileError, OSError):
            continue
    return removed
