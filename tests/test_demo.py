"""`slawitness demo` end to end: the scripted misbehaviour shows up in the report as planted.

The demo runs the real daemon against real loopback services for a shortened minute, then
writes the report and the bundle; these tests read summary.json and check each planted
event came out with the attribution the script gives it.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from cli.demo.case import SCRIPT, DemoRun, phase_at, report_demo
from reports.render import pdf
from tests.clirun import slawitness
from tests.rig import rig_unavailable


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path_factory.mktemp("demo") / "demo"
    done = slawitness("demo", "--minutes", "1", "--out", str(out), timeout=240)
    return done, out


def summary_of(out: Path) -> dict[str, Any]:
    return json.loads((out / "report" / "summary.json").read_text("utf-8"))


def test_the_demo_reports_and_bundles(demo: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    done, out = demo
    assert done.returncode == 0, done.stderr
    assert "BREACHED" in done.stdout and "bundle:" in done.stdout
    for name in ("report.en.html", "report.zh.html", "summary.json", "samples.csv"):
        assert (out / "report" / name).is_file()
    check = slawitness("verify-bundle", str(out / "bundle.zip"))
    assert check.returncode == 0, check.stdout + check.stderr
    assert "anchored in a checkpoint" in check.stdout, "the demo's bundle is signed"
    assert "not anchored" not in check.stdout + done.stderr
    assert slawitness("verify", "--config", str(out / "slawitness.yml")).returncode == 0


def test_the_demo_builds_a_complaint_file_with_its_timeline(
    demo: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, out = demo
    s = summary_of(out)
    listed = s["complaint_file"]["attachments"]
    assert [a["kind"] for a in listed] == ["contract", "invoice", "correspondence"]
    assert s["sla_source"]["found"] is True and s["sla_source"]["name"] == "contract.pdf"
    messages = [e for e in s["complaint_file"]["timeline"] if e["event"] == "message"]
    assert [m["direction"] for m in messages] == ["customer", "provider"]
    assert messages[1]["answered_after_seconds"] > 0
    first_outage = next(e for e in s["complaint_file"]["timeline"] if e["event"] == "incident")
    assert first_outage["ts"] <= messages[0]["ts"]
    assert "complaint file: contract.pdf" in done.stdout
    check = slawitness("verify-bundle", str(out / "bundle.zip"))
    assert "3 attachments verified" in check.stdout


def test_each_planted_event_has_its_attribution(
    demo: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _, out = demo
    s = summary_of(out)
    incidents = s["incidents"]
    counted = [i for i in incidents if i["counted_seconds"] > 0]
    # the web outage and the SSH outage: the provider's, longer than min_duration
    assert [(i["attribution"], i["probes"]) for i in counted] == [
        ("provider", ["web"]),
        ("provider", ["ssh"]),
    ]
    # the window where the controls failed too: local, nothing counted
    local = [i for i in incidents if i["attribution"] == "local"]
    assert len(local) == 1 and local[0]["counted_seconds"] == 0
    assert set(local[0]["probes"]) == {"ssh", "web"}
    # the 503 burst: listed, shorter than min_duration, not counted
    bursts = [i for i in incidents if "http_status" in i["errors"]]
    assert len(bursts) == 1 and not bursts[0]["counted"]
    assert bursts[0]["duration_seconds"] < s["min_duration_seconds"]
    # the slow phase is degradation, not downtime
    assert s["latency"]["above_threshold_seconds"] > 0
    assert s["downtime_seconds"] == sum(i["counted_seconds"] for i in incidents)
    assert s["breached"] and s["credit_percent"] == 50


def test_the_demo_line_counts_only_what_counts_against_the_provider(
    demo: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, out = demo
    incidents = summary_of(out)["incidents"]
    assert [i["counted"] for i in incidents] == [i["counted_seconds"] > 0 for i in incidents]
    # the two provider outages count; the 503 burst is too short, the local window is ours
    line = f"{len(incidents)} incidents, 2 counted (1 too short, 1 your network);"
    assert line in done.stdout, done.stdout


def test_the_script_covers_every_kind_of_evidence() -> None:
    assert [p.start < p.end for p in SCRIPT] == [True] * len(SCRIPT)
    assert all(a.end <= b.start for a, b in itertools.pairwise(SCRIPT))
    assert phase_at(0.0) is None and phase_at(0.85) is SCRIPT[-1]
    assert {p.web for p in SCRIPT} >= {"down", "slow", "error"}
    assert any(not p.controls_up for p in SCRIPT) and any(not p.ssh_up for p in SCRIPT)


def test_ctrl_c_stops_collecting_reports_and_opens_the_web_view(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    child = subprocess.Popen(
        [sys.executable, "-m", "cli", "demo", "--minutes", "3", "--out", str(out), "--serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # the address is announced on stderr
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    time.sleep(15)
    child.send_signal(signal.SIGINT)
    assert child.stdout is not None
    shown: list[str] = []
    while not (shown and "serving http" in shown[-1]):
        line = child.stdout.readline()
        assert line, f"the demo ended without serving: {''.join(shown)}"
        shown.append(line)
    url = re.search(r"serving (http://127\.0\.0\.1:\d+)/", shown[-1])
    assert url is not None, shown[-1]
    view = _settled_view(url.group(1))
    page = httpx.get(url.group(1) + "/").text
    child.send_signal(signal.SIGINT)
    stdout, _ = child.communicate(timeout=60)
    printed = "".join(shown) + stdout
    assert child.returncode == 0, printed
    assert "(SIGINT)" in printed and "written to" in printed
    s = summary_of(out)
    assert 10 <= s["period_seconds"] <= 30
    assert s["samples"]["total"] > 0
    [target] = view["targets"]
    assert target["name"] == s["target"] and f'data-target="{s["target"]}"' in page
    assert "Report (PDF)" in page, "the demo's web view has its download buttons"


def _settled_view(url: str, timeout: float = 60) -> dict[str, Any]:
    """/view.json once the web view's first refresh has finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = httpx.get(url + "/view.json", timeout=10).json()
        if view.get("targets"):
            return view
        time.sleep(0.2)
    raise AssertionError("the web view never computed its figures")


def test_an_existing_demo_store_is_never_overwritten(
    demo: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _, out = demo
    before = (out / "evidence.db").stat().st_size
    again = slawitness("demo", "--minutes", "1", "--out", str(out))
    assert again.returncode == 2
    assert "already holds a demo evidence store" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    assert (out / "evidence.db").stat().st_size == before


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        rig_unavailable("chromium is not installed (apt-get install chromium)")
    return found


HEADLESS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--hide-scrollbars"]  # fmt: skip
COUNT_CHARTS = (
    "<script>window.addEventListener('load', () => { document.title = 'charts:' +"
    " [...document.images].filter(i => i.complete && i.naturalWidth > 0).length; });</script>"
)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_demo_report_loads_with_its_charts_in_chromium(
    demo: tuple[subprocess.CompletedProcess[str], Path], tmp_path: Path, lang: str
) -> None:
    _, out = demo
    html = (out / "report" / f"report.{lang}.html").read_text("utf-8")
    probe = tmp_path / "probe.html"  # a copy that counts the decoded chart images on load
    probe.write_text(html.replace("</head>", COUNT_CHARTS + "</head>", 1), "utf-8")
    dom = subprocess.run(
        [chromium(), *HEADLESS, "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert "<title>charts:4</title>" in dom.stdout, dom.stderr[-2000:]
    shot = tmp_path / "page.png"
    subprocess.run(
        [chromium(), *HEADLESS, "--window-size=1000,1400", f"--screenshot={shot}",
         (out / "report" / f"report.{lang}.html").as_uri()],
        capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert shot.stat().st_size > 10_000


def test_the_demo_pdfs_convert_page_by_page(
    demo: tuple[subprocess.CompletedProcess[str], Path], tmp_path: Path
) -> None:
    if shutil.which("pdftoppm") is None:
        rig_unavailable("pdftoppm is not installed (apt-get install poppler-utils)")
    _, out = demo
    for lang in ("en", "zh"):
        prefix = tmp_path / lang
        subprocess.run(
            ["pdftoppm", "-r", "40", "-png", str(out / "report" / f"report.{lang}.pdf"),
             str(prefix)],
            check=True, timeout=120,
        )  # fmt: skip
        pages = sorted(tmp_path.glob(f"{lang}-*.png"))
        assert len(pages) >= 3 and all(page.stat().st_size > 1000 for page in pages)


def test_without_weasyprint_the_demo_still_bundles_the_rest(
    demo: tuple[subprocess.CompletedProcess[str], Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, out = demo
    copy = tmp_path / "demo"
    copy.mkdir()
    for name in ("slawitness.yml", "evidence.db"):
        shutil.copyfile(out / name, copy / name)
    s = summary_of(out)
    run = DemoRun(
        copy,
        copy / "slawitness.yml",
        datetime.fromisoformat(s["period_start"]),
        datetime.fromisoformat(s["period_end"]),
        "run time over",
    )
    monkeypatch.setattr(pdf, "pdf_available", lambda: False)
    result = report_demo(run, lambda message: None)
    assert result.bundle_path is not None and result.bundle_problem is None
    assert not list((copy / "report").glob("*.pdf"))
    assert summary_of(copy)["downtime_seconds"] == s["downtime_seconds"]
    check = slawitness("verify-bundle", str(result.bundle_path))
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_demo_makes_court_ready_documents(
    demo: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    """Signed PDF/A-3b reports carrying their evidence, the statements of method, and the
    custody log; offline, so the PDFs say they have no trusted time."""
    done, out = demo
    assert done.returncode == 0, done.stderr
    assert "not signed" not in done.stderr, done.stderr
    folder = out / "report"
    for name in ("report.en.pdf", "report.zh.pdf", "statement.en.pdf", "statement.zh.pdf"):
        checked = subprocess.run(["pdfsig", str(folder / name)], capture_output=True, text=True)
        assert "Signature is Valid." in checked.stdout, name + checked.stdout
        meta = subprocess.run(["pdfinfo", "-meta", str(folder / name)], capture_output=True,
                              text=True).stdout  # fmt: skip
        assert 'pdfaid:part="3"' in meta and 'pdfaid:conformance="B"' in meta, name
    listed = subprocess.run(["pdfdetach", "-list", str(folder / "report.en.pdf")],
                            capture_output=True, text=True).stdout  # fmt: skip
    assert "summary.json" in listed and "records-evidence.jsonl" in listed, listed
    s = summary_of(out)
    assert s["provenance"][0]["checkpoint"]["size"] > 0
    assert s["method_statement"]["collector"]["slawitness"]
    assert {"attachment"} <= {event["event"] for event in s["custody"]}, s["custody"]
    page = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(folder / "report.en.pdf"), "-"],
                          capture_output=True, text=True).stdout  # fmt: skip
    assert "Where the figures come from" in page and "no trusted time" in " ".join(page.split())
