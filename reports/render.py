"""Writing a period's report files: summary.json, HTML, PDF, CSV and letter drafts.

`write_report` is the one entry point the `report` verb calls. Every output is drawn from the
same summary dict (the engine's result plus the store and source fields), so the HTML, the
PDF, the CSVs and the letters cannot disagree. summary.json is always written first: the
letters cite its SHA-256, computed from the exact bytes on disk. File names:

    summary.json, incidents.csv, samples.csv,
    report.<lang>.html, report.<lang>.pdf, letter.<lang>.md   (lang: en, zh)

Failures to create or write the output directory become `RenderError`, whose message is one
line the CLI can print as it is.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pandas as pd

from reports.charts import render_charts
from reports.html import render_html
from reports.letters import render_letter
from reports.pdf import pdf_printer
from reports.render_errors import RenderError
from reports.samples_csv import write_samples_csv

FORMATS: frozenset[str] = frozenset({"json", "html", "pdf", "csv", "letter"})
LANGS: frozenset[str] = frozenset({"en", "zh"})
INCIDENT_COLUMNS: tuple[str, ...] = (
    "start",
    "end",
    "duration_seconds",
    "counted_seconds",
    "counted",
    "attribution",
    "probes",
    "errors",
    "vantages",
)


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
) -> list[Path]:
    """Write the requested formats in the requested languages; return the paths written.

    summary.json is written whatever `formats` says (the letters and the bundle cite it).
    Warnings (such as a missing CJK font) go to `warn` and into the HTML report.
    """
    unknown = (set(formats) - FORMATS) | (set(langs) - LANGS)
    if unknown:
        raise RenderError(
            f"unknown report format or language: {', '.join(sorted(unknown))} "
            f"(formats: {', '.join(sorted(FORMATS))}; languages: en, zh)"
        )
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RenderError(
            f"cannot create report directory {out_dir}: {exc.strerror or exc}"
        ) from exc
    written: list[Path] = []
    summary_bytes = summary_json_bytes(summary)
    written.append(_write(out_dir / "summary.json", summary_bytes))
    summary_sha256 = hashlib.sha256(summary_bytes).hexdigest()
    seen_warnings: set[str] = set()
    pdfs: list[Future[Path]] = []
    with pdf_printer(len(samples)) as print_pdf:
        for lang in sorted(langs):
            if formats & {"html", "pdf"}:
                charts = render_charts(summary, timeline, daily, samples, lang)
                for message in charts.warnings:
                    if warn is not None and message not in seen_warnings:
                        warn(message)
                    seen_warnings.add(message)
                html = render_html(summary, charts.pngs, daily, lang, charts.warnings)
                if "html" in formats:
                    written.append(_write(out_dir / f"report.{lang}.html", html.encode("utf-8")))
                if "pdf" in formats:
                    pdfs.append(print_pdf(html, out_dir / f"report.{lang}.pdf"))
            if "letter" in formats:
                letter = render_letter(
                    summary, lang, summary_sha256=summary_sha256, records_sha256=records_sha256
                )
                written.append(_write(out_dir / f"letter.{lang}.md", letter.encode("utf-8")))
        if "csv" in formats:
            written.append(_guarded(out_dir / "incidents.csv", write_incidents_csv, summary))
            written.append(_guarded(out_dir / "samples.csv", write_samples_csv, samples))
        written += [pdf.result() for pdf in pdfs]
    return written


def summary_json_bytes(summary: Mapping[str, Any]) -> bytes:
    """summary.json as written: UTF-8, two-space indent, key order kept, final newline."""
    try:
        text = json.dumps(summary, indent=2, ensure_ascii=False, allow_nan=False)
    except ValueError as exc:
        raise RenderError(f"summary has a value JSON cannot hold (NaN or infinity): {exc}") from exc
    return (text + "\n").encode("utf-8")


def write_incidents_csv(summary: Mapping[str, Any], path: Path) -> None:
    """incidents.csv: one row per incident; lists joined with ';', errors as class=count."""
    with path.open("w", newline="", encoding="utf-8") as handle:
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
                    incident["attribution"],
                    ";".join(incident.get("probes") or []),
                    ";".join(f"{name}={count}" for name, count in sorted(errors.items())),
                    ";".join(incident.get("vantages") or []),
                ]
            )


def _write(path: Path, data: bytes) -> Path:
    """Write bytes to `path`, turning OS errors into a one-line RenderError."""
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise RenderError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path


def _guarded(path: Path, writer: Callable[[Any, Path], None], data: Any) -> Path:
    """Run a file writer, turning OS errors into a one-line RenderError."""
    try:
        writer(data, path)
    except OSError as exc:
        raise RenderError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path
