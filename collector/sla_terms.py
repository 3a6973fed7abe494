"""The provider's SLA terms as the config states them, validated when the config loads.

The SLA engine in `reports/` does the arithmetic; here we only make sure the terms are
complete and consistent, so that a typo is found at `check-config` time and not on the
day the report is due. Percentages are written as in the contract (`uptime: 99.9`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from collector.probes.base import Duration

Percent = float


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DowntimeRule(_Strict):
    """Which probes must fail for a moment to count as down, and how long it must last."""

    probes: Literal["any", "all"] | list[str] = "any"
    min_duration: Duration = 0.0


class OneOffWindow(_Strict):
    """A maintenance window announced for one date."""

    start: datetime
    end: datetime

    @model_validator(mode="after")
    def _ordered_and_zoned(self) -> OneOffWindow:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("start/end: need a time zone, e.g. 2026-10-25T02:00:00Z")
        if self.end <= self.start:
            raise ValueError("end: must be after start")
        return self


class RecurringWindow(_Strict):
    """A maintenance window that repeats, as a cron expression in the SLA's time zone."""

    cron: str
    duration: Duration

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        if len(value.split()) != 5 or not croniter.is_valid(value):
            raise ValueError(f"not a 5-field cron expression: {value!r}")
        return value

    @field_validator("duration")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be positive")
        return value


def _window_tag(value: Any) -> str:
    """A window with a `cron` key repeats; any other is one-off."""
    has_cron = "cron" in value if isinstance(value, dict) else hasattr(value, "cron")
    return "window:cron" if has_cron else "window:once"


MaintenanceWindow = Annotated[
    Annotated[OneOffWindow, Tag("window:once")] | Annotated[RecurringWindow, Tag("window:cron")],
    Discriminator(_window_tag),
]


class CreditTier(_Strict):
    """Below `below` % uptime, `credit` % of the monthly fee is owed."""

    below: Percent = Field(gt=0, le=100)
    credit: Percent = Field(gt=0, le=100)


class SlaTerms(_Strict):
    """One target's contract terms (DESIGN.md, "SLA engine")."""

    uptime: Percent = Field(gt=0, le=100)
    period: Literal["month"] = "month"
    timezone: str = "UTC"
    downtime: DowntimeRule = DowntimeRule()
    maintenance: list[MaintenanceWindow] = []
    credits: list[CreditTier] = []
    monthly_fee: Decimal | None = Field(default=None, ge=0)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    claim_window_days: int | None = Field(default=None, ge=1)
    confirm_vantages: int = Field(default=1, ge=1)
    latency_threshold: Duration | None = None
    loss_threshold: Percent | None = Field(default=None, gt=0, le=100)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SlaTerms:
        belows = [tier.below for tier in self.credits]
        if len(set(belows)) != len(belows):
            raise ValueError("credits: two tiers share the same 'below'")
        if self.credits and self.monthly_fee is None:
            raise ValueError("monthly_fee: needed to compute the credits")
        if self.monthly_fee is not None and self.currency is None:
            raise ValueError("currency: needed with monthly_fee (e.g. USD)")
        return self
