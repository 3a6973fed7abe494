"""Providers' published SLA terms, shipped as data files, and how a config starts from one.

`sla: {preset: vultr, monthly_fee: 24, currency: USD}` reads `presets/vultr.yml`: its `terms`
come first and every key the user writes replaces the preset's key of that name whole (a
`downtime:` given replaces the preset's `downtime`, it is not merged into it). The preset's
`source` (the page, the date it was read, and where on the page each term is) becomes the
terms' `source` unless the user gives one, so the report cites the contract for every term
it uses. The fee and currency are always the user's: a preset never states them.

Each file also says what its page says that the SLA model cannot express (`not_encoded`),
what was looked for and not found on it (`not_found`), and `pending`: terms in the shape of
`terms` that the model does not take yet, kept so that they are not lost; they are not
applied.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from importlib import resources
from typing import Any

import yaml

PRESET_NAMES = (
    "aws-ec2",
    "google-compute-engine",
    "azure-vm",
    "hetzner-cloud",
    "ovhcloud",
    "digitalocean",
    "vultr",
    "linode",
    "upcloud",
    "alibaba-ecs",
    "tencent-cvm",
)
"""Every preset shipped, one per provider, each a file `presets/<name>.yml`."""

USER_ONLY_KEYS = ("monthly_fee", "currency")
"""What the user pays is on the user's invoice, never on the provider's SLA page."""

MONEY_REMEDIES = ("credits", "incident_credits", "compensation", "hourly_credit")
"""The terms whose credit is an amount of the monthly fee, so a fee and currency are needed."""

FILL_IN = "<fill in>"
"""The placeholder `slawitness init --provider` writes where the user's own figure goes."""


@dataclass(frozen=True)
class Clause:
    """A term's wording on the provider's page, and where on the page it is."""

    where: str
    text: str


@dataclass(frozen=True)
class Preset:
    """One provider's SLA terms as its page words them, with what could not be encoded."""

    name: str
    provider: str
    service: str
    url: str
    read_on: date
    terms: Mapping[str, Any]
    clauses: Mapping[str, Clause]
    not_encoded: tuple[str, ...]
    not_found: tuple[str, ...]
    pending: Mapping[str, Any]
    note: str | None
    ask: tuple[str, ...]
    """Terms the page did not state that the model cannot do without (`uptime`): the user
    gives them from their own contract."""

    def source(self, citable: Collection[str], overridden: Collection[str]) -> dict[str, Any]:
        """The `source` the merged terms cite: the page, its date, and the clause of each
        preset term still in force (a term the user replaced is no longer the page's)."""
        cited = {
            term: clause.where
            for term, clause in self.clauses.items()
            if term in self.terms and term in citable and term not in overridden
        }
        return {"url": self.url, "read_on": self.read_on, "terms": cited}


def quoted_clauses(
    name: str | None, url: str | None, places: Mapping[str, str]
) -> dict[str, dict[str, str]]:
    """The preset's words for each term its page is still cited for: `{term: {where, text}}`.

    A clause is quoted only while the terms cite the preset's own page (`url`) and the
    clause's own place for that term: a term the user replaced, or a source the user gave,
    is no longer the page's wording, and quoting it would put words in the contract."""
    if name not in PRESET_NAMES:
        return {}
    preset = load_preset(name)
    if url != preset.url:
        return {}
    return {
        term: {"where": clause.where, "text": clause.text}
        for term, clause in preset.clauses.items()
        if places.get(term) == clause.where
    }


def known_presets() -> str:
    return ", ".join(PRESET_NAMES)


@functools.cache
def load_preset(name: str) -> Preset:
    """The preset `name`, read from the package's data files once per process."""
    if name not in PRESET_NAMES:
        raise ValueError(f"preset: unknown preset {name!r} (known: {known_presets()})")
    path = resources.files("collector.config").joinpath(f"presets/{name}.yml")
    data = yaml.safe_load(path.read_text("utf-8"))
    return _preset_from(name, data)


def _preset_from(name: str, data: Mapping[str, Any]) -> Preset:
    source = data["source"]
    clauses = {
        term: Clause(where=str(clause["where"]), text=str(clause["text"]).strip())
        for term, clause in data.get("clauses", {}).items()
    }
    return Preset(
        name=name,
        provider=str(data["provider"]),
        service=str(data["service"]),
        url=str(source["url"]),
        read_on=source["read_on"],
        terms=dict(data.get("terms") or {}),
        clauses=clauses,
        not_encoded=tuple(str(line) for line in data.get("not_encoded") or ()),
        not_found=tuple(str(line) for line in data.get("not_found") or ()),
        pending=dict(data.get("pending") or {}),
        note=None if data.get("note") is None else str(data["note"]).strip(),
        ask=tuple(str(key) for key in data.get("ask") or ()),
    )


def with_preset(sla: Any, citable: Collection[str]) -> Any:
    """The `sla` mapping with its preset's terms under the user's keys; anything without a
    `preset` key is returned as it is, for the model to judge.

    A preset that cannot be used (unknown, or needing a figure the user did not give) is a
    ValueError, so that pydantic reports it as one line under the `sla` key."""
    if not isinstance(sla, Mapping) or "preset" not in sla:
        return sla
    name = sla["preset"]
    if not isinstance(name, str):
        raise ValueError(f"preset: give a preset's name (known: {known_presets()})")
    preset = load_preset(name)
    given = {key: value for key, value in sla.items() if key != "preset"}
    merged: dict[str, Any] = {**preset.terms, **given, "preset": name}
    _require_the_users_figures(preset, merged)
    if "source" not in given:
        merged["source"] = preset.source(citable, overridden=given.keys())
    return merged


def _require_the_users_figures(preset: Preset, merged: Mapping[str, Any]) -> None:
    """A placeholder left as `init` wrote it, or a fee missing for a preset's money credit,
    is the user's to fill in; say which key and why, in one line."""
    for key in (*preset.ask, *USER_ONLY_KEYS):
        if merged.get(key) == FILL_IN:
            raise ValueError(f"{key}: fill in {_what(key)} (slawitness init left {FILL_IN})")
    for key in preset.ask:
        if key not in merged:
            raise ValueError(
                f"{key}: the preset {preset.name}'s page does not state it: give {_what(key)}"
            )
    remedies = [term for term in MONEY_REMEDIES if merged.get(term)]
    if remedies and ("monthly_fee" not in merged or "currency" not in merged):
        missing = "monthly_fee" if "monthly_fee" not in merged else "currency"
        raise ValueError(
            f"{missing}: the preset {preset.name}'s {remedies[0]} are paid out of the monthly"
            f" fee: give monthly_fee and currency (e.g. sla: {{preset: {preset.name},"
            " monthly_fee: 24, currency: USD})"
        )


def _what(key: str) -> str:
    if key == "monthly_fee":
        return "what the host costs per month, from your invoice"
    if key != "currency":
        return f"the contract's {key.replace('_', ' ')}, from your own copy of it"
    return "the fee's currency as an ISO 4217 code such as USD or EUR"


def example_sla_block(name: str, indent: str) -> list[str]:
    """The `sla:` lines `slawitness init --provider NAME` writes: the preset, the figures the
    user must fill in, and as comments where the terms come from and what they leave out."""
    preset = load_preset(name)
    inner = indent + "  "
    lines = [
        f"{indent}sla:",
        f"{inner}# {preset.provider}, {preset.service}: the terms of {preset.url}",
        f"{inner}# as read on {preset.read_on.isoformat()}; pages change: compare before claiming.",
    ]
    if preset.not_encoded:
        lines.append(f"{inner}# Not encoded by the preset (check these by hand):")
        lines.extend(f"{inner}#   - {line}" for line in preset.not_encoded)
    lines += [
        f"{inner}# `slawitness check-config --explain` shows every term in force and its clause;",
        f"{inner}# a key written here replaces the preset's key of that name.",
        f"{inner}preset: {name}",
        *(f'{inner}{key}: "{FILL_IN}"        # {_what(key)}' for key in preset.ask),
        f'{inner}monthly_fee: "{FILL_IN}"   # {_what("monthly_fee")}',
        f'{inner}currency: "{FILL_IN}"      # e.g. USD, EUR',
    ]
    return lines
