"""Writing a period's report files: summary.json, HTML, PDF, CSV and letter drafts.

`write_report` is the one entry point the `report` verb calls. Every output is drawn from the
same summary dict (the engine's result plus the store and source fields), so the HTML, the
PDF, the CSVs and the letters cannot disagree. summary.json is always written first: the
letters cite its SHA-256, computed from the exact bytes on disk. File names:

    summary.json, incidents.csv, samples.csv,
    report.<lang>.html, report.<lang>.pdf, letter.<lang>.md   (lang: en, zh)
    statement.<lang>.pdf   (the statement of method, with the PDFs, when the summary has it)

Each PDF is PDF/A-3b and carries, as associated files, summary.json (these very bytes) and
whatever else `PdfParts.embed` gives (the cited records, checkpoint and proofs); when
`PdfParts.sign` is given, each is then signed and time-stamped in place. A PDF whose
timestamps all failed is drawn again saying it has no trusted time, and signed without.

Failures to create or write the output directory become `RenderError`, whose message is one
line the CLI can print as it is.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from collector.core.output_paths import OutputPathError, replacing, replacing_text
from reports.render.background import Background
from reports.render.charts import render_charts
from reports.render.errors import RenderError, guarded
from reports.render.html import render_html
from reports.render.letters import render_letter
from reports.render.method_statement import render_statement_html
from reports.render.pdf import EmbeddedFile, checked_pdf
from reports.render.pdf_signing import SigningOutcome
from reports.render.samples_csv import write_samples_csv

FORMATS: frozenset[str] = frozenset({"json", "html", "pdf", "csv", "letter"})
LANGS: frozenset[str] = frozenset({"en", "zh"})
REPORT_FILES: tuple[str, ...] = (
    "summary.json",
    "incidents.csv",
    "samples.csv",
    *(f"{stem}.{lang}.{ext}" for lang in sorted(LANGS)
      for stem, ext in (("report", "html"), ("report", "pdf"), ("letter", "md"),
                        ("statement", "pdf"))),
)  # fmt: skip
"""Every file a report may write: a folder holding any of them holds a report, replaced
only with --force (`collector.core.output_paths.check_folder_target`)."""
INCIDENT_COLUMNS: tuple[str, ...] = (
    "start",
    "end",
    "duration_seconds",
    "counted_seconds",
    "counted",
    "not_counted_because",
    "attribution",
    "probes",
    "errors",
    "vantages",
)


@dataclass(frozen=True)
class PdfParts:
    """What a report's PDFs carry besides their pages, and how they are signed."""

    embed: Callable[[bytes], Sequence[EmbeddedFile]] | None = None
    """The files each PDF carries, given summary.json's bytes; None: summary.json alone."""
    sign: Callable[[Path, bool], SigningOutcome] | None = None
    """Signs a written PDF in place, asking for document timestamps when told to."""
    timestamped: bool = False
    """Whether timestamps will be asked for: the first page then names the authorities."""


def write_report(
    out_dir: Path,
    summary: dict[str, Any],
    timeline: pd.DataFrame,
    daily: pd.DataFrame,
    samples: pd.DataFrame,
    formats: set[str],
    langs: set[str],
    *,
    records_sha256: str | None = None,
    warn: Callable[[str], None] | None = None,
    background: Background | None = None,
) -> list[Path]:
    """Write the requested formats in the requested languages; return the paths written.

    summary.json is written whatever `formats` says (the letters and the bundle cite it).
    Warnings (such as a missing CJK font) go to `warn` and into the HTML report.
    """
    writer = ReportWriter(out_dir, formats, langs, background)
    writer.start_samples_csv(samples)
    return writer.write(summary, timeline, daily, samples, records_sha256=records_sha256, warn=warn)


class ReportWriter:
    """One report's files, in two steps so the slowest file can start first.

    samples.csv needs only the samples, so `start_samples_csv` hands it to `background`
    (see `reports.render.background`) before the SLA engine runs; `write` then writes the rest,
    summary.json first, the PDFs through `background` too, and waits for every job.
    """

    def __init__(
        self,
        out_dir: Path,
        formats: set[str],
        langs: set[str],
        background: Background | None = None,
    ) -> None:
        unknown = (set(formats) - FORMATS) | (set(langs) - LANGS)
        if unknown:
            raise RenderError(
                f"unknown report format or language: {', '.join(sorted(unknown))} "
                f"(formats: {', '.join(sorted(FORMATS))}; languages: en, zh)"
            )
        self.out_dir, self.formats, self.langs = Path(out_dir), set(formats), set(langs)
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RenderError(
                f"cannot create report directory {out_dir}: {exc.strerror or exc}"
            ) from exc
        self.background = background or Background(None)
        self.later: list[Future[Path]] = []

    def start_samples_csv(self, samples: pd.DataFrame) -> None:
        """Start writing samples.csv, if the formats ask for CSV."""
        if "csv" in self.formats:
            path = self.out_dir / "samples.csv"
            self.later.append(self.background.submit(guarded, path, write_samples_csv, samples))

    def write(
        self,
        summary: dict[str, Any],
        timeline: pd.DataFrame,
        daily: pd.DataFrame,
        samples: pd.DataFrame,
        *,
        records_sha256: str | None = None,
        warn: Callable[[str], None] | None = None,
        pdf: PdfParts | None = None,
    ) -> list[Path]:
        """Write everything else and wait for the background jobs; the paths written."""
        out_dir, formats, parts = self.out_dir, self.formats, pdf or PdfParts()
        summary_bytes = summary_json_bytes(summary)
        written = [_write(out_dir / "summary.json", summary_bytes)]
        summary_sha256 = hashlib.sha256(summary_bytes).hexdigest()
        embedded = _embedded(parts, summary_bytes) if "pdf" in formats else []
        created = datetime.fromisoformat(str(summary["generated_at"]).replace("Z", "+00:00"))
        redraw: dict[Path, Callable[[], str]] = {}
        if "csv" in formats:
            written.append(guarded(out_dir / "incidents.csv", write_incidents_csv, summary))
        seen_warnings: set[str] = set()
        for lang in sorted(self.langs):
            if formats & {"html", "pdf"}:
                charts = render_charts(summary, timeline, daily, samples, lang)
                for message in charts.warnings:
                    if warn is not None and message not in seen_warnings:
                        warn(message)
                    seen_warnings.add(message)
                draw = partial(render_html, summary, charts.pngs, daily, lang, charts.warnings)
                if "html" in formats:
                    html = draw().encode("utf-8")
                    written.append(_write(out_dir / f"report.{lang}.html", html))
                if "pdf" in formats:
                    pdf_path = out_dir / f"report.{lang}.pdf"
                    page = draw(pdf_trusted_time=parts.timestamped)
                    job = self.background.submit(checked_pdf, page, pdf_path, embedded, created)
                    self.later.append(job)
                    redraw[pdf_path] = partial(draw, pdf_trusted_time=False)
            if "pdf" in formats and summary.get("method_statement"):
                self._start_statement(summary, lang, summary_sha256, embedded[:1], created)
            if "letter" in formats:
                letter = render_letter(
                    summary, lang, summary_sha256=summary_sha256, records_sha256=records_sha256
                )
                written.append(_write(out_dir / f"letter.{lang}.md", letter.encode("utf-8")))
        done = [job.result() for job in self.later]
        if parts.sign is not None:
            for path in done:
                if path.suffix == ".pdf":
                    _sign(path, parts, redraw.get(path), embedded, created, warn)
        return written + done

    def _start_statement(
        self,
        summary: Mapping[str, Any],
        lang: str,
        summary_sha256: str,
        embedded: Sequence[EmbeddedFile],
        created: datetime,
    ) -> None:
        """The statement of method as its own PDF, carrying summary.json (its facts)."""
        html = render_statement_html(
            summary, lang, report_name=f"report.{lang}.pdf", summary_sha256=summary_sha256
        )
        path = self.out_dir / f"statement.{lang}.pdf"
        self.later.append(self.background.submit(checked_pdf, html, path, embedded, created))


def _embedded(parts: PdfParts, summary_bytes: bytes) -> list[EmbeddedFile]:
    if parts.embed is not None:
        return list(parts.embed(summary_bytes))
    described = "The figures this report shows"
    return [EmbeddedFile("summary.json", summary_bytes, "application/json", "Source", described)]


def _sign(
    path: Path,
    parts: PdfParts,
    redraw: Callable[[], str] | None,
    embedded: Sequence[EmbeddedFile],
    created: datetime,
    warn: Callable[[str], None] | None,
) -> None:
    """Sign one PDF; when every timestamp failed and its page claims them (`redraw`), draw
    it again saying it has no trusted time and sign that without asking."""
    assert parts.sign is not None
    outcome = parts.sign(path, parts.timestamped)
    for failure in outcome.failures:
        if warn is not None:
            warn(f"{path.name}: {failure}")
    if parts.timestamped and not outcome.timestamps and redraw is not None:
        if warn is not None:
            warn(
                f"{path.name}: no document timestamp could be made; it says it has no trusted time"
            )
        checked_pdf(redraw(), path, embedded, created)
        parts.sign(path, False)


def summary_json_bytes(summary: Mapping[str, Any]) -> bytes:
    """summary.json as written: UTF-8, two-space indent, key order kept, final newline."""
    try:
        text = json.dumps(summary, indent=2, ensure_ascii=False, allow_nan=False)
    except ValueError as exc:
        raise RenderError(f"summary has a value JSON cannot hold (NaN or infinity): {exc}") from exc
    return (text + "\n").encode("utf-8")


def write_incidents_csv(summary: Mapping[str, Any], path: Path) -> None:
    """incidents.csv: one row per incident; lists joined with ';', errors as class=count;
    `not_counted_because` empty for a counted incident."""
    with replacing_text(path, replace=True, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(INCIDENT_COLUMNS)
        for incident in summary.get("incidents") or []:
            errors = incident.get("errors") or {}
            writer.writerow(
                [
                    incident["start"],
                    incident["end"],
                    incident["duration_seconds"],
                    incident["counted_seconds"],
                    str(bool(incident["counted"])).lower(),
                    incident.get("not_counted_because") or "",
                    incident["attribution"],
                    ";".join(incident.get("probes") or []),
                    ";".join(f"{name}={count}" for name, count in sorted(errors.items())),
                    ";".join(incident.get("vantages") or []),
                ]
            )


def _write(path: Path, data: bytes) -> Path:
    """Write bytes to `path` (through a partial file, never into a device or FIFO planted
    under its name), turning OS errors into a one-line RenderError."""
    try:
        with replacing(path, replace=True) as out:
            out.write(data)
    except OutputPathError as exc:
        raise RenderError(f"cannot write {path}: {exc.reason}") from None
    except OSError as exc:
        raise RenderError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path
