"""Name resolution with timing, shared by the probes that connect to a host.

A probe resolves the target's name itself, rather than letting the connecting library do
it, for two reasons: the time spent resolving is a phase of its own (blackbox_exporter's
`resolve`, Prometheus's `probe_dns_lookup_time_seconds`), and a name that does not resolve
is the `dns` error class, not a connect failure. The probe then connects to the address.

IP literals are returned as they are, in no time and without asking any resolver. A name
that cannot be a host name at all (an empty label, a label over 63 characters) fails here,
before the system resolver is asked, so a typo in the config never leaves the machine.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import time
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator

from collector.core.results import JsonScalar
from collector.portable.errors import SlawitnessError

_FAMILIES = {"auto": socket.AF_UNSPEC, "4": socket.AF_INET, "6": socket.AF_INET6}
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")


class ResolveError(SlawitnessError):
    """The name did not resolve to an address of the wanted family; probes map it to `dns`."""


@dataclass(frozen=True)
class Resolved:
    """The address a probe will connect to, and how long finding it took."""

    address: str
    family: int
    duration_ns: int

    def evidence(self) -> dict[str, JsonScalar]:
        """What a record's `detail` keeps of it: the address used and its IP version (4 or
        6), so a dual-stack target's records say which family each attempt went over."""
        return {"address": self.address, "ip_version": 6 if self.family == socket.AF_INET6 else 4}


def _literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The host as an IP address when it is written as one (brackets and zone allowed)."""
    text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _check_name(host: str) -> str:
    """The name in ASCII (IDNA) form, or ResolveError when it cannot be a host name."""
    try:
        ascii_name = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError as exc:
        raise ResolveError(f"invalid host name {host!r}: {exc}") from None
    name = ascii_name[:-1] if ascii_name.endswith(".") else ascii_name
    if not name or len(name) > 253 or not all(_LABEL.match(part) for part in name.split(".")):
        raise ResolveError(f"invalid host name {host!r}")
    return ascii_name


def host_problem(host: str) -> str | None:
    """Why `host` can be neither an IP address nor a host name, or None when it can be one.

    The config loader asks this, so that a name no resolver could ever answer (`-oProxy`,
    `a..b`, a space) is refused at load instead of being recorded, round after round, as a
    `dns` failure of the provider.
    """
    if _literal(host) is not None:
        return None
    try:
        _check_name(host)
    except ResolveError as exc:
        return f"not an IP address or host name: {str(exc).removeprefix('invalid host name ')}"
    return None


def require_host(host: str) -> str:
    """`host` unchanged, or ValueError saying why it cannot be one (see `host_problem`): the
    check every config value that names a host runs at load."""
    problem = host_problem(host)
    if problem is not None:
        raise ValueError(problem)
    return host


HostName = Annotated[str, AfterValidator(require_host)]
"""A config value naming a host: an IP address or a name some resolver could answer."""


async def resolve(host: str, ip_version: str, timeout: float) -> Resolved:
    """The first address of `host` in the family `ip_version` (`auto`, `4` or `6`) selects.

    `auto` takes the system's preferred address (getaddrinfo's order, RFC 6724). Raises
    ResolveError for a name that does not resolve, TimeoutError when the resolver takes
    longer than `timeout` seconds.
    """
    family = _FAMILIES.get(ip_version)
    if family is None:
        raise ValueError(f"ip_version must be auto, 4 or 6, not {ip_version!r}")
    literal = _literal(host)
    if literal is not None:
        found = socket.AF_INET if literal.version == 4 else socket.AF_INET6
        if family not in (socket.AF_UNSPEC, found):
            raise ResolveError(f"{host} is not an IPv{ip_version} address")
        return Resolved(str(literal), found, 0)
    name = _check_name(host)
    loop = asyncio.get_running_loop()
    start = time.monotonic_ns()
    try:
        async with asyncio.timeout(timeout):
            infos = await loop.getaddrinfo(
                name, None, family=family, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
            )
    except socket.gaierror as exc:
        raise ResolveError(f"cannot resolve {host}: {exc.strerror}") from None
    except UnicodeError as exc:
        raise ResolveError(f"invalid host name {host!r}: {exc}") from None
    duration = time.monotonic_ns() - start
    for info_family, _type, _proto, _canon, sockaddr in infos:
        if info_family in (socket.AF_INET, socket.AF_INET6):
            return Resolved(str(sockaddr[0]), info_family, duration)
    raise ResolveError(f"{host} has no IPv{ip_version if family else '4/6'} address")
