"""Durations as people write them in a config (`30s`, `5m`, `1h30m`, `250ms`).

Seconds are floats inside the program; records store integer nanoseconds. A duration is at
most `MAX_SECONDS`: `.inf`, `1e30` or `1e9h` would pass a "positive" check and then
overflow the first time one is turned into nanoseconds, a date or a sleep.
"""

from __future__ import annotations

import math
import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
MAX_SECONDS = 366 * 86400.0
"""A year and a day: longer than any interval, timeout, window or reminder an SLA needs."""


def parse_duration(value: object) -> float:
    """Seconds from `90s`, `5m`, `1h30m`, `250ms` or a bare number of seconds."""
    if isinstance(value, bool) or (isinstance(value, float) and math.isnan(value)):
        raise ValueError(f"expected a duration like 30s or 5m, got {value!r}")
    seconds: float
    if isinstance(value, int | float):
        seconds = value  # compared as it is: 10**400 is an int that no float holds
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        if not text or _PART.sub("", text) != "":
            raise ValueError(f"expected a duration like 30s or 5m, got {value!r}")
        seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))
    else:
        raise ValueError(f"expected a duration like 30s or 5m, got {value!r}")
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative, got {value!r}")
    if seconds > MAX_SECONDS:
        raise ValueError(f"a duration is at most 366d, got {value!r}")
    return float(seconds)


def format_duration(seconds: float) -> str:
    """An exact, readable spelling: seconds up to two minutes (`90s`), then `5m`, `2h`, `1d`."""
    if seconds and seconds < 1:
        return f"{round(seconds * 1000)}ms"
    whole = round(seconds)
    if abs(seconds - whole) > 1e-9:
        return f"{seconds:g}s"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole >= 120 and whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"
