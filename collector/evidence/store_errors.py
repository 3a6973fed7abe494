"""How the evidence store fails: one exception hierarchy, one line each, naming the file.

apsw's exceptions are translated at one boundary (`translate`), so callers see what went
wrong with the evidence ("locked by another process", "not a slawitness evidence store"),
never SQLite's internals.
"""

from __future__ import annotations

import apsw

from collector.portable.errors import StoreAccessError

MIN_SQLITE = (3, 51, 3)
"""Older SQLite can reset a WAL file under a concurrent writer and lose commits."""
BUSY_TIMEOUT_MS = 15_000
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024


class StoreError(StoreAccessError):
    """A store problem, printed as `<path>: <problem>` on one line."""

    def __init__(self, path: str, problem: str) -> None:
        self.path, self.problem = path, " ".join(problem.split())
        super().__init__(f"{path}: {self.problem}")


class StoreMissing(StoreError): ...


class StoreExists(StoreError): ...


class NotAStore(StoreError): ...


class UnknownSchemaVersion(StoreError): ...


class StoreReadOnly(StoreError): ...


class StoreBusy(StoreError): ...


class StoreFull(StoreError): ...


class StoreCorrupt(StoreError): ...


class SqliteTooOld(StoreError): ...


def translate(path: str, exc: apsw.Error) -> StoreError:
    """The one place apsw's exceptions become StoreErrors."""
    if isinstance(exc, apsw.BusyError | apsw.LockedError):
        waited = f"waited {BUSY_TIMEOUT_MS // 1000} s"
        return StoreBusy(path, f"store is locked by another process ({waited})")
    if isinstance(exc, apsw.FullError):
        return StoreFull(path, f"disk or database is full ({exc})")
    if isinstance(exc, apsw.ReadOnlyError):
        return StoreReadOnly(path, f"store is read-only ({exc})")
    if isinstance(exc, apsw.NotADBError):
        return NotAStore(path, "not a slawitness evidence store (file is not a database)")
    if isinstance(exc, apsw.CorruptError):
        return StoreCorrupt(path, f"database file is damaged ({exc})")
    if isinstance(exc, apsw.ConnectionClosedError):
        return StoreError(path, "store is closed")
    if isinstance(exc, apsw.CantOpenError | apsw.PermissionsError):
        return StoreError(path, f"cannot open the store ({exc})")
    return StoreError(path, f"SQLite error: {exc}")


def require_sqlite(path: str, version: str) -> None:
    """Refuse an SQLite older than MIN_SQLITE (the version is passed in so it is testable)."""
    parts = tuple(int(p) for p in version.split(".")[:3])
    if parts < MIN_SQLITE:
        need = ".".join(map(str, MIN_SQLITE))
        raise SqliteTooOld(
            path,
            f"SQLite {version} is too old for the evidence store (need {need} or later:"
            " older versions can lose commits from concurrent writers in WAL mode)",
        )
