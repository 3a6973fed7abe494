"""The statement of method: facts read from the config, the period's collector records and
the summary, the declaration rendered from them in English and Chinese, and its PDF."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from markupsafe import escape

from collector import __version__
from collector.config.loader import load_config
from collector.config.model import Config
from collector.evidence.records import Stamp, collector_record
from collector.evidence.store import EvidenceStore
from collector.portable.cosignature import CosignerSigningKey
from collector.probes import KINDS
from collector.proving import checkpoints
from reports.render.html import environment
from reports.render.method_statement import render_statement_html
from reports.render.pdf import pdf_available, write_pdf
from reports.report_text import TEXT
from reports.sources.method_facts import KIND_LIBRARIES, method_facts
from reports.sources.stores import load_store_samples
from tests.month_store import ns, write_month

S = 1_000_000_000
T0 = 1_790_000_000 * S  # 2026-09-21: fixed, so nothing depends on today's date
M0 = 4_000 * S
HEADER_SECRET = "Bearer s3cr3t-statement-token"
JUMP_AT = 6


@dataclass
class Case:
    """A config on disk with its key, and a store of the period's collector records."""

    folder: Path
    config: Config
    store: Path


@pytest.fixture(autouse=True)
def _statement_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """The secret the case's http probe header names, set for each test and then removed."""
    monkeypatch.setenv("STATEMENT_TOKEN", HEADER_SECRET)


def write_case_config(folder: Path, *, witnesses: bool) -> Config:
    """A config with every probe kind, a control, SLA thresholds and trusted time."""
    web = {
        "name": "web",
        "kind": "http",
        "url": "https://vps1.example.net/health",
        "expect_status": [200],
        "expect_body": "ok",
        "interval": "30s",
        "timeout": "10s",
        "headers": {"Authorization": "${STATEMENT_TOKEN}"},
    }
    target = {
        "name": "vps1",
        "host": "203.0.113.10",
        "provider": {"name": "ExampleHost"},
        "probes": [
            {"name": "ping", "kind": "icmp", "count": 3, "interval": "60s", "timeout": "2s"},
            {"name": "ssh", "kind": "tcp", "port": 22, "interval": "2m", "timeout": "5s"},
            web,
            {
                "name": "dns",
                "kind": "dns",
                "query_name": "example.com",
                "server": "203.0.113.10",
                "interval": "5m",
                "timeout": "2s",
            },
        ],
        "sla": {
            "uptime": 99.9,
            "downtime": {"probes": "any", "min_duration": "5m"},
            "latency_threshold": "250ms",
            "loss_threshold": 5,
        },
    }
    data: dict[str, Any] = {
        "vantage": "office-shanghai",
        "store": "evidence.db",
        "targets": [target],
        "controls": [
            {
                "name": "gateway",
                "host": "198.51.100.1",
                "probes": [{"name": "ping", "kind": "icmp", "interval": "60s"}],
            }
        ],
        "checkpoints": {
            "every": "30m",
            "timestamping": {
                "at_least": 1,
                "authorities": [{"url": "http://tsa-a.example/"}, {"url": "http://tsa-b.example/"}],
            },
        },
    }
    if witnesses:
        key = CosignerSigningKey("witness.example/w1", os.urandom(32))
        data["witnesses"] = {
            "servers": [{"url": "https://witness.example/", "key": key.verifier().encode()}]
        }
    path = folder / "slawitness.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return load_config(path)


def collector_rounds(*, unsynced_at: tuple[int, ...], jump_at: int | None) -> list[dict]:
    """Eight cron rounds a minute apart on both clocks; the kernel calls the clock
    unsynchronised (estimating 0.75 s of error) at `unsynced_at`, and the wall clock is set
    5 s ahead from round `jump_at` on."""
    records = []
    for i in range(8):
        jump = 5 * S if jump_at is not None and i >= jump_at else 0
        synced = i not in unsynced_at
        stamp = Stamp(T0 + i * 60 * S + jump, M0 + i * 60 * S, "boot-a", synced)
        record = collector_record("round", stamp, "office-shanghai", probes=5, took_ms=12)
        record["clock_max_error_ns"] = 16_000_000 if synced else 750_000_000
        record["clock_offset_ns"] = -2_000_000 if synced else 310_000_000
        records.append(record)
    return records


def make_case(tmp_path: Path, records: list[dict], *, witnesses: bool = False) -> Case:
    config = write_case_config(tmp_path, witnesses=witnesses)
    checkpoints.create_key(config.checkpoints.key, "office-shanghai/evidence")
    with EvidenceStore.create(config.store) as store:
        store.append(records)
    return Case(tmp_path, config, config.store)


def facts_of(case: Case) -> tuple[dict[str, Any], dict[str, Any]]:
    """The facts and a summary holding them, read back from the real store."""
    with EvidenceStore.open(case.store, readonly=True) as store:
        report = store.verify()
        stored = [r.record for r in store.records(types=["collector"])]
    summary: dict[str, Any] = {
        "target": "vps1",
        "period_label": "2026-09",
        "period_start": "2026-09-01T00:00:00Z",
        "period_end": "2026-10-01T00:00:00Z",
        "vantages": ["office-shanghai"],
        "confirm_vantages": 1,
        "stores": [
            {
                "path": str(case.store),
                "ok": report.ok,
                "count": report.count,
                "head_seq": report.head_seq,
                "head_hash": report.head_hash,
                "first_bad_seq": None,
                "problem": None,
            }
        ],
    }
    facts = method_facts(case.config, summary, stored)
    summary["method_statement"] = json.loads(json.dumps(facts))  # as summary.json holds it
    return facts, summary


@pytest.fixture
def troubled(tmp_path: Path) -> Iterator[tuple[Case, dict[str, Any], dict[str, Any]]]:
    """A period whose clock was unsynchronised twice and jumped once."""
    case = make_case(tmp_path, collector_rounds(unsynced_at=(2, 3), jump_at=JUMP_AT))
    facts, summary = facts_of(case)
    yield case, facts, summary


@pytest.fixture
def clean(tmp_path: Path) -> tuple[Case, dict[str, Any], dict[str, Any]]:
    case = make_case(tmp_path, collector_rounds(unsynced_at=(), jump_at=None), witnesses=True)
    facts, summary = facts_of(case)
    return case, facts, summary


def test_facts_name_the_collector_version_each_probe_and_its_interval(troubled) -> None:
    _, facts, _ = troubled
    collector = facts["collector"]
    assert collector["slawitness"] == __version__
    assert collector["versions_recorded"] == [__version__]
    assert collector["events"] == {"round": 8} and collector["modes"] == ["cron"]
    assert collector["boots"] == 1 and collector["vantage"] == "office-shanghai"
    assert set(collector["probe_libraries"]) == {"icmp", "tcp", "http", "dns"}
    assert collector["probe_libraries"]["dns"]["dnspython"]  # a version, installed here
    (target,) = facts["measured"]["targets"]
    probes = {p["name"]: (p["kind"], p["interval"], p["timeout"]) for p in target["probes"]}
    assert probes == {
        "ping": ("icmp", "60s", "2s"),
        "ssh": ("tcp", "2m", "5s"),
        "web": ("http", "30s", "10s"),
        "dns": ("dns", "5m", "2s"),
    }
    web = next(p for p in target["probes"] if p["name"] == "web")
    assert web["checks"]["url"] == "https://vps1.example.net/health"
    assert target["sla"]["latency_threshold"] == "250ms" and target["sla"]["loss_threshold"] == 5
    assert [c["name"] for c in facts["measured"]["controls"]] == ["gateway"]


def test_facts_state_the_clock_findings_with_their_figures(troubled) -> None:
    _, facts, _ = troubled
    clock = facts["clock"]
    assert clock["finding"] is True
    assert (clock["records"], clock["known"], clock["unsynced"]) == (8, 8, 2)
    assert clock["max_error_seconds"] == 0.75 and clock["max_offset_seconds"] == 0.31
    (jump,) = clock["jumps"]
    assert jump["jump_seconds"] == 5.0
    assert jump["start"] == "2026-09-21T14:18:20.000000Z"  # round 5, the last before the jump
    assert jump["end"] == "2026-09-21T14:19:25.000000Z"


def test_a_clean_period_says_no_finding(clean) -> None:
    _, facts, summary = clean
    assert facts["clock"]["finding"] is False and facts["clock"]["jumps"] == []
    assert facts["clock"]["unsynced"] == 0
    for lang in ("en", "zh"):
        html = render_statement_html(summary, lang)
        assert escape(TEXT[lang]["st_clock_no_finding"]) in html
        assert escape(TEXT[lang]["st_clock_synced"]) in html


def test_record_keeping_the_checks_and_the_key_come_from_the_config(clean) -> None:
    case, facts, _ = clean
    records = facts["records"]
    assert records["checkpoint_every_seconds"] == 1800
    assert records["timestamping"]["authorities"] == [
        "http://tsa-a.example/",
        "http://tsa-b.example/",
    ]
    assert records["timestamping"]["at_least"] == 1
    assert records["witnesses"]["servers"] == [
        {"name": "witness.example/w1", "url": "https://witness.example/"}
    ]
    assert records["stores"][0]["ok"] is True and records["stores"][0]["count"] == 8
    assert facts["checks"] == [
        "chain",
        "checkpoint_signature",
        "backdated",
        "witnesses",
        "timestamps",
        "controls",
        "clock",
        "no_data",
    ]
    verifier = checkpoints.load_key(case.config.checkpoints.key).verifier()
    assert facts["key"]["name"] == "office-shanghai/evidence"
    assert facts["key"]["key_id"] == verifier.id.hex()
    assert facts["key"]["public_key"] == verifier.encode()


def test_a_key_that_cannot_be_read_is_stated_not_guessed(troubled) -> None:
    case, _, summary = troubled
    case.config.checkpoints.key.chmod(0o644)
    checkpoints.public_key_path(case.config.checkpoints.key).unlink()
    facts = method_facts(case.config, summary, [])
    assert "readable by others" in facts["key"]["unreadable"]
    html = render_statement_html({**summary, "method_statement": facts}, "en")
    assert "could not be read where this statement was prepared" in html
    assert escape(TEXT["en"]["st_clock_no_records"]) in html


def test_the_public_key_beside_it_names_the_key_when_the_key_file_cannot_be_read(troubled) -> None:
    case, facts, summary = troubled
    case.config.checkpoints.key.unlink()
    again = method_facts(case.config, summary, [])
    assert again["key"]["key_id"] == facts["key"]["key_id"]
    assert again["key"]["path"].endswith(".pub")


def test_no_secret_of_the_config_reaches_the_facts(troubled) -> None:
    _, facts, _ = troubled
    text = json.dumps(facts)
    assert HEADER_SECRET not in text and "s3cr3t" not in text
    assert "headers" not in text


def test_every_probe_kind_has_its_tools_and_its_words() -> None:
    assert set(KIND_LIBRARIES) == set(KINDS)
    for lang in ("en", "zh"):
        for kind in KINDS:
            assert f"st_kind_{kind}" in TEXT[lang]
        assert {k for k in TEXT["en"] if k.startswith("st_")} == {
            k for k in TEXT[lang] if k.startswith("st_")
        }


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        (
            "en",
            [
                "I, ________________, make this statement",
                "not synchronised",
                "+5.000 s",
                "0.75 s",
                "Signature",
                "At intervals of 30 min",
            ],
        ),
        (
            "zh",
            [
                "本人 ________________",
                "时钟未同步",
                "跳变 +5.000 秒",
                "0.75 秒",
                "签名",
                "每隔 30分",
            ],
        ),
    ],
)
def test_the_declaration_holds_the_facts_in_either_language(troubled, lang, words) -> None:
    _, facts, summary = troubled
    sha = "ab" * 32
    html = render_statement_html(summary, lang, summary_sha256=sha)
    for word in [
        __version__,
        "icmp",
        "tcp",
        "http",
        "dns",
        "60s",
        "2m",
        "gateway",
        sha,
        facts["key"]["key_id"],
        "SLA",
        *words,
    ]:
        assert word in html, word
    assert HEADER_SECRET not in html


def test_the_document_signing_certificate_is_named_when_the_summary_has_it(troubled) -> None:
    _, _, summary = troubled
    signed = {
        **summary,
        "document_signing": {
            "certificate_sha256": "cd" * 32,
            "subject": "CN=slawitness collector office",
        },
    }
    html = render_statement_html(signed, "zh")
    assert "cd" * 32 in html and "CN=slawitness collector office" in html
    unsigned = {**summary, "document_signing": {"unsigned_because": "no certificate found"}}
    assert "PDF documents are not signed: no certificate found" in render_statement_html(
        unsigned, "en"
    )


def test_a_summary_without_facts_gives_no_statement_to_sign(troubled) -> None:
    _, _, summary = troubled
    with pytest.raises(ValueError, match="no method_statement"):
        render_statement_html({**summary, "method_statement": {}}, "en")
    with pytest.raises(ValueError, match="unknown statement language"):
        render_statement_html(summary, "fr")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_report_section_states_the_same_facts(troubled, lang) -> None:
    _, facts, summary = troubled
    section = (
        environment()
        .get_template("report_statement.html.j2")
        .render(s=summary, t=TEXT[lang], lang=lang)
    )
    assert escape(TEXT[lang]["st_section"]) in section
    assert escape(TEXT[lang]["st_section_pointer"]) in section
    assert __version__ in section and "+5.000" in section and facts["key"]["key_id"] in section
    assert "________" not in section  # the blanks belong to the declaration only
    empty = (
        environment()
        .get_template("report_statement.html.j2")
        .render(s={"target": "vps1"}, t=TEXT[lang], lang=lang)
    )
    assert empty.strip() == ""


needs_pdf = pytest.mark.skipif(
    not pdf_available() or shutil.which("pdftotext") is None,
    reason="needs WeasyPrint with Pango and poppler-utils",
)


@needs_pdf
@pytest.mark.parametrize(("lang", "finding"), [("en", "not synchronised"), ("zh", "时钟未同步")])
def test_the_statement_pdf_reads_the_version_a_probe_kind_and_the_clock_finding(
    troubled, tmp_path: Path, lang: str, finding: str
) -> None:
    _, _, summary = troubled
    pdf = tmp_path / f"statement.{lang}.pdf"
    write_pdf(render_statement_html(summary, lang, summary_sha256="ef" * 32), pdf)
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    squeezed = "".join(text.split())
    for word in (__version__, "icmp", "dnspython", finding, "+5.000", TEXT[lang]["st_signature"]):
        assert "".join(word.split()) in squeezed, word
    pages = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    assert "A4" in pages.stdout


def test_the_report_source_hands_over_the_collector_records_the_facts_need(tmp_path: Path) -> None:
    config = write_case_config(tmp_path, witnesses=False)
    write_month(
        config.store,
        vantage="office-shanghai",
        start="2026-09-21T14:00:00",
        end="2026-09-21T15:00:00",
        hosts=[("vps1", "ping", "icmp", "target")],
        down={},
    )
    with EvidenceStore.open(config.store) as store:
        store.append(collector_rounds(unsynced_at=(1,), jump_at=JUMP_AT))
    since, until = ns("2026-09-21T00:00:00"), ns("2026-09-22T00:00:00")
    data = load_store_samples([config.store], config, since, until, target="vps1")
    assert [r["event"] for r in data.collector_records] == ["round"] * 8
    facts = method_facts(config, {"stores": data.stores}, data.collector_records)
    assert facts["clock"]["unsynced"] == 1 and facts["clock"]["jumps_total"] == 1
    assert facts["records"]["stores"][0]["ok"] is True
    assert facts["records"]["stores"][0]["count"] == 60 + 8
