"""JSON from outside (import lines, proof files), parsed with limits on depth and numbers.

Python's `json` recurses once per nesting level and raises RecursionError past about a
thousand; it turns a 5000-digit number into Python's int-to-string `ValueError`, `1e400`
into infinity, and accepts `NaN` and `Infinity`, which are not JSON. `loads_bounded`
refuses all of those before they become values, with `JsonLimitError`, a `ValueError`
whose message is the one line to print after the file's name.

Depth is counted on the text with strings blanked out, and only when the text holds
enough brackets to exceed the limit at all, so an ordinary line costs two `count` calls.
"""

from __future__ import annotations

import json
import re
from typing import Any

from collector.portable.errors import UsageError

MAX_DEPTH = 32
"""Import lines nest two levels (a line, its `detail`), proof files two."""
MAX_NUMBER_CHARS = 40
"""Digits (and sign, point, exponent) of one number: 64-bit integers have 20 at most."""

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_BRACKETS = re.compile(rb"[\[\]{}]")
_OPENING = frozenset(b"[{")


class JsonLimitError(ValueError, UsageError):
    """The text is JSON no honest writer of this kind of file produces."""


def _number_too_long(text: str) -> None:
    if len(text) > MAX_NUMBER_CHARS:
        raise JsonLimitError(f"a number of {len(text)} characters (at most {MAX_NUMBER_CHARS})")


def _parse_int(text: str) -> int:
    _number_too_long(text)
    return int(text)


def _parse_float(text: str) -> float:
    _number_too_long(text)
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise JsonLimitError(f"{text} is too large for a number")
    return value


def _parse_constant(text: str) -> Any:
    raise JsonLimitError(f"{text} is not a JSON number")


def nesting_depth(raw: bytes) -> int:
    """How deep arrays and objects nest in `raw`, ignoring brackets inside strings."""
    openings = raw.count(b"[") + raw.count(b"{")
    if openings <= MAX_DEPTH:  # so few brackets cannot nest deeper than there are of them
        return openings
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRING.sub(b'""', raw)):
        depth += 1 if bracket[0] in _OPENING else -1
        deepest = max(deepest, depth)
    return deepest


def loads_bounded(raw: bytes | str) -> Any:
    """`json.loads(raw)`, or JsonLimitError for deep nesting, long numbers or NaN/Infinity.

    Malformed JSON still raises `json.JSONDecodeError`, and bytes that are not UTF-8
    `UnicodeDecodeError`, as `json.loads` does.
    """
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if nesting_depth(data) > MAX_DEPTH:
        raise JsonLimitError(f"nested deeper than {MAX_DEPTH} levels")
    return json.loads(
        raw, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant
    )
