"""The facts of the statement of method, gathered from what exists and nothing else.

A court, a regulator or a provider's expert asks how evidence was made before weighing it:
what was measured, from where, how often and with which tools; whether the clock was kept;
how the records were stored and proven; what would have shown an error; who held the key.
The person who ran the collector signs a declaration of those facts, so every one of them
comes from the config, the period's collector records or the summary, never from a phrase
that sounds right. What cannot be read (a key file missing) is stated as such.

The facts travel in summary.json (`method_statement`), so the report's section and the
separate statement PDF are drawn from the same JSON, and a reader holding only the embedded
summary.json sees what the signer declared.
"""

from __future__ import annotations

import importlib.metadata
import platform
import ssl
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import apsw
from pydantic import BaseModel

from collector import __version__
from collector.config.model import Config, Control, Target
from collector.config.secrets import Secret
from collector.core.durations import format_duration
from collector.evidence.clock_check import ClockWatch
from collector.evidence.export import iso_from_ns
from collector.portable.errors import SlawitnessError
from collector.portable.signed_note import VerifierKey
from collector.probes.base import ProbeSpec
from collector.proving import checkpoints

KIND_LIBRARIES: dict[str, tuple[str, ...]] = {
    "icmp": ("ping3",),
    "tcp": (),
    "http": ("httpx", "httpcore", "h11"),
    "dns": ("dnspython",),
}
"""The distributions each probe kind's code imports (read from collector/probes/): icmp's
echo engine is slawitness's own and uses ping3 for its packet layout and checksum; tcp is
the standard library's sockets alone; http also relies on the interpreter's OpenSSL."""
SHOWN_JUMPS = 5
_COMMON_KEYS = frozenset(ProbeSpec.model_fields)


def method_facts(
    config: Config,
    summary: Mapping[str, Any],
    collector_records: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """The statement's facts for one report period, JSON-able.

    `collector_records` are the `collector` records (start, stop, heartbeat, round,
    resumed) of the period from every store read; `summary` is the report's summary as
    built so far (its `stores`, `vantages`, `confirm_vantages` and `target` are read).
    """
    return {
        "collector": collector_facts(config, collector_records),
        "measured": measured_facts(config, summary),
        "clock": clock_facts(collector_records),
        "records": record_keeping_facts(config, summary),
        "checks": error_checks(config, summary),
        "key": key_facts(config),
    }


def collector_facts(config: Config, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The software, with versions as installed where the report is made, and what the
    period's collector records say about where and how the collector ran."""
    kinds = sorted({spec.kind for host in config.hosts() for spec in host.probes})
    ordered = sorted(records, key=lambda r: int(r["ts_ns"]))
    events = Counter(str(r.get("event")) for r in ordered)
    modes = sorted({str(_detail(r)["mode"]) for r in ordered if _detail(r).get("mode")})
    if events.get("round"):
        modes.append("cron")
    return {
        "slawitness": __version__,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "sqlite": apsw.sqlite_lib_version(),
        "apsw": apsw.apsw_version(),
        "openssl": ssl.OPENSSL_VERSION,
        "system": f"{platform.system()} {platform.release()} {platform.machine()}",
        "probe_libraries": {
            kind: {name: _installed(name) for name in KIND_LIBRARIES.get(kind, ())}
            for kind in kinds
        },
        "vantage": config.vantage,
        "record_count": len(ordered),
        "events": dict(sorted(events.items())),
        "modes": modes,
        "versions_recorded": sorted({str(r["version"]) for r in ordered if r.get("version")}),
        "vantages_recorded": sorted({str(r["vantage"]) for r in ordered if r.get("vantage")}),
        "boots": len({r["boot_id"] for r in ordered if isinstance(r.get("boot_id"), str)}),
        "first": iso_from_ns(int(ordered[0]["ts_ns"])) if ordered else None,
        "last": iso_from_ns(int(ordered[-1]["ts_ns"])) if ordered else None,
    }


def measured_facts(config: Config, summary: Mapping[str, Any]) -> dict[str, Any]:
    """Every host probed, its probes and what each checks, and the SLA's thresholds."""
    return {
        "targets": [_host(host) for host in config.targets],
        "controls": [_host(host) for host in config.controls],
        "vantages": list(summary.get("vantages") or [config.vantage]),
        "confirm_vantages": summary.get("confirm_vantages", 1),
    }


def clock_facts(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The clock findings of the period, as figures: what the kernel said about its clock at
    each collector record, and the wall-clock jumps against the monotonic clock."""
    ordered = sorted(records, key=lambda r: int(r["ts_ns"]))
    watch = ClockWatch()
    for position, record in enumerate(ordered):
        watch(position, dict(record))
    known = [r for r in ordered if isinstance(r.get("clock_synced"), bool)]
    errors = [r["clock_max_error_ns"] for r in ordered if _int(r.get("clock_max_error_ns"))]
    offsets = [abs(r["clock_offset_ns"]) for r in ordered if _int(r.get("clock_offset_ns"))]
    jumps = [
        {
            "jump_seconds": jump.jump_ns / 1e9,
            "start": iso_from_ns(int(ordered[jump.seq_before]["ts_ns"])),
            "end": iso_from_ns(int(ordered[jump.seq_after]["ts_ns"])),
        }
        for jump in watch.jumps
    ]
    return {
        "records": len(ordered),
        "known": len(known),
        "unsynced": watch.unsynced,
        "max_error_seconds": max(errors) / 1e9 if errors else None,
        "max_offset_seconds": max(offsets) / 1e9 if offsets else None,
        "jumps": jumps[:SHOWN_JUMPS],
        "jumps_total": len(jumps),
        "finding": bool(watch.unsynced or jumps),
    }


def record_keeping_facts(config: Config, summary: Mapping[str, Any]) -> dict[str, Any]:
    """How the records are kept and proven, as configured, and what the chain check found."""
    stamping = config.checkpoints.timestamping
    witnesses = config.witnesses
    return {
        "checkpoint_every_seconds": config.checkpoints.every,
        "timestamping": None
        if stamping is None
        else {
            "authorities": [source.url for source in stamping.sources],
            "at_least": stamping.quorum,
            "every_seconds": stamping.every,
        },
        "witnesses": None
        if witnesses is None
        else {
            "servers": [
                {"name": server.key.split("+", 1)[0], "url": server.url}
                for server in witnesses.servers
            ],
            "at_least": witnesses.at_least,
        },
        "stores": [
            {key: store.get(key) for key in ("path", "ok", "count", "head_hash", "problem")}
            for store in summary.get("stores") or []
        ],
    }


def error_checks(config: Config, summary: Mapping[str, Any]) -> list[str]:
    """Which of the product's checks would have shown an error in this set-up, by name (the
    statement words each one): only those the config and the sources make real."""
    checks = ["chain", "checkpoint_signature", "backdated"]
    if config.witnesses is not None:
        checks.append("witnesses")
    if config.checkpoints.timestamping is not None:
        checks.append("timestamps")
    if config.controls:
        checks.append("controls")
    if len(summary.get("vantages") or []) > 1:
        checks.append("vantages")
    return [*checks, "clock", "no_data"]


def key_facts(config: Config) -> dict[str, Any]:
    """The checkpoint key's name, key ID and public key, from the key file or, when that
    cannot be read here, from its `.pub` beside it; otherwise why neither could be read."""
    path = config.checkpoints.key
    try:
        verifier = checkpoints.load_key(path).verifier()
        source = str(path)
    except SlawitnessError as exc:
        public = checkpoints.public_key_path(path)
        try:
            verifier = VerifierKey.parse(public.read_text(encoding="ascii"))
            source = str(public)
        except (OSError, UnicodeDecodeError, SlawitnessError):
            return {"path": str(path), "unreadable": str(exc)}
    return {
        "path": source,
        "name": verifier.name,
        "key_id": verifier.id.hex(),
        "public_key": verifier.encode(),
    }


def _host(host: Target | Control) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "name": host.name,
        "address": host.host,
        "role": host.role,
        "probes": [_probe(spec) for spec in host.probes],
    }
    sla = getattr(host, "sla", None)
    if sla is not None:
        facts["sla"] = {
            "uptime": sla.uptime,
            "downtime_probes": sla.downtime.probes,
            "min_duration": format_duration(sla.downtime.min_duration),
            "latency_threshold": None
            if sla.latency_threshold is None
            else format_duration(sla.latency_threshold),
            "loss_threshold": sla.loss_threshold,
        }
    return facts


def _probe(spec: ProbeSpec) -> dict[str, Any]:
    """A probe's kind, timing and what it checks: the kind's own keys as configured, with
    secrets (headers, passwords) left out, since the statement is handed to others."""
    checks = {
        key: value
        for key, value in spec.model_dump(mode="json", exclude=set(_COMMON_KEYS)).items()
        if value not in (None, {}, []) and not _holds_secret(getattr(spec, key))
    }
    return {
        "name": spec.name,
        "kind": spec.kind,
        "interval": format_duration(spec.interval),
        "timeout": format_duration(spec.timeout),
        "checks": checks,
    }


def _holds_secret(value: object) -> bool:
    if isinstance(value, Secret):
        return True
    if isinstance(value, BaseModel):
        return any(_holds_secret(getattr(value, name)) for name in type(value).model_fields)
    if isinstance(value, Mapping):
        return any(_holds_secret(item) for item in value.values())
    return isinstance(value, list | tuple) and any(_holds_secret(item) for item in value)


def _installed(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _detail(record: Mapping[str, Any]) -> Mapping[str, Any]:
    detail = record.get("detail")
    return detail if isinstance(detail, Mapping) else {}


def _int(value: object) -> bool:
    return type(value) is int
