"""The body of a C2SP tlog-witness `add-checkpoint` request, built and parsed in one place.

The collector (client) and `slawitness witness` (server) must agree byte for byte with
every other witness and log of the network, so the request format lives here once:

    old <size>\\n
    <base64 consistency proof hash>\\n   (zero to 63 lines; none when old size is 0)
    \\n
    <the checkpoint: its note text and signature lines>

A 409 answer carries the witness's latest cosigned size as `<decimal>\\n` with Content-Type
`text/x.tlog.size`; a 200 answer is one or more cosignature lines.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass

from collector.portable.signed_note import NoteError

ADD_CHECKPOINT = "add-checkpoint"
SIZE_CONTENT_TYPE = "text/x.tlog.size"
MAX_PROOF_LINES = 63
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")


class WireError(NoteError):
    """A request or answer that does not follow tlog-witness (400 for a request)."""


@dataclass(frozen=True)
class AddCheckpoint:
    old_size: int
    proof: tuple[bytes, ...]
    note: str
    """The checkpoint as sent: note text, blank line, signature lines."""


def add_checkpoint_body(old_size: int, proof: Sequence[bytes], note: str) -> bytes:
    """The request body for `note` from `old_size` with its consistency proof."""
    if len(proof) > MAX_PROOF_LINES:
        raise WireError(f"a consistency proof of {len(proof)} hashes is longer than 63")
    lines = [f"old {old_size}", *(base64.b64encode(h).decode() for h in proof)]
    return ("\n".join(lines) + "\n\n" + note).encode()


def parse_add_checkpoint(body: bytes) -> AddCheckpoint:
    """A request body read back; WireError (the witness answers 400) when malformed."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WireError("the request body is not UTF-8") from None
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise WireError("no empty line between the old size and the checkpoint")
    lines = head.split("\n")
    first = lines[0]
    if not first.startswith("old ") or not _DECIMAL.fullmatch(first[4:]):
        raise WireError("the first line must be `old <size>` (decimal, no leading zeroes)")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise WireError("more than 63 consistency proof lines")
    proof = []
    for line in lines[1:]:
        try:
            digest = base64.b64decode(line, validate=True)
        except binascii.Error:
            digest = b""
        if len(digest) != 32:
            raise WireError("a consistency proof line is not a base64 SHA-256 hash")
        proof.append(digest)
    return AddCheckpoint(int(first[4:]), tuple(proof), note)


def parse_size_answer(body: bytes) -> int:
    """The witness's latest cosigned size from a 409 answer's body."""
    text = body.decode("ascii", errors="replace")
    if not text.endswith("\n") or not _DECIMAL.fullmatch(text[:-1]):
        raise WireError(f"a 409 answer's body is not a tree size: {text[:40]!r}")
    return int(text[:-1])
