"""The provider's SLA terms as the config states them, validated when the config loads.

The SLA engine in `reports/` does the arithmetic; here we only make sure the terms are
complete and consistent, so that a typo is found at `check-config` time and not on the
day the report is due. Percentages are written as in the contract (`uptime: 99.9`).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Strict,
    Tag,
    field_validator,
    model_validator,
)

from collector.probes.base import Duration

PERCENT = "percent"
Percent = Annotated[float, Strict(), PERCENT]
"""A percentage as the contract writes it (`99.9`, not 0.999); the tag lets the generated
config reference call it a percent rather than a bare number."""
MAX_FEE = Decimal(10**12)
"""No rented host costs a trillion a month; past it the credit arithmetic is meaningless."""


class _Strict(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, use_attribute_docstrings=True, allow_inf_nan=False
    )


class DowntimeRule(_Strict):
    """Which probes must fail for a moment to count as down, and how long it must last."""

    probes: Literal["any", "all"] | list[str] = "any"
    """Which of the target's probes decide that a second is down: `any` (one failing probe is
    enough), `all` (down only while no probe succeeds), or a list of probe names (down only
    while none of those succeeds). Default `any`."""
    min_duration: Duration = 0.0
    """Outages shorter than this do not count as downtime, as many SLAs say (e.g. `5m`).
    Default `0s`: every down second counts."""


class OneOffWindow(_Strict):
    """A maintenance window announced for one date."""

    start: datetime
    """When the announced window begins: an ISO 8601 date and time with a time zone, e.g.
    `2026-10-25T02:00:00Z`."""
    end: datetime
    """When the window ends, in the same form and after `start`; the seconds in between are
    left out of the SLA period."""

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
    """When each window begins: a 5-field cron expression (minute hour day month weekday)
    read in the SLA's `timezone`, e.g. `0 3 * * 0` for Sundays at 03:00."""
    duration: Duration
    """How long each window lasts from its start, e.g. `1h`; must be positive."""

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
    """The tier applies when the period's uptime is strictly below this percentage; when
    several apply, the one with the lowest `below` is claimed."""
    credit: Percent = Field(gt=0, le=100)
    """The credit this tier owes, in percent of `monthly_fee`."""


SlaTerm = Literal[
    "uptime", "downtime", "maintenance", "credits", "monthly_fee", "claim_window_days",
    "latency_threshold", "loss_threshold",
]  # fmt: skip
"""The terms a citation can point at one by one (`sla.source.terms`)."""


class SlaSource(_Strict):
    """Where the SLA terms are written, so a reader can check the numbers against it: an
    attached contract (`slawitness attach --kind contract`) or a web page and when it was
    read. The report shows the citation next to each term."""

    attachment: str | None = Field(default=None, pattern=r"^[0-9a-f]{12,64}$")
    """The SHA-256 of the attached contract, as `slawitness attach` printed it (at least its
    first 12 hex digits). The report and the bundle carry that file."""
    page: int | None = Field(default=None, ge=1, le=100_000, strict=True)
    """The page the SLA terms are on. Unset: no page is cited."""
    url: str | None = Field(default=None, pattern=r"^https?://")
    """The web page the terms were read on, when they are not in an attached file; needs
    `read_on`."""
    read_on: date | None = None
    """The date the `url` was read (`2026-10-01`): web pages change."""
    terms: dict[SlaTerm, str] = {}
    """Where each term is, when they are on different pages, e.g. `{uptime: "p. 4 §2.1",
    credits: "p. 5 §3"}`; a term not listed cites `page`. Default: none."""

    @field_validator("attachment", mode="before")
    @classmethod
    def _lower_hex(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_place(self) -> SlaSource:
        if (self.attachment is None) == (self.url is None):
            raise ValueError("give either attachment (a SHA-256) or url, not both or neither")
        if self.url is not None and self.read_on is None:
            raise ValueError("read_on: needed with url (the date the page was read)")
        return self


class SlaTerms(_Strict):
    """One target's contract terms, as its SLA states them.

    The arithmetic on them is in `reports.sla.engine`.
    """

    uptime: Percent = Field(gt=0, le=100)
    """The promised uptime per period, in percent as the contract writes it (`99.9`); the
    report calls the SLA breached when the measured uptime is below it."""
    period: Literal["month"] = "month"
    """The period the uptime is measured over: a calendar month in `timezone`, the only
    choice."""
    timezone: str = "UTC"
    """The IANA time zone the contract counts in (e.g. `Europe/Berlin`): where months and
    days begin, and how maintenance `cron` expressions are read. Default `UTC`."""
    downtime: DowntimeRule = DowntimeRule()
    """What counts as down: which probes must fail, and the shortest outage that counts.
    Default: any failing probe, and every down second counts."""
    maintenance: list[MaintenanceWindow] = []
    """Maintenance windows the provider announced, one-off (`start`, `end`) or recurring
    (`cron`, `duration`); their seconds are left out of the period. Default: none."""
    credits: list[CreditTier] = []
    """The contract's credit tiers, each a `below` uptime and the `credit` it owes; no two
    may share a `below`. Default: none, so the report claims no credit."""
    monthly_fee: Decimal | None = Field(default=None, ge=0, le=MAX_FEE, decimal_places=4)
    """What the host costs per month, in `currency`, to turn the credit percentage into an
    amount; required with `credits`. Unset: no amount is stated."""
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    """The fee's currency as an ISO 4217 code such as `USD` or `EUR`; required with
    `monthly_fee`."""
    claim_window_days: int | None = Field(default=None, ge=1, le=3660, strict=True)
    """How many days after the period ends a claim may still be filed; the report states
    that deadline. Unset: no deadline is stated."""
    confirm_vantages: int = Field(default=1, ge=1, le=1000, strict=True)
    """With stores from several vantages merged, how many vantages must see a second down
    (and their own network up) for it to count against the provider; fewer make it
    `unconfirmed`. Default 1: one vantage is enough."""
    latency_threshold: Duration | None = None
    """Successful attempts slower than this (e.g. `500ms`) count as seconds above the latency
    threshold, reported apart from downtime. Unset: latency is reported without one."""
    loss_threshold: Percent | None = Field(default=None, gt=0, le=100)
    """Successful icmp attempts that lost more than this percentage of their echoes count as
    seconds above the loss threshold, reported apart from downtime. Unset: no threshold."""
    source: SlaSource | None = None
    """Where these terms are written: an attached contract (and page) or a web page and the
    date it was read. Unset: the report cites no source."""

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
