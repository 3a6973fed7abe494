"""`slawitness status-page DIR`: a static public status page that proves itself.

Upptime and Gatus users publish a page; a provider can shrug at a page. This one carries the
latest signed checkpoint and, for every incident it shows, the inclusion proofs of the
incident's first and last evidence records against that checkpoint: whoever reads it can
run `slawitness check-proof` (or Go's tlog packages) on them and hold them against the log
the collector publishes (`slawitness publish`). The figures are `status`'s, from the
report's engine (`reports.status`).

The config's `status_page:` chooses what is public: which targets, whether their names show
(without names no proof is published: a proof carries its record, which names the target
and its address), and whether incidents show or only the uptime figures. Everything written
is listed in `status.json`, so a host can mirror the folder as it is.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collector.alerts.due import iso
from collector.config.model import Config
from collector.core.output_paths import check_folder_target, replacing
from collector.evidence.store import EvidenceStore
from collector.proving import checkpoints
from collector.proving.proofs import inclusion_proofs
from reports.render.status_page_files import badge_svg, render_status_page
from reports.status import TargetStatus, statuses

FIXED_FILES = ("index.html", "index.zh.html", "status.json", "checkpoint.txt")
WITHHELD = "names are not public (status_page.names: false), and a proof names its target"


@dataclass(frozen=True)
class StatusPageOutcome:
    """What was written: every file's path, relative to the folder."""

    folder: Path
    files: list[str]
    proofs: int


def _shown_targets(config: Config, found: Sequence[TargetStatus]) -> list[TargetStatus]:
    by_name = {status.name: status for status in found}
    names = config.status_page.targets
    if names is None:
        names = [t.name for t in config.targets if t.sla is not None]
    return [by_name[name] for name in names]


def _public(status: TargetStatus, index: int, config: Config) -> dict[str, Any]:
    """One target as the public sees it."""
    settings = config.status_page
    shown: dict[str, Any] = {
        "name": status.name if settings.names else f"Service {index}",
        "period": status.period,
        "uptime": status.uptime,
        "objective": status.objective,
        "badge": f"badge-{index}.svg",
    }
    if settings.show == "incidents":
        shown["state"] = status.state
        shown["budget_left_seconds"] = status.budget_left_seconds
        shown["incidents"] = [
            {key: incident[key] for key in ("start", "end", "counted_seconds", "counted",
                                            "not_counted_because", "attribution")}
            | {"proofs": []}
            for incident in status.incidents
        ]  # fmt: skip
    return shown


def _attach_proofs(
    store: EvidenceStore,
    shown: list[dict[str, Any]],
    found: list[TargetStatus],
    at: checkpoints.StoredCheckpoint | None,
) -> dict[str, dict[str, object]]:
    """Each shown incident's proof files (by name), for the evidence its checkpoint covers."""
    if at is None:
        return {}
    wanted: dict[str, int] = {}
    for public, status in zip(shown, found, strict=True):
        for incident, source in zip(public.get("incidents", []), status.incidents, strict=True):
            for seq in source["evidence"]:
                if seq <= at.checkpoint.size:
                    name = f"proofs/seq-{seq}.json"
                    wanted[name] = seq
                    if name not in incident["proofs"]:
                        incident["proofs"].append(name)
    proofs = inclusion_proofs(store, sorted(set(wanted.values())), at) if wanted else []
    by_seq = {int(str(proof["seq"])): proof for proof in proofs}
    return {name: by_seq[seq] for name, seq in wanted.items()}


def write_status_page(
    config: Config, out_dir: Path, now_ns: int, *, force: bool = False
) -> StatusPageOutcome:
    """Write the page, its feed, badges, checkpoint and proofs into `out_dir`."""
    check_folder_target(out_dir, FIXED_FILES, replace=force)
    found = _shown_targets(config, statuses(config, [config.store], now_ns))
    shown = [_public(status, index, config) for index, status in enumerate(found, start=1)]
    with EvidenceStore.open(config.store, readonly=True) as store:
        at = checkpoints.latest(store)
        publish_proofs = config.status_page.names and config.status_page.show == "incidents"
        proofs = _attach_proofs(store, shown, found, at) if publish_proofs else {}
    feed: dict[str, Any] = {
        "title": config.status_page.title,
        "generated_at": iso(now_ns),
        "targets": shown,
        "checkpoint": None if at is None else {
            "file": "checkpoint.txt", "size": at.checkpoint.size,
            "signed_at": iso(at.ts_ns), "origin": at.checkpoint.origin,
        },
        "proofs_withheld": None if publish_proofs or config.status_page.show != "incidents"
        else WITHHELD,
    }  # fmt: skip
    files = [*FIXED_FILES, *(target["badge"] for target in shown), *sorted(proofs)]
    feed["files"] = files
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "proofs").mkdir(exist_ok=True)
    contents: dict[str, bytes] = {
        "status.json": json.dumps(feed, ensure_ascii=False, indent=1).encode() + b"\n",
        "checkpoint.txt": (at.note if at is not None else "").encode(),
        "index.html": render_status_page(feed, "en"),
        "index.zh.html": render_status_page(feed, "zh"),
    }
    for target in shown:
        contents[target["badge"]] = badge_svg(target["uptime"], target["objective"])
    for name, proof in proofs.items():
        contents[name] = json.dumps(proof, ensure_ascii=False, indent=1).encode() + b"\n"
    for name in files:
        with replacing(out_dir / name, replace=True) as out:
            out.write(contents[name])
    return StatusPageOutcome(out_dir, files, len(proofs))
