"""The written report: HTML with the key figures, escaped; renders in Chromium; PDF pages;
CSVs; summary.json; clean errors."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from reports.render.background import BACKGROUND_SAMPLES, background_for
from reports.render.html import format_duration, format_local, format_percent, render_html
from reports.render.pdf import write_pdf
from reports.render.report_files import RenderError, summary_json_bytes, write_report
from reports.render.samples_csv import CSV_COLUMNS
from tests.report_fixtures import make_daily, make_samples, make_summary, make_timeline
from tests.rig import rig_unavailable

ALL_FORMATS = {"json", "html", "pdf", "csv", "letter"}


@pytest.fixture(scope="module")
def samples() -> pd.DataFrame:
    return make_samples(days=31)


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory, samples: pd.DataFrame) -> Path:
    out = tmp_path_factory.mktemp("report") / "2026-10"
    summary = make_summary(
        timezone="Asia/Shanghai",
        caveats=[
            "Read from Prometheus: a series that stops is seen for 5 more minutes (lookback)."
        ],
    )
    write_report(
        out,
        summary,
        make_timeline(),
        make_daily(),
        samples,
        ALL_FORMATS,
        {"en", "zh"},
        records_sha256="c0" * 32,
    )
    return out


def not_blank(png: Path) -> float:
    """The pixel standard deviation of an image: near zero when it is one flat colour."""
    pixels = mpimg.imread(str(png))
    return float(np.asarray(pixels)[..., :3].std())


def test_write_report_writes_every_file(report_dir: Path) -> None:
    names = sorted(p.name for p in report_dir.iterdir())
    assert names == [
        "incidents.csv",
        "letter.en.md",
        "letter.zh.md",
        "report.en.html",
        "report.en.pdf",
        "report.zh.html",
        "report.zh.pdf",
        "samples.csv",
        "summary.json",
    ]
    assert json.loads((report_dir / "summary.json").read_text("utf-8"))["credit_amount"] == "12.95"


def test_html_holds_the_key_figures(report_dir: Path) -> None:
    html = (report_dir / "report.en.html").read_text("utf-8")
    summary = make_summary()
    assert "12.95 USD" in html and "129.50" in html
    assert "99.573%" in html and "99.900%" in html and "99.572%" in html
    assert "Yes: the measured uptime 99.573% is below the promised 99.900%." in html
    for incident in summary["incidents"]:
        assert f'datetime="{incident["start"]}"' in html
    assert "2026-10-03 10:00:00 UTC" in html and "2026-10-03 18:00:00 CST" in html
    assert "2026-12-01 00:00:00 UTC" in html
    assert "lookback" in html
    assert "3f" * 32 in html and "ab" * 32 in html
    assert html.count("data:image/png;base64,") == 4
    assert "<link" not in html and "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Example&lt;Host&gt; &amp; Co" in html


def test_zh_html_translates_headings_not_data(report_dir: Path) -> None:
    html = (report_dir / "report.zh.html").read_text("utf-8")
    for heading in ("摘要", "可用率的计算方法", "图表", "故障事件", "数据来源", "注意事项"):
        assert f">{heading}<" in html
    assert '<html lang="zh-CN">' in html
    assert "12.95 USD" in html and "99.573%" in html and "C-1234" in html


def test_html_without_controls_or_data_says_so(samples: pd.DataFrame) -> None:
    summary = make_summary(
        controls=[],
        controls_configured=False,
        uptime_observed=None,
        breached=False,
        credit_percent=0,
        credit_amount="0.00",
    )
    html = render_html(summary, {}, make_daily(), "en")
    assert "cannot be told apart" in html
    assert "No: the measured uptime" in html and "n/a" in html
    assert "None under the SLA" in html


def test_html_shows_a_failed_chain_verification() -> None:
    stores = [
        {
            "path": "e.db",
            "ok": False,
            "count": 10,
            "head_seq": 10,
            "head_hash": "00" * 32,
            "first_bad_seq": 7,
            "problem": "hash mismatch",
        }
    ]
    imported = [{"file_sha256": "d4" * 32, "samples": 2, "file_name": "old.jsonl"}]
    sources = {"total": 5, "imported": 2, "imported_files": imported, "prometheus": True}
    html = render_html(make_summary(stores=stores, samples=sources), {}, make_daily(), "en")
    assert "FAILED at seq 7: hash mismatch" in html
    assert "d4" * 32 in html and "old.jsonl: 2 samples of this period" in html
    zh = render_html(make_summary(stores=stores, samples=sources), {}, make_daily(), "zh")
    assert "old.jsonl：本期 2 个样本" in zh


def test_html_renders_in_headless_chromium(report_dir: Path, tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        rig_unavailable("chromium is not installed (apt-get install chromium)")
    for lang in ("en", "zh"):
        shot = tmp_path / f"{lang}.png"
        done = subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--no-first-run",
                "--hide-scrollbars",
                "--window-size=1000,1400",
                f"--screenshot={shot}",
                (report_dir / f"report.{lang}.html").as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert shot.exists(), done.stderr[-2000:]
        assert not_blank(shot) > 0.05


def test_pdf_has_pages_and_ink(report_dir: Path, tmp_path: Path) -> None:
    if shutil.which("pdftoppm") is None or shutil.which("pdfinfo") is None:
        rig_unavailable("pdftoppm is not installed (apt-get install poppler-utils)")
    for lang in ("en", "zh"):
        pdf = report_dir / f"report.{lang}.pdf"
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
        pages = int(
            next(line.split()[-1] for line in info.stdout.splitlines() if line.startswith("Pages:"))
        )
        assert pages >= 2
        subprocess.run(
            ["pdftoppm", "-r", "50", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / lang)],
            check=True,
            capture_output=True,
        )
        (first,) = tmp_path.glob(f"{lang}-*1.png")
        assert not_blank(first) > 0.05


def test_zh_pdf_embeds_a_cjk_font(report_dir: Path) -> None:
    if shutil.which("pdffonts") is None:
        rig_unavailable("pdffonts is not installed (apt-get install poppler-utils)")
    fonts = subprocess.run(
        ["pdffonts", str(report_dir / "report.zh.pdf")], capture_output=True, text=True, check=True
    ).stdout
    assert "CJK" in fonts or "WenQuanYi" in fonts or "SourceHan" in fonts, fonts


def test_incidents_csv_has_one_row_per_incident(report_dir: Path) -> None:
    with (report_dir / "incidents.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 5
    assert rows[1] == {
        "start": "2026-10-03T10:00:00Z",
        "end": "2026-10-03T13:00:00Z",
        "duration_seconds": "10800",
        "counted_seconds": "10800",
        "counted": "true",
        "not_counted_because": "",
        "attribution": "provider",
        "probes": "ping;web",
        "errors": "timeout=300;unreachable=60",
        "vantages": "office",
    }


def test_samples_csv_uses_iso_seconds_and_ratios(report_dir: Path, samples: pd.DataFrame) -> None:
    frame = pd.read_csv(report_dir / "samples.csv", dtype={"error": "string"})
    assert len(frame) == len(samples)
    assert list(frame.columns) == list(CSV_COLUMNS)
    assert {"ts", "latency_s", "loss"} <= set(CSV_COLUMNS)
    assert frame["ts"].iloc[0] == "2026-10-01T00:00:00.000Z"
    ping = frame[(frame["probe"] == "ping") & ~frame["ok"]]
    assert (ping["loss"] == 1.0).all() and ping["latency_s"].isna().all()
    ok = frame[frame["ok"]]
    assert ok["latency_s"].between(0.001, 5).all()


def test_summary_json_is_the_hashed_bytes(report_dir: Path) -> None:
    data = (report_dir / "summary.json").read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    assert digest in (report_dir / "letter.en.md").read_text("utf-8")
    assert digest in (report_dir / "letter.zh.md").read_text("utf-8")
    assert data == summary_json_bytes(json.loads(data))


def test_uncreatable_out_dir_is_a_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(RenderError) as caught:
        write_report(
            blocker / "report",
            make_summary(),
            make_timeline(),
            make_daily(),
            make_samples(days=1),
            {"json"},
            {"en"},
        )
    message = str(caught.value)
    assert "\n" not in message and "cannot create report directory" in message
    assert str(blocker / "report") in message


@pytest.mark.parametrize(
    ("formats", "langs", "bad"), [({"docx"}, {"en"}, "docx"), ({"html"}, {"fr"}, "fr")]
)
def test_unknown_format_or_language(
    tmp_path: Path, formats: set[str], langs: set[str], bad: str
) -> None:
    with pytest.raises(RenderError, match=bad):
        write_report(
            tmp_path,
            make_summary(),
            make_timeline(),
            make_daily(),
            make_samples(days=1),
            formats,
            langs,
        )


def test_nan_in_summary_is_a_render_error(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="NaN"):
        write_report(
            tmp_path,
            make_summary(uptime_observed=float("nan")),
            make_timeline(),
            make_daily(),
            make_samples(days=1),
            {"json"},
            {"en"},
        )


def test_only_json_writes_only_the_summary(tmp_path: Path) -> None:
    written = write_report(
        tmp_path,
        make_summary(),
        make_timeline(),
        make_daily(),
        make_samples(days=1),
        {"json"},
        {"en", "zh"},
    )
    assert [p.name for p in written] == ["summary.json"]


@pytest.mark.parametrize(
    ("value", "lang", "text"),
    [
        (11400, "en", "3 h 10 min"),
        (86400 + 5, "en", "1 d 0 h 0 min 5 s"),
        (0, "en", "0 s"),
        (300, "zh", "5分"),
        (3600, "zh", "1小时"),
    ],
)
def test_format_duration(value: int, lang: str, text: str) -> None:
    assert format_duration(value, lang) == text


def test_format_helpers() -> None:
    assert format_percent(1 - 11400 / 2671200) == "99.573%"
    assert format_percent(None) == "n/a"
    assert format_local("2026-10-25T00:30:00Z", "Europe/Berlin") == "2026-10-25 02:30:00 CEST"
    assert format_local("2026-10-25T01:30:00Z", "Europe/Berlin") == "2026-10-25 02:30:00 CET"


def test_background_jobs_are_written_and_listed(tmp_path: Path, samples: pd.DataFrame) -> None:
    with background_for(BACKGROUND_SAMPLES) as background:
        written = write_report(
            tmp_path,
            make_summary(),
            make_timeline(),
            make_daily(),
            samples,
            {"pdf", "csv"},
            {"en", "zh"},
            background=background,
        )
    names = sorted(p.name for p in written)
    assert names == [
        "incidents.csv",
        "report.en.pdf",
        "report.zh.pdf",
        "samples.csv",
        "summary.json",
    ]
    for name in ("report.en.pdf", "report.zh.pdf"):
        assert (tmp_path / name).read_bytes().startswith(b"%PDF-")
    assert len((tmp_path / "samples.csv").read_text("utf-8").splitlines()) == len(samples) + 1


def test_a_background_failure_is_one_render_error(tmp_path: Path, samples: pd.DataFrame) -> None:
    (tmp_path / "report.zh.pdf").mkdir()  # a directory where the PDF must go
    with (
        pytest.raises(RenderError, match=r"cannot write .*report\.zh\.pdf"),
        background_for(BACKGROUND_SAMPLES) as background,
    ):
        write_report(
            tmp_path,
            make_summary(),
            make_timeline(),
            make_daily(),
            samples,
            {"pdf"},
            {"zh"},
            background=background,
        )


def long_daily(days: int) -> pd.DataFrame:
    """`days` quiet days but for day 10 (downtime) and day 40 (latency above threshold)."""
    month = make_daily().iloc[[0]].assign(uptime=1.0, downtime_seconds=0, above_latency_seconds=0)
    rows = pd.concat([month] * days, ignore_index=True)
    rows["date"] = [f"day{n:03d}" for n in range(days)]
    rows.loc[10, ["uptime", "downtime_seconds"]] = [0.99, 864]
    rows.loc[40, "above_latency_seconds"] = 120
    return rows


def test_long_periods_print_only_the_days_with_something_in_them(tmp_path: Path) -> None:
    html = render_html(make_summary(), {}, long_daily(90), "en")
    assert html.count('class="quiet"') == 88
    assert "Printed here: the 2 days with downtime" in html and "other 88 days" in html
    if shutil.which("pdftotext") is None:
        rig_unavailable("pdftotext is not installed (apt-get install poppler-utils)")
    path = tmp_path / "long.pdf"
    write_pdf(html, path)
    text = subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "day010" in text and "day040" in text
    assert "day011" not in text  # a quiet day: on screen, not in print


def test_a_month_prints_every_day() -> None:
    html = render_html(make_summary(), {}, long_daily(31), "en")
    assert 'class="quiet"' not in html and "Printed here" not in html
    assert html.count(">day0") == 31


def incident_rows(html: str) -> list[str]:
    """The visible text of each row of the incident table."""
    table = html.split('<table class="incidents">', 1)[1].split("</table>", 1)[0]
    rows = table.split("<tbody>", 1)[1].split("</tr>")[:-1]
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in rows]


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", [None, None, "Not counted: too short", "Not counted: your network",
                "Not counted: maintenance"]),
        ("zh", [None, None, "不计入：过短", "不计入：本地网络", "不计入：维护"]),
    ],
)  # fmt: skip
def test_incident_table_says_why_each_is_not_counted(
    report_dir: Path, lang: str, expected: list[str | None]
) -> None:
    rows = incident_rows((report_dir / f"report.{lang}.html").read_text("utf-8"))
    assert len(rows) == len(expected) == 5
    marker = "Not counted" if lang == "en" else "不计入"
    for row, why in zip(rows, expected, strict=True):
        assert (why in row) if why else (marker not in row), row


@pytest.mark.parametrize(
    ("lang", "seq", "hash_label", "local"),
    [
        ("en", "seq", "hash", "Not counted: your network"),
        ("zh", "序号", "哈希", "不计入：本地网络"),
    ],
)
def test_pdf_keeps_the_head_seq_apart_from_the_hash_and_says_why_not_counted(
    report_dir: Path, lang: str, seq: str, hash_label: str, local: str
) -> None:
    if shutil.which("pdftotext") is None:
        rig_unavailable("pdftotext is not installed (apt-get install poppler-utils)")
    done = subprocess.run(
        ["pdftotext", str(report_dir / f"report.{lang}.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    text = done.stdout
    # the fixture's head is seq 135000 with hash 3f3f…: run together they read 1350003f3f…
    assert re.search(rf"{seq} 135000\s+{hash_label}\s+3f3f", text), text[-3000:]
    joined = "".join(text.split())
    assert "1350003f" not in joined
    assert f"{hash_label}{'3f' * 32}" in joined, "the whole hash is printed"
    assert "".join(local.split()) in joined
