"""`slawitness status`: each target now, this period's budget, notes, and open claims.

A table for a person at a terminal, `--json` for scripts. It reads the store only.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from cli.base import config_option, load, store_option
from collector.core.percent import cut_percent
from collector.evidence.store import EvidenceStore
from collector.proving.stamp_coverage import trusted_time_lines
from collector.proving.witness_history import status_lines


@click.command("status")
@config_option
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def status(config_path: Path, store_path: Path | None, as_json: bool) -> None:
    """Each target now: up or down and since when, the period's uptime and error budget,
    notes and tickets, and the claim deadlines of breached periods not yet claimed."""
    from reports.status import statuses

    config = load(config_path, store_path)
    now = time.time_ns()
    found = statuses(config, [config.store], now)
    if as_json:
        click.echo(json.dumps([s.as_json() for s in found], indent=1, ensure_ascii=False))
        return
    for item in found:
        for line in _lines(item.as_json(), now):
            click.echo(line)
    for line in trusted_time_lines(config):
        click.echo(line)
    if config.witnesses is not None:
        with EvidenceStore.open(config.store, readonly=True) as store:
            for line in status_lines(store, config.witnesses):
                click.echo(line)


@click.command("status-page")
@config_option
@store_option
@click.option("--force", is_flag=True, help="Replace the files of an earlier page in DIR.")
@click.argument("out_dir", metavar="DIR", type=click.Path(path_type=Path))
def status_page(config_path: Path, store_path: Path | None, force: bool, out_dir: Path) -> None:
    """Write a static public status page into DIR: HTML in English and Chinese, a JSON feed,
    badges, the latest signed checkpoint and the proofs of the incidents shown
    (`status_page:` in the config chooses what is public)."""
    from reports.status_page import write_status_page

    config = load(config_path, store_path)
    outcome = write_status_page(config, out_dir, time.time_ns(), force=force)
    click.echo(
        f"status page: {outcome.folder / 'index.html'} ({len(outcome.files)} files,"
        f" {outcome.proofs} proofs)"
    )


def _human(seconds: int) -> str:
    """`2d 3h`, `43m 12s`: the two largest units, for a person reading a terminal."""
    parts: list[str] = []
    rest = seconds
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size or (unit == "s" and not parts):
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return " ".join(parts[:2])


def _since(iso: str, now_ns: int) -> str:
    start = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    age = datetime.fromtimestamp(now_ns / 1e9, UTC) - start
    return f"{iso} ({_human(max(0, int(age.total_seconds())))} ago)"


def _lines(item: dict[str, Any], now_ns: int) -> list[str]:
    head = f"{item['name']}  {item['state']}"
    if item["down_since"]:
        head += f" since {_since(item['down_since'], now_ns)}"
    lines = [head]
    probes = ", ".join(f"{name} {result}" for name, result in item["probes"].items())
    lines.append(f"  probes: {probes or 'no records yet'}")
    if item["period"] is not None:
        if item["uptime"] is None:
            lines.append(f"  {item['period']}: no samples yet")
        else:
            budget = item["budget_left_seconds"]
            left = (f"{_human(int(budget))} of downtime left" if budget >= 0
                    else f"BREACHED, {_human(int(-budget))} over")  # fmt: skip
            lines.append(
                f"  {item['period']}: uptime {cut_percent(item['uptime'])} against"
                f" {item['objective'] * 100:g}%; {left}"
            )
    notes = item["notes"]
    if notes:
        last = notes[-1]
        ticket = f" ticket {last['ticket']}" if last.get("ticket") else ""
        latest = f"{last['ts']}{ticket}: {last['text']}"
        lines.append(f"  notes: {len(notes)} this period; last {latest}")
    documents = item.get("documents") or {}
    if documents:
        held = ", ".join(f"{kind} {count}" for kind, count in documents.items())
        lines.append(f"  documents: {held}")
    if item["open_claims"] and "contract" not in documents:
        lines.append(
            f"  no contract attached: slawitness attach --target {item['name']}"
            " --kind contract FILE"
        )
    for claim in item["open_claims"]:
        basis = f"; {claim['deadline_basis']}" if claim.get("deadline_basis") else ""
        when = (f"claim by {claim['deadline']} ({claim['days_left']} days left{basis})"
                if claim["deadline"] else "no claim window in the SLA")  # fmt: skip
        amount = f" = {claim['credit_amount']}" if claim.get("credit_amount") else ""
        credit = f"{claim['credit_percent']:g}%{amount}"
        count = len(claim.get("remedies") or [])
        if count and claim.get("incident_remedies"):
            granted = " + ".join(claim.get("granted") or [])
            money = " ".join(filter(None, [claim.get("claimable_amount"), claim.get("currency")]))
            credit = f"{granted} ({money}) from {count} remed{'y' if count == 1 else 'ies'}"
        ticket = "; ask for it in a support ticket" if claim.get("ticket_required") else ""
        lines.append(
            f"  OPEN CLAIM {claim['period']}: uptime {cut_percent(claim['uptime'])}, credit"
            f" {credit}{ticket}; {when}"
            f" (mark it filed: slawitness note add --target {item['name']} --claim"
            f" {claim['period']} TEXT)"
        )
    return lines
