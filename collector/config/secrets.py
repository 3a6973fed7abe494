"""Secrets in the config: given as `${ENV_VAR}` or `{file: PATH}`, never as evidence.

Passwords, tokens and header values are needed to probe, but a record, log line, metric,
report or bundle that contained one would leak it to the very provider the user complains
to. A `Secret` hides its value from `repr`/`str`, and `redact` scrubs any known secret,
in any of the forms a message may give it, out of text before it is stored.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import GetCoreSchemaHandler, ValidationInfo
from pydantic_core import core_schema

from collector.config.secret_forms import secret_spans
from collector.core.bounded_read import SMALL_FILE_LIMIT, read_text_bounded

_ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
REDACTED = "<redacted>"


class Secret:
    """A value that must reach the target but never the evidence."""

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str = "inline") -> None:
        self._value = value
        self.source = source

    def reveal(self) -> str:
        """The secret itself, for the one place that sends it to the target."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret(<{self.source}>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source_type: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.with_info_plain_validator_function(
            _validate_secret,
            serialization=core_schema.plain_serializer_function_ser_schema(lambda s: REDACTED),
        )


def _validate_secret(value: object, info: ValidationInfo) -> Secret:
    """Resolve `${VAR}`, `{file: PATH}` (relative to the config's folder) or a plain string."""
    if isinstance(value, Secret):
        return value
    if (info.context or {}).get("resolve_secrets") is False:
        return Secret("", source="not resolved")  # a verb that only reads needs none
    if isinstance(value, str):
        match = _ENV_REF.match(value.strip())
        if not match:
            return Secret(value)
        name = match.group(1)
        if name not in os.environ:
            raise ValueError(f"environment variable {name} is not set")
        return Secret(os.environ[name], source=f"env:{name}")
    if isinstance(value, dict) and set(value) == {"file"} and isinstance(value["file"], str):
        base = Path((info.context or {}).get("base_dir", "."))
        path = base / Path(value["file"]).expanduser()
        try:
            text = read_text_bounded(path, SMALL_FILE_LIMIT)
        except (OSError, UnicodeDecodeError) as exc:
            problem = getattr(exc, "strerror", None) or exc
            raise ValueError(f"cannot read secret file {path}: {problem}") from None
        return Secret(text.rstrip("\r\n"), source=f"file:{path}")
    raise ValueError("expected a string, ${ENV_VAR} or {file: PATH}")


def redact(text: str, secrets: Iterable[Secret]) -> str:
    """`text` with every non-trivial secret value replaced by a marker, in whatever form it
    took on its way into the text: escaped, percent-encoded, base64, hex or wrapped onto
    another line (see `collector.config.secret_forms`)."""
    pieces, done = [], 0
    for start, end in secret_spans(text, [secret.reveal() for secret in secrets]):
        pieces += [text[done:start], REDACTED]
        done = end
    return "".join(pieces) + text[done:]
