"""Finding a font that can draw Chinese, for the charts and the zh report.

Matplotlib's default DejaVu Sans has no CJK glyphs: Chinese labels would come out as empty
boxes, which is worse than English. So the charts use Chinese only when one of the common
CJK families is installed (Debian: fonts-noto-cjk, fonts-wqy-zenhei, or Source Han), and
the caller gets a warning to show otherwise. HTML and PDF name the same families in CSS;
browsers and WeasyPrint find them through fontconfig.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from matplotlib import font_manager

# In order of preference: sans faces read better in small chart labels than serif ones.
CJK_FAMILIES: tuple[str, ...] = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Noto Sans CJK TC",
    "Noto Sans CJK JP",
    "Source Han Sans",
    "Noto Serif CJK SC",
    "Source Han Serif SC",
)
_FILE_HINTS: tuple[str, ...] = ("notosanscjk", "sourcehansans", "wqy", "notoserifcjk")

CSS_FONT_STACK = ", ".join(f'"{name}"' for name in CJK_FAMILIES) + ", sans-serif"

NO_CJK_FONT_WARNING = (
    "no CJK font found (install fonts-noto-cjk): the charts use English labels and "
    "Chinese text in the zh report may not display"
)


@lru_cache(maxsize=1)
def find_cjk_font() -> str | None:
    """The family name of an installed CJK font matplotlib can use, or None.

    Looks in matplotlib's font list first; a font installed after that list was cached is
    found by scanning the system font files once and registering the matching ones.
    """
    found = _known_family()
    if found is not None:
        return found
    for path in font_manager.findSystemFonts():
        name = Path(path).name.lower().replace("-", "").replace("_", "")
        if any(hint in name for hint in _FILE_HINTS):
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):
                continue
    return _known_family()


def _known_family() -> str | None:
    """The most preferred CJK family in matplotlib's current font list."""
    names = {entry.name for entry in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in names:
            return family
    return None
