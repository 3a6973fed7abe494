"""`slawitness status` against a store with a breached last month and an outage going on now."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.clirun import slawitness, write_config
from tests.month_store import write_month


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _setup(folder: Path) -> tuple[Path, str]:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    this_month = now.replace(day=1, hour=0, minute=0)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    outage = last_month + timedelta(days=3)
    write_month(
        folder / "evidence.db", vantage="office",
        start=_iso(last_month), end=_iso(now + timedelta(minutes=1)),
        hosts=[("vps1", "web", "http", "target")],
        down={"vps1": [(_iso(outage), _iso(outage + timedelta(hours=2))),
                       (_iso(now - timedelta(minutes=10)), _iso(now + timedelta(minutes=5)))]},
        notes=[(_iso(now - timedelta(minutes=5)), "vps1", "4821", "Reported the outage")],
    )  # fmt: skip
    config = write_config(
        folder,
        [{
            "name": "vps1", "host": "127.0.0.1",
            "probes": [{"name": "web", "kind": "http", "url": "http://127.0.0.1:9/",
                        "interval": "60s", "timeout": "5s"}],
            "sla": {"uptime": 99.9, "credits": [{"below": 99.9, "credit": 10}],
                    "monthly_fee": 40, "currency": "USD", "claim_window_days": 45},
        }],
        vantage="office",
    )  # fmt: skip
    return config, f"{last_month:%Y-%m}"


def test_status_shows_now_the_budget_the_notes_and_the_open_claim(tmp_path: Path) -> None:
    config, last = _setup(tmp_path)
    done = slawitness("status", "--config", str(config))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("vps1  DOWN since ")
    assert "probes: web failed (timeout)" in out
    assert "ticket 4821: Reported the outage" in out
    assert f"OPEN CLAIM {last}: uptime" in out and "credit 10% = 4.00" in out
    assert "no contract attached: slawitness attach --target vps1 --kind contract FILE" in out
    (tmp_path / "contract.pdf").write_bytes(b"%PDF-1.4 terms\n")
    (tmp_path / "invoice.pdf").write_bytes(b"%PDF-1.4 invoice\n")
    for kind, name in (("contract", "contract.pdf"), ("invoice", "invoice.pdf")):
        attached = slawitness("attach", "--config", str(config), "--target", "vps1",
                              "--kind", kind, str(tmp_path / name))  # fmt: skip
        assert attached.returncode == 0, attached.stderr
    out = slawitness("status", "--config", str(config)).stdout
    assert "  documents: contract 1, invoice 1\n" in out and "no contract attached" not in out
    [item] = json.loads(slawitness("status", "--config", str(config), "--json").stdout)
    assert item["state"] == "DOWN" and item["period"] == f"{datetime.now(UTC):%Y-%m}"
    since = datetime.fromisoformat(item["down_since"].replace("Z", "+00:00"))
    down_for = time.time() - since.timestamp()
    assert 9 * 60 <= down_for <= 12 * 60, "down since the outage began, ten minutes ago"
    most = 31 * 86400 * 0.001  # 0.1 % of the longest month
    assert 0 < item["budget_left_seconds"] < most - 9 * 60, "the ten minutes are counted"
    [claim] = item["open_claims"]
    assert claim["period"] == last and claim["days_left"] >= 0
    filed = slawitness("note", "add", "--config", str(config), "--target", "vps1",
                       "--claim", last, "Claim filed by e-mail")  # fmt: skip
    assert filed.returncode == 0, filed.stderr
    [after] = json.loads(slawitness("status", "--config", str(config), "--json").stdout)
    assert after["open_claims"] == [], "a filed claim is no longer reminded"


def test_a_malformed_claim_period_is_one_line(tmp_path: Path) -> None:
    config, _ = _setup(tmp_path)
    done = slawitness("note", "add", "--config", str(config), "--target", "vps1",
                      "--claim", "2026-13", "x")  # fmt: skip
    assert done.returncode == 2 and "expected a period like 2026-10" in done.stderr
