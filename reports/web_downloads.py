"""The web view's buttons: a period's report (PDF) or bundle (zip), built on request.

When the month is bad the user wants the file to attach, not a command to type. These are
the CLI's own `report` and `bundle` runs (`reports.report_run`), into a temporary folder,
handed over as a download: so each is signed, anchored and recorded in the custody log
exactly as `slawitness report` and `slawitness bundle` would record it. One build runs at a
time (each takes seconds of CPU); a second request waits for the first.
"""

from __future__ import annotations

import re
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from collector.config.model import Config
from collector.portable.errors import UsageError
from reports.render.report_files import LANGS
from reports.report_run import PeriodChoice, make_bundle, make_report

KINDS = ("report", "bundle")
_MONTH = re.compile(r"\d{4}-\d{2}")


class DownloadRefused(UsageError):
    """The request names no target, period, kind or language this collector can build."""


@dataclass(frozen=True)
class Download:
    """A built file, with what the browser needs to save it."""

    body: bytes
    content_type: str
    filename: str


class Downloads:
    """Builds reports and bundles for the web view, one at a time."""

    def __init__(self, config: Config, config_path: Path, stores: Sequence[Path]) -> None:
        self._config = config
        self._config_path = config_path
        self._stores = list(stores)
        self._one_at_a_time = threading.Lock()

    def build(self, kind: str, target: str, period: str, lang: str) -> Download:
        """The report's PDF or the bundle's zip of `target` over the month `period`.

        DownloadRefused for a request that cannot name a build; the ReportError the run
        raised (one line) when it could not be made."""
        if kind not in KINDS:
            raise DownloadRefused(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        if lang not in LANGS:
            raise DownloadRefused(f"lang must be one of {', '.join(sorted(LANGS))}, not {lang!r}")
        if not _MONTH.fullmatch(period):
            raise DownloadRefused(f"period must be a month as YYYY-MM, not {period!r}")
        names = [t.name for t in self._config.targets if t.sla is not None]
        if target not in names:
            raise DownloadRefused(f"no target with SLA terms named {target!r}")
        choice = PeriodChoice(month=period)
        stem = f"{kind}-{target}-{period}"
        with self._one_at_a_time, tempfile.TemporaryDirectory(prefix="slawitness-web-") as tmp:
            if kind == "report":
                out = Path(tmp) / "report"
                make_report(self._config, target, choice, self._stores, None, out, {"pdf"},
                            {lang})  # fmt: skip
                pdf = out / f"report.{lang}.pdf"
                return Download(pdf.read_bytes(), "application/pdf", f"{stem}.{lang}.pdf")
            zip_path = Path(tmp) / f"{stem}.zip"
            make_bundle(self._config, self._config_path, target, choice, self._stores,
                        zip_path, {lang})  # fmt: skip
            return Download(zip_path.read_bytes(), "application/zip", f"{stem}.zip")
