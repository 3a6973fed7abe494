"""Where slawitness writes a file the user named, and what it will never write over.

`bundle --out /dev/full` once replaced the device node with a zip and exited 0: renaming a
finished file into place replaces whatever the name held. Every writer of a user-named
path (bundle, report and its files, seal, checkpoint, prove, backup, the textfile, init's
config and deploy files) goes through this module, so the rules are the same everywhere:

- a device, FIFO, socket or directory (where a file is expected), or a symbolic link to
  one, is refused with one line naming it; nothing is opened or renamed over it;
- an existing file is replaced only where the writer says so: `--force` for a bundle, a
  report, a seal, a saved checkpoint or proof, a config; always for the textfile, whose
  job is to be replaced every round; never for a backup;
- the bytes go to `NAME.partial` (made exclusively, locked, see `collector.core.partial_files`),
  are synced, and only then renamed over NAME, after the checks are made once more; on any
  failure or interruption the partial is removed, and one left by a SIGKILL is removed by
  the next run writing the same file.

`OutputPathError` is the refusal. Verbs whose output errors have an exit code of their own
(README, "Exit codes": report, bundle, seal, backup) raise it as their own error; the CLI
gives it exit 2 everywhere else.
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TextIO

from collector.core.partial_files import (
    PartialFileError,
    busy_problem,
    claim,
    file_kind,
    still_named,
)
from collector.portable.errors import UsageError

PARTIAL_SUFFIX = ".partial"
FORCE_HINT = "use --force to overwrite"


class OutputPathError(UsageError):
    """The path will not be written (one line naming it and why); nothing was changed."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason

    def __reduce__(self) -> tuple[type[OutputPathError], tuple[Path, str]]:
        return (OutputPathError, (self.path, self.reason))  # raised in a report's worker too


def partial_of(path: Path) -> Path:
    """The unfinished file beside `path` that is renamed over it when complete."""
    return path.with_name(path.name + PARTIAL_SUFFIX)


def check_file_target(
    path: Path, *, replace: bool, hint: str | None = FORCE_HINT, partial: bool = True
) -> None:
    """Refuse `path` unless it is absent or a regular file that may be `replace`d, and (with
    `partial`) its `NAME.partial` is free: checked before any work, so a writer that would
    be refused at the end never starts (a bundle signs a checkpoint first).

    `hint` says how to allow replacing an existing file (None: it never is)."""
    if partial:
        problem = busy_problem(partial_of(path))
        if problem is not None:
            raise OutputPathError(path, f"{partial_of(path)}: {problem}")
    try:
        info = os.stat(path)  # follows a symbolic link: a link to /dev/full is the device
    except FileNotFoundError:
        if path.is_symlink():
            info = None  # a dangling link: replacing it touches nothing else
        else:
            _check_folder_of(path)
            return
    except OSError as exc:
        raise OutputPathError(path, f"cannot be written ({exc.strerror})") from None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise OutputPathError(path, "is a directory; give the name of a file to write")
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise OutputPathError(
            path, f"is {file_kind(info.st_mode)}, not a regular file; nothing was written"
        )
    if not replace:
        advice = f" ({hint})" if hint else "; it is never replaced"
        raise OutputPathError(path, f"already exists{advice}")


def check_folder_target(folder: Path, names: Iterable[str], *, replace: bool) -> None:
    """Refuse `folder` unless it is absent or a directory holding none of `names` (the
    files this writer puts there; they may be `replace`d), and each of those is absent
    or a regular file."""
    try:
        info = os.stat(folder)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise OutputPathError(folder, f"cannot be written ({exc.strerror})") from None
    if not stat.S_ISDIR(info.st_mode):
        raise OutputPathError(
            folder, f"is {_kind_or_file(info.st_mode)}, not a directory; nothing was written"
        )
    held: Path | None = None
    for name in names:
        check_file_target(folder / name, replace=True)
        if held is None and os.path.lexists(folder / name):
            held = folder / name
    if held is not None and not replace:
        raise OutputPathError(held, f"already exists ({FORCE_HINT})")


@contextmanager
def placing(
    path: Path,
    *,
    replace: bool,
    hint: str | None = FORCE_HINT,
    mode: int = 0o644,
    companions: Iterable[str] = (),
) -> Iterator[Partial]:
    """`NAME.partial`, claimed for the block, becomes `path` when the block ends without an
    error. For writers that open the file themselves (SQLite's backup) by `Partial.path`;
    the block makes the bytes durable. `companions` are as `claimed_partial` takes them.

    The target is checked before and again just before the rename; the partial file is
    removed on any exception (KeyboardInterrupt and SystemExit included)."""
    check_file_target(path, replace=replace, hint=hint, partial=False)  # claiming looks at it
    with claimed_partial(path, mode, companions) as partial:
        yield partial
        check_file_target(path, replace=replace, hint=hint, partial=False)
        os.replace(partial.path, path)


@contextmanager
def replacing(
    path: Path, *, replace: bool, hint: str | None = FORCE_HINT, mode: int = 0o644
) -> Iterator[BinaryIO]:
    """A stream whose bytes become `path` when the block ends without an error (`placing`)."""
    with placing(path, replace=replace, hint=hint, mode=mode) as partial:
        with os.fdopen(os.dup(partial.fd), "wb") as stream:
            yield stream
        os.fsync(partial.fd)  # the stream is closed (and flushed) even if the block closed it


@contextmanager
def replacing_text(
    path: Path, *, replace: bool, hint: str | None = FORCE_HINT, newline: str | None = None
) -> Iterator[TextIO]:
    """`replacing` as UTF-8 text (`newline` as `open` takes it)."""
    with (
        replacing(path, replace=replace, hint=hint) as raw,
        io.TextIOWrapper(raw, encoding="utf-8", newline=newline) as text,
    ):
        yield text


def write_text(path: Path, text: str, *, replace: bool, hint: str | None = FORCE_HINT) -> None:
    """All of `text` as the file `path`, through `replacing`."""
    with replacing_text(path, replace=replace, hint=hint) as out:
        out.write(text)


@dataclass(frozen=True)
class Partial:
    """An unfinished file of ours: its path, and the descriptor that holds its lock."""

    path: Path
    fd: int


@contextmanager
def claimed_partial(
    path: Path, mode: int = 0o644, companions: Iterable[str] = ()
) -> Iterator[Partial]:
    """`NAME.partial` made and locked for the block (a leftover removed first), removed
    after it unless the block renamed it. Writers that open the file themselves (SQLite's
    backup) use the path; `companions` are suffixes of files that go with it."""
    partial = partial_of(path)
    suffixes = tuple(companions)
    try:
        fd = claim(partial, mode, suffixes)
    except PartialFileError as exc:
        raise OutputPathError(path, str(exc)) from None
    try:
        os.fchmod(fd, mode)
        yield Partial(partial, fd)
    finally:
        try:
            _remove_own(partial, fd, suffixes)
        finally:
            os.close(fd)


def _remove_own(partial: Path, fd: int, companions: tuple[str, ...]) -> None:
    """Remove the partial if it is still the file we made (not yet renamed into place)."""
    if still_named(fd, partial):
        partial.unlink()
        for suffix in companions:
            Path(f"{partial}{suffix}").unlink(missing_ok=True)


def _check_folder_of(path: Path) -> None:
    parent = path.parent
    if not parent.is_dir():
        raise OutputPathError(path, f"directory {parent} does not exist")


def _kind_or_file(mode: int) -> str:
    return "a file" if stat.S_ISREG(mode) else file_kind(mode)
