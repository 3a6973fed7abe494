"""`--listen HOST:PORT`, parsed at the boundary; the exporter listens on loopback by default."""

from __future__ import annotations

from collector.portable.errors import UsageError

DEFAULT_LISTEN = "127.0.0.1:9925"


class ListenAddressError(ValueError, UsageError):
    """`--listen` is not HOST:PORT, or the address cannot be bound."""


def parse_listen(value: str) -> tuple[str, int]:
    """`127.0.0.1:9925`, `[::1]:9925` or `0.0.0.0:9925` (all interfaces only when asked)."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ListenAddressError(f"expected HOST:PORT such as {DEFAULT_LISTEN}, got {value!r}")
    host = host.removeprefix("[").removesuffix("]")
    if not host:
        raise ListenAddressError(f"name the address to listen on, e.g. 0.0.0.0:{port_text}")
    return host, int(port_text)
