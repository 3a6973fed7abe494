"""Every credit remedy the contract grants for one period, computed in one place.

The remedies are the uptime tiers (`credits`: a percent of the fee once uptime falls below a
tier), the per-incident credit table (`incident_credits`: hours of service or a percent by
the incident's length), compensation (`compensation`: a multiple of the prorated charges for
the incident's downtime) and the hourly credit (`hourly_credit`: the lost hours, rounded up,
at an hourly rate). An incident's duration here is its counted seconds in the period, so
time the contract does not count (too short, local, maintenance, before the ticket) never
earns a credit.

Money is exact until each remedy's amount is known: `Decimal` arithmetic on the fee, the
seconds and the hours, with no float in between. A remedy's amount is then rounded half-up
to cents (0.01 whatever the currency: ISO 4217's minor units are not looked up), once, and
the caps (per incident, per period, over all credits) are applied to those cent amounts with
the caps themselves rounded half-up to cents. So every listed amount is in cents, no cap is
passed by a fraction of a cent, and the total owed is exactly the sum of the listed amounts,
as a letter that adds them up would find.

A month's hours, for service hours, are the period's own length in hours (744 in a 31-day
month, 720 in a 30-day one); the hourly credit's default rate is the fee over 730 hours
(collector.config.sla_terms.HOURS_PER_MONTH), as hourly prices are quoted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any, Literal

from collector.config.sla_terms import HOURS_PER_MONTH, SlaTerms
from reports.sla.summary import Incident

CENTS = Decimal("0.01")
RemedyKind = Literal["tier", "incident", "compensation", "hourly"]
RemedyUnit = Literal["percent", "service_hours", "currency"]


def to_cents(amount: Decimal) -> Decimal:
    """An amount rounded half-up to cents, the one rounding money ever gets."""
    return amount.quantize(CENTS, rounding=ROUND_HALF_UP)


def plain(value: Decimal | float) -> str:
    """A number as the contract would write it: `12`, `10`, `0.5`, never `1.2E+1`."""
    number = Decimal(str(value)) if isinstance(value, float) else value
    text = f"{number:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True)
class Remedy:
    """One remedy earned: what the contract grants (`credit` in `unit`) and its amount in
    the fee's currency once capped (None without a monthly fee)."""

    kind: RemedyKind
    incident_start: str | None
    duration_seconds: int | None
    credit: str
    unit: RemedyUnit
    amount: Decimal | None
    capped: bool = False
    multiple: str | None = None
    """For compensation, how many times the charges it is (`credit` is then the amount
    before any cap); None for the other kinds."""

    def document(self) -> dict[str, Any]:
        """The remedy as summary.json lists it."""
        return {
            "kind": self.kind,
            "incident_start": self.incident_start,
            "duration_seconds": self.duration_seconds,
            "credit": self.credit,
            "unit": self.unit,
            "amount": None if self.amount is None else str(self.amount),
            "capped": self.capped,
            "multiple": self.multiple,
        }


@dataclass(frozen=True)
class CreditOutcome:
    """What summary.json says about credits: the tier (its percent and terms, as always),
    the total owed after every cap, each remedy, and whether a cap cut anything."""

    credit_percent: int | float
    credit_tier: dict[str, Any] | None
    credit_amount: str | None
    remedies: list[Remedy]
    credit_capped: bool


def exact_percent(percent: float) -> Fraction:
    """A config percentage as written (99.9 means 999/10, not the nearest float)."""
    return Fraction(Decimal(str(percent)))


def as_written(value: float) -> int | float:
    """A config number as summary.json shows it: `10`, not `10.0`."""
    return int(value) if float(value).is_integer() else float(value)


def _percent_of(fee: Decimal, percent: Decimal | float) -> Decimal:
    return fee * Decimal(str(percent)) / 100


def _tier(terms: SlaTerms, uptime: Fraction) -> tuple[int | float, dict[str, Any] | None]:
    """The tier with the smallest `below` that the uptime (a fraction) is strictly under."""
    for tier in sorted(terms.credits, key=lambda t: t.below):
        if uptime * 100 < exact_percent(tier.below):
            return as_written(tier.credit), {
                "below": as_written(tier.below),
                "credit": as_written(tier.credit),
            }
    return 0, None


def _incident_credit(
    terms: SlaTerms, incident: Incident, fee: Decimal, hours: Decimal
) -> Remedy | None:
    table = terms.incident_credits
    if table is None:
        return None
    reached = [b for b in table.buckets if incident.counted_seconds >= b.at_least]
    if not reached:
        return None
    bucket = max(reached, key=lambda b: b.at_least)
    exact = (
        bucket.credit * fee / hours
        if table.unit == "service_hours"
        else _percent_of(fee, bucket.credit)
    )
    return Remedy(
        "incident",
        incident.start,
        incident.counted_seconds,
        plain(bucket.credit),
        table.unit,
        to_cents(exact),
    )


def _compensation(
    terms: SlaTerms, incident: Incident, fee: Decimal, period_seconds: int
) -> Remedy | None:
    rule = terms.compensation
    if rule is None or incident.counted_seconds < rule.at_least:
        return None
    charges = fee * incident.counted_seconds / period_seconds
    amount = to_cents(rule.multiple * charges)
    remedy = Remedy(
        "compensation",
        incident.start,
        incident.counted_seconds,
        str(amount),
        "currency",
        amount,
        multiple=plain(rule.multiple),
    )
    if rule.cap_per_incident_percent is not None:
        return _capped_at(remedy, to_cents(_percent_of(fee, rule.cap_per_incident_percent)))
    return remedy


def _hourly(terms: SlaTerms, incident: Incident, fee: Decimal) -> Remedy | None:
    rule = terms.hourly_credit
    if rule is None:
        return None
    steps = math.ceil(Fraction(incident.counted_seconds) / Fraction(str(rule.round_up_to)))
    hours = Decimal(str(rule.round_up_to)) * steps / 3600
    rate = rule.rate if rule.rate is not None else fee / HOURS_PER_MONTH
    return Remedy(
        "hourly",
        incident.start,
        incident.counted_seconds,
        plain(hours),
        "service_hours",
        to_cents(hours * rate),
    )


def _capped_at(remedy: Remedy, most: Decimal) -> Remedy:
    if remedy.amount is None or remedy.amount <= most:
        return remedy
    return replace(remedy, amount=most, capped=True)


def cap_together(remedies: Sequence[Remedy], most: Decimal) -> list[Remedy]:
    """The remedies in order, each granted what is left of `most` after those before it, so
    that they add up to at most `most`; a remedy cut (even to zero) is marked capped."""
    left, granted = most, []
    for remedy in remedies:
        capped = _capped_at(remedy, max(left, Decimal(0)))
        granted.append(capped)
        left -= capped.amount or Decimal(0)
    return granted


def credits_owed(
    terms: SlaTerms, uptime: Fraction, incidents: Sequence[Incident], period_seconds: int
) -> CreditOutcome:
    """The remedies the period earns: the tier for `uptime` (the conservative uptime, as a
    fraction), then per counted incident in time order its bucket credit, compensation and
    hourly credit; caps per incident, per period (compensation) and overall
    (`credit_cap_percent`), in that order."""
    percent, tier = _tier(terms, uptime)
    fee = terms.monthly_fee
    if fee is None:
        return CreditOutcome(percent, tier, None, [], False)
    remedies: list[Remedy] = []
    if percent:
        remedies.append(
            Remedy(
                "tier", None, None, plain(percent), "percent", to_cents(_percent_of(fee, percent))
            )
        )
    hours = Decimal(period_seconds) / 3600
    counted = sorted(
        (i for i in incidents if i.counted and i.counted_seconds > 0), key=lambda i: i.start
    )
    per_incident: list[Remedy] = []
    compensation: list[Remedy] = []
    for incident in counted:
        per_incident += filter(
            None, [_incident_credit(terms, incident, fee, hours), _hourly(terms, incident, fee)]
        )
        paid = _compensation(terms, incident, fee, period_seconds)
        compensation += [paid] if paid else []
    rule = terms.compensation
    if rule is not None and rule.cap_per_period_percent is not None:
        compensation = cap_together(
            compensation, to_cents(_percent_of(fee, rule.cap_per_period_percent))
        )
    remedies += sorted(per_incident + compensation, key=lambda r: (r.incident_start or "", r.kind))
    if terms.credit_cap_percent is not None:
        remedies = cap_together(remedies, to_cents(_percent_of(fee, terms.credit_cap_percent)))
    total = sum((r.amount or Decimal(0) for r in remedies), Decimal(0))
    return CreditOutcome(
        percent, tier, str(to_cents(total)), remedies, any(r.capped for r in remedies)
    )


__all__ = [
    "CENTS",
    "CreditOutcome",
    "Remedy",
    "as_written",
    "cap_together",
    "credits_owed",
    "exact_percent",
    "plain",
    "to_cents",
]
