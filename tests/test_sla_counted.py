"""`counted` means counted against the provider, and an incident that is not says why.

One table over the attributions an incident can have and durations either side of the
contract's `min_duration` (5 min in tests/sla_scenarios.py): only the provider's seconds of
an incident long enough count, and `not_counted_because` names the reason for every other
one. The outage starts at 2026-10-03 10:00 UTC; samples come every minute.
"""

from __future__ import annotations

import pandas as pd
import pytest

from collector.config.model import Target
from reports.render.html import TEXT
from reports.sla.incidents import NOT_COUNTED_REASONS
from reports.sla.period import month_period
from tests.sla_scenarios import combine, control_up, make_target, outage, run_checked, up

START = "2026-10-03T10:00:00Z"
END_AFTER = {120: "2026-10-03T10:02:00Z", 300: "2026-10-03T10:05:00Z", 1800: "2026-10-03T10:30:00Z"}
WINDOW = {"start": "2026-10-03T09:00:00Z", "end": "2026-10-03T11:00:00Z"}


def scenario(kind: str, seconds: int) -> tuple[pd.DataFrame, Target]:
    """vps1's web failing for `seconds` from START, in the circumstances `kind` names."""
    down = (START, END_AFTER[seconds])
    web = outage("office", "vps1", "web", down)
    if kind == "provider":
        return combine(web, control_up()), make_target()
    if kind == "local":
        controls_down = outage("office", "resolver", "ping", down, role="control")
        return combine(web, controls_down), make_target()
    if kind == "maintenance":
        return combine(web, control_up()), make_target(maintenance=[WINDOW])
    if kind == "no_ticket":  # the SLA counts from the ticket, and none was opened
        ticket_start = {"probes": "any", "min_duration": "5m", "starts_at": "ticket"}
        return combine(web, control_up()), make_target(downtime=ticket_start)
    # unconfirmed: two vantages must agree, and home sees the target up throughout.
    frame = combine(web, up("home", "vps1", "web"), control_up(), control_up("home"))
    return frame, make_target(confirm_vantages=2)


CASES = [
    # (kind, seconds, counted, counted_seconds, not_counted_because)
    ("provider", 120, False, 0, "too_short"),
    ("provider", 300, True, 300, None),
    ("provider", 1800, True, 1800, None),
    ("local", 120, False, 0, "local"),
    ("local", 1800, False, 0, "local"),
    ("maintenance", 120, False, 0, "maintenance"),
    ("maintenance", 1800, False, 0, "maintenance"),
    ("unconfirmed", 120, False, 0, "unconfirmed"),
    ("unconfirmed", 1800, False, 0, "unconfirmed"),
    ("no_ticket", 1800, False, 0, "no_ticket"),
]


@pytest.mark.parametrize(("kind", "seconds", "counted", "counted_seconds", "reason"), CASES)
def test_counted_only_when_seconds_count_against_the_provider(
    kind: str, seconds: int, counted: bool, counted_seconds: int, reason: str | None
) -> None:
    frame, target = scenario(kind, seconds)
    s = run_checked(frame, target).summary
    (incident,) = s["incidents"]
    attribution = "provider" if kind == "no_ticket" else kind
    assert (incident["attribution"], incident["duration_seconds"]) == (attribution, seconds)
    assert incident["counted"] is counted
    assert incident["counted_seconds"] == s["downtime_seconds"] == counted_seconds
    assert incident["not_counted_because"] == reason


def test_every_reason_in_the_table_is_a_documented_one() -> None:
    reasons = {case[-1] for case in CASES} - {None}
    assert reasons == set(NOT_COUNTED_REASONS)


@pytest.mark.parametrize("lang", sorted(TEXT))
@pytest.mark.parametrize("table", ["not_counted_because", "letter_not_counted_because"])
def test_every_reason_has_words_in_every_language(lang: str, table: str) -> None:
    """The reports, letters and the command line's tally take a reason's words from here."""
    assert set(TEXT[lang][table]) == set(NOT_COUNTED_REASONS)


def test_provider_seconds_in_a_short_incident_make_it_too_short_whatever_its_attribution() -> None:
    # 10:58-11:02: 10:58-11:00 is inside the maintenance window (09:00-11:00), so the
    # attribution is maintenance (120 s against 120 s, ties go to maintenance), but
    # 11:00-11:02 is the provider's: it would count if the incident lasted 5 minutes.
    down = ("2026-10-03T10:58:00Z", "2026-10-03T11:02:00Z")
    frame = combine(outage("office", "vps1", "web", down), control_up())
    s = run_checked(frame, make_target(maintenance=[WINDOW])).summary
    (incident,) = s["incidents"]
    assert (incident["attribution"], incident["duration_seconds"]) == ("maintenance", 240)
    assert (incident["counted"], incident["not_counted_because"]) == (False, "too_short")


def test_an_incident_crossing_into_the_period_is_judged_by_its_seconds_inside() -> None:
    # 30 Sep 23:50 - 1 Oct 00:10 with maintenance over 1 Oct 00:00-01:00: September holds
    # 600 provider seconds (counted there), October only maintenance (not counted here).
    down = ("2026-09-30T23:50:00Z", "2026-10-01T00:10:00Z")
    frame = combine(outage("office", "vps1", "web", down), control_up())
    target = make_target(
        maintenance=[{"start": "2026-10-01T00:00:00Z", "end": "2026-10-01T01:00:00Z"}]
    )
    (october,) = run_checked(frame, target).summary["incidents"]
    assert (october["counted"], october["not_counted_because"]) == (False, "maintenance")
    september = run_checked(frame, target, period=month_period("2026-09", "UTC")).summary
    (incident,) = september["incidents"]
    assert (incident["counted"], incident["counted_seconds"]) == (True, 600)
    assert incident["not_counted_because"] is None


def test_without_controls_no_incident_is_local() -> None:
    frame, target = scenario("local", 1800)
    s = run_checked(frame, target, controls=[]).summary
    (incident,) = s["incidents"]
    assert (incident["attribution"], incident["counted"]) == ("provider", True)
    assert incident["counted_seconds"] == 1800
