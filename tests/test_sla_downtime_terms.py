"""When downtime counts, as real contracts say: from the ticket, in whole measuring granules,
outside maintenance only when it was announced in time, and claimable until a deadline
counted in calendar or business days.

Every figure is counted by hand from the scenario's story; October 2026, UTC unless said.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from reports.sla.period import month_period
from tests.sla_scenarios import (
    AFTER,
    BEFORE,
    NS,
    at,
    combine,
    control_up,
    make_target,
    outage,
    run_checked,
    samples,
)

OUTAGE = ("2026-10-05T10:00:00Z", "2026-10-05T12:00:00Z")
"""A two-hour outage of vps1's web, seen from office."""
TICKET_START = {"probes": "any", "min_duration": "5m", "starts_at": "ticket"}
REPORTED = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
"""When the report is made, for the deadlines still open."""


def _notes(*rows: tuple[str, str | None, str]) -> pd.DataFrame:
    """Notes as reports/sources/stores.py reads them: (ts, ticket, text) about vps1."""
    return pd.DataFrame(
        {
            "ts_ns": np.array([at(ts) * NS for ts, _, _ in rows], np.int64),
            "vantage": "office",
            "target": "vps1",
            "ticket": pd.Series([ticket for _, ticket, _ in rows], dtype=object),
            "text": [text for _, _, text in rows],
        }
    )


def _two_hours_down() -> pd.DataFrame:
    return combine(outage("office", "vps1", "web", OUTAGE), control_up())


# --- downtime from the ticket ------------------------------------------------------------


def test_a_ticket_opened_40_minutes_in_counts_the_last_80_minutes() -> None:
    notes = _notes(
        ("2026-10-05T09:30:00Z", "T-99", "an older ticket, before the outage"),
        ("2026-10-05T10:20:00Z", None, "a note without a ticket is not a ticket"),
        ("2026-10-05T10:40:00Z", "T-100", "web down, opened ticket"),
    )
    result = run_checked(_two_hours_down(), make_target(downtime=TICKET_START), notes=notes)
    s = result.summary
    (incident,) = s["incidents"]
    assert incident["duration_seconds"] == 7200
    assert incident["counted_seconds"] == s["downtime_seconds"] == 80 * 60
    assert incident["counted_from"] == "2026-10-05T10:40:00Z"
    assert (incident["counted"], incident["not_counted_because"]) == (True, None)
    # 4800 s of 2,678,400 in October: 99.8208 %, under 99.9 but not 99.0: the 10 % tier.
    assert s["credit_percent"] == 10


def test_the_first_customer_message_is_the_ticket_when_it_comes_before_any_note() -> None:
    messages: list[dict[str, Any]] = [
        {"ts": "2026-10-05T10:10:00Z", "direction": "provider", "subject": "status update"},
        {"ts": "2026-10-05T10:40:00Z", "direction": "customer", "subject": "vps1 is down"},
        {"ts": "2026-10-05T10:50:00Z", "direction": "customer", "subject": "still down"},
    ]
    notes = _notes(("2026-10-05T11:00:00Z", "T-100", "ticket opened by phone"))
    s = run_checked(
        _two_hours_down(), make_target(downtime=TICKET_START), notes=notes, messages=messages
    ).summary
    (incident,) = s["incidents"]
    assert (incident["counted_seconds"], incident["counted_from"]) == (4800, "2026-10-05T10:40:00Z")


def test_an_outage_without_a_ticket_counts_nothing_and_says_why() -> None:
    notes = _notes(("2026-10-05T09:30:00Z", "T-99", "opened before the outage began"))
    s = run_checked(_two_hours_down(), make_target(downtime=TICKET_START), notes=notes).summary
    (incident,) = s["incidents"]
    assert (incident["counted"], incident["counted_seconds"]) == (False, 0)
    assert incident["not_counted_because"] == "no_ticket"
    assert incident["counted_from"] is None
    assert s["downtime_seconds"] == 0 and s["credit_percent"] == 0


def test_without_starts_at_ticket_the_incident_has_no_counted_from() -> None:
    s = run_checked(_two_hours_down()).summary
    (incident,) = s["incidents"]
    assert incident["counted_seconds"] == 7200
    assert "counted_from" not in incident and "claim_deadline" not in incident
    assert "maintenance_windows" not in s and "claim_window" not in s


# --- measuring granules ------------------------------------------------------------------

FLAP = [  # one web sample every 20 s from 10:00; F fails, . succeeds
    "FFF",  # 10:00 all three down
    "F.F",  # 10:01 mixed
    "...",  # 10:02 up
    "FFF",  # 10:03 all down
    ".F.",  # 10:04 one down
]


def _flapping() -> pd.DataFrame:
    runs: list[tuple[str | int, str | int, bool]] = [(BEFORE, "2026-10-07T10:00:00Z", True)]
    first = at("2026-10-07T10:00:00Z")
    for minute, pattern in enumerate(FLAP):
        for k, mark in enumerate(pattern):
            ts = first + minute * 60 + k * 20
            runs.append((ts, ts + 20, mark == "."))
    runs.append(("2026-10-07T10:05:00Z", AFTER, True))
    return combine(samples("office", "vps1", "web", runs, interval=20), control_up())


@pytest.mark.parametrize(
    ("downtime", "incidents", "seconds"),
    [
        # second by second: 3 + 2 + 0 + 3 + 1 failing samples of 20 s each
        ({}, 4, 180),
        # whole minutes, down when all samples are: 10:00 and 10:03
        ({"granule": "1m", "granule_down_when": "all"}, 2, 120),
        # down when any sample is: 10:00-10:02 and 10:03-10:05
        ({"granule": "1m", "granule_down_when": "any"}, 2, 240),
    ],
)
def test_one_minute_granules_on_a_flapping_target(
    downtime: dict[str, Any], incidents: int, seconds: int
) -> None:
    target = make_target(downtime={"probes": "any", "min_duration": "0s", **downtime})
    s = run_checked(_flapping(), target).summary
    assert len(s["incidents"]) == incidents
    assert s["downtime_seconds"] == seconds


@pytest.mark.parametrize(
    ("down", "when", "counted", "reason"),
    [
        # 10:07-10:09 lies in the granule 10:05-10:10: 5 minutes, under the 10-minute minimum
        (("10:07", "10:09"), "any", 0, "too_short"),
        # 10:07-10:13 touches 10:05-10:10 and 10:10-10:15: 10 minutes, counted whole
        (("10:07", "10:13"), "any", 600, None),
        # no 5-minute granule is down from start to end under `all`: no incident at all
        (("10:07", "10:13"), "all", None, None),
        # 10:05-10:15 fills both granules
        (("10:05", "10:15"), "all", 600, None),
    ],
)
def test_five_minute_granules_and_min_duration(
    down: tuple[str, str], when: str, counted: int | None, reason: str | None
) -> None:
    span = (f"2026-10-08T{down[0]}:00Z", f"2026-10-08T{down[1]}:00Z")
    frame = combine(outage("office", "vps1", "web", span), control_up())
    rule = {"min_duration": "10m", "granule": "5m", "granule_down_when": when}
    s = run_checked(frame, make_target(downtime=rule)).summary
    if counted is None:
        assert s["incidents"] == [] and s["downtime_seconds"] == 0
        return
    (incident,) = s["incidents"]
    assert incident["start"].startswith("2026-10-08T10:05")
    assert (incident["counted_seconds"], incident["not_counted_because"]) == (counted, reason)


# --- maintenance announced in time -------------------------------------------------------

WINDOW = {"start": "2026-10-10T02:00:00Z", "end": "2026-10-10T03:00:00Z"}
IN_WINDOW = ("2026-10-10T02:00:00Z", "2026-10-10T03:00:00Z")
ANNOUNCEMENT = "ab12" * 16


@pytest.mark.parametrize(
    ("announced", "excluded", "notice", "why"),
    [
        ({"announced": "2026-10-09T14:00:00Z"}, False, 12 * 3600, "short_notice"),
        ({"announced": "2026-10-08T02:00:00Z"}, True, 48 * 3600, None),
        ({"announcement": ANNOUNCEMENT[:12]}, True, 48 * 3600, None),
        ({}, False, None, "not_announced"),
        ({"announcement": "cd" * 6}, False, None, "announcement_not_found"),
    ],
)
def test_a_window_announced_less_than_the_notice_ahead_counts(
    announced: dict[str, str], excluded: bool, notice: int | None, why: str | None
) -> None:
    frame = combine(outage("office", "vps1", "web", IN_WINDOW), control_up())
    target = make_target(maintenance=[{**WINDOW, **announced}], maintenance_notice="24h")
    documents = {ANNOUNCEMENT: datetime(2026, 10, 8, 2, 0, tzinfo=UTC)}
    s = run_checked(frame, target, documents=documents).summary
    (window,) = s["maintenance_windows"]
    assert (window["excluded"], window["notice_seconds"], window["why"]) == (excluded, notice, why)
    assert window["required_notice_seconds"] == 86_400
    assert s["maintenance_seconds"] == (3600 if excluded else 0)
    assert s["downtime_seconds"] == (0 if excluded else 3600)
    if "announcement" in announced and excluded:
        assert window["announcement"] == ANNOUNCEMENT
        assert window["announced"] == "2026-10-08T02:00:00Z"


def test_without_a_notice_term_every_window_is_left_out_as_before() -> None:
    frame = combine(outage("office", "vps1", "web", IN_WINDOW), control_up())
    late = {**WINDOW, "announced": "2026-10-10T01:00:00Z"}
    s = run_checked(frame, make_target(maintenance=[late])).summary
    assert (s["maintenance_seconds"], s["downtime_seconds"]) == (3600, 0)


# --- claim deadlines ---------------------------------------------------------------------

FRIDAYS = (
    ("2026-10-16T14:00:00Z", "2026-10-16T14:30:00Z"),  # Friday
    ("2026-10-23T14:00:00Z", "2026-10-23T14:30:00Z"),  # Friday, DST ends in Berlin that Sunday
)


def _fridays() -> pd.DataFrame:
    runs: list[tuple[str | int, str | int, bool]] = [(BEFORE, FRIDAYS[0][0], True)]
    runs += [(FRIDAYS[0][0], FRIDAYS[0][1], False), (FRIDAYS[0][1], FRIDAYS[1][0], True)]
    runs += [(FRIDAYS[1][0], FRIDAYS[1][1], False), (FRIDAYS[1][1], AFTER, True)]
    return combine(samples("office", "vps1", "web", runs), control_up())


@pytest.mark.parametrize(
    ("window", "period_deadline", "incident_deadlines"),
    [
        # October ends Sunday 1 Nov 00:00; 30 calendar days later
        ({"claim_window_days": 30}, "2026-12-01T00:00:00Z", None),
        ({"claim_window": {"days": 30}}, "2026-12-01T00:00:00Z", None),
        # 3 business days from Sunday midnight: Mon 2, Tue 3, Wed 4 Nov
        (
            {"claim_window": {"days": 3, "business_days": True}},
            "2026-11-04T00:00:00Z",
            None,
        ),
        # each incident from its end: Friday 14:30 + 3 business days = Wednesday 14:30; on
        # 2 Nov both have passed, so the period's is the latest
        (
            {"claim_window": {"days": 3, "counted_from": "incident", "business_days": True}},
            "2026-10-28T14:30:00Z",
            ["2026-10-21T14:30:00Z", "2026-10-28T14:30:00Z"],
        ),
        # both still open on 2 Nov: the earliest
        (
            {"claim_window": {"days": 30, "counted_from": "incident"}},
            "2026-11-15T14:30:00Z",
            ["2026-11-15T14:30:00Z", "2026-11-22T14:30:00Z"],
        ),
    ],
)
def test_claim_deadlines(
    window: dict[str, Any], period_deadline: str, incident_deadlines: list[str] | None
) -> None:
    terms = {"claim_window_days": None, **window}
    s = run_checked(_fridays(), make_target(**terms), generated_at=REPORTED).summary
    assert s["claim_deadline"] == period_deadline
    if incident_deadlines is None:
        assert all("claim_deadline" not in i for i in s["incidents"])
    else:
        assert [i["claim_deadline"] for i in s["incidents"]] == incident_deadlines


def test_the_summary_deadline_is_the_earliest_still_open() -> None:
    per_incident = {"days": 3, "counted_from": "incident", "business_days": True}
    target = make_target(claim_window_days=None, claim_window=per_incident)
    on_the_22nd = datetime(2026, 10, 22, 12, 0, tzinfo=UTC)  # the first deadline has passed
    s = run_checked(_fridays(), target, generated_at=on_the_22nd).summary
    assert s["claim_deadline"] == "2026-10-28T14:30:00Z"
    s = run_checked(_fridays(), target, generated_at=REPORTED).summary  # both passed
    assert s["claim_deadline"] == "2026-10-28T14:30:00Z"


def test_business_days_keep_the_local_time_across_a_dst_change() -> None:
    # Berlin: Friday 23 Oct 14:30 UTC is 16:30 CEST; Wednesday 28 Oct 16:30 CET is 15:30 UTC.
    per_incident = {"days": 3, "counted_from": "incident", "business_days": True}
    target = make_target(timezone="Europe/Berlin", claim_window_days=None,
                         claim_window=per_incident)  # fmt: skip
    period = month_period("2026-10", "Europe/Berlin")
    s = run_checked(_fridays(), target, period=period, generated_at=REPORTED).summary
    assert [i["claim_deadline"] for i in s["incidents"]] == [
        "2026-10-21T14:30:00Z",
        "2026-10-28T15:30:00Z",
    ]


def test_an_incident_that_counts_nothing_has_no_deadline() -> None:
    per_incident = {"days": 30, "counted_from": "incident"}
    target = make_target(claim_window_days=None, claim_window=per_incident,
                         downtime=TICKET_START)  # fmt: skip
    s = run_checked(_two_hours_down(), target, generated_at=REPORTED).summary
    (incident,) = s["incidents"]
    assert incident["claim_deadline"] is None and s["claim_deadline"] is None


# --- the terms are checked when the config loads -----------------------------------------


@pytest.mark.parametrize(
    ("terms", "key", "words"),
    [
        ({"claim_window": {"days": 30}}, "sla", "claim_window: give it or claim_window_days"),
        ({"downtime": {"granule": "1.5s"}}, "sla.downtime.granule", "whole number of seconds"),
        ({"downtime": {"granule_down_when": "most"}}, "sla.downtime.granule_down_when", "'all'"),
        ({"downtime": {"starts_at": "email"}}, "sla.downtime.starts_at", "'ticket'"),
        ({"claim_window_days": None, "claim_window": {"days": 0}}, "sla.claim_window.days",
         "greater than or equal to 1"),
        ({"maintenance": [{**WINDOW, "announced": "2026-10-09T14:00:00"}]}, "sla.maintenance",
         "announced: needs a time zone"),
        ({"maintenance": [{**WINDOW, "announcement": "xyz"}]}, "sla.maintenance", "pattern"),
    ],
)  # fmt: skip
def test_invalid_terms_name_their_key(terms: dict[str, Any], key: str, words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        make_target(**terms)
    text = str(caught.value)
    assert key in text and words in text
