"""What the path looked like when it failed: traces and a fresh DNS answer, as evidence.

A provider's support first asks for a traceroute from the moment it failed. When a target's
probe fails, and again every `diagnostics.every` while it keeps failing, the collector
traces the path to the target and to each control (`mtr --report --json`, from Debian's
mtr-tiny, or `collector.diagnostics.traceroute` where mtr is not installed), resolves the target's
name afresh, and appends one chained `diagnosis` record that names the failing attempt.
At most one diagnosis per target per `every`, so a flapping host cannot flood the store.
Which failing targets are due, and in what order they are traced, is
`collector.diagnostics.claims` and `collector.diagnostics.queue`: the traces never hold a
round back. Every due diagnosis ends in one record whose `status` says what became of it:
"traced", "cut short" (its budget ran out, or the collector stopped, while it traced) or
"not traced" (it never got its turn), with the `reason`.

Hops are stored as [address or null, loss in ppm, average RTT in ns or null]: the record
format allows no floats. `path_verdict` reads a diagnosis back: after which hop the target's
path stopped answering, and whether that is the provider's side (the controls were reached,
so the break is on the target's own branch) or upstream (the controls were lost as well).
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import socket
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from collector.config.model import Config, Control, Target
from collector.diagnostics.cancel import Cancel
from collector.diagnostics.traceroute import traceroute
from collector.evidence.records import Stamp

DIAGNOSIS = "diagnosis"
TRACE_TIMEOUT_S = 30.0
TRACED, CUT_SHORT, NOT_TRACED = "traced", "cut short", "not traced"


@dataclass(frozen=True)
class Trace:
    """One traced path: its hops, whether it reached the host, or why there is none."""

    to: str
    role: str
    host: str
    hops: tuple[tuple[str | None, int, int | None], ...] = ()
    reached: bool = False
    error: str | None = None
    tool: str = "mtr"
    """`mtr`, or `traceroute` (our own) where mtr is not installed."""

    def as_record(self) -> dict[str, object]:
        return {
            "to": self.to, "role": self.role, "host": self.host, "reached": self.reached,
            "hops": [list(hop) for hop in self.hops], "error": self.error, "tool": self.tool,
        }  # fmt: skip


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def trace(
    to: str, role: str, host: str, count: int, ip_version: str = "auto",
    cancel: Cancel | None = None,
) -> Trace:  # fmt: skip
    """The path to `host`: by mtr (`count` probes per hop, numeric, one attempt), or by our
    own ICMP traceroute when mtr is not installed. A trace `cancel` cuts short has the error
    "cut short (REASON)"."""
    cancel = cancel or Cancel(float("inf"))
    mtr = shutil.which("mtr")
    if mtr is None:
        return _own_trace(to, role, host, count, ip_version, cancel)
    family = {"4": ["-4"], "6": ["-6"]}.get(str(ip_version), [])
    command = [mtr, "--report", "--json", "-n", "-c", str(count), "-i", "0.2", "-G", "1",
               *family, host]  # fmt: skip
    try:
        done = cancel.run(command, TRACE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return Trace(to, role, host, error=f"mtr took longer than {TRACE_TIMEOUT_S:g} s")
    if done is None:
        return Trace(to, role, host, error=f"cut short ({cancel.reason})")
    stdout, stderr, returncode = done
    try:
        hubs = json.loads(stdout)["report"]["hubs"]
    except (ValueError, KeyError, TypeError):
        message = " ".join((stderr or stdout).split())[:200]
        return Trace(to, role, host, error=f"mtr failed: {message or returncode}")
    hops = tuple(_hop(hub) for hub in hubs)
    reached = bool(hops) and hops[-1][0] is not None and hops[-1][1] < 1_000_000
    return Trace(to, role, host, hops, reached and _same(hops[-1][0], host), tool="mtr")


def _own_trace(to: str, role: str, host: str, count: int, ip_version: str, cancel: Cancel) -> Trace:
    family = {"4": socket.AF_INET, "6": socket.AF_INET6}.get(str(ip_version), 0)
    try:
        address = str(socket.getaddrinfo(host, None, family, socket.SOCK_RAW)[0][4][0])
        hops, reached = traceroute(address, count, stopped=cancel.cut)
    except OSError as exc:
        return Trace(to, role, host, error=f"traceroute failed: {exc.strerror or exc}",
                     tool="traceroute")  # fmt: skip
    if cancel.reason is not None:
        return Trace(to, role, host, tuple(hops), error=f"cut short ({cancel.reason})",
                     tool="traceroute")  # fmt: skip
    return Trace(to, role, host, tuple(hops), reached, tool="traceroute")


def _hop(hub: Mapping[str, Any]) -> tuple[str | None, int, int | None]:
    address = hub.get("host")
    loss = round(float(hub.get("Loss%", 100.0)) * 10_000)
    avg = hub.get("Avg")
    silent = address in (None, "???") or loss >= 1_000_000
    return (
        None if address in (None, "???") else str(address),
        loss,
        None if silent or avg is None else round(float(avg) * 1_000_000),
    )


def _same(address: str | None, host: str) -> bool:
    """Whether the last hop is the host itself (a name is taken as reached when it answered)."""
    return address is not None and (not _is_address(host) or address == host)


def resolve_now(
    host: str, ip_version: str = "auto", server: str | None = None
) -> dict[str, object] | None:
    """The name's addresses, asked afresh of `server` (HOST[:PORT]) or the system's resolver
    (None for a literal address)."""
    if _is_address(host):
        return None
    import dns.exception
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=server is None)
    if server is not None:
        address, _, port = server.partition(":")
        resolver.nameservers, resolver.port = [address], int(port or 53)
    resolver.cache = None
    found: dict[str, object] = {
        "name": host, "server": server or "system", "addresses": [], "errors": [],
    }  # fmt: skip
    kinds = {"4": ["A"], "6": ["AAAA"]}.get(str(ip_version), ["A", "AAAA"])
    for kind in kinds:
        try:
            answer = resolver.resolve(host, kind, lifetime=5.0)
            found["addresses"] += [r.to_text() for r in answer]  # type: ignore[operator]
        except dns.exception.DNSException as exc:
            found["errors"] += [f"{kind}: {type(exc).__name__}"]  # type: ignore[operator]
    return found


def _probe_of(host: Target | Control) -> str:
    return str(getattr(host.probes[0], "ip_version", "auto")) if host.probes else "auto"


def _attempt_fields(attempt: Mapping[str, object], attempt_seq: int | None) -> dict[str, object]:
    return {"seq": attempt_seq, "probe": attempt.get("probe"), "ts_ns": attempt.get("ts_ns"),
            "error": attempt.get("error")}  # fmt: skip


def diagnose(
    config: Config, target: Target, attempt: Mapping[str, object], attempt_seq: int | None,
    cancel: Cancel | None = None, due_seq: int | None = None,
) -> dict[str, object]:  # fmt: skip
    """A `diagnosis` record for a failing attempt of `target`: its path, the controls'
    paths, and a fresh resolution of its name. Cut short by `cancel`, it keeps the paths
    traced so far, and the one under way has the error "cut short (REASON)"."""
    cancel = cancel or Cancel(float("inf"))
    stamp = Stamp.now()
    count = config.diagnostics.count
    hosts: list[tuple[Target | Control, str]] = [(target, "target")]
    hosts += [(control, "control") for control in config.controls]
    traces = []
    for host, role in hosts:
        if cancel.cut():
            break
        traces.append(trace(host.name, role, host.host, count, _probe_of(host), cancel))
    found_dns = None
    if not cancel.cut():
        found_dns = resolve_now(target.host, _probe_of(target), config.diagnostics.resolver)
    took_ms = (Stamp.now().mono_ns - stamp.mono_ns) // 1_000_000
    return {
        "type": DIAGNOSIS, **stamp.fields(), "vantage": config.vantage, "target": target.name,
        "attempt": _attempt_fields(attempt, attempt_seq),
        "paths": [t.as_record() for t in traces],
        "dns": found_dns,
        "took_ms": took_ms,
        "status": TRACED if cancel.reason is None else CUT_SHORT,
        "reason": cancel.reason,
        "due_seq": due_seq,
    }  # fmt: skip


def not_traced(
    config: Config, target: str, attempt: Mapping[str, object], attempt_seq: int | None,
    reason: str, due_seq: int | None,
) -> dict[str, object]:  # fmt: skip
    """The `diagnosis` record of a due diagnosis that never got its turn ("budget": the
    round's time ran out first; "stopping": the collector stopped first)."""
    return {
        "type": DIAGNOSIS, **Stamp.now().fields(), "vantage": config.vantage, "target": target,
        "attempt": _attempt_fields(attempt, attempt_seq), "paths": [], "dns": None,
        "took_ms": 0, "status": NOT_TRACED, "reason": reason, "due_seq": due_seq,
    }  # fmt: skip


def path_verdict(diagnosis: Mapping[str, Any]) -> dict[str, object] | None:
    """Where the target's path stopped, and on whose side; None when it was reached or
    not traced."""
    paths = diagnosis.get("paths") or []
    mine = next((p for p in paths if p.get("role") == "target"), None)
    if mine is None or mine.get("reached") or mine.get("error"):
        return None
    hops = mine.get("hops") or []
    answered = [(i + 1, h[0]) for i, h in enumerate(hops) if h[0] is not None]
    last_hop, last_address = answered[-1] if answered else (0, None)
    controls = [p for p in paths if p.get("role") == "control" and not p.get("error")]
    if not controls:
        side = "unknown"
    elif any(p.get("reached") for p in controls):
        side = "provider"
    else:
        side = "upstream"
    return {"last_hop": last_hop, "last_address": last_address, "hops": len(hops), "side": side}
