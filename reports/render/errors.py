"""The one error a report writer raises, and the wrapper that turns OS errors into it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from collector.core.output_paths import OutputPathError
from collector.portable.errors import ReportError


class RenderError(ReportError):
    """A report file could not be written; the message is one line for the user."""


def guarded(path: Path, writer: Callable[[Any, Path], None], data: Any) -> Path:
    """Run a file writer, turning OS errors into a one-line RenderError; returns `path`."""
    try:
        writer(data, path)
    except OutputPathError as exc:
        raise RenderError(f"cannot write {path}: {exc.reason}") from None
    except OSError as exc:
        raise RenderError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path
