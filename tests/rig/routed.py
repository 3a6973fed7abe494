"""A small routed network of namespaces, for path captures: where does the path stop?

    us --- isp --- edge --- target          (10.240.1-3.0/24)
            \\
             `--- control                   (10.240.4.0/24)

`isp` stands for your own upstream, shared by every path; `edge` for the provider's
network, on the target's path only. nftables in `edge` dropping what is forwarded to the
target is a provider outage (the control still answers); in `isp`, dropping everything
forwarded is an outage of your own network (the control fails too). No traffic leaves the
machine: every address belongs to a namespace built here.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.rig import rig_unavailable

PREFIX = "10.240"


def _run(*args: str, stdin: str | None = None) -> None:
    done = subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {done.stderr.strip()}")


@dataclass(frozen=True)
class RoutedNet:
    """The namespaces' names and the addresses a test probes."""

    tag: str
    target: str = f"{PREFIX}.3.2"
    control: str = f"{PREFIX}.4.2"
    isp: str = f"{PREFIX}.1.2"
    edge: str = f"{PREFIX}.2.2"

    def ns(self, role: str) -> str:
        return f"sw{self.tag}{role}"

    def drop_forward(self, role: str, to: str | None = None) -> None:
        """In `role`'s namespace, drop what is forwarded (to one address, or everything)."""
        match = f"ip daddr {to} " if to else ""
        rules = (
            "table inet fault {\n chain forward {\n  type filter hook forward priority 0;\n"
            f"  {match}drop\n }}\n}}\n"
        )
        _run("ip", "netns", "exec", self.ns(role), "nft", "-f", "-", stdin=rules)

    def heal(self, role: str) -> None:
        subprocess.run(["ip", "netns", "exec", self.ns(role), "nft", "flush", "ruleset"],
                       capture_output=True, check=False)  # fmt: skip


_LINKS = (  # (left namespace or "" for us, right namespace, subnet third octet)
    ("", "isp", 1),
    ("isp", "edge", 2),
    ("edge", "target", 3),
    ("isp", "control", 4),
)


def build() -> RoutedNet:
    """The four namespaces and their links; a build that fails part-way removes what it
    made, since a leftover veth holding 10.240.1.1 breaks every later build's routing."""
    net = RoutedNet(secrets.token_hex(2))
    try:
        _wire(net)
    except (RuntimeError, OSError):
        _remove_namespaces(net)
        raise
    return net


def _wire(net: RoutedNet) -> None:
    for role in ("isp", "edge", "target", "control"):
        _run("ip", "netns", "add", net.ns(role))
        _run("ip", "-n", net.ns(role), "link", "set", "lo", "up")
    for index, (left, right, octet) in enumerate(_LINKS):
        a, b = f"sw{net.tag}a{index}", f"sw{net.tag}b{index}"
        _run("ip", "link", "add", a, "type", "veth", "peer", "name", b)
        for end, where, host in ((a, left, 1), (b, right, 2)):
            _run("ip", "link", "set", end, "netns", net.ns(where)) if where else None
            prefix = ["ip", "-n", net.ns(where)] if where else ["ip"]
            _run(*prefix, "addr", "add", f"{PREFIX}.{octet}.{host}/24", "dev", end)
            _run(*prefix, "link", "set", end, "up")
    _run("ip", "route", "add", f"{PREFIX}.0.0/16", "via", f"{PREFIX}.1.2")
    routes = {
        "isp": [("default", f"{PREFIX}.1.1"), (f"{PREFIX}.3.0/24", f"{PREFIX}.2.2")],
        "edge": [("default", f"{PREFIX}.2.1")],
        "target": [("default", f"{PREFIX}.3.1")],
        "control": [("default", f"{PREFIX}.4.1")],
    }
    for role, pairs in routes.items():
        for dest, via in pairs:
            _run("ip", "-n", net.ns(role), "route", "add", dest, "via", via)
        for setting in ("net.ipv4.ip_forward=1", "net.ipv4.icmp_ratelimit=0"):
            _run("ip", "netns", "exec", net.ns(role), "sysctl", "-qw", setting)


def destroy(net: RoutedNet) -> None:
    subprocess.run(["ip", "route", "del", f"{PREFIX}.0.0/16"], capture_output=True, check=False)
    _remove_namespaces(net)


def _remove_namespaces(net: RoutedNet) -> None:
    """The links and namespaces of `net`, leaving the host route to whoever added it."""
    subprocess.run(["ip", "link", "del", f"sw{net.tag}a0"], capture_output=True, check=False)
    for role in ("isp", "edge", "target", "control"):
        subprocess.run(["ip", "netns", "del", net.ns(role)], capture_output=True, check=False)


@pytest.fixture
def routed_net() -> Iterator[RoutedNet]:
    """The routed namespaces, built for one test and removed after it."""
    try:
        net = build()
    except (RuntimeError, OSError) as exc:
        rig_unavailable(f"cannot build the routed namespaces: {exc}")
    try:
        yield net
    finally:
        destroy(net)
