"""The complaint file in the report and the letters: attached documents, the correspondence
timeline and the citation of the SLA terms, in English and Chinese, rendered for real.

The summaries are the report fixtures' month plus the two optional keys the attach feature
writes (`complaint_file`, `sla_source`); without them every output must stay as it was.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import markdown
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reports.render.complaint_view import (
    attachment_groups,
    citation,
    format_size,
    letter_messages,
    short_hash,
    term_places,
)
from reports.render.html import TEXT, render_html
from reports.render.letters import code_span, render_letter
from tests.report_fixtures import make_daily, make_summary

CONTRACT = "1a2b3c4d" + "e" * 56
INVOICE = "b1" * 32
RECEIPT = "c2" * 32
THREAD = "d3" * 32
SUMMARY_SHA = "5a" * 32
HOSTILE_SUBJECT = "*bold* [x](y) <script>alert(2)</script>"


def attachment(
    seq: int, sha256: str, name: str | None, kind: str | None, **fields: Any
) -> dict[str, Any]:
    """One complaint-file attachment as the summary holds it."""
    row: dict[str, Any] = {
        "seq": seq,
        "vantage": "office",
        "sha256": sha256,
        "name": name,
        "kind": kind,
        "date": None,
        "size": 1000,
        "media_type": "application/pdf",
        "note": None,
        "attached_at": "2026-11-02T09:00:00Z",
        "messages": 0,
        "member": f"attachments/{sha256}/{name}",
        "cited_by_sla": False,
    }
    row.update(fields)
    return row


def message(ts: str, direction: str, subject: str, answered: int | None = None) -> dict[str, Any]:
    """One e-mail message of the timeline, read from the attached thread."""
    customer = direction == "customer"
    return {
        "ts": ts,
        "event": "message",
        "direction": direction,
        "from": "Ops <ops@customer.example>" if customer else "support@example.com",
        "to": "support@example.com" if customer else "Ops <ops@customer.example>",
        "subject": subject,
        "attachment": THREAD,
        "attachment_name": "thread.mbox",
        "answered_after_seconds": answered,
    }


def complaint_file() -> dict[str, Any]:
    """A contract, an invoice, a receipt and a support thread; the invoice's file is gone."""
    return {
        "attachments": [
            attachment(
                12,
                CONTRACT,
                "contract.pdf",
                "contract",
                date="2026-01-15",
                size=48213,
                note="signed service agreement",
                cited_by_sla=True,
            ),
            attachment(
                14, INVOICE, "invoice-2026-10.pdf", "invoice", date="2026-10-01", size=2_500_000
            ),
            attachment(15, RECEIPT, "receipt.png", "payment", size=900, media_type="image/png"),
            attachment(
                16,
                THREAD,
                "thread.mbox",
                "correspondence",
                size=10240,
                media_type="application/mbox",
                messages=2,
            ),
        ],
        "timeline": [
            {
                "ts": "2026-10-03T10:00:00Z",
                "event": "incident",
                "incident": 2,
                "end": "2026-10-03T13:00:00Z",
                "duration_seconds": 10800,
                "attribution": "provider",
                "counted": True,
                "not_counted_because": None,
            },
            message("2026-10-03T10:14:00Z", "customer", HOSTILE_SUBJECT),
            {"ts": "2026-10-03T10:20:00Z", "event": "note", "ticket": "48213", "text": "called"},
            message("2026-10-07T08:00:00Z", "provider", "Re: vps1 down", answered=337560),
            message("2026-10-08T09:00:00Z", "unknown", "Newsletter"),
            {
                "ts": "2026-10-10T05:00:00Z",
                "event": "incident",
                "incident": 3,
                "end": "2026-10-10T05:02:00Z",
                "duration_seconds": 120,
                "attribution": "provider",
                "counted": False,
                "not_counted_because": "too_short",
            },
        ],
        "problems": [
            {
                "sha256": INVOICE,
                "name": "invoice-2026-10.pdf",
                "seq": 14,
                "problem": "file missing from evidence.attachments",
            }
        ],
    }


def contract_source(**changes: Any) -> dict[str, Any]:
    """SLA terms on page 4 of the attached contract, the uptime and credits placed apart."""
    source: dict[str, Any] = {
        "attachment": CONTRACT,
        "name": "contract.pdf",
        "page": 4,
        "url": None,
        "read_on": None,
        "terms": {"uptime": "p. 4 §2.1", "credits": "p. 5 §3"},
        "found": True,
    }
    source.update(changes)
    return source


def url_source() -> dict[str, Any]:
    """SLA terms read on the provider's web page."""
    return {
        "attachment": None,
        "name": None,
        "page": None,
        "url": "https://provider.example/sla",
        "read_on": "2026-10-01",
        "terms": {},
        "found": True,
    }


def full_summary(**changes: Any) -> dict[str, Any]:
    """The fixture month with a complaint file and a contract source, in Shanghai time."""
    base = {
        "complaint_file": complaint_file(),
        "sla_source": contract_source(),
        "timezone": "Asia/Shanghai",
    }
    return make_summary(**{**base, **changes})


class _Text(HTMLParser):
    """The text a browser shows (entities decoded, tags, styles and scripts dropped)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hidden += tag in ("style", "script", "title")

    def handle_endtag(self, tag: str) -> None:
        self.hidden -= tag in ("style", "script", "title")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def visible(html: str) -> str:
    """What a reader sees of an HTML fragment, whitespace collapsed."""
    parser = _Text()
    parser.feed(html)
    return " ".join("".join(parser.parts).split())


def section(html: str, section_id: str) -> str:
    """The HTML of one `<section id=...>`."""
    match = re.search(rf'<section id="{section_id}"[^>]*>.*?</section>', html, flags=re.S)
    assert match is not None, f"no section {section_id}"
    return match.group(0)


def summary_row(html: str, heading: str) -> str:
    """The visible text of the summary box cell under a heading."""
    match = re.search(rf"<tr><th>{re.escape(heading)}</th><td[^>]*>(.*?)</td></tr>", html, re.S)
    assert match is not None, f"no row {heading}"
    return visible(match.group(1))


def html_of(summary: dict[str, Any], lang: str) -> str:
    return render_html(summary, {}, make_daily(), lang)


def letter_of(summary: dict[str, Any], lang: str) -> str:
    return render_letter(summary, lang, summary_sha256=SUMMARY_SHA)


def in_order(text: str, needles: list[str]) -> bool:
    """Every needle appears in `text`, each after the one before it."""
    positions = [text.find(needle) for needle in needles]
    return -1 not in positions and positions == sorted(positions)


# --- HTML report ---------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_html_has_both_new_sections_in_place(lang: str) -> None:
    html = html_of(full_summary(), lang)
    order = ['id="incidents"', 'id="timeline"', 'id="degradation"', 'id="notes"']
    assert in_order(html, [*order, 'id="complaint-file"', 'id="sources"'])
    heads = {"en": ("Complaint file", "Correspondence timeline"), "zh": ("投诉材料", "沟通时间线")}
    for heading in heads[lang]:
        assert f"<h2>{heading}</h2>" in html


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_complaint_file_lists_every_attachment_with_its_hash_and_path(lang: str) -> None:
    text = visible(section(html_of(full_summary(), lang), "complaint-file"))
    for row in complaint_file()["attachments"]:
        assert row["name"] in text and row["sha256"] in text and row["member"] in text
    for size in ("47.1 KB", "2.4 MB", "900 B", "10.0 KB"):
        assert size in text, size
    assert "application/mbox" in text and "signed service agreement" in text
    assert "2026-01-15" in text


def test_complaint_file_groups_by_kind_in_english() -> None:
    text = visible(section(html_of(full_summary(), "en"), "complaint-file"))
    assert in_order(text, ["Contract", "Invoices", "Payment receipts", "Correspondence"])
    assert "2 e-mail message(s) read from it" in text
    assert "48,213 bytes" in text
    assert "The SLA terms are cited from this document." in text


def test_complaint_file_translates_the_kinds_in_chinese() -> None:
    html = section(html_of(full_summary(), "zh"), "complaint-file")
    for kind in ("合同", "发票", "付款凭证", "往来邮件"):
        assert f">{kind}</h3>" in html, kind
    text = visible(html)
    assert in_order(text, ["合同", "发票", "付款凭证", "往来邮件"])
    assert "从中读取 2 封邮件" in text and "48,213 字节" in text
    assert "Invoices" not in text and "Payment receipts" not in text


@pytest.mark.parametrize(
    ("lang", "heading"),
    [("en", "Attachments that no longer check out"), ("zh", "无法再核对的附件")],
)
def test_attachment_problems_are_in_a_warning_box(lang: str, heading: str) -> None:
    html = section(html_of(full_summary(), lang), "complaint-file")
    box = re.search(r'<div class="warn">(.*?)</div>', html, re.S)
    assert box is not None
    text = visible(box.group(1))
    assert heading in text and "invoice-2026-10.pdf" in text and INVOICE in text
    assert "file missing from evidence.attachments" in text


@pytest.mark.parametrize(
    ("lang", "hint"), [("en", "Nothing is attached"), ("zh", "证据库中尚未附加任何材料")]
)
def test_an_empty_complaint_file_says_how_to_attach(lang: str, hint: str) -> None:
    empty: dict[str, list[Any]] = {"attachments": [], "timeline": [], "problems": []}
    html = html_of(make_summary(complaint_file=empty), lang)
    text = visible(section(html, "complaint-file"))
    assert hint in text and "slawitness attach" in text
    assert 'id="timeline"' not in html


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_an_attachment_with_blank_fields_shows_no_none(lang: str) -> None:
    blank = {"size": None, "media_type": None, "vantage": None, "attached_at": None}
    bare = attachment(30, "f0" * 32, None, None, member=f"attachments/{'f0' * 32}/file", **blank)
    html = html_of(make_summary(complaint_file={"attachments": [bare], "timeline": []}), lang)
    text = visible(section(html, "complaint-file"))
    assert "None" not in text and "f0f0f0f0…" in text and "f0" * 32 in text
    assert TEXT[lang]["attachment_kinds"]["other"] in text


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_timeline_rows_are_in_time_order_with_local_times(lang: str) -> None:
    html = section(html_of(full_summary(), lang), "timeline")
    text = visible(html)
    times = re.findall(r'<tr class="tl-[^"]*"><td><time datetime="([^"]+)"', html)
    assert times == [row["ts"] for row in complaint_file()["timeline"]] == sorted(times)
    assert "2026-10-03 18:14:00 CST" in text
    incident = "Incident #2 began" if lang == "en" else "故障事件 #2 开始"
    assert in_order(text, [incident, "*bold*", "48213", "Re: vps1 down", "Newsletter"])
    assert html.count('<tr class="tl-incident">') == 2
    assert html.count('class="tl-message tl-customer"') == 1
    assert html.count('class="tl-message tl-provider"') == 1
    assert html.count('<tr class="tl-note">') == 1


def test_timeline_words_in_english() -> None:
    text = visible(section(html_of(full_summary(), "en"), "timeline"))
    assert "Lasted 3 h, until 2026-10-03 13:00:00 UTC; attributed to: provider" in text
    assert "attributed to: provider; not counted (too short)" in text
    assert "You → provider" in text and "Provider → you" in text
    assert "Message (sender unclear)" in text
    assert "Answered after 3 d 21 h 46 min" in text
    assert "From Ops <ops@customer.example> to support@example.com" in text
    assert "In thread.mbox d3d3d3d3…" in text
    assert "Ticket 48213" in text


def test_timeline_words_in_chinese() -> None:
    text = visible(section(html_of(full_summary(), "zh"), "timeline"))
    assert "您 → 服务商" in text and "服务商 → 您" in text
    assert "3天21小时46分 后答复" in text
    assert "归因：服务商" in text and "不计入（过短）" in text
    assert "工单 48213" in text


def test_timeline_in_utc_has_no_local_column() -> None:
    html = section(html_of(full_summary(timezone="UTC"), "en"), "timeline")
    assert "CST" not in html and '<span class="sub">2026-10' not in html


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_user_text_is_escaped_in_html(lang: str) -> None:
    summary = full_summary()
    summary["complaint_file"]["attachments"][0]["note"] = "<img src=x onerror=alert(3)>"
    html = html_of(summary, lang)
    assert "<script>alert(2)" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(3)&gt;" in html
    assert "Ops &lt;ops@customer.example&gt;" in html


@pytest.mark.parametrize(
    ("lang", "heading", "cited"),
    [
        ("en", "Uptime promised (SLA)", "Source: contract.pdf, p. 4 §2.1 (SHA-256 1a2b3c4d…)"),
        ("zh", "承诺可用率（SLA）", "来源：contract.pdf，p. 4 §2.1（SHA-256 1a2b3c4d…）"),
    ],
)
def test_sla_uptime_row_cites_its_place_and_hash(lang: str, heading: str, cited: str) -> None:
    html = html_of(full_summary(), lang)
    assert summary_row(html, heading) == f"99.900%{cited}"


def test_terms_without_a_place_of_their_own_cite_the_page() -> None:
    html = html_of(full_summary(), "en")
    assert summary_row(html, "Maintenance excluded").endswith(
        "Source: contract.pdf, p. 4 (SHA-256 1a2b3c4d…)"
    )
    assert "Source: contract.pdf, p. 5 §3" in summary_row(html, "Service credit owed")
    assert "Source: contract.pdf, p. 4" in summary_row(html, "Claim deadline")
    method = visible(section(html, "method"))
    assert method.count("Source: contract.pdf, p. 4 (SHA-256 1a2b3c4d…)") == 2


def test_the_sla_terms_row_gives_the_full_citation() -> None:
    html = html_of(full_summary(), "en")
    row = summary_row(html, "SLA terms from")
    assert row.startswith("contract.pdf, p. 4")
    assert f"SHA-256 {CONTRACT}" in row
    assert "uptime: p. 4 §2.1; service credits: p. 5 §3" in row
    assert "not in the evidence store" not in row


@pytest.mark.parametrize(
    ("lang", "heading", "warning"),
    [
        ("en", "SLA terms from", "The cited attachment is not in the evidence store"),
        ("zh", "SLA 条款出处", "所引用的附件不在证据库中"),
    ],
)
def test_a_missing_contract_is_a_warning(lang: str, heading: str, warning: str) -> None:
    html = html_of(full_summary(sla_source=contract_source(found=False)), lang)
    assert warning in summary_row(html, heading)
    assert f'<span class="breached">{warning}' in html
    assert '<span class="sub breached">' in html


@pytest.mark.parametrize(
    ("lang", "cited"),
    [
        ("en", "Source: https://provider.example/sla (read 2026-10-01)"),
        ("zh", "来源：https://provider.example/sla（读取于 2026-10-01）"),
    ],
)
def test_a_web_page_source_is_cited_with_the_date_read(lang: str, cited: str) -> None:
    html = html_of(make_summary(sla_source=url_source()), lang)
    heading = "Uptime promised (SLA)" if lang == "en" else "承诺可用率（SLA）"
    assert summary_row(html, heading) == f"99.900%{cited}"
    assert "SHA-256" not in summary_row(html, TEXT[lang]["sla_source"])


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_without_the_new_keys_nothing_new_is_shown(lang: str) -> None:
    summary = make_summary()
    html = html_of(summary, lang)
    text = TEXT[lang]
    for absent in (
        'id="complaint-file"',
        'id="timeline"',
        f"<h2>{text['complaint_file']}</h2>",
        f"<h2>{text['timeline']}</h2>",
        f"<th>{text['sla_source']}</th>",
        "tl-incident",
        "SHA-256 1a2b",
    ):
        assert absent not in html, absent
    assert html == html_of(make_summary(sla_source=None), lang)


# --- letters -------------------------------------------------------------------------------


def test_en_letter_lists_the_documents_by_hash() -> None:
    letter = letter_of(full_summary(), "en")
    assert "## Documents" in letter
    docs = letter[letter.index("## Documents") : letter.index("## Evidence")]
    assert (
        f"- Contract: contract.pdf, dated 2026-01-15 (signed service agreement), "
        f"SHA-256 `{CONTRACT}`, in the bundle as `attachments/{CONTRACT}/contract.pdf`"
    ) in docs
    assert f"- Invoice: invoice-2026-10.pdf, dated 2026-10-01, SHA-256 `{INVOICE}`" in docs
    assert f"- Payment receipt: receipt.png, SHA-256 `{RECEIPT}`" in docs
    assert "thread.mbox" not in docs
    assert in_order(docs, ["Contract:", "Invoice:", "Payment receipt:"])


def test_en_letter_cites_where_the_terms_come_from() -> None:
    letter = letter_of(full_summary(), "en")
    assert (
        f"The SLA terms cited in this letter are those of contract.pdf, page 4 "
        f"(SHA-256 `{CONTRACT}`, in the evidence bundle as "
        f"`attachments/{CONTRACT}/contract.pdf`): uptime: p. 4 §2.1; service credits: p. 5 §3."
    ) in letter
    assert "Before sending" not in letter


def test_en_letter_cites_a_web_page() -> None:
    letter = letter_of(make_summary(sla_source=url_source()), "en")
    assert (
        "The SLA terms cited in this letter are those you publish at "
        "https://provider.example/sla, as read on 2026-10-01."
    ) in letter
    assert "## Correspondence" not in letter


@pytest.mark.parametrize(("lang", "note"), [("en", "> Before sending:"), ("zh", "> 注意：")])
def test_letter_warns_the_sender_about_a_missing_contract(lang: str, note: str) -> None:
    letter = letter_of(full_summary(sla_source=contract_source(found=False)), lang)
    assert note in letter and "`slawitness attach`" in letter


def test_en_letter_quotes_the_correspondence_in_order() -> None:
    letter = letter_of(full_summary(), "en")
    corr = letter[letter.index("## Correspondence") : letter.index("## Credit requested")]
    wrote = (
        "- 2026-10-03 10:14:00 UTC, I wrote: “\\*bold\\* \\[x\\]\\(y\\) "
        "\\<script\\>alert\\(2\\)\\</script\\>” (thread.mbox)"
    )
    answered = (
        "- 2026-10-07 08:00:00 UTC, you answered (after 3 d 21 h 46 min): “Re: vps1 down” "
        "(thread.mbox)"
    )
    assert in_order(corr, [wrote, answered])
    assert "Newsletter" not in corr
    assert f"- thread.mbox: SHA-256 `{THREAD}`, in the bundle as `attachments/{THREAD}/" in corr


def test_zh_letter_has_documents_and_correspondence() -> None:
    letter = letter_of(full_summary(), "zh")
    for needle in (
        "## 附件与材料",
        "## 沟通记录",
        f"- 合同：contract.pdf，日期 2026-01-15（signed service agreement），SHA-256 `{CONTRACT}`",
        f"- 发票：invoice-2026-10.pdf，日期 2026-10-01，SHA-256 `{INVOICE}`",
        f"- 付款凭证：receipt.png，SHA-256 `{RECEIPT}`",
        f"本函引用的 SLA 条款出自 contract.pdf 第 4 页（SHA-256 `{CONTRACT}`",
        "可用率：p. 4 §2.1；服务赔偿：p. 5 §3",
        "- 2026-10-03 10:14:00 UTC，我发送：“\\*bold\\* \\[x\\]\\(y\\)",
        "- 2026-10-07 08:00:00 UTC，贵方答复（相隔 3天21小时46分）：“Re: vps1 down”（thread.mbox）",
    ):
        assert needle in letter, needle
    assert in_order(letter, ["## 沟通记录", "## 赔偿要求", "## 附件与材料", "## 证据"])


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_hostile_subject_is_markdown_escaped(lang: str) -> None:
    letter = letter_of(full_summary(), lang)
    assert HOSTILE_SUBJECT not in letter and "<script>" not in letter
    assert "\\*bold\\* \\[x\\]\\(y\\)" in letter
    line = next(line for line in letter.splitlines() if "bold" in line)
    rendered = markdown.markdown(line)
    assert "<em>" not in rendered and "<a " not in rendered


@pytest.mark.parametrize(
    ("lang", "headings"),
    [
        ("en", ("## Documents", "## Correspondence")),
        ("zh", ("## 附件与材料", "## 沟通记录")),
    ],
)
def test_letter_sections_are_left_out_when_there_is_nothing(
    lang: str, headings: tuple[str, str]
) -> None:
    for summary in (
        make_summary(),
        make_summary(sla_source=None, complaint_file={"attachments": [], "timeline": []}),
    ):
        letter = letter_of(summary, lang)
        assert not any(heading in letter for heading in headings)
        assert "\n\n\n" not in letter
    only_thread = {"attachments": [complaint_file()["attachments"][3]], "timeline": []}
    assert headings[0] not in letter_of(make_summary(complaint_file=only_thread), lang)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_letter_without_the_new_keys_is_unchanged(lang: str) -> None:
    plain = letter_of(make_summary(), lang)
    empty = letter_of(make_summary(sla_source=None, complaint_file={}), lang)
    assert plain == empty


# --- presentation helpers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (900, "900 B"),
        (1023, "1023 B"),
        (1024, "1.0 KB"),
        (48213, "47.1 KB"),
        (2_500_000, "2.4 MB"),
        (3 * 2**30, "3.0 GB"),
        (None, ""),
    ],
)
def test_format_size(size: int | None, text: str) -> None:
    assert format_size(size) == text


def test_short_hash() -> None:
    assert short_hash(CONTRACT) == "1a2b3c4d…" and short_hash(None) == ""


def test_citation_prefers_the_terms_own_place() -> None:
    text = TEXT["en"]
    source = contract_source()
    uptime, fee = citation(source, text, "uptime"), citation(source, text, "monthly_fee")
    assert uptime is not None and fee is not None
    assert uptime.where == "contract.pdf, p. 4 §2.1" and fee.where == "contract.pdf, p. 4"
    assert citation(None, text, "uptime") is None
    assert citation({}, text) is None
    unnamed = citation(contract_source(name=None, page=None, terms={}), text)
    assert unnamed is not None and unnamed.line == "Source: attachment (SHA-256 1a2b3c4d…)"


def test_term_places_follow_the_sla_order() -> None:
    source = contract_source(terms={"credits": "§3", "uptime": "§2", "surprise": "§9"})
    assert term_places(source, TEXT["en"]) == ["uptime: §2", "service credits: §3", "surprise: §9"]


def test_groups_put_unknown_kinds_last_and_carry_problems() -> None:
    complaint = complaint_file()
    complaint["attachments"].insert(0, attachment(20, "ee" * 32, "photo.jpg", "photo"))
    groups = attachment_groups(complaint)
    assert [kind for kind, _ in groups] == [
        "contract",
        "invoice",
        "payment",
        "correspondence",
        "photo",
    ]
    invoice = groups[1][1][0]
    assert invoice["problem"] == "file missing from evidence.attachments"
    assert groups[0][1][0]["problem"] is None


def test_letter_messages_leave_out_unclear_senders() -> None:
    messages = letter_messages(complaint_file())
    assert [m["direction"] for m in messages] == ["customer", "provider"]


@given(st.text())
def test_code_span_holds_any_text(text: str) -> None:
    span = code_span(text)
    flat = " ".join(text.splitlines())
    if not flat:
        assert span == ""
        return
    fence = re.match(r"`+", span)
    assert fence is not None and span.endswith(fence.group(0))
    inner = span[len(fence.group(0)) : len(span) - len(fence.group(0))]
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    assert len(fence.group(0)) == longest + 1
    assert inner in (flat, f" {flat} ")
    assert "\n" not in span
