"""The status page's HTML (English and Chinese) and its badges, drawn from `status.json`.

The page is static: no script, nothing fetched from elsewhere, every value escaped by
Jinja's autoescape. A badge is a small SVG in the shape shields.io made familiar, written
here from a template (it is two rectangles and two texts), green while the uptime meets
the SLA, red once it does not.
"""

from __future__ import annotations

from functools import cache
from typing import Any
from xml.sax.saxutils import escape

import jinja2

from collector.core.percent import cut_percent
from reports.render.html import template_environment
from reports.render.web_page import TEXT

STATUS_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "proofs": "Proofs", "proof_hint": "Check a proof offline: slawitness check-proof FILE",
        "withheld": "Proofs are not published", "checkpoint_note": "signed checkpoint",
        "feed": "JSON feed", "other_lang": "中文", "other_href": "index.zh.html",
    },
    "zh": {
        "proofs": "证明", "proof_hint": "离线核验证明:slawitness check-proof 文件",
        "withheld": "未公开证明", "checkpoint_note": "签名检查点",
        "feed": "JSON 数据", "other_lang": "English", "other_href": "index.html",
    },
}  # fmt: skip

_BADGE = """<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" \
aria-label="uptime: {value}"><title>uptime: {value}</title>\
<rect width="{label_w}" height="20" fill="#555"/>\
<rect x="{label_w}" width="{value_w}" height="20" fill="{color}"/>\
<g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">\
<text x="6" y="14">uptime</text><text x="{value_x}" y="14">{value}</text></g></svg>
"""


def badge_svg(uptime: float | None, objective: float | None) -> bytes:
    """`uptime | 99.686%`, green when it meets `objective`, red when not, grey without data."""
    if uptime is None:
        value, color = "no data", "#9f9f9f"
    else:
        value = cut_percent(uptime)
        color = "#1a7f37" if objective is None or uptime >= objective else "#c62828"
    label_w, value_w = 52, 12 + 7 * len(value)
    return _BADGE.format(
        width=label_w + value_w, label_w=label_w, value_w=value_w, value_x=label_w + 6,
        color=color, value=escape(value),
    ).encode()  # fmt: skip


@cache
def _template() -> jinja2.Template:
    return template_environment(autoescape=True).get_template("status_page.html.j2")


def render_status_page(feed: dict[str, Any], lang: str) -> bytes:
    """The page in `lang` (`en` or `zh`)."""
    text = {**TEXT[lang], **STATUS_TEXT[lang]}
    return _template().render(feed=feed, t=text, lang=lang).encode()
