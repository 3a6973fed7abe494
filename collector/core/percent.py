"""Uptime as a percent, the one way every output spells it.

Cut, not rounded: 0.9999963 is `99.999%`, never `100.000%` while some downtime counts (a
provider would quote the rounded figure back), and 0.9946092 is `99.460%`. The float's
shortest decimal spelling is what is cut, so 0.995 stays `99.500%` rather than falling to
`99.499%` through binary rounding.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal


def cut_percent(ratio: float, decimals: int = 3) -> str:
    """`ratio` (0..1) as a percent with `decimals` places, cut toward zero."""
    percent = Decimal(repr(float(ratio))) * 100
    return f"{percent.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_DOWN)}%"
