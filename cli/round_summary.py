"""The one line per host that `slawitness probe` prints after a round."""

from __future__ import annotations

from collections.abc import Sequence

from collector.running.scheduler import Attempt


def describe(attempt: Attempt) -> str:
    """`ping ok 12.3ms`, `web http_status (503)`, `ping timeout (3/3 lost)`."""
    result = attempt.result
    name = attempt.job.spec.name
    if result.ok:
        text = f"{name} ok"
        if result.latency_ns is not None:
            text += f" {result.latency_ns / 1e6:.1f}ms"
        if result.loss_ppm:
            text += f" loss {result.loss_ppm / 1e4:.0f}%"
        return text
    message = result.detail.get("message")
    return f"{name} {result.error}" + (f" ({message})" if message else "")


def round_lines(attempts: Sequence[Attempt]) -> list[str]:
    """Hosts in config order, UP when every probe succeeded, DOWN when none did."""
    by_host: dict[str, list[Attempt]] = {}
    for done in attempts:
        by_host.setdefault(done.job.host.name, []).append(done)
    width = max((len(name) for name in by_host), default=0)
    lines = []
    for name, host_attempts in by_host.items():
        oks = [a.result.ok for a in host_attempts]
        state = "UP" if all(oks) else "DOWN" if not any(oks) else "PARTIAL"
        role = host_attempts[0].job.host.role
        detail = "; ".join(describe(a) for a in host_attempts)
        lines.append(f"{name:<{width}}  {role:<7}  {state:<7}  {detail}")
    return lines
