"""The custody log: hand-overs, exports, reports and bundles chained as records, listed by
the next report and by the bundle, with the SHA-256 of every file as it was made."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.clirun import slawitness
from tests.month_store import write_month
from tests.rig.stores import remount

REPO = Path(__file__).resolve().parents[1]
HAND_OVER = "sent to provider by e-mail"
OTHER_TARGETS_HAND_OVER = "vps2's logs handed to its own provider"
ICMP = {"name": "ping", "kind": "icmp", "interval": "60s", "timeout": "2s"}
SLA = {
    "uptime": 99.9,
    "timezone": "UTC",
    "downtime": {"probes": "any", "min_duration": "5m"},
    "credits": [{"below": 99.9, "credit": 10}],
    "monthly_fee": 40,
    "currency": "USD",
}


def config_for(store: str) -> dict[str, Any]:
    return {
        "vantage": "office",
        "store": store,
        "targets": [
            {"name": "vps1", "host": "203.0.113.10", "probes": [ICMP], "sla": SLA},
            {"name": "vps2", "host": "203.0.113.20", "probes": [ICMP]},
        ],
        "controls": [{"name": "resolver", "host": "198.51.100.53", "probes": [ICMP]}],
    }


def write_case(folder: Path, store: str = "evidence.db") -> Path:
    """Three days of October 2026 with a one-hour outage of vps1; the config's path."""
    config = folder / "slawitness.yml"
    config.write_text(yaml.safe_dump(config_for(store)))
    write_month(
        folder / store,
        vantage="office",
        start="2026-10-01T00:00:00",
        end="2026-10-04T00:00:00",
        hosts=[("vps1", "ping", "icmp", "target"), ("resolver", "ping", "icmp", "control")],
        down={"vps1": [("2026-10-02T10:00:00", "2026-10-02T11:00:00")]},
    )
    return config


@pytest.fixture
def case(tmp_path: Path) -> Path:
    config = write_case(tmp_path)
    done = slawitness("init", "--config", str(config), "--key-only")
    assert done.returncode == 0, done.stderr
    return config


def custody_records(config: Path) -> list[dict[str, Any]]:
    done = slawitness("export", "--config", str(config), "--type", "custody")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_report(
    config: Path, out: Path, *extra: str, formats: str = "json,html,csv"
) -> subprocess.CompletedProcess[str]:
    done = slawitness("report", "--config", str(config), "--target", "vps1",
                      "--from", "2026-10-01", "--to", "2026-10-04", "--out", str(out),
                      "--format", formats, *extra, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done


def test_a_hand_over_is_chained_and_listed_by_the_next_report(case: Path) -> None:
    added = slawitness("note", "add", "--config", str(case), "--custody", HAND_OVER)
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("custody event recorded as seq ")
    other = slawitness("note", "add", "--config", str(case), "--custody", "--target", "vps2",
                       OTHER_TARGETS_HAND_OVER)  # fmt: skip
    assert other.returncode == 0, other.stderr

    hand_over, _ = custody_records(case)
    assert hand_over["event"] == "hand-over" and hand_over["text"] == HAND_OVER
    assert hand_over["target"] is None and hand_over["vantage"] == "office"
    assert f"seq {hand_over['seq']} ({hand_over['hash'][:16]})" in added.stdout

    out = case.parent / "report"
    run_report(case, out)
    summary = json.loads((out / "summary.json").read_text())
    listed = [e for e in summary["custody"] if e["event"] == "hand-over"]
    assert [e["text"] for e in listed] == [HAND_OVER], "another target's hand-over is left out"
    assert listed[0]["seq"] == hand_over["seq"] and listed[0]["store"] == "evidence.db"
    times = [e["ts_ns"] for e in summary["custody"]]
    assert times == sorted(times)
    english = (out / "report.en.html").read_text()
    assert "Custody log" in english and HAND_OVER in english
    assert OTHER_TARGETS_HAND_OVER not in english
    chinese = (out / "report.zh.html").read_text()
    assert "保管记录" in chinese and "移交" in chinese and HAND_OVER in chinese

    verified = slawitness("verify", "--config", str(case))
    assert verified.returncode == 0, verified.stdout + verified.stderr


@pytest.mark.parametrize(
    "mistake, message",
    [
        (["--custody", "   "], "note text is empty"),
        (["--custody", "--target", "nope", "x"], "nope"),
        (["--custody", "--claim", "2026-10", "x"], "--claim and --custody"),
        (["just a note"], "missing option '--target'"),
    ],
)
def test_hand_over_mistakes_are_one_line(case: Path, mistake: list[str], message: str) -> None:
    done = slawitness("note", "add", "--config", str(case), *mistake)
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr
    assert custody_records(case) == []


def test_export_records_the_sha256_of_exactly_the_bytes_written(case: Path) -> None:
    """A real child process writing into a file: the CSV's CRLF line ends and all."""
    exported = case.parent / "export.csv"
    with exported.open("wb") as stdout:
        done = subprocess.run(
            [sys.executable, "-m", "cli", "export", "--config", str(case), "--format", "csv",
             "--target", "vps1", "--since", "2026-10-02T00:00:00Z"],
            cwd=REPO, stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = exported.read_bytes()
    assert b"\r\n" in data and data.count(b"\r\n") == 2 * 1440 + 1

    [record] = custody_records(case)
    assert record["event"] == "export" and record["target"] == "vps1"
    assert record["files"] == [
        {"name": "stdout", "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    ]
    assert record["since_ns"] == 1_790_899_200_000_000_000 and record["until_ns"] is None
    assert record["detail"] == {"format": "csv", "type": "all", "records": 2 * 1440}


def test_export_from_a_read_only_store_exports_and_warns(
    tmp_path: Path, small_tmpfs: Callable[[str], Path]
) -> None:
    where = small_tmpfs("16m")
    config = write_case(tmp_path, store=str(where / "evidence.db"))
    before = slawitness("export", "--config", str(config), "--type", "probe")
    assert before.returncode == 0, before.stderr
    remount(where, "ro")
    try:
        done = slawitness("export", "--config", str(config), "--type", "probe")
    finally:
        remount(where, "rw")
    assert done.returncode == 0, done.stderr
    assert done.stdout == before.stdout, "the bytes exported do not depend on the store's mode"
    [warning] = done.stderr.strip().splitlines()
    assert "the export was not recorded as a custody event" in warning
    assert "read-only" in warning
    assert [r["event"] for r in custody_records(config)] == ["export"], "the first one only"


def test_report_and_bundle_record_their_files_with_their_hashes(case: Path) -> None:
    slawitness("note", "add", "--config", str(case), "--custody", HAND_OVER)
    backup = case.parent / "copy.db"
    assert slawitness("backup", "--config", str(case), str(backup)).returncode == 0
    out = case.parent / "report"
    run_report(case, out, formats="json,html,pdf,csv,letter")
    *_, report_event = custody_records(case)
    listed = json.loads((out / "summary.json").read_text())["custody"]
    assert [e["event"] for e in listed] == ["hand-over", "backup"]
    assert listed[1]["files"] == [{"name": "copy.db", "size": None, "sha256": sha256(backup)}]
    assert listed[1]["detail"]["records"] == listed[1]["seq"] - 1
    assert report_event["event"] == "report" and report_event["target"] == "vps1"
    assert report_event["path"] == str(out.resolve())
    assert report_event["period"] and report_event["since_ns"] < report_event["until_ns"]
    made = {p.relative_to(out).as_posix(): p for p in out.rglob("*") if p.is_file()}
    assert {f["name"] for f in report_event["files"]} == set(made)
    assert {"report.en.pdf", "report.zh.pdf", "letter.en.md"} <= set(made), "signed PDFs too"
    for entry in report_event["files"]:
        path = made[entry["name"]]
        assert entry == {"name": entry["name"], "size": path.stat().st_size, "sha256": sha256(path)}

    zip_path = case.parent / "bundle.zip"
    done = slawitness("bundle", "--config", str(case), "--target", "vps1", "--from",
                      "2026-10-01", "--to", "2026-10-04", "--out", str(zip_path),
                      timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    events = custody_records(case)
    assert [e["event"] for e in events] == ["hand-over", "report", "export", "bundle"]
    bundle_event = events[-1]
    assert bundle_event["files"] == [
        {"name": "bundle.zip", "size": zip_path.stat().st_size, "sha256": sha256(zip_path)}
    ]
    with zipfile.ZipFile(zip_path) as archive:
        carried = json.loads(archive.read("custody.json"))["events"]
        manifest = archive.read("MANIFEST.sha256").decode()
        inner = json.loads(archive.read("report/summary.json"))
    assert "  custody.json\n" in manifest
    assert [e["event"] for e in carried] == ["hand-over", "backup", "report", "export"]
    assert carried == inner["custody"]
    assert "bundle" not in [e["event"] for e in carried], "recorded after the zip was made"

    checked = slawitness("verify-bundle", str(zip_path))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    verified = slawitness("verify", "--config", str(case))
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_report_of_another_store_writes_nothing_into_it(case: Path, tmp_path: Path) -> None:
    """A copy of another collector's store is read, never written: only the config's own
    store holds the report's custody event."""
    other = tmp_path / "other"
    other.mkdir()
    write_case(other)
    out = tmp_path / "report-other"
    run_report(case, out, "--store", str(other / "evidence.db"))
    done = slawitness("export", "--store", str(other / "evidence.db"), "--type", "custody")
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 0 and records == []
    assert [r["event"] for r in custody_records(case)] == []
