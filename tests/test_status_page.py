"""`slawitness status-page DIR`: a static page whose figures are the report's, whose proofs
check, which shows only what the config makes public, and which Chromium renders.

The store is test_web_view's fixed March 2026 with a key and a signed checkpoint; the page
is computed as of 2026-03-20 12:00 UTC, so nothing depends on today's date.
"""

from __future__ import annotations

import json
import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from collector.config.loader import load_config
from reports.status_page import write_status_page
from tests.clirun import slawitness
from tests.month_store import ns
from tests.web_fixtures import NOW, headless, march_case


@pytest.fixture(scope="module")
def signed_march(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("status-page")
    config = march_case(folder)
    for verb in (["init", "--key-only"], ["checkpoint"]):
        done = slawitness(*verb, "--config", str(config))
        assert done.returncode == 0, done.stderr
    return folder


def _with_settings(folder: Path, tmp_path: Path, settings: dict[str, Any]) -> Path:
    """The fixture's config with `status_page:` set, in `tmp_path` (the store stays put)."""
    data = yaml.safe_load((folder / "slawitness.yml").read_text())
    data["store"] = str(folder / "evidence.db")
    data["status_page"] = settings
    path = tmp_path / "slawitness.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def _page(config_path: Path, out: Path) -> dict[str, Any]:
    write_status_page(load_config(config_path), out, ns(NOW))
    feed: dict[str, Any] = json.loads((out / "status.json").read_text())
    return feed


def test_the_page_shows_the_reports_figures_and_its_proofs_check(
    signed_march: Path, tmp_path: Path
) -> None:
    out = tmp_path / "page"
    feed = _page(signed_march / "slawitness.yml", out)
    assert sorted(feed["files"]) == sorted(
        str(path.relative_to(out)) for path in out.rglob("*") if path.is_file()
    )
    vps1, vps2 = feed["targets"]
    assert (vps1["name"], vps1["state"], vps2["state"]) == ("vps1", "DOWN", "UP")
    report = tmp_path / "report"
    done = slawitness("report", "--config", str(signed_march / "slawitness.yml"), "--target",
                      "vps1", "--from", "2026-03-01", "--to", NOW, "--format", "json",
                      "--out", str(report))  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads((report / "summary.json").read_text())
    shown = [(i["start"], i["counted_seconds"]) for i in vps1["incidents"]]
    assert shown == [(i["start"], i["counted_seconds"]) for i in summary["incidents"]]
    proofs = [proof for incident in vps1["incidents"] for proof in incident["proofs"]]
    assert all(incident["proofs"] for incident in vps1["incidents"]), "each has its evidence"
    for proof in proofs:
        checked = slawitness("check-proof", str(out / proof))
        assert checked.returncode == 0 and "proof OK" in checked.stdout, checked.stdout
        payload = json.loads(json.loads((out / proof).read_text())["payload"])
        assert payload["target"] == "vps1"
    for incident in vps1["incidents"]:
        first = json.loads(json.loads((out / incident["proofs"][0]).read_text())["payload"])
        assert first["ok"] is False, "an incident's first evidence is a failed attempt"
    assert (out / "checkpoint.txt").read_text().startswith(feed["checkpoint"]["origin"] + "\n")
    assert feed["proofs_withheld"] is None


def test_badges_say_met_or_breached(signed_march: Path, tmp_path: Path) -> None:
    out = tmp_path / "page"
    feed = _page(signed_march / "slawitness.yml", out)
    colours = []
    for target in feed["targets"]:
        svg = ET.parse(out / target["badge"]).getroot()
        colours.append(svg.findall("{http://www.w3.org/2000/svg}rect")[1].get("fill"))
        assert svg.get("aria-label", "").startswith("uptime: ")
    assert colours == ["#c62828", "#1a7f37"], "vps1 is breached, vps2 meets its SLA"


def test_without_names_nothing_names_a_target(signed_march: Path, tmp_path: Path) -> None:
    config = _with_settings(signed_march, tmp_path, {"names": False, "title": "Our status"})
    out = tmp_path / "page"
    feed = _page(config, out)
    assert [t["name"] for t in feed["targets"]] == ["Service 1", "Service 2"]
    assert feed["proofs_withheld"]
    assert list((out / "proofs").iterdir()) == []
    for path in out.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert "vps1" not in text and "vps2" not in text and "127.0.0.1" not in text, path


def test_only_the_uptime_figures_and_only_the_chosen_targets(
    signed_march: Path, tmp_path: Path
) -> None:
    config = _with_settings(signed_march, tmp_path, {"show": "uptime", "targets": ["vps2"]})
    out = tmp_path / "page"
    feed = _page(config, out)
    [only] = feed["targets"]
    assert only["name"] == "vps2" and set(only) == {"name", "period", "uptime", "objective",
                                                     "badge"}  # fmt: skip
    html = (out / "index.html").read_text()
    assert "vps1" not in html and "Incidents" not in html and "data-state" not in html


def test_a_status_page_target_without_sla_terms_is_one_line(
    signed_march: Path, tmp_path: Path
) -> None:
    config = _with_settings(signed_march, tmp_path, {"targets": ["vps9"]})
    done = slawitness("check-config", "--config", str(config))
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "status_page.targets[0]" in done.stderr and "vps9" in done.stderr


def test_the_verb_writes_and_refuses_to_overwrite_without_force(
    signed_march: Path, tmp_path: Path
) -> None:
    out = tmp_path / "page"
    config = str(signed_march / "slawitness.yml")
    first = slawitness("status-page", "--config", config, str(out))
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(f"status page: {out / 'index.html'} (")
    again = slawitness("status-page", "--config", config, str(out))
    assert again.returncode == 2 and again.stderr.count("\n") == 1, again.stderr
    assert "--force" in again.stderr
    forced = slawitness("status-page", "--config", config, "--force", str(out))
    assert forced.returncode == 0, forced.stderr


def test_chromium_renders_the_page_at_phone_and_desktop_widths(
    signed_march: Path, tmp_path: Path
) -> None:
    out = tmp_path / "page"
    feed = _page(signed_march / "slawitness.yml", out)
    for name in ("index.html", "index.zh.html"):
        dom = headless("--dump-dom", (out / name).as_uri())
        assert dom.returncode == 0, dom.stderr[-2000:]
        for target in feed["targets"]:
            assert f'data-target="{target["name"]}" data-state="{target["state"]}"' in dom.stdout
    shots = {}
    for name, size in (("phone", "390,844"), ("desktop", "1280,900")):
        shot = tmp_path / f"status-page-{name}.png"
        done = headless(
            f"--window-size={size}", f"--screenshot={shot}", (out / "index.html").as_uri()
        )
        assert shot.exists() and shot.stat().st_size > 10_000, done.stderr[-2000:]
        shots[name] = shot
    keep = os.environ.get("SLAWITNESS_SCREENSHOTS")  # docs/: the README's pictures
    if keep:
        for name, shot in shots.items():
            shutil.copyfile(shot, Path(keep) / f"status-page-{name}.png")
