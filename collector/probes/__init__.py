"""The registry: the only list of probe kinds.

Config validation, the docs check and the tests all read the kinds from `KINDS`; adding a
kind is one module, one line here, and its tests.

Probe modules may import `collector.core`, `collector.probes.net` and the config's secrets;
nothing that stores, schedules or serves: a probe observes and returns a Result.
"""

from __future__ import annotations

from dataclasses import dataclass

from collector.probes import dns, http, icmp, tcp
from collector.probes.base import ProbeEnv, ProbeFunction, ProbeSpec


@dataclass(frozen=True)
class ProbeKind:
    """A kind's config model and its probe function."""

    spec: type[ProbeSpec]
    probe: ProbeFunction


KINDS: dict[str, ProbeKind] = {
    "icmp": ProbeKind(icmp.IcmpSpec, icmp.probe),
    "tcp": ProbeKind(tcp.TcpSpec, tcp.probe),
    "http": ProbeKind(http.HttpSpec, http.probe),
    "dns": ProbeKind(dns.DnsSpec, dns.probe),
}

__all__ = ["KINDS", "ProbeEnv", "ProbeKind", "ProbeSpec"]
