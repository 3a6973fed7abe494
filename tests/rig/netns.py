"""A host in a network namespace, for ICMP and for outages the kernel causes.

The namespace is joined to ours by a veth pair on a 10.231.x.0/24 (and fd00:231:x::/64) that
is free on this machine; the namespace answers pings and TCP like any host, and nftables
rules inside it drop, reject or randomly lose packets. The building blocks are plain
functions so `bench/probe_round.py` can use the same host; the fixtures are thin wrappers.
No traffic leaves this machine: every address used belongs to the namespace.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import random
import secrets
import subprocess
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import pytest

from tests.rig import rig_unavailable

_LOCK_FILE = "/run/slawitness-netns.lock"
EXTRA_FIRST = 10
"""The first host number of the extra addresses (x.10, x.11, ... up to x.254)."""


_NO_ICMP_RATE_LIMIT = (
    "net.ipv4.icmp_ratelimit=0",
    "net.ipv6.icmp.ratelimit=0",
    "net.ipv4.icmp_msgs_per_sec=1000000",
    "net.ipv4.icmp_msgs_burst=1000000",
)
"""Per-namespace settings: they change nothing outside the namespace."""


class RigError(RuntimeError):
    """The namespace host could not be built."""


@dataclass(frozen=True)
class NetnsHost:
    """A namespace host: its name, its addresses, and our side of the link."""

    namespace: str
    host_link: str
    local_address: str
    address: str
    extra_addresses: tuple[str, ...] = ()
    local_address6: str | None = None
    address6: str | None = None

    @property
    def addresses(self) -> tuple[str, ...]:
        """Every IPv4 address the namespace answers on."""
        return (self.address, *self.extra_addresses)


def _run(*args: str, stdin: str | None = None) -> str:
    """Run a command, raising RigError with its stderr when it fails."""
    try:
        done = subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RigError(f"{' '.join(args)}: {exc}") from exc
    if done.returncode != 0:
        raise RigError(f"{' '.join(args)}: {done.stderr.strip() or done.returncode}")
    return done.stdout


def ns_exec(host: NetnsHost, *args: str, stdin: str | None = None) -> str:
    """Run a command inside the namespace."""
    return _run("ip", "netns", "exec", host.namespace, *args, stdin=stdin)


_CLONE_NEWNET = 0x40000000
_T = TypeVar("_T")


def open_inside(host: NetnsHost, build: Callable[[], _T]) -> _T:
    """`build()` called in a thread that has joined the namespace, and what it returned.

    A socket belongs for life to the namespace it was created in, so a rig server built this
    way (they bind in their constructor) listens on the namespace host's addresses, while its
    threads, started afterwards from here, run in ours. Only that one thread ever moves.
    """
    outcome: list[_T] = []
    failure: list[BaseException] = []

    def join_and_build() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/run/netns/{host.namespace}", os.O_RDONLY)
            try:
                if libc.setns(fd, _CLONE_NEWNET) != 0:
                    raise RigError(f"setns {host.namespace}: {os.strerror(ctypes.get_errno())}")
            finally:
                os.close(fd)
            outcome.append(build())
        except BaseException as exc:  # handed to the caller's thread below
            failure.append(exc)

    thread = threading.Thread(target=join_and_build, name=f"in-{host.namespace}")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return outcome[0]


def _used_octets() -> set[int]:
    """Third octets of 10.231.x.0/24 already present in our addresses or routes."""
    text = _run("ip", "-4", "addr") + _run("ip", "-4", "route", "show", "table", "all")
    used = set()
    for word in text.split():
        if word.startswith("10.231."):
            with contextlib.suppress(ValueError, IndexError):
                used.add(int(word.split(".")[2].split("/")[0]))
    return used


@contextlib.contextmanager
def _rig_lock() -> Iterator[None]:
    """Serialise subnet choice between concurrent test processes."""
    with open(_LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def build_netns_host(extra_addresses: int = 0, ipv6: bool = True) -> NetnsHost:
    """Create a namespace joined by veth, with `extra_addresses` more IPv4 addresses.

    Raises RigError (after removing whatever was half-built) if any step fails.
    """
    if not 0 <= extra_addresses <= 255 - EXTRA_FIRST:
        raise ValueError(f"at most {255 - EXTRA_FIRST} extra addresses fit in the /24")
    tag = secrets.token_hex(4)
    namespace, host_link, ns_link = f"sw-{tag}", f"swh{tag}", f"swn{tag}"
    with _rig_lock():
        free = sorted(set(range(256)) - _used_octets())
        if not free:
            raise RigError("no free 10.231.x.0/24 left")
        octet = random.choice(free)
        net = f"10.231.{octet}"
        host = NetnsHost(
            namespace=namespace,
            host_link=host_link,
            local_address=f"{net}.1",
            address=f"{net}.2",
            extra_addresses=tuple(f"{net}.{EXTRA_FIRST + i}" for i in range(extra_addresses)),
            local_address6=f"fd00:231:{octet:x}::1" if ipv6 else None,
            address6=f"fd00:231:{octet:x}::2" if ipv6 else None,
        )
        try:
            _run("ip", "netns", "add", namespace)
            _run(
                "ip",
                "link",
                "add",
                host_link,
                "type",
                "veth",
                "peer",
                "name",
                ns_link,
                "netns",
                namespace,
            )
            _run("ip", "addr", "add", f"{host.local_address}/24", "dev", host_link)
            _run("ip", "link", "set", host_link, "up")
        except RigError:
            destroy_netns_host(host)
            raise
    try:
        batch = [f"addr add {host.address}/24 dev {ns_link}"]
        batch += [f"addr add {a}/32 dev {ns_link}" for a in host.extra_addresses]
        batch += [f"link set {ns_link} up", "link set lo up"]
        if ipv6:
            _run("ip", "addr", "add", f"{host.local_address6}/64", "dev", host_link, "nodad")
            batch.append(f"addr add {host.address6}/64 dev {ns_link} nodad")
        _run("ip", "-n", namespace, "-batch", "-", stdin="\n".join(batch) + "\n")
        # The kernel rate-limits the ICMP errors it sends (6 per peer, then 1/s): without
        # this, a test rejecting echoes to many addresses would see most of them time out.
        ns_exec(host, "sysctl", "-qw", *_NO_ICMP_RATE_LIMIT)
    except RigError:
        destroy_netns_host(host)
        raise
    return host


def destroy_netns_host(host: NetnsHost) -> None:
    """Remove the namespace and the veth pair (deleting one end deletes both)."""
    with contextlib.suppress(RigError):
        _run("ip", "link", "del", host.host_link)
    with contextlib.suppress(RigError):
        _run("ip", "netns", "del", host.namespace)


def apply_rules(host: NetnsHost, rules: Iterable[str]) -> None:
    """Add rules to the namespace's `inet filter input` chain (created on first use)."""
    script = [
        "table inet filter {",
        "  chain input { type filter hook input priority 0; policy accept; }",
        "}",
    ]
    script += [f"add rule inet filter input {rule}" for rule in rules]
    ns_exec(host, "nft", "-f", "-", stdin="\n".join(script) + "\n")


def _set_of(addresses: Iterable[str]) -> str:
    return "{ " + ", ".join(addresses) + " }"


def _split(addresses: Iterable[str]) -> tuple[list[str], list[str]]:
    v4: list[str] = []
    v6: list[str] = []
    for address in addresses:
        (v6 if ":" in address else v4).append(address)
    return v4, v6


def drop_echo_requests(host: NetnsHost, addresses: Iterable[str]) -> None:
    """Silently drop echo requests to these addresses (the host looks down to ping)."""
    v4, v6 = _split(addresses)
    rules = [f"ip daddr {_set_of(v4)} icmp type echo-request drop"] if v4 else []
    rules += [f"ip6 daddr {_set_of(v6)} icmpv6 type echo-request drop"] if v6 else []
    apply_rules(host, rules)


def drop_share(host: NetnsHost, percent: int) -> None:
    """Drop `percent` % of every IPv4/IPv6 packet arriving in the namespace, at random."""
    apply_rules(host, [f"meta nfproto {{ ipv4, ipv6 }} numgen random mod 100 < {percent} drop"])


def reject_tcp(host: NetnsHost, port: int) -> None:
    """Answer connections to `port` with a TCP RST (the port looks closed)."""
    apply_rules(host, [f"tcp dport {port} reject with tcp reset"])


def reject_unreachable(
    host: NetnsHost,
    addresses: Iterable[str],
    kind: str = "host-unreachable",
    echo_only: bool = False,
) -> None:
    """Answer packets to these addresses with an ICMP destination unreachable.

    `kind` is an nft ICMP code name: host-unreachable, admin-prohibited, net-unreachable.
    With `echo_only`, only echo requests are rejected: needed when the prober lives in the
    namespace itself, whose own error messages would otherwise be rejected in turn.
    """
    v4, v6 = _split(addresses)
    v6_kind = {"host-unreachable": "addr-unreachable", "net-unreachable": "no-route"}.get(
        kind, kind
    )
    echo4 = " icmp type echo-request" if echo_only else ""
    echo6 = " icmpv6 type echo-request" if echo_only else ""
    rules = [f"ip daddr {_set_of(v4)}{echo4} reject with icmp type {kind}"] if v4 else []
    rules += [f"ip6 daddr {_set_of(v6)}{echo6} reject with icmpv6 type {v6_kind}"] if v6 else []
    apply_rules(host, rules)


def clear_rules(host: NetnsHost) -> None:
    """Remove every nftables rule in the namespace."""
    ns_exec(host, "nft", "flush", "ruleset")


def _fixture_host(extra_addresses: int) -> Iterator[NetnsHost]:
    try:
        host = build_netns_host(extra_addresses)
    except (RigError, OSError) as exc:
        rig_unavailable(str(exc))
    try:
        yield host
    finally:
        destroy_netns_host(host)


@pytest.fixture
def netns_host() -> Iterator[NetnsHost]:
    """A fresh namespace host with one IPv4 and one IPv6 address, no rules."""
    yield from _fixture_host(0)


@pytest.fixture
def netns_host_200() -> Iterator[NetnsHost]:
    """A fresh namespace host answering on 201 IPv4 addresses (`address` + 200 extra)."""
    yield from _fixture_host(200)
