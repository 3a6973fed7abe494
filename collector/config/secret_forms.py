"""Where a secret stands in a message, in whatever form it took on the way there.

A secret rarely reaches a message as written. An exception shows a header value as `repr()`
of its bytes (`b'tok\\x00en'`), a log line or a record holds it JSON-escaped (`\\"`, `\\u00e9`),
a URL percent-encoded (`%2F`, `+` for a space), an Authorization header as base64 of
`user:password`, a hex dump as hex digits, and any of them may be wrapped onto a new line
or escaped twice over. Scrubbing the verbatim value alone would let all of these through.

So a secret becomes a regular expression in which every character may appear in any of its
forms: itself; a backslash escape (one or more backslashes, hex digits in either case:
`\\n`, `\\'`, `\\x0b`, `\\u00e9`, `\\U0001f600`, a JSON surrogate pair); its UTF-8 bytes as
`\\xNN` or `%NN` (also `%25NN`, `%uNNNN`); an HTML character reference; a quote doubled as
CSV doubles it; `+` for a space; with one line break allowed between two characters. Hex
of the UTF-8 bytes is a second expression.

Base64 is searched for apart, as plain text: the text's runs of base64 characters are joined
across line breaks (MIME and PEM wrap them), and searched for the secret's encoding at each
of the three byte alignments it can have inside a longer encoded text (`user:` before a
password) in both alphabets, by the characters that depend on the secret's bits alone plus
the one at each end that mixes them with a neighbour's. So the secret's part of
`Basic dXNlcjpw...` goes too. (As one expression, those eight encodings with a line break
between any two characters took longer to compile than all the rest together.)
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Iterable, Iterator

MIN_SECRET_CHARS = 3
"""Shorter values are not scrubbed: they would match everywhere and hide nothing."""
MIN_BASE64_CORE = 6
"""An inner base64 encoding shorter than this, from a very short secret, would match by
chance; the whole encoding of a secret is looked for however short."""

_ESCAPE = r"\\+"
"""The backslash of an escape, escaped once or more (a repr inside JSON doubles it)."""
_BREAK = r"[ \t]*(?:\r\n|\r|\n|\\+r\\+n|\\+n|\\+r)[ \t]*"
"""One line break, real or escaped, with the indentation around it."""
_LINE_BREAK = f"(?:{_BREAK})?"
_NAMED_ESCAPES = {"\n": "n", "\r": "r", "\t": "t", "\b": "b", "\f": "f", "\v": "v", "\a": "a"}
_NAMED_ESCAPES["\0"] = "0"
_HTML_NAMES = {"'": "apos", '"': "quot", "&": "amp", "<": "lt", ">": "gt"}
_BASE64_RUN = re.compile(f"[A-Za-z0-9+/_-]+(?:=*{_BREAK}[A-Za-z0-9+/_-]+)*=*")
_BREAKS = re.compile(_BREAK)


def _hex(number: int, width: int) -> str:
    """`number` as `width` hex digits, either case."""
    return f"(?i:{number:0{width}x})"


def _char_forms(char: str) -> str:
    """One character as a pattern of every way a message may spell it (a backslash by its
    code forms only: runs of them are `_backslashes`)."""
    point = ord(char)
    forms = [] if char == "\\" else [re.escape(char)]
    if char in "'\"/":
        forms.append(_ESCAPE + re.escape(char))
    if char in "'\"":
        forms.append(char * 2)  # CSV and SQL double a quote
    if char in _NAMED_ESCAPES:
        forms.append(_ESCAPE + _NAMED_ESCAPES[char])
    if point < 0x100:
        forms.append(_ESCAPE + "x" + _hex(point, 2))
    if point < 0x10000:
        forms.append(_ESCAPE + "u" + _hex(point, 4))
        forms.append("%u" + _hex(point, 4))
    else:
        high, low = divmod(point - 0x10000, 0x400)
        forms.append(_ESCAPE + "u" + _hex(0xD800 + high, 4) + _ESCAPE + "u" + _hex(0xDC00 + low, 4))
    forms.append(_ESCAPE + "U" + _hex(point, 8))
    forms.append(_ESCAPE + r"u\{0*" + f"(?i:{point:x})" + r"\}")
    encoded = char.encode("utf-8", "surrogatepass")
    forms.append("".join(_ESCAPE + "x" + _hex(byte, 2) for byte in encoded))
    forms.append("".join("%(?:25)*" + _hex(byte, 2) for byte in encoded))
    forms.append(f"&#0*{point};")
    forms.append(f"&#[xX](?i:0*{point:x});")
    if char in _HTML_NAMES:
        forms.append(f"&{_HTML_NAMES[char]};")
    if char == " ":
        forms.append(r"\+")
    return "(?:" + "|".join(dict.fromkeys(forms)) + ")"


def _backslashes(count: int) -> str:
    """A run of `count` backslashes: as is, escaped once or twice (each one doubled), or
    each spelled by its code. Matched as a whole run, so that the pattern never has to
    guess how a run of backslashes in a message divides between escapes."""
    doubled = "|".join(f"\\\\{{{count * 2**level}}}" for level in (2, 1, 0))
    return f"(?:{doubled}|(?:{_char_forms(chr(0x5C))}){{{count}}})"


def _spelled_out(value: str) -> str:
    """The secret character by character, a line break allowed between two characters
    unless both are line breaks themselves (the pattern would not know which is which)."""
    parts: list[str] = []
    runs = [match.group() for match in re.finditer(r"\\+|[^\\]", value)]
    for index, run in enumerate(runs):
        if index and not {runs[index - 1][-1], run[0]} <= {"\r", "\n"}:
            parts.append(_LINE_BREAK)
        parts.append(_backslashes(len(run)) if run[0] == "\\" else _char_forms(run))
    return "".join(parts)


@functools.lru_cache(maxsize=256)
def _compiled(value: str) -> re.Pattern[str]:
    """One secret's escaped and hex forms, compiled once."""
    data = value.encode("utf-8", "surrogatepass")
    hex_digits = "(?i:" + "[: ]?".join(f"{byte:02x}" for byte in data) + ")"
    return re.compile(f"{hex_digits}|{_spelled_out(value)}")


@functools.lru_cache(maxsize=256)
def _base64_needles(value: str) -> tuple[tuple[str, bool, bool], ...]:
    """The secret's base64 at each alignment, in both alphabets: the characters that depend
    on its bits alone, and whether one more character at the start or the end mixes its
    bits with a neighbour's (or the padding's)."""
    data = value.encode("utf-8", "surrogatepass")
    found = []
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + data).decode()
        end_bits = 8 * (offset + len(data))
        core = encoded[-(-8 * offset // 6) : end_bits // 6]
        if offset == 0 or len(core) >= MIN_BASE64_CORE:
            for text in (core, core.replace("+", "-").replace("/", "_")):
                found.append((text, 8 * offset % 6 != 0, end_bits % 6 != 0))
    return tuple(dict.fromkeys(found))


def _squeezed(text: str, run: re.Match[str]) -> tuple[str, list[int] | range]:
    """A run of base64 characters without the line breaks inside it, and where each of its
    characters stands in `text`."""
    body = run.group()
    cuts = [brk.span() for brk in _BREAKS.finditer(body)]
    if not cuts:
        return body, range(run.start(), run.end())
    pieces: list[str] = []
    where: list[int] = []
    done = 0
    for cut_start, cut_end in [*cuts, (len(body), len(body))]:
        pieces.append(body[done:cut_start])
        where.extend(range(run.start() + done, run.start() + cut_start))
        done = cut_end
    return "".join(pieces), where


def _base64_spans(text: str, values: list[str]) -> Iterator[tuple[int, int]]:
    """Where the secrets' base64 stands, each run of base64 characters read as one across
    the line breaks that wrap it (`squeezed`, with `where` mapping back into `text`)."""
    needles = [needle for value in values for needle in _base64_needles(value)]
    shortest = min((len(needle) for needle, _, _ in needles), default=0)
    for run in _BASE64_RUN.finditer(text):
        if run.end() - run.start() < shortest:
            continue
        squeezed, where = _squeezed(text, run)
        for needle, mixed_start, mixed_end in needles:
            start = squeezed.find(needle)
            while start >= 0:
                first = start - 1 if mixed_start and start > 0 else start
                end = start + len(needle)
                if mixed_end and end < len(squeezed) and squeezed[end] != "=":
                    end += 1
                while end < len(squeezed) and squeezed[end] == "=":
                    end += 1
                yield where[first], where[end - 1] + 1
                start = squeezed.find(needle, start + 1)


def secret_spans(text: str, values: Iterable[str]) -> list[tuple[int, int]]:
    """Where in `text` any form of any of these secrets stands, as sorted, merged
    `(start, end)` spans; secrets shorter than MIN_SECRET_CHARS are not looked for.

    Every secret is matched against the text as it came, not against one already
    scrubbed of another, so a secret inside another, or inside the marker that replaces
    it, cannot leave a piece behind."""
    kept = sorted({value for value in values if len(value) >= MIN_SECRET_CHARS})
    if not kept:  # most configs have no secrets: spare every record the base64 scan
        return []
    spans = sorted(
        [
            *(m.span() for v in kept for m in _compiled(v).finditer(text) if m.end() > m.start()),
            *_base64_spans(text, kept),
        ]
    )
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
