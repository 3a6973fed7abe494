"""`check-config --explain`: the SLA terms in force for each target, in plain words, one screen
each, with the clause each comes from and what the contract says that is not encoded.

The point is to let a user compare what slawitness will count with what the provider wrote
before the first report, not after: every line names a term as the model holds it (after the
preset and the user's overrides are merged), and the clause under it is the page's wording
when the term is still the preset's, or the citation the user gave.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from collector.config.model import Target
from collector.config.presets import Preset, load_preset
from collector.config.sla_terms import SlaTerms
from collector.core.durations import format_duration

CLAUSE_WIDTH = 150
"""A clause is cut to this many characters: the page is cited for the rest."""


def explain_target(target: Target) -> list[str]:
    """The lines explaining `target`'s SLA terms; none for a target without terms."""
    sla = target.sla
    if sla is None:
        return []
    preset = load_preset(sla.preset) if sla.preset is not None else None
    lines = [_heading(target.name, sla, preset)]
    for label, text, terms in _term_lines(sla):
        lines.append(f"  {label}: {text}")
        lines.extend(_clause_lines(sla, preset, terms))
    if preset is not None:
        lines.extend(_listed("could not be encoded", preset.not_encoded))
        lines.extend(_listed("not found on the page", preset.not_found))
        if preset.pending:
            lines.append(f"  pending (not applied yet): {', '.join(sorted(preset.pending))}")
    return lines


def _heading(name: str, sla: SlaTerms, preset: Preset | None) -> str:
    source = sla.source
    where = "no source cited"
    if source is not None and source.url is not None:
        where = f"{source.url}, read on {source.read_on}"
    elif source is not None and source.attachment is not None:
        page = f", p. {source.page}" if source.page is not None else ""
        where = f"attached contract {source.attachment[:12]}{page}"
    if preset is None:
        return f"target {name}: SLA terms from the config ({where})"
    return f"target {name}: {preset.provider}, {preset.service} (preset {preset.name}; {where})"


def _term_lines(sla: SlaTerms) -> Iterator[tuple[str, str, tuple[str, ...]]]:
    """(label, plain words, the terms whose clauses back them), in the order a claim runs."""
    yield "uptime", f"{sla.uptime:g}% per calendar month in {sla.timezone}", ("uptime",)
    yield "down", _down(sla), ("downtime",)
    if sla.zones is not None:
        yield "zones", _zones(sla), ("zones",)
    yield "clock", _clock(sla), ()
    yield "exclusions", _exclusions(sla), ("maintenance", "maintenance_notice")
    yield "remedy", _remedies(sla), ("credits", "incident_credits", "compensation", "hourly_credit")
    if sla.credit_cap_percent is not None:
        yield (
            "cap",
            f"all credits of a month at most {sla.credit_cap_percent:g}% of the fee",
            ("credit_cap_percent",),
        )
    yield "claim", _claim(sla), ("claim_window", "claim_window_days", "claim_requires_ticket")


def _down(sla: SlaTerms) -> str:
    rule = sla.downtime
    if isinstance(rule.probes, list):
        probes = f"while none of {', '.join(rule.probes)} succeeds"
    else:
        probes = "while any probe fails" if rule.probes == "any" else "while every probe fails"
    text = probes
    if rule.granule is not None:
        how = "all" if rule.granule_down_when == "all" else "any"
        text += (
            f", judged in {format_duration(rule.granule)} intervals from the month's start"
            f" (down when {how} of its samples say down)"
        )
    if rule.min_duration:
        return f"{text}; outages shorter than {format_duration(rule.min_duration)} do not count"
    return f"{text}; every outage counts, however short"


def _zones(sla: SlaTerms) -> str:
    """The group rule (reports/sla/zones.py) in the words of the report."""
    assert sla.zones is not None
    group = sla.zones
    if not group.targets:
        return (
            "the preset counts down only while all of your instances in its zones are down"
            " at once; not applied until you name them (zones: {targets: [web-a, web-b]}):"
            " this target is judged alone"
        )
    count = len(group.targets)
    k = count if group.down_when == "all" else group.down_when
    rule = f"all {count}" if group.down_when == "all" else f"at least {k}"
    return (
        f"down only while {rule} of {', '.join(group.targets)} are down at once, each by its"
        f" own probes; up while more than {count - k} are up, otherwise no data"
    )


def _clock(sla: SlaTerms) -> str:
    if sla.downtime.starts_at == "ticket":
        return (
            "downtime counts from the first ticket opened during the outage"
            " (a note with --ticket, or your first message in the correspondence);"
            " an outage without one counts nothing"
        )
    return "downtime counts from the outage's first down second"


def _exclusions(sla: SlaTerms) -> str:
    count = len(sla.maintenance)
    text = f"{count} maintenance window{'s' if count != 1 else ''} listed"
    if sla.maintenance_notice is not None:
        notice = format_duration(sla.maintenance_notice)
        return f"{text}; one announced less than {notice} ahead counts as downtime"
    return f"{text}, each left out of the month as announced"


def _remedies(sla: SlaTerms) -> str:
    fee = f"{sla.monthly_fee} {sla.currency}" if sla.monthly_fee is not None else "no fee given"
    parts = []
    if sla.credits:
        tiers = ", ".join(f"below {t.below:g}%: {t.credit:g}%" for t in sla.credits)
        parts.append(f"tiers of the monthly fee ({tiers})")
    if sla.incident_credits is not None:
        table = sla.incident_credits
        hours = table.unit == "service_hours"
        steps = ", ".join(
            f"{format_duration(b.at_least)}+: {b.credit}{' h' if hours else '%'}"
            for b in sorted(table.buckets, key=lambda bucket: bucket.at_least)
        )
        unit = "hours of service" if hours else "percent of the fee"
        parts.append(f"per incident by its length, in {unit} ({steps})")
    if sla.compensation is not None:
        c = sla.compensation
        caps = [
            f"at most {cap:g}% of the fee {what}"
            for cap, what in (
                (c.cap_per_incident_percent, "per incident"),
                (c.cap_per_period_percent, "per month"),
            )
            if cap is not None
        ]
        shortest = f" of {format_duration(c.at_least)} or more" if c.at_least else ""
        parts.append(
            f"{c.multiple}x the prorated fee for each incident{shortest}"
            + (f" ({', '.join(caps)})" if caps else "")
        )
    if sla.hourly_credit is not None:
        h = sla.hourly_credit
        rate = f"{h.rate} {sla.currency}/h" if h.rate is not None else "the fee / 730 per hour"
        parts.append(f"lost time at {rate}, rounded up to {format_duration(h.round_up_to)}")
    if not parts:
        return "none stated: the report claims no credit"
    return "; ".join(parts) + f"; fee {fee}"


def _claim(sla: SlaTerms) -> str:
    window = sla.claim_terms
    if window is None:
        text = "no deadline stated"
    else:
        kind = "business days (Mon-Fri)" if window.business_days else "days"
        start = "each incident" if window.counted_from == "incident" else "the month's end"
        text = f"within {window.days} {kind} of {start}"
    if sla.claim_requires_ticket:
        return f"{text}; credits are owed only when asked for in a support ticket"
    return text


def _clause_lines(sla: SlaTerms, preset: Preset | None, terms: Sequence[str]) -> list[str]:
    """The page's wording for `terms` while they are the preset's, else the citation given."""
    cited = sla.source.terms if sla.source is not None else {}
    from_preset = preset is not None and sla.source is not None and sla.source.url == preset.url
    lines = []
    for term in terms:
        own = preset is not None and from_preset and term in preset.clauses
        if preset is not None and own and (term in cited or term not in preset.terms):
            clause = preset.clauses[term]
            lines.append(f'    [{clause.where}] "{_short(clause.text)}"')
        elif term in cited:
            lines.append(f"    [{cited[term]}]")
    return lines


def _listed(title: str, items: Sequence[str]) -> list[str]:
    return [f"  {title}:", *(f"    - {item}" for item in items)] if items else []


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= CLAUSE_WIDTH else flat[: CLAUSE_WIDTH - 3].rstrip() + "..."
