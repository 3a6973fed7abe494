"""The web view: the figures the report would give, behind the exporter's auth, in two
languages, fresh within one probe interval, and looked at in headless Chromium.

The store holds a fixed March 2026 (an outage on the 5th, another going on at the moment the
view is computed), so nothing here depends on today's date; the live test runs the daemon
against a loopback listener it then closes.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import httpx
import pytest
import yaml

from collector.config.loader import load_config
from collector.evidence.store import EvidenceStore
from collector.prometheus.metrics import Snapshot
from collector.prometheus.server import ExporterServer
from collector.prometheus.web_config import load_web_config
from reports.render.html import format_percent
from reports.web_downloads import Downloads
from reports.web_pages import web_pages
from reports.web_view import ViewState, WebView
from tests.clirun import slawitness, write_config
from tests.exporter_process import exporter
from tests.month_store import ns
from tests.rig.loopback import TcpListener
from tests.web_fixtures import NOW, SLA, headless, march_case


@pytest.fixture(scope="module")
def march(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("web-view")
    march_case(folder)
    return folder


def _view(folder: Path) -> WebView:
    view = WebView(load_config(folder / "slawitness.yml"), [folder / "evidence.db"])
    view.refresh(now_ns=ns(NOW))
    return view


def _no_metrics() -> Snapshot:
    raise AssertionError("only pages are asked for")


@contextlib.contextmanager
def serving(
    view: WebView, web_config: Path | None = None, downloads: Downloads | None = None
) -> Iterator[str]:
    gate = load_web_config(web_config) if web_config else None
    server = ExporterServer("127.0.0.1:0", _no_metrics, None, gate, web_pages(view, downloads))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def test_the_figures_are_the_reports(march: Path, tmp_path: Path) -> None:
    view = _view(march)
    state, problem = view.state()
    assert state is not None and problem is None
    out = tmp_path / "report"
    config = str(march / "slawitness.yml")
    done = slawitness("report", "--config", config, "--target", "vps1", "--from", "2026-03-01",
                      "--to", NOW, "--format", "json", "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "summary.json").read_text())
    vps1 = state.targets[0]
    assert (vps1["name"], vps1["state"], vps1["period"]) == ("vps1", "DOWN", "2026-03")
    assert vps1["down_since"] == "2026-03-20T11:40:00Z"
    shown = [(i["start"], i["counted_seconds"], i["attribution"]) for i in vps1["incidents"]]
    reported = [(i["start"], i["counted_seconds"], i["attribution"]) for i in summary["incidents"]]
    assert shown == reported and len(shown) == 2
    assert sum(i["counted_seconds"] for i in vps1["incidents"]) == summary["downtime_seconds"]
    assert state.targets[1]["state"] == "UP" and state.targets[1]["incidents"] == []


def test_the_page_shows_the_view(march: Path) -> None:
    view = _view(march)
    with serving(view) as url:
        page = httpx.get(url + "/")
        feed = httpx.get(url + "/view.json").json()
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    html = page.text
    assert 'data-target="vps1" data-state="DOWN"' in html
    assert 'data-target="vps2" data-state="UP"' in html
    vps1 = feed["targets"][0]
    assert f'data-figure="uptime" data-value="{vps1["uptime"]}"' in html
    assert f'data-figure="budget_left_seconds" data-value="{vps1["budget_left_seconds"]}"' in html
    assert vps1["budget_left_seconds"] < 0 and "BREACHED" in html, "140 min against 44 min"
    assert html.count("<tr data-counted-seconds=") == 2
    assert '<meta http-equiv="refresh"' in html and "location.reload()" in html
    assert feed["generated_at"] == NOW + "Z" and feed["problem"] is None


def test_the_page_speaks_english_and_chinese(march: Path) -> None:
    view = _view(march)
    with serving(view) as url:
        english = httpx.get(url + "/").text
        chinese = httpx.get(url + "/?lang=zh").text
        asked = httpx.get(url + "/", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}).text
        fallback = httpx.get(url + "/?lang=xx", headers={"Accept-Language": "fr"}).text
    assert '<html lang="en">' in english and "Incidents this period" in english
    assert '<html lang="zh">' in chinese and "本周期故障" in chinese and "中断" in chinese
    assert asked == chinese
    assert fallback == english


def test_a_page_before_the_first_refresh_says_it_is_computing(march: Path) -> None:
    view = WebView(load_config(march / "slawitness.yml"), [march / "evidence.db"])
    with serving(view) as url:
        page = httpx.get(url + "/").text
    assert 'id="computing"' in page


def test_text_from_the_store_is_escaped(tmp_path: Path) -> None:
    """A checkpoint's origin line is whatever the signing note said: shown, never run."""
    hostile = '<script>alert("x")</script>'
    march_case(tmp_path)
    with EvidenceStore.open(tmp_path / "evidence.db") as store:
        store.append([{"type": "checkpoint", "ts_ns": ns(NOW), "size": 1, "root": "ab" * 32,
                       "note": f"{hostile}\n1\nq6s=\n"}])  # fmt: skip
    with serving(_view(tmp_path)) as url:
        page = httpx.get(url + "/").text
    assert hostile not in page and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


def test_the_page_is_behind_the_exporters_basic_auth(march: Path, tmp_path: Path) -> None:
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode()
    web_config = tmp_path / "web.yml"
    web_config.write_text(yaml.safe_dump({"basic_auth_users": {"alice": hashed}}))
    view = _view(march)
    with serving(view, web_config) as url:
        refused = [httpx.get(url + path) for path in ("/", "/view.json", "/?lang=zh")]
        allowed = httpx.get(url + "/", auth=("alice", "s3cret"))
    assert [answer.status_code for answer in refused] == [401] * 3
    assert all("vps1" not in answer.text for answer in refused)
    assert allowed.status_code == 200 and 'data-target="vps1"' in allowed.text


def test_trusted_time_is_said_as_status_says_it(tmp_path: Path) -> None:
    config_path = march_case(tmp_path)
    data = yaml.safe_load(config_path.read_text())
    data["checkpoints"] = {"timestamping": {"at_least": 1, "authorities": [
        {"url": "http://127.0.0.1:9/tsa"}]}}  # fmt: skip
    config_path.write_text(yaml.safe_dump(data))
    status = slawitness("status", "--config", str(config_path))
    assert status.returncode == 0, status.stderr
    said = "trusted time: no checkpoint time-stamped yet (1 of 1 authorities required)"
    assert said in status.stdout
    with serving(_view(tmp_path)) as url:
        page = httpx.get(url + "/").text
        feed = httpx.get(url + "/view.json").json()
    assert feed["vouched"] == [said] and f"<li>{said}</li>" in page


def test_nobody_looking_costs_no_refresh(march: Path) -> None:
    view = WebView(load_config(march / "slawitness.yml"), [march / "evidence.db"], 0.05)
    refreshed = threading.Event()
    real_refresh = view.refresh

    def counted(now_ns: int | None = None) -> ViewState:
        refreshed.set()
        return real_refresh(now_ns)

    view.refresh = counted  # type: ignore[method-assign]
    view.start()
    try:
        assert not refreshed.wait(0.5), "no request yet, so no refresh"
        assert view.state() == (None, None)
        assert refreshed.wait(30), "the first look wakes the refresh"
    finally:
        view.stop()


def _downloads(folder: Path) -> Downloads:
    config = load_config(folder / "slawitness.yml")
    return Downloads(config, folder / "slawitness.yml", [folder / "evidence.db"])


def test_the_buttons_hand_over_the_report_and_the_bundle(tmp_path: Path) -> None:
    march_case(tmp_path)
    form = {"target": "vps1", "period": "2026-03", "lang": "en"}
    with serving(_view(tmp_path), downloads=_downloads(tmp_path)) as url:
        page = httpx.get(url + "/").text
        report = httpx.post(url + "/download", data={**form, "kind": "report"}, timeout=300)
        bundle = httpx.post(url + "/download", data={**form, "kind": "bundle"}, timeout=300)
    assert page.count('<form class="downloads" method="post" action="/download">') == 2
    assert report.status_code == 200, report.text
    assert report.headers["content-type"] == "application/pdf"
    assert report.headers["content-disposition"] == (
        'attachment; filename="report-vps1-2026-03.en.pdf"'
    )
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(report.content)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=False)
    assert info.returncode == 0 and re.search(r"^Pages:\s+[1-9]", info.stdout, re.M), info
    assert bundle.status_code == 200, bundle.text
    assert bundle.headers["content-disposition"] == 'attachment; filename="bundle-vps1-2026-03.zip"'
    with zipfile.ZipFile(io.BytesIO(bundle.content)) as archive:
        assert archive.testzip() is None
        names = set(archive.namelist())
    assert {"verify.py", "summary.json"} <= {name.rsplit("/", 1)[-1] for name in names}, names
    with EvidenceStore.open(tmp_path / "evidence.db", readonly=True) as store:
        made = [r.record.get("event") for r in store.records(types=["custody"])]
    assert "report" in made and "bundle" in made, made


def test_a_download_that_names_nothing_buildable_is_one_line(tmp_path: Path) -> None:
    march_case(tmp_path)
    base = {"target": "vps1", "period": "2026-03", "lang": "en", "kind": "report"}
    cases = [({"kind": "everything"}, "kind must be one of"), ({"target": "vps9"}, "vps9"),
             ({"period": "March"}, "YYYY-MM"), ({"lang": "fr"}, "lang must be")]  # fmt: skip
    with serving(_view(tmp_path), downloads=_downloads(tmp_path)) as url:
        for change, says in cases:
            answer = httpx.post(url + "/download", data={**base, **change})
            assert answer.status_code == 400 and says in answer.text, answer.text
            assert answer.text.count("\n") == 1
        huge = httpx.post(url + "/download", content=b"x" * 9000)
        assert huge.status_code == 400 and "Content-Length" in huge.text
    with EvidenceStore.open(tmp_path / "evidence.db", readonly=True) as store:
        assert list(store.records(types=["custody"])) == [], "nothing was built"


def test_without_credentials_nothing_is_built(tmp_path: Path) -> None:
    march_case(tmp_path)
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode()
    web_config = tmp_path / "web.yml"
    web_config.write_text(yaml.safe_dump({"basic_auth_users": {"alice": hashed}}))
    form = {"target": "vps1", "period": "2026-03", "lang": "en", "kind": "report"}
    with serving(_view(tmp_path), web_config, _downloads(tmp_path)) as url:
        refused = httpx.post(url + "/download", data=form)
    assert refused.status_code == 401
    with EvidenceStore.open(tmp_path / "evidence.db", readonly=True) as store:
        assert list(store.records(types=["custody"])) == []


def test_a_target_that_goes_down_shows_down_within_one_interval(tmp_path: Path) -> None:
    listener = TcpListener().start()
    config = write_config(tmp_path, [{"name": "vps1", "host": "127.0.0.1", "probes": [
        {"name": "ssh", "kind": "tcp", "port": listener.port, "interval": "2s",
         "timeout": "1s"}], "sla": SLA}])  # fmt: skip
    try:
        with exporter("run", config) as url:
            up = _wait_state(url, "UP")
            assert up["targets"][0]["probes"] == {"ssh": "ok"}
            page = httpx.get(url + "/").text
            assert "Refreshes every 2s" in page, "the view refreshes at the probe interval"
            listener.stop()
            down = _wait_state(url, "DOWN")
    finally:
        listener.stop()
    assert down["targets"][0]["probes"]["ssh"].startswith("failed (")


def _wait_state(url: str, state: str, timeout: float = 60) -> dict:
    deadline, seen = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        seen = httpx.get(url + "/view.json", timeout=10).json()
        if seen.get("targets") and seen["targets"][0]["state"] == state:
            return seen
        time.sleep(0.2)
    raise AssertionError(f"never {state}: {seen}")


def test_chromium_shows_the_figures_at_phone_and_desktop_widths(
    march: Path, tmp_path: Path
) -> None:
    view = _view(march)
    with serving(view, downloads=_downloads(march)) as url:
        feed = httpx.get(url + "/view.json").json()
        dom = headless("--virtual-time-budget=2000", "--dump-dom", url + "/")
        shots = {}
        for name, size in (("phone", "390,844"), ("desktop", "1280,900")):
            shot = tmp_path / f"web-view-{name}.png"
            lang = "zh" if name == "phone" else "en"
            done = headless(f"--window-size={size}", f"--screenshot={shot}", url + f"/?lang={lang}")
            assert shot.exists(), done.stderr[-2000:]
            shots[name] = shot
    assert dom.returncode == 0, dom.stderr[-2000:]
    for target in feed["targets"]:
        assert f'data-target="{target["name"]}" data-state="{target["state"]}"' in dom.stdout
    uptime = feed["targets"][0]["uptime"]
    assert f'data-value="{uptime}">{format_percent(uptime)}</b>' in dom.stdout
    for shot in shots.values():
        assert shot.stat().st_size > 10_000, "a blank screenshot is a few hundred bytes"
    keep = os.environ.get("SLAWITNESS_SCREENSHOTS")  # docs/: the README's pictures
    if keep:
        for name, shot in shots.items():
            shutil.copyfile(shot, Path(keep) / f"web-view-{name}.png")
