"""Letter drafts: amounts, deadline, counted incidents, tickets and evidence hashes."""

from __future__ import annotations

import pytest

from reports.render.letters import escape_markdown, render_letter
from tests.report_fixtures import make_summary

SUMMARY_SHA = "5a" * 32
RECORDS_SHA = "7e" * 32


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_letter_states_the_claim_and_cites_the_hashes(lang: str) -> None:
    letter = render_letter(
        make_summary(), lang, summary_sha256=SUMMARY_SHA, records_sha256=RECORDS_SHA
    )
    for needle in (
        "12.95 USD",
        "129.50 USD",
        "**10%**",
        "99.900%",
        "99.573%",
        "2026-12-01 00:00:00 UTC",
        SUMMARY_SHA,
        RECORDS_SHA,
        "3f" * 32,
        "C-1234",
        "48213",
    ):
        assert needle in letter, needle
    assert "Example\\<Host\\> & Co" in letter
    assert "<script>" not in letter


def table_rows(letter: str, heading: str) -> list[str]:
    """The incident rows of the table under a `## heading` of the letter."""
    section = letter.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| ") and " UTC |" in line]


def test_en_letter_lists_the_counted_incidents_as_claimed() -> None:
    letter = render_letter(make_summary(), "en", summary_sha256=SUMMARY_SHA)
    rows = table_rows(letter, "Counted incidents")
    assert len(rows) == 2
    assert rows[0].startswith("| 1 | 2026-09-30 23:50:00 UTC | 2026-10-01 00:10:00 UTC | 20 min")
    assert "| 10800 s | ping, web | timeout × 300, unreachable × 60 |" in rows[1]
    assert "(computed at bundling)" in letter
    assert "Subject:** SLA credit claim for vps1, period 2026-10" in letter
    assert "\n\n\n" not in letter


NOT_COUNTED_TABLES = {
    "en": (
        "Incidents not counted",
        [
            "shorter than the SLA's minimum duration",
            "my own network was down too",
            "during announced maintenance",
        ],
    ),
    "zh": (
        "不计入的故障事件",
        ["短于 SLA 规定的最短时长", "我方本地网络同时中断", "处于已公布的维护时间内"],
    ),
}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_letter_lists_each_incident_not_counted_with_why(lang: str) -> None:
    heading, reasons = NOT_COUNTED_TABLES[lang]
    letter = render_letter(make_summary(), lang, summary_sha256=SUMMARY_SHA)
    rows = table_rows(letter, heading)
    # numbered as in the report's incident table: #3 short, #4 local, #5 maintenance
    assert [row.split(" | ")[0] for row in rows] == ["| 3", "| 4", "| 5"]
    assert [reason in row for row, reason in zip(rows, reasons, strict=True)] == [True] * 3


def test_letter_without_uncounted_incidents_has_no_such_section() -> None:
    summary = make_summary()
    summary["incidents"] = [i for i in summary["incidents"] if i["counted"]]
    letter = render_letter(summary, "en", summary_sha256=SUMMARY_SHA)
    assert "Incidents not counted" not in letter
    assert len(table_rows(letter, "Counted incidents")) == 2


def test_zh_letter_is_chinese() -> None:
    letter = render_letter(make_summary(), "zh", summary_sha256=SUMMARY_SHA)
    for needle in ("赔偿要求", "计入的故障事件", "工单 48213", "（打包时计算）", "索赔期限"):
        assert needle in letter, needle


def test_letter_with_a_credit_tier_names_it() -> None:
    summary = make_summary(credit_tier={"below": 99.9, "credit": 10})
    letter = render_letter(summary, "en", summary_sha256=SUMMARY_SHA)
    assert "uptime below 99.9% earns a credit of 10%" in letter


@pytest.mark.parametrize(
    ("lang", "absent", "present"),
    [("en", "Credit requested", "no credit is claimed"), ("zh", "赔偿要求", "本周期不申请赔偿")],
)
def test_letter_when_the_sla_was_met(lang: str, absent: str, present: str) -> None:
    summary = make_summary(
        breached=False, credit_percent=0, credit_amount="0.00", uptime_conservative=0.9995
    )
    letter = render_letter(summary, lang, summary_sha256=SUMMARY_SHA)
    assert absent not in letter and present in letter


def test_letter_breached_without_a_tier_asks_for_an_explanation() -> None:
    letter = render_letter(
        make_summary(credit_percent=0, credit_amount="0.00"), "en", summary_sha256=SUMMARY_SHA
    )
    assert "do not grant a credit" in letter


def test_unknown_letter_language() -> None:
    with pytest.raises(ValueError, match="fr"):
        render_letter(make_summary(), "fr", summary_sha256=SUMMARY_SHA)


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("a|b", "a\\|b"),
        ("*bold*", "\\*bold\\*"),
        ("line\nbreak", "line break"),
        (None, ""),
        ("[x](http://e)", "\\[x\\]\\(http://e\\)"),
    ],
)
def test_escape_markdown(raw: str | None, escaped: str) -> None:
    assert escape_markdown(raw) == escaped


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_letter_names_the_checkpoint_and_the_pdf_certificate(lang: str) -> None:
    checkpoint = {"size": 4321, "root_hash": "ab" * 32, "signed_at": "2026-11-01T00:00:05Z",
                  "key_sha256": "cd" * 32, "seq": 4322}  # fmt: skip
    cosigned = {"cosigners": [{"witness": "w1.example", "time": "2026-11-01T00:00:06Z"}]}
    summary = make_summary(
        provenance=[{"store": "evidence.db", "checkpoint": checkpoint, "cosigned": cosigned}],
        document_signing={"certificate_sha256": "ef" * 32, "subject": "CN=slawitness"},
    )
    letter = render_letter(summary, lang, summary_sha256="0" * 64)
    for fact in ("4321", "ab" * 32, "cd" * 32, "ef" * 32, "w1.example"):
        assert fact in letter, fact
    unsigned = render_letter(make_summary(), lang, summary_sha256="0" * 64)
    assert "ef" * 32 not in unsigned and "PAdES" not in unsigned
