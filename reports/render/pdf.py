"""The PDF report: the HTML report laid out by WeasyPrint, so both always say the same.

Every PDF is PDF/A-3b (ISO 19005-3): fonts embedded, an sRGB output intent, XMP metadata
with its title, creator tool and creation date, so an archive or a court's system accepts it
years later. PDF/A-3 also lets a document carry the files it was drawn from as associated
files, each with its relationship and MIME type: the report carries its summary.json, the
records it cites, the signed checkpoint and the proofs, so the PDF alone can be checked.

WeasyPrint finds fonts through fontconfig; the report's CSS names the common CJK families
after the Latin ones, so Chinese text in a zh report (and Chinese names in an en one) uses an
installed CJK font. WeasyPrint is imported here only, on first use: it is heavy, and a user
who asks for HTML only should not need it.
"""

from __future__ import annotations

import base64
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from collector import __version__
from collector.core.output_paths import OutputPathError, replacing
from collector.portable.errors import ReportError
from reports.render.errors import RenderError


class PdfUnavailable(RuntimeError, ReportError):
    """WeasyPrint (or the Pango library it needs) is not installed."""


PDF_VARIANT = "pdf/a-3b"


@dataclass(frozen=True)
class EmbeddedFile:
    """A file the PDF carries as a PDF/A-3 associated file.

    `relationship` is PDF/A-3's AFRelationship: Source (what the document was drawn from,
    summary.json), Data (the records it rests on) or Supplement (what proves them)."""

    name: str
    data: bytes
    mime_type: str
    relationship: str
    description: str


def write_pdf(
    html: str,
    path: Path,
    embedded: Sequence[EmbeddedFile] = (),
    created: datetime | None = None,
) -> None:
    """Render `html` (self-contained: no external resources) to a PDF/A-3b file at `path`,
    carrying `embedded`. `created` is the creation date its metadata states (the report's
    generation time, so the PDF and its summary.json name the same moment)."""
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
    document = weasyprint.HTML(string=html, base_url=str(path.parent)).render()
    document.metadata.generator = f"slawitness {__version__}"
    if created is not None:
        stamp = created.strftime("%Y-%m-%dT%H:%M:%SZ")
        document.metadata.created = document.metadata.modified = stamp
    attachments = [_attachment(weasyprint, item, created) for item in embedded]
    with replacing(path, replace=True) as out:
        document.write_pdf(target=out, pdf_variant=PDF_VARIANT, attachments=attachments)


def _attachment(weasyprint: object, item: EmbeddedFile, created: datetime | None) -> object:
    """A WeasyPrint attachment; a data: URL carries the MIME type, as PDF/A-3 requires one
    (guessing it from the name would file a .jsonl or .tlog-proof as octet-stream)."""
    url = f"data:{item.mime_type};base64,{base64.b64encode(item.data).decode('ascii')}"
    dates = {} if created is None else {"created": created, "modified": created}
    return weasyprint.Attachment(  # type: ignore[attr-defined]
        url=url,
        name=item.name,
        description=item.description,
        relationship=item.relationship,
        **dates,
    )


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


def checked_pdf(
    html: str,
    path: Path,
    embedded: Sequence[EmbeddedFile] = (),
    created: datetime | None = None,
) -> Path:
    """`write_pdf`, a missing WeasyPrint or an unwritable file as a RenderError."""
    try:
        write_pdf(html, path, embedded, created)
    except PdfUnavailable as exc:
        raise RenderError(str(exc)) from exc
    except OutputPathError as exc:
        raise RenderError(f"cannot write {path}: {exc.reason}") from None
    except OSError as exc:
        raise RenderError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path
