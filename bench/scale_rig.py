"""The scale bench's rig: one network namespace that answers on 10,000+ target addresses.

A namespace behind one veth and one route answers on every target address (an AnyIP local
route on its loopback), drops echo requests and TCP SYNs to a silent share of them, and
serves HTTP with a large accept backlog. `write_config` gives the collector a config probing
those addresses. Nothing leaves the host: every address belongs to the namespace. The
measurements are in `scale.py`.
"""

from __future__ import annotations

import ipaddress
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

TARGET_NET = ipaddress.ip_network("10.201.0.0/18")
LINK_PREFIX = "10.202.77"
HTTP_PORT = 8080
ICMP_PROBE = "    probes: [{name: ping, kind: icmp, count: 1, timeout: 1s, interval: 60s}]"
HTTP_OPTIONS = "timeout: 2s, interval: 60s"

HTTP_SERVER = f"""
import asyncio
RESPONSE = b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\n\\r\\nok"
async def answer(reader, writer):
    try:
        await reader.readuntil(b"\\r\\n\\r\\n")
        writer.write(RESPONSE)
        await writer.drain()
    except Exception:
        pass
    finally:
        writer.close()
async def main():
    server = await asyncio.start_server(answer, "0.0.0.0", {HTTP_PORT}, backlog=4096)
    async with server:
        await server.serve_forever()
asyncio.run(main())
"""
"""Answers 200 at once on every address of the namespace (bound to 0.0.0.0, AnyIP)."""


def run(*args: str, stdin: str | None = None) -> str:
    done = subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


@dataclass
class Rig:
    """The namespace, its link, the route to the targets and the HTTP server process."""

    namespace: str
    host_link: str
    targets: list[str]
    silent: set[str]
    server: subprocess.Popen[bytes] | None = None

    def build(self) -> None:
        if "10.201." in run("ip", "-4", "route", "show", "table", "all"):
            raise RuntimeError("10.201.0.0/18 is already routed here; is another scale rig up?")
        ns_link = self.host_link[:-1] + "n"
        run("ip", "netns", "add", self.namespace)
        run(
            "ip",
            "link",
            "add",
            self.host_link,
            "type",
            "veth",
            "peer",
            "name",
            ns_link,
            "netns",
            self.namespace,
        )
        run("ip", "addr", "add", f"{LINK_PREFIX}.1/30", "dev", self.host_link)
        run("ip", "link", "set", self.host_link, "up")
        batch = [
            f"addr add {LINK_PREFIX}.2/30 dev {ns_link}",
            f"link set {ns_link} up",
            "link set lo up",
            f"route add local {TARGET_NET} dev lo",
        ]
        run("ip", "-n", self.namespace, "-batch", "-", stdin="\n".join(batch) + "\n")
        run("ip", "route", "add", str(TARGET_NET), "via", f"{LINK_PREFIX}.2")
        self.ns(
            "sysctl",
            "-qw",
            "net.ipv4.icmp_ratelimit=0",
            "net.core.somaxconn=4096",
            "net.ipv4.tcp_max_syn_backlog=8192",
        )
        elements = ", ".join(sorted(self.silent)) or "127.0.0.2"
        rules = (
            "table inet silent {\n"
            f" set addresses {{ type ipv4_addr; elements = {{ {elements} }} }}\n"
            " chain input {\n  type filter hook input priority 0; policy accept;\n"
            "  ip daddr @addresses icmp type echo-request drop\n"
            "  ip daddr @addresses tcp flags & (syn | ack) == syn drop\n }\n}\n"
        )
        self.ns("nft", "-f", "-", stdin=rules)
        self.server = subprocess.Popen(
            ["ip", "netns", "exec", self.namespace, sys.executable, "-c", HTTP_SERVER]
        )
        time.sleep(1.0)
        if self.server.poll() is not None:
            raise RuntimeError("the namespace's HTTP server did not start")

    def ns(self, *args: str, stdin: str | None = None) -> str:
        return run("ip", "netns", "exec", self.namespace, *args, stdin=stdin)

    def destroy(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.terminate()
            self.server.wait(timeout=10)
        for args in (
            ("ip", "route", "del", str(TARGET_NET), "via", f"{LINK_PREFIX}.2"),
            ("ip", "link", "del", self.host_link),
            ("ip", "netns", "del", self.namespace),
        ):
            subprocess.run(args, capture_output=True, check=False)


def target_addresses(count: int) -> list[str]:
    """200 addresses per /24 (x.10-x.209), away from .0 and .255."""
    base = int(TARGET_NET.network_address)
    return [str(ipaddress.ip_address(base + 256 * (i // 200) + 10 + i % 200)) for i in range(count)]


def write_config(directory: Path, targets: list[str], http: int) -> tuple[Path, dict[str, str]]:
    """The config (diagnostics left at their default: on) and each target name's address."""
    lines = ["vantage: bench", "store: scale.db", "targets:"]
    address_of: dict[str, str] = {}
    for index, address in enumerate(targets):
        name = f"t{index:05d}"
        address_of[name] = address
        lines += [f"  - name: {name}", f"    host: {address}", ICMP_PROBE]
    for index in range(http):
        name, address = f"h{index:05d}", targets[index * len(targets) // http]
        address_of[name] = address
        url = f"http://{address}:{HTTP_PORT}/"
        lines += [
            f"  - name: {name}",
            f"    host: {address}",
            f"    probes: [{{name: web, kind: http, url: '{url}', {HTTP_OPTIONS}}}]",
        ]
    path = directory / "slawitness.yml"
    path.write_text("\n".join(lines) + "\n")
    return path, address_of
