"""The PDF report: the HTML report laid out by WeasyPrint, so both always say the same.

WeasyPrint finds fonts through fontconfig; the report's CSS names the common CJK families
after the Latin ones, so Chinese text in a zh report (and Chinese names in an en one) uses an
installed CJK font. WeasyPrint is imported here only, on first use: it is heavy, and a user
who asks for HTML only should not need it.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from collector.core.output_paths import OutputPathError, replacing
from collector.portable.errors import ReportError
from reports.render.errors import RenderError


class PdfUnavailable(RuntimeError, ReportError):
    """WeasyPrint (or the Pango library it needs) is not installed."""


def write_pdf(html: str, path: Path) -> None:
    """Render `html` (self-contained: no external resources) to a PDF file at `path`."""
    try:
        import weasyprint
    except (ImportError, OSError) as exc:
        raise PdfUnavailable(
            f"PDF output needs WeasyPrint and Pango (pip install weasyprint; "
            f"Debian: libpango-1.0-0 libpangoft2-1.0-0): {exc}"
        ) from exc
    # WeasyPrint logs every unsupported CSS property at WARNING; the report's print CSS is
    # known to be fine, and the noise would bury real warnings in the user's terminal.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    document = weasyprint.HTML(string=html, base_url=str(path.parent))
    with replacing(path, replace=True) as out:
        document.write_pdf(target=out)


def pdf_available() -> bool:
    """Whether WeasyPrint and the Pango library it needs can be loaded here."""
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


def warm_up() -> None:
    """Import WeasyPrint now (a worker that will print PDFs), if it is installed."""
    with contextlib.suppress(ImportError, OSError):
        import weasyprint  # noqa: F401


def checked_pdf(html: str, path: Path) -> Path:
    """`write_pdf`, a missing WeasyPrint or an unwritable file as a RenderError."""
    try:
        write_pdf(html, path)
    except PdfUnavailable as exc:
        raise RenderError(str(exc)) from exc
    except OutputPathError as exc:
        raise RenderError(f"cannot write {path}: {exc.reason}") from None
    except OSError as exc:
        raise RenderError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path
