"""The PDF report: the HTML report laid out by WeasyPrint, so both always say the same.

WeasyPrint finds fonts through fontconfig; the report's CSS names the common CJK families
after the Latin ones, so Chinese text in a zh report (and Chinese names in an en one) uses an
installed CJK font. WeasyPrint is imported here only, on first use: it is heavy, and a user
who asks for HTML only should not need it.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from reports.render_errors import RenderError


class PdfUnavailable(RuntimeError):
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
    document.write_pdf(target=str(path))


BACKGROUND_SAMPLES = 200_000
"""From this many samples the report prints its PDFs in worker processes: samples.csv and
the other language's charts are written meanwhile (about 2.5 s of CPU a PDF, 3 s for the
CSV of a year of one-minute probes); for fewer, starting a worker costs more than it saves."""


@contextmanager
def pdf_printer(samples: int) -> Iterator[Callable[[str, Path], Future[Path]]]:
    """A function that prints an HTML report to a PDF file and returns its Future.

    For a report of `samples` samples: in the background (worker processes started by
    `spawn`, at most one per CPU) from BACKGROUND_SAMPLES on, at once below. Either way a
    failure is a RenderError from the Future's `result()`, and every PDF is finished
    when the block ends.
    """
    if samples < BACKGROUND_SAMPLES:

        def now(html: str, path: Path) -> Future[Path]:
            done: Future[Path] = Future()
            try:
                done.set_result(checked_pdf(html, path))
            except RenderError as exc:
                done.set_exception(exc)
            return done

        yield now
        return
    workers = max(1, min(2, len(os.sched_getaffinity(0))))
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        yield lambda html, path: pool.submit(checked_pdf, html, path)


def checked_pdf(html: str, path: Path) -> Path:
    """`write_pdf`, a missing WeasyPrint or an unwritable file as a RenderError."""
    try:
        write_pdf(html, path)
    except PdfUnavailable as exc:
        raise RenderError(str(exc)) from exc
    except OSError as exc:
        raise RenderError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path
