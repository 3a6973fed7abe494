"""The report's fixed words, in English and Chinese (`templates/report_text.yml`), read once.

The renderer and the letters print them, and the SLA engine words the reasons a sample was
not counted with them; kept apart from both, so evaluating an SLA never loads the renderer
(jinja2, fonts) and the renderer never loads the engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def _merged_text(folder: Path) -> dict[str, dict[str, Any]]:
    """report_text.yml and each report_text.<part>.yml beside it (one per part of the
    documents: provenance, custody, statement of method...), merged per language; a key
    defined twice is a mistake in the templates, refused rather than silently replaced."""
    merged: dict[str, dict[str, Any]] = {}
    paths = [folder / "report_text.yml", *sorted(folder.glob("report_text.*.yml"))]
    for path in paths:
        for lang, phrases in yaml.safe_load(path.read_text(encoding="utf-8")).items():
            held = merged.setdefault(lang, {})
            twice = sorted(set(held) & set(phrases))
            if twice:
                raise ValueError(f"{path.name}: {lang} phrases defined twice: {twice}")
            held.update(phrases)
    return merged


TEXT: dict[str, dict[str, Any]] = _merged_text(Path(__file__).parent / "templates")
"""Per language (`en`, `zh`), each fixed phrase by its key."""
