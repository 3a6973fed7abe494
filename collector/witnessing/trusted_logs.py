"""The logs a witness cosigns for: tlog-policy `log <vkey> [url]` lines, keyed by origin.

A witness answers only for logs its operator chose to trust, and the spec identifies a log by
its origin line; our collectors name their key after their origin (`slawitness/<store_id>`),
so the line a user adds is simply the collector's `slawitness.key.pub`, prefixed by `log `.
The file uses tlog-policy's `log` syntax so one list can serve a witness and a verifier, but
it holds logs only: a witness has no quorum to evaluate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from collector.core.bounded_read import SMALL_FILE_LIMIT, read_text_bounded
from collector.portable.errors import UsageError
from collector.portable.signed_note import NoteError, VerifierKey


class TrustedLogsError(UsageError):
    """The trusted-logs file is missing, unreadable or has a bad line (named by number)."""


@dataclass(frozen=True)
class TrustedLogs:
    """Each trusted origin and the keys whose signature on its checkpoints counts."""

    keys: Mapping[str, tuple[VerifierKey, ...]] = field(default_factory=dict)

    def of(self, origin: str) -> tuple[VerifierKey, ...]:
        return self.keys.get(origin, ())

    @classmethod
    def of_keys(cls, keys: list[VerifierKey]) -> TrustedLogs:
        """Logs whose origin is their key's name (every slawitness collector's)."""
        grouped: dict[str, tuple[VerifierKey, ...]] = {}
        for key in keys:
            grouped[key.name] = (*grouped.get(key.name, ()), key)
        return cls(grouped)


def parse_trusted_logs(text: str, where: str = "logs") -> TrustedLogs:
    """`log <vkey> [url]` lines (`#` comments, blank lines); the origin is the key's name."""
    keys: list[VerifierKey] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        words = raw.replace("\t", " ").split()
        if not words or words[0].startswith("#"):
            continue
        if words[0] != "log" or not 2 <= len(words) <= 3:
            raise TrustedLogsError(f"{where} line {number}: expected `log <verifier key> [url]`")
        try:
            key = VerifierKey.parse(words[1])
        except NoteError as exc:
            raise TrustedLogsError(f"{where} line {number}: {exc}") from None
        if any(k.public_key == key.public_key for k in keys):
            raise TrustedLogsError(f"{where} line {number}: the same key is listed twice")
        keys.append(key)
    return TrustedLogs.of_keys(keys)


def load_trusted_logs(path: Path) -> TrustedLogs:
    try:
        text = read_text_bounded(path, SMALL_FILE_LIMIT)
    except FileNotFoundError:
        raise TrustedLogsError(f"{path}: no such trusted-logs file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TrustedLogsError(f"{path}: cannot read the trusted logs: {exc}") from None
    logs = parse_trusted_logs(text, str(path))
    if not logs.keys:
        raise TrustedLogsError(f"{path}: no `log <verifier key>` line: nothing to witness")
    return logs
