"""The web view's and the status page's case: a fixed March 2026 with two targets, an
outage on the 5th and one going on at the moment the figures are taken, and headless
Chromium to look at the pages."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.clirun import write_config
from tests.month_store import write_month
from tests.rig import rig_unavailable

NOW = "2026-03-20T12:00:00"
SLA = {"uptime": 99.9, "credits": [{"below": 99.9, "credit": 10}], "monthly_fee": 40,
       "currency": "USD", "claim_window_days": 45}  # fmt: skip


def march_case(folder: Path) -> Path:
    write_month(
        folder / "evidence.db", vantage="office", start="2026-03-01T00:00:00", end=NOW,
        hosts=[("vps1", "web", "http", "target"), ("vps2", "web", "http", "target")],
        down={"vps1": [("2026-03-05T10:00:00", "2026-03-05T12:00:00"),
                       ("2026-03-20T11:40:00", NOW)]},
    )  # fmt: skip
    probe = {"name": "web", "kind": "http", "url": "http://127.0.0.1:9/", "interval": "60s",
             "timeout": "5s"}  # fmt: skip
    return write_config(
        folder,
        [{"name": name, "host": "127.0.0.1", "probes": [probe], "sla": SLA}
         for name in ("vps1", "vps2")],
        vantage="office",
    )  # fmt: skip


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        rig_unavailable("chromium is not installed (apt-get install chromium)")
    return found


def headless(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--hide-scrollbars", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
