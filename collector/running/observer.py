"""What the daemon tells whoever watches it: the attempts it made and what the store took.

The daemon must not know who listens (the Prometheus state does, when `run --listen` serves
series), so it speaks through this protocol and `running` never imports `prometheus`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class RunObserver(Protocol):
    """Told of each probe record, each batch the store took or refused, each checkpoint."""

    def observe(self, record: Mapping[str, object]) -> None:
        """A probe record the collector just produced (not yet stored)."""

    def appended(self, head_seq: int, head_ts_ns: int) -> None:
        """A batch is durable; the store's head is now this seq and time."""

    def append_failed(self) -> None:
        """A batch could not be stored (it is kept and retried)."""

    def checkpointed(self, size: int, ts_ns: int, root_hex: str, origin: str) -> None:
        """A checkpoint over the first `size` records was signed and stored."""
