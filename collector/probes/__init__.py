"""The registry: the only list of probe kinds.

Config validation, the docs check, the exporter and the tests all read the kinds from
`KINDS`; adding a kind is one module, one line here, and its tests. What a kind knows stays
in its module: its config keys, its probe and the blackbox series its records show
(`collector.probes.series`), so nothing outside asks which kind a probe is.

Probe modules may import `collector.core`, `collector.probes.net` and the config's secrets;
nothing that stores, schedules or serves: a probe observes and returns a Result.
"""

from __future__ import annotations

from dataclasses import dataclass

from collector.probes import dns, http, icmp, tcp
from collector.probes.base import ProbeEnv, ProbeFunction, ProbeSpec
from collector.probes.series import NO_SERIES, KindSeries


@dataclass(frozen=True)
class ProbeKind:
    """A kind's config model, its probe function and its own blackbox series."""

    spec: type[ProbeSpec]
    probe: ProbeFunction
    series: KindSeries = NO_SERIES
    """The series the exporter shows for the kind's records, beyond those every kind has."""


KINDS: dict[str, ProbeKind] = {
    "icmp": ProbeKind(icmp.IcmpSpec, icmp.probe, icmp.SERIES),
    "tcp": ProbeKind(tcp.TcpSpec, tcp.probe),
    "http": ProbeKind(http.HttpSpec, http.probe, http.SERIES),
    "dns": ProbeKind(dns.DnsSpec, dns.probe, dns.SERIES),
}

__all__ = ["KINDS", "KindSeries", "ProbeEnv", "ProbeKind", "ProbeSpec"]
