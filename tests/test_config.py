"""The config loader: the documented example loads, and every mistake is one line naming its key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from collector.config.loader import ConfigError, load_config, parse_config
from collector.probes import KINDS

DESIGN_EXAMPLE = """
vantage: office-shanghai
store: evidence.db
targets:
  - name: vps1
    host: 203.0.113.10
    provider: {name: ExampleHost, account: C-1234, contact: support@example.com, country: US}
    probes:
      - {name: ping, kind: icmp, count: 3, interval: 60s, timeout: 2s}
      - {name: ssh, kind: tcp, port: 22, interval: 60s, timeout: 5s}
      - {name: web, kind: http, url: "https://203.0.113.10/health", expect_status: [200],
         expect_body: "ok", interval: 60s, timeout: 10s}
    sla:
      uptime: 99.9
      period: month
      timezone: UTC
      downtime: {probes: any, min_duration: 5m}
      maintenance:
        - {start: "2026-10-25T02:00:00Z", end: "2026-10-25T04:00:00Z"}
        - {cron: "0 3 * * 0", duration: 1h}
      credits: [{below: 99.9, credit: 10}, {below: 99.0, credit: 25}, {below: 95.0, credit: 100}]
      monthly_fee: 40
      currency: USD
      claim_window_days: 30
controls:
  - name: resolver
    host: 198.51.100.53
    probes: [{name: ping, kind: icmp, interval: 60s, timeout: 2s}]
"""

CONFIG_PATH = Path("/etc/slawitness/slawitness.yml")


def example() -> dict:
    return yaml.safe_load(DESIGN_EXAMPLE)


def errors_of(data: dict | str) -> list[str]:
    text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
    with pytest.raises(ConfigError) as caught:
        parse_config(text, CONFIG_PATH)
    return caught.value.lines


def test_design_example_loads_with_every_term() -> None:
    config = parse_config(DESIGN_EXAMPLE, CONFIG_PATH)
    vps1 = config.targets[0]
    assert config.vantage == "office-shanghai"
    assert config.store == Path("/etc/slawitness/evidence.db")
    assert [p.kind for p in vps1.probes] == ["icmp", "tcp", "http"]
    assert vps1.probes[0].interval == 60.0 and vps1.probes[0].timeout == 2.0
    assert vps1.sla is not None
    assert vps1.sla.downtime.min_duration == 300.0
    assert [t.below for t in vps1.sla.credits] == [99.9, 99.0, 95.0]
    assert len(vps1.sla.maintenance) == 2
    assert config.controls[0].role == "control"
    assert [h.name for h in config.hosts()] == ["vps1", "resolver"]


def test_absolute_store_path_is_kept() -> None:
    data = example()
    data["store"] = "/var/lib/slawitness/evidence.db"
    assert parse_config(yaml.safe_dump(data), CONFIG_PATH).store == Path(data["store"])


def _set(data: dict, path: str, value: object) -> dict:
    """Set `targets.0.probes.1.timeout`-style paths in the example; None deletes the key."""
    *parents, last = path.split(".")
    node: object = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]  # type: ignore[index]
    key: int | str = int(last) if isinstance(node, list) else last
    if value is None:
        del node[key]  # type: ignore[union-attr]
    else:
        node[key] = value  # type: ignore[index]
    return data


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            "targets.0.probes.1.timeout",
            "90s",
            "targets[0].probes[1].timeout: must be shorter than interval (got 90s >= 60s)",
        ),
        (
            "targets.0.probes.0.timeout",
            "60s",
            "targets[0].probes[0].timeout: must be shorter than interval (got 60.4s >= 60s)",
        ),
        (
            "targets.0.probes.1.interval",
            "soon",
            "targets[0].probes[1].interval: expected a duration like 30s or 5m, got 'soon'",
        ),
        ("targets.0.probes.0.timout", "2s", "targets[0].probes[0].timout: unknown key"),
        (
            "targets.0.probes.1.kind",
            "smtp",
            f"targets[0].probes[1].kind: must be one of {', '.join(KINDS)} (got 'smtp')",
        ),
        ("targets.0.probes.1.port", None, "targets[0].probes[1].port: required key is missing"),
        (
            "targets.0.probes.1.name",
            "ping",
            "targets[0].probes[1].name: duplicate probe name 'ping'",
        ),
        ("controls.0.name", "vps1", "controls[0].name: duplicate name 'vps1'"),
        (
            "targets.0.sla.timezone",
            "Mars/Olympus",
            "targets[0].sla.timezone: unknown time zone 'Mars/Olympus' (use an IANA name)",
        ),
        (
            "targets.0.sla.maintenance.1.cron",
            "0 3 * *",
            "targets[0].sla.maintenance[1].cron: not a 5-field cron expression: '0 3 * *'",
        ),
        (
            "targets.0.sla.monthly_fee",
            None,
            "targets[0].sla.monthly_fee: needed to compute the credits",
        ),
        (
            "targets.0.sla.downtime.probes",
            ["ping", "smtp"],
            "targets[0].sla.downtime.probes[1]: no probe named 'smtp' on this target",
        ),
        (
            "targets.0.sla.uptime",
            120,
            "targets[0].sla.uptime: input should be less than or equal to 100 (got 120)",
        ),
        (
            "targets.0.probes.0.ip_version",
            5,
            "targets[0].probes[0].ip_version: input should be 'auto', '4' or '6' (got '5')",
        ),
        ("vantage", None, "vantage: required key is missing"),
        ("targets", [], "targets: list should have at least 1 item after validation, not 0"),
    ],
)
def test_each_mistake_is_one_line_naming_its_key(path: str, value: object, expected: str) -> None:
    lines = errors_of(_set(example(), path, value))
    assert lines == [f"{CONFIG_PATH}: {expected}"]


def test_ip_version_given_as_a_number_is_accepted() -> None:
    config = parse_config(
        yaml.safe_dump(_set(example(), "targets.0.probes.0.ip_version", 6)), CONFIG_PATH
    )
    assert config.targets[0].probes[0].ip_version == "6"


def test_one_off_maintenance_needs_a_zone_and_an_order() -> None:
    data = _set(example(), "targets.0.sla.maintenance.0.end", "2026-10-25T01:00:00Z")
    assert errors_of(data) == [
        f"{CONFIG_PATH}: targets[0].sla.maintenance[0].end: must be after start"
    ]


def test_several_mistakes_give_several_lines() -> None:
    data = _set(example(), "targets.0.probes.0.timout", "1s")
    _set(data, "controls.0.probes.0.count", 0)
    lines = errors_of(data)
    assert len(lines) == 2
    assert all(line.startswith(f"{CONFIG_PATH}: ") and "\n" not in line for line in lines)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("vantage: a\nvantage: b\n", "2:1: invalid YAML: duplicate key 'vantage' (line 2)"),
        ("vantage: [unclosed\n", "invalid YAML"),
        ("- just\n- a list\n", "expected a mapping of keys"),
        ("", "expected a mapping of keys"),
    ],
)
def test_unreadable_yaml_is_one_line(text: str, expected: str) -> None:
    [line] = errors_of(text)
    assert line.startswith(str(CONFIG_PATH)) and expected in line


def test_missing_file_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nope.yml")
    assert caught.value.lines == [
        f"{tmp_path / 'nope.yml'}: config file not found (create one with `slawitness init`)"
    ]


def test_secrets_come_from_env_and_files_and_never_show(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SW_TEST_TOKEN", "tok-3141592653")
    (tmp_path / "pass.txt").write_text("hunter2-secret\n")
    data = example()
    data["targets"][0]["probes"][2]["headers"] = {"Authorization": "${SW_TEST_TOKEN}"}
    data["targets"][0]["probes"][2]["basic_auth"] = {
        "username": "me",
        "password": {"file": "pass.txt"},
    }
    config = parse_config(yaml.safe_dump(data), tmp_path / "slawitness.yml")
    web = config.targets[0].probes[2]
    assert web.headers["Authorization"].reveal() == "tok-3141592653"
    assert web.basic_auth.password.reveal() == "hunter2-secret"
    shown = repr(config) + config.model_dump_json()
    assert "tok-3141592653" not in shown and "hunter2-secret" not in shown
    assert {s.reveal() for s in config.secrets()} == {"tok-3141592653", "hunter2-secret"}


def test_missing_secret_env_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SW_TEST_MISSING", raising=False)
    data = example()
    data["targets"][0]["probes"][2]["headers"] = {"X-Token": "${SW_TEST_MISSING}"}
    assert errors_of(data) == [
        f"{CONFIG_PATH}: targets[0].probes[2].headers.X-Token: "
        "environment variable SW_TEST_MISSING is not set"
    ]


def test_init_template_is_a_valid_config() -> None:
    template = Path(__file__).parents[1] / "collector" / "templates" / "slawitness.yml"
    config = parse_config(template.read_text(), CONFIG_PATH)
    assert config.targets[0].sla is not None and len(config.controls) == 2


def test_reading_verbs_load_the_config_without_its_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SW_TEST_MISSING", raising=False)
    data = example()
    data["targets"][0]["probes"][2]["headers"] = {"X-Token": "${SW_TEST_MISSING}"}
    config = parse_config(yaml.safe_dump(data), CONFIG_PATH, resolve_secrets=False)
    assert config.store == Path("/etc/slawitness/evidence.db")
    assert config.targets[0].probes[2].headers["X-Token"].reveal() == ""
