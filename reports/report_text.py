"""The report's fixed words, in English and Chinese (`templates/report_text.yml`), read once.

The renderer and the letters print them, and the SLA engine words the reasons a sample was
not counted with them; kept apart from both, so evaluating an SLA never loads the renderer
(jinja2, fonts) and the renderer never loads the engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

TEXT: dict[str, dict[str, Any]] = yaml.safe_load(
    (Path(__file__).parent / "templates" / "report_text.yml").read_text(encoding="utf-8")
)
"""Per language (`en`, `zh`), each fixed phrase by its key."""
