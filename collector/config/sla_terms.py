"""The provider's SLA terms as the config states them, validated when the config loads.

The SLA engine in `reports/` does the arithmetic; here we only make sure the terms are
complete and consistent, so that a typo is found at `check-config` time and not on the
day the report is due. Percentages are written as in the contract (`uptime: 99.9`).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from itertools import pairwise
from typing import Annotated, Any, Literal, get_args
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

from collector.config.presets import with_preset
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
    granule: Duration | None = None
    """The contract's measuring interval (`1m` for Google's "Downtime Period" minutes, `5m`
    for some hosts): the period is cut into granules from its start, and each granule is
    down or up as a whole (see `granule_down_when`); a granule without samples is no data.
    `min_duration` then applies to runs of down granules. Whole seconds, at most a day.
    Unset: every second is judged on its own."""
    granule_down_when: Literal["all", "any"] = "all"
    """When a `granule` is down, all of it: `all` (every second its samples cover says down)
    or `any` (one down second is enough). Default `all`."""
    starts_at: Literal["outage", "ticket"] = "outage"
    """When an incident's downtime starts counting: `outage` (its first down second) or
    `ticket` (the first ticket opened during it: a note about the target with `--ticket`,
    or the first message from the customer in the attached correspondence, whichever is
    first), for contracts that exclude "any time before the problem is reported to our
    support team"; with `ticket` an incident without one counts nothing. Default `outage`."""

    @field_validator("granule")
    @classmethod
    def _whole_seconds(cls, value: float | None) -> float | None:
        if value is not None and (value < 1 or value > 86_400 or not float(value).is_integer()):
            raise ValueError("must be a whole number of seconds from 1s to 1d")
        return value


class OneOffWindow(_Strict):
    """A maintenance window announced for one date."""

    start: datetime
    """When the announced window begins: an ISO 8601 date and time with a time zone, e.g.
    `2026-10-25T02:00:00Z`."""
    end: datetime
    """When the window ends, in the same form and after `start`; the seconds in between are
    left out of the SLA period."""
    announced: datetime | None = None
    """When the provider announced the window, with a time zone; with `maintenance_notice`
    set, a window announced less than that ahead of its `start` is not left out. Unset:
    the `announcement`'s date, else not announced."""
    announcement: str | None = Field(default=None, pattern=r"^[0-9a-f]{12,64}$")
    """The SHA-256 (at least its first 12 hex digits) of the attached announcement, as
    `slawitness attach` printed it; its date proves the notice: an e-mail's Date header,
    else the attachment's `date` or when it was attached. Unset: `announced` alone."""

    @field_validator("announcement", mode="before")
    @classmethod
    def _lower_hex(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _ordered_and_zoned(self) -> OneOffWindow:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("start/end: need a time zone, e.g. 2026-10-25T02:00:00Z")
        if self.announced is not None and self.announced.tzinfo is None:
            raise ValueError("announced: needs a time zone, e.g. 2026-10-20T09:00:00Z")
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


class ClaimWindow(_Strict):
    """How long a claim may be filed, and from when that time is counted."""

    days: int = Field(ge=1, le=3660, strict=True)
    """How many days a claim may still be filed (e.g. `30`)."""
    counted_from: Literal["period_end", "incident"] = "period_end"
    """Where the days start: `period_end` (one deadline for the period) or `incident` (each
    counted incident has its own deadline, counted from its end). Default `period_end`."""
    business_days: bool = False
    """Count only Mondays to Fridays in the SLA's `timezone`: the deadline is the same local
    time that many weekdays later. Public holidays are not known to slawitness and count as
    business days. Default `false`: calendar days."""


class CreditTier(_Strict):
    """Below `below` % uptime, `credit` % of the monthly fee is owed."""

    below: Percent = Field(gt=0, le=100)
    """The tier applies when the period's uptime is strictly below this percentage; when
    several apply, the one with the lowest `below` is claimed."""
    credit: Percent = Field(gt=0, le=100)
    """The credit this tier owes, in percent of `monthly_fee`."""


class IncidentBucket(_Strict):
    """One step of a per-incident credit table: an incident lasting at least `at_least`
    earns `credit` (in the table's `unit`)."""

    at_least: Duration = Field(ge=0)
    """The shortest counted incident this bucket applies to (`0s`, `10m`, `1h`); an incident
    earns the bucket with the largest `at_least` it reaches."""
    credit: Decimal = Field(gt=0, le=MAX_FEE, decimal_places=4)
    """What an incident in this bucket earns, in the table's `unit`: hours of service
    (`12`) or percent of `monthly_fee` (`5`)."""


class IncidentCredits(_Strict):
    """A credit per counted incident by how long it lasted, as Vultr's "under 10 minutes:
    12 hours of service" table; no uptime tier has to be breached for it to be owed."""

    unit: Literal["service_hours", "percent"]
    """What a bucket's `credit` is: `service_hours` (hours of service, each worth
    `monthly_fee` divided by the hours of the period, 744 in a 31-day month) or `percent`
    (of `monthly_fee`)."""
    buckets: list[IncidentBucket] = Field(min_length=1)
    """The table, each an `at_least` and the `credit` it earns; no two share an `at_least`,
    and a longer incident never earns less."""

    @model_validator(mode="after")
    def _monotone(self) -> IncidentCredits:
        steps = sorted(self.buckets, key=lambda bucket: bucket.at_least)
        if len({bucket.at_least for bucket in steps}) != len(steps):
            raise ValueError("buckets: two buckets share the same 'at_least'")
        if any(b.credit < a.credit for a, b in pairwise(steps)):
            raise ValueError("buckets: a longer 'at_least' may not earn a smaller 'credit'")
        if self.unit == "percent" and steps[-1].credit > 100:
            raise ValueError("buckets: a credit in percent may be at most 100")
        return self


class Compensation(_Strict):
    """A multiple of the charges for the downtime itself, per counted incident (UpCloud's
    "50 times the charges", "10 times the prorated rental")."""

    multiple: Decimal = Field(gt=0, le=10_000, decimal_places=4)
    """How many times the prorated charges for an incident's counted downtime are owed: the
    charges are `monthly_fee` times its seconds over the seconds of the period."""
    at_least: Duration = Field(default=0.0, ge=0)
    """The shortest counted incident that earns compensation (`5m` for "interruptions over
    5 minutes"). Default `0s`: every counted incident."""
    cap_per_incident_percent: Percent | None = Field(default=None, gt=0, le=100)
    """The most one incident's compensation may be, in percent of `monthly_fee`. Unset: no
    cap per incident."""
    cap_per_period_percent: Percent | None = Field(default=None, gt=0, le=100)
    """The most the period's compensation may add up to, in percent of `monthly_fee`.
    Unset: no cap per period."""

    @model_validator(mode="after")
    def _caps_nested(self) -> Compensation:
        per_incident, per_period = self.cap_per_incident_percent, self.cap_per_period_percent
        if per_incident is not None and per_period is not None and per_incident > per_period:
            raise ValueError("cap_per_incident_percent: may not exceed cap_per_period_percent")
        return self


HOURS_PER_MONTH = 730
"""The hours of an average month (8760 / 12), the divisor of an hourly rate: hourly prices
are quoted against it, whatever the length of the month being claimed."""


class HourlyCredit(_Strict):
    """The lost time credited at the hourly rate, each incident rounded up (DigitalOcean)."""

    round_up_to: Duration = Field(default=3600.0, gt=0)
    """Each counted incident's downtime is rounded up to a whole number of these before it
    is credited (`1h`: nine minutes are credited as an hour). Default `1h`."""
    rate: Decimal | None = Field(default=None, gt=0, le=MAX_FEE, decimal_places=4)
    """What one hour is credited at, in `currency`. Unset: `monthly_fee` divided by 730,
    the hours of an average month, whatever the length of the month claimed."""


class SlaGroup(_Strict):
    """Several targets (instances in different zones) under one SLA that counts a second
    down only when enough of them are down at once, as multi-zone and region-level SLAs do
    (AWS EC2's Region-Level SLA, Google's Instances in Multiple Zones, Alibaba's multi-zone
    ECS). Each member is judged by its own probes and `downtime.probes` rule; the group's
    `downtime`, maintenance and credits then apply to the combined timeline."""

    targets: list[str] = []
    """The names of the group's targets in this config, at least two, each once (the target
    carrying these terms may be one of them). A preset that states the rule leaves them to
    you (`zones: {targets: [web-a, web-b]}`); until you name them the rule is not applied
    and the target is judged alone, as a single instance."""
    down_when: Literal["all"] | Annotated[int, Field(ge=1, strict=True)] = "all"
    """How many of `targets` must be down in the same second for it to count: `all`, or a
    number `k` (at least `k` down at once). A second is up when more members are up than
    could leave `k` down, and no data otherwise. Default `all`."""


SlaTerm = Literal[
    "uptime", "downtime", "maintenance", "credits", "monthly_fee", "claim_window_days",
    "latency_threshold", "loss_threshold", "incident_credits", "compensation", "hourly_credit",
    "credit_cap_percent", "claim_requires_ticket", "claim_window", "maintenance_notice", "zones",
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
    claim_window: ClaimWindow | None = None
    """The claim window in full: its `days`, whether they count from the period's end or
    from each incident, and in calendar or business days; `claim_window_days: N` is the
    shorthand for `{days: N}` (give one or the other). Unset: no deadline is stated."""
    maintenance_notice: Duration | None = None
    """How long ahead a one-off maintenance window must be announced to be left out (e.g.
    `24h`); a window announced later, or with no `announced` time or `announcement`, counts
    as downtime like any other time. Unset: every window is left out, as announced."""
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
    incident_credits: IncidentCredits | None = None
    """A credit per counted incident by its duration, in hours of service or percent of
    `monthly_fee` (`{unit: service_hours, buckets: [{at_least: 0s, credit: 12}, ...]}`).
    Unset: none."""
    compensation: Compensation | None = None
    """A multiple of the prorated charges for each counted incident's downtime, with caps
    per incident and per period (`{multiple: 50, at_least: 5m}`). Unset: none."""
    hourly_credit: HourlyCredit | None = None
    """The counted downtime credited at an hourly rate, each incident rounded up
    (`{round_up_to: 1h}`). Unset: none."""
    credit_cap_percent: Percent | None = Field(default=None, gt=0, le=100)
    """The most all credits of a period (tiers and every remedy above) may add up to, in
    percent of `monthly_fee`. Unset: no overall cap."""
    claim_requires_ticket: bool = Field(default=False, strict=True)
    """Credits are owed only when the customer asks for them in a support ticket: the
    letter says it is that request, and `status` reminds. Default `false`."""
    zones: SlaGroup | None = None
    """An SLA over several targets (zones, instances) that counts a second down only when all
    of them, or `down_when` of them, are down at once (`{targets: [web-a, web-b], down_when:
    all}`); the report states each member's own downtime too. Unset: this target alone."""
    source: SlaSource | None = None
    """Where these terms are written: an attached contract (and page) or a web page and the
    date it was read. Unset: the report cites no source."""
    preset: str | None = None
    """The provider preset these terms start from (`sla: {preset: vultr, monthly_fee: 24,
    currency: USD}`; the names are those of `slawitness init --provider`): the preset's terms,
    cited to the provider's page, and every key given beside it replacing the preset's key of
    that name whole. Unset: every term is the config's own."""

    @model_validator(mode="before")
    @classmethod
    def _from_preset(cls, data: Any) -> Any:
        return with_preset(data, get_args(SlaTerm))

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
        remedies = (self.incident_credits, self.compensation, self.hourly_credit)
        needs_fee = self.credits or any(r is not None for r in remedies)
        if (needs_fee or self.credit_cap_percent is not None) and self.monthly_fee is None:
            raise ValueError("monthly_fee: needed to compute the credits")
        if self.monthly_fee is not None and self.currency is None:
            raise ValueError("currency: needed with monthly_fee (e.g. USD)")
        if self.claim_window is not None and self.claim_window_days is not None:
            raise ValueError("claim_window: give it or claim_window_days, not both")
        if self.maintenance_notice is not None and self.maintenance_notice < 0:
            raise ValueError("maintenance_notice: may not be negative")
        return self

    @property
    def claim_terms(self) -> ClaimWindow | None:
        """The claim window, `claim_window_days` read as the shorthand it is."""
        if self.claim_window is not None:
            return self.claim_window
        if self.claim_window_days is not None:
            return ClaimWindow(days=self.claim_window_days)
        return None
