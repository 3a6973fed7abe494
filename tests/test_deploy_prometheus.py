"""The Prometheus and Grafana deploy files are checked by the tools that will load them.

`promtool` validates the config and rules and runs the rules' unit tests; a real Prometheus,
pointed at a loopback stand-in for the exporter, shows that the `/probe` relabeling builds
the URLs and `instance` labels the comments promise. Every series name the rules and the
dashboard use must be one slawitness serves (or a Prometheus built-in), so a renamed metric
breaks this test instead of silently emptying a panel or muting an alert.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from collector.prometheus.metrics import METRIC_NAMES
from tests.rig import rig_unavailable
from tests.rig.prometheus import PrometheusFactory, sample_values

DEPLOY = Path(__file__).parents[1] / "deploy"
PROMETHEUS_DIR = DEPLOY / "prometheus"
CONFIG = PROMETHEUS_DIR / "prometheus.yml"
RULES = PROMETHEUS_DIR / "slawitness.rules.yml"
RULE_TESTS = PROMETHEUS_DIR / "slawitness.rules.test.yml"
DASHBOARD = DEPLOY / "grafana" / "slawitness-dashboard.json"
PROVISIONING = DEPLOY / "grafana" / "provisioning"

PROMETHEUS_BUILTINS = frozenset({"up"})

REQUIRED_ALERTS = frozenset(
    {
        "SlaTargetDown",
        "SlaControlsDown",
        "SlawitnessCollectorSilent",
        "SlawitnessStoreErrors",
        "SlawitnessChainStalled",
        "SlaCertificateExpiringSoon",
        "SlaErrorBudgetBurnFast",
        "SlaErrorBudgetBurnSlow",
        "SlaErrorBudgetExhausted",
    }
)

_KEYWORD = re.compile(
    r"(?i)and|or|unless|by|without|on|ignoring|group_left|group_right|offset|bool|inf|nan|atan2"
)
_STRINGS = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|`[^`]*`")
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_IDENTIFIER = re.compile(r"(?<![\w:$.])[A-Za-z_:][\w:]*(?!\s*\(|[\w:])")
_LABEL_VALUES = re.compile(r"^\s*label_values\((?:(.*),)?\s*\w+\s*\)\s*$")


def series_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: identifiers that are not calls or keywords.

    Strings, label matchers, ranges and grouping clauses are removed first, so label names
    and Grafana variables (`$__range`) never look like metrics.
    """
    text = _STRINGS.sub('""', expr)
    text = _MATCHERS.sub("{}", text)
    text = _RANGES.sub("[]", text)
    text = _GROUPING.sub(" ", text)
    return {name for name in _IDENTIFIER.findall(text) if not _KEYWORD.fullmatch(name)}


def exporter_series() -> frozenset[str]:
    """Every series name the exporter can serve."""
    return METRIC_NAMES


def load_yaml(path: Path) -> Any:
    """Parse one deploy YAML file."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def rules() -> list[dict[str, Any]]:
    """Every rule (alerting and recording) in the rules file."""
    return [rule for group in load_yaml(RULES)["groups"] for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    """The Grafana dashboard as parsed JSON."""
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def panels() -> list[dict[str, Any]]:
    """The dashboard's panels, rows left out (rows hold no queries)."""
    return [panel for panel in dashboard()["panels"] if panel["type"] != "row"]


@pytest.fixture(scope="module")
def promtool() -> str:
    """Path of `promtool`, which ships with Debian's `prometheus` package."""
    path = shutil.which("promtool")
    if path is None:
        rig_unavailable("promtool is not installed (Debian package `prometheus`)")
    return path


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    """Run a tool from the repository root and keep its output for the assertion message."""
    return subprocess.run(
        argv, cwd=DEPLOY.parent, capture_output=True, text=True, timeout=120, check=False
    )


# --- promtool -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("check", "config", "deploy/prometheus/prometheus.yml"), "1 rule files found"),
        (("check", "rules", "deploy/prometheus/slawitness.rules.yml"), "rules found"),
        (("test", "rules", "deploy/prometheus/slawitness.rules.test.yml"), "SUCCESS"),
    ],
    ids=["check-config", "check-rules", "test-rules"],
)
def test_promtool_accepts(promtool: str, argv: tuple[str, ...], expected: str) -> None:
    """`check config` also loads the rule files, so it proves they resolve beside the config."""
    done = run(promtool, *argv)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "SUCCESS" in output and expected in output, output
    assert "duplicate" not in output.lower() and "FAILED" not in output, output


# --- the rules themselves -------------------------------------------------------------


def test_every_required_alert_is_defined_with_summary_and_description() -> None:
    alerts = [rule for rule in rules() if "alert" in rule]
    assert {rule["alert"] for rule in alerts} == REQUIRED_ALERTS
    for rule in alerts:
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert "{{ $labels." in rule["annotations"]["summary"], rule["alert"]
        assert rule["annotations"]["description"].strip(), rule["alert"]


def test_target_down_waits_for_the_sla_min_duration() -> None:
    (rule,) = [rule for rule in rules() if rule.get("alert") == "SlaTargetDown"]
    assert rule["for"] == "5m"
    assert 'role="target"' in rule["expr"]
    assert "min_duration" in rule["annotations"]["description"]
    assert "min_duration" in RULES.read_text(encoding="utf-8").split("- alert: SlaTargetDown")[0]


def test_controls_down_fires_before_target_down_so_it_can_inhibit_it() -> None:
    durations = {rule["alert"]: rule.get("for", "0m") for rule in rules() if "alert" in rule}
    minutes = {name: int(value.rstrip("m")) for name, value in durations.items()}
    assert minutes["SlaControlsDown"] < minutes["SlaTargetDown"]


def test_every_alert_is_tested_both_firing_and_silent() -> None:
    firing: set[str] = set()
    silent: set[str] = set()
    recorded_tested: set[str] = set()
    for case in load_yaml(RULE_TESTS)["tests"]:
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else silent).add(check["alertname"])
        for check in case.get("promql_expr_test", []):
            recorded_tested |= series_names(check["expr"])
    assert firing >= REQUIRED_ALERTS, f"never tested firing: {REQUIRED_ALERTS - firing}"
    assert silent >= REQUIRED_ALERTS, f"never tested silent: {REQUIRED_ALERTS - silent}"
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    assert recorded <= recorded_tested, f"untested recording rules: {recorded - recorded_tested}"


# --- series names ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        (
            'sum by (error) (rate(slawitness_probes_total{result="failure"}[$__rate_interval]))',
            {"slawitness_probes_total"},
        ),
        (
            "time() - slawitness_last_probe_timestamp_seconds"
            " > 3 * slawitness_probe_interval_seconds",
            {"slawitness_last_probe_timestamp_seconds", "slawitness_probe_interval_seconds"},
        ),
        (
            "changes(a[15m]) == 0 and a offset 15m and b == 1",
            {"a", "b"},
        ),
        ('max by (vantage) (probe_success{role="control"}) == 0', {"probe_success"}),
        ("avg(x) without (instance, job) / on (vantage) group_left (target) y", {"x", "y"}),
        ('up{job=~"slawitness.*"} == 0', {"up"}),
        (
            "probe_ssl_earliest_cert_expiry - time() < 14 * 86400 and 1e9 > 0",
            {"probe_ssl_earliest_cert_expiry"},
        ),
        ("record:with:colons_1h", {"record:with:colons_1h"}),
    ],
)
def test_series_names_finds_metrics_and_nothing_else(expr: str, names: set[str]) -> None:
    assert series_names(expr) == names


def test_every_served_series_is_documented_in_the_readme() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    undocumented = sorted(name for name in METRIC_NAMES if f"`{name}" not in readme)
    assert not undocumented, f"series missing from README.md: {undocumented}"


def dashboard_exprs() -> list[tuple[str, str]]:
    """(where, PromQL) for every panel query and every query variable's metric selector."""
    found = [
        (f"panel {panel['title']!r}", target["expr"])
        for panel in panels()
        for target in panel.get("targets", [])
    ]
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]["query"]
            match = _LABEL_VALUES.match(query)
            assert match, f"variable {variable['name']}: not a label_values() query: {query}"
            found.append((f"variable {variable['name']}", match.group(1) or ""))
    return found


def test_rules_and_dashboard_use_only_series_slawitness_serves() -> None:
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    allowed = exporter_series() | PROMETHEUS_BUILTINS | recorded
    exprs = [(f"rule {rule.get('alert') or rule['record']}", rule["expr"]) for rule in rules()]
    exprs += dashboard_exprs()
    used: set[str] = set()
    for where, expr in exprs:
        names = series_names(expr)
        assert names <= allowed, f"{where} uses unknown series {sorted(names - allowed)}"
        used |= names
    for name in (
        "probe_success",
        "probe_http_duration_seconds",
        "slawitness_probes_total",
        "slawitness_store_head_seq",
        "slawitness_collector_up",
    ):
        assert name in used, f"{name} is used by no rule or panel"


# --- the Grafana dashboard ------------------------------------------------------------


def test_dashboard_panels_have_titles_queries_and_the_datasource_variable() -> None:
    board = dashboard()
    assert 36 <= board["schemaVersion"] <= 39
    assert board["uid"] and board["title"]
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    assert len(panels()) >= 10
    for panel in panels():
        assert panel.get("title"), f"panel {panel['id']} has no title"
        assert panel.get("targets"), f"panel {panel['title']!r} has no query"
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"])
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]
            assert target["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]


def test_dashboard_variables_select_vantage_and_target_from_probe_success() -> None:
    variables = {v["name"]: v for v in dashboard()["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"
    for name in ("vantage", "target"):
        query = variables[name]["query"]["query"]
        assert query.startswith("label_values(probe_success"), query
        assert query.rstrip().endswith(f", {name})"), query
    assert "$vantage" in variables["target"]["query"]["query"], "target should follow vantage"


@pytest.mark.parametrize(
    ("panel_type", "expected"),
    [
        ("bargauge", "avg_over_time(probe_success{"),
        ("state-timeline", "probe_success{"),
        ("timeseries", "avg by (probe, phase) (probe_http_duration_seconds{"),
        ("timeseries", 'probe_icmp_duration_seconds{phase="rtt"'),
        ("timeseries", "slawitness_probe_loss_ratio{"),
        ("timeseries", 'sum by (error) (rate(slawitness_probes_total{result="failure"'),
        ("bargauge", "probe_ssl_earliest_cert_expiry{"),
        ("timeseries", "slawitness_store_head_seq{"),
        ("timeseries", "slawitness_store_records{"),
        ("state-timeline", "slawitness_collector_up{"),
    ],
)
def test_dashboard_shows(panel_type: str, expected: str) -> None:
    exprs = [t["expr"] for p in panels() if p["type"] == panel_type for t in p["targets"]]
    assert any(expr.startswith(expected) for expr in exprs), f"no {panel_type} of {expected}"


def test_grafana_provisioning_points_at_prometheus_and_the_dashboard_folder() -> None:
    (source,) = load_yaml(PROVISIONING / "datasources" / "slawitness.yml")["datasources"]
    assert source["type"] == "prometheus" and source["isDefault"] is True
    assert source["url"].startswith("http://127.0.0.1:9090")
    (provider,) = load_yaml(PROVISIONING / "dashboards" / "slawitness.yml")["providers"]
    assert provider["type"] == "file" and provider["options"]["path"]


# --- a real Prometheus against a loopback exporter ------------------------------------


class _Exporter(ThreadingHTTPServer):
    """A loopback stand-in for slawitness that records each scrape's path and query."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ExporterHandler)
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        self.lock = threading.Lock()


class _ExporterHandler(BaseHTTPRequestHandler):
    """Answers /metrics and /probe with one probe_success series, like the real exporter."""

    server: _Exporter

    def do_GET(self) -> None:
        """Serve the exposition format; /probe echoes its target and probe into the labels."""
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        with self.server.lock:
            self.server.requests.append((url.path, query))
        target = query.get("target", ["vps1"])[0]
        probe = query.get("probe", ["web"])[0]
        body = (
            "# TYPE probe_success gauge\n"
            f'probe_success{{vantage="office",target="{target}",probe="{probe}",'
            'kind="http",role="target"} 1\n'
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def exporter() -> Iterator[_Exporter]:
    """A running loopback exporter on a free port."""
    server = _Exporter()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _scrape_configs_for(exporter_address: str) -> list[dict[str, Any]]:
    """The shipped scrape configs, pointed at the loopback exporter and scraping every second."""
    jobs: list[dict[str, Any]] = load_yaml(CONFIG)["scrape_configs"]
    for job in jobs:
        job.update(scrape_interval="1s", scrape_timeout="1s")
        if job["job_name"] == "slawitness":
            job["static_configs"] = [{"targets": [exporter_address]}]
        for step in job.get("relabel_configs", []):
            if step.get("target_label") == "__address__":
                assert step["replacement"] == "127.0.0.1:9925"
                step["replacement"] = exporter_address
    return jobs


def test_prometheus_scrapes_probe_urls_built_by_the_relabeling(
    exporter: _Exporter, prometheus_factory: PrometheusFactory
) -> None:
    host, port = exporter.server_address[:2]
    server = prometheus_factory(_scrape_configs_for(f"{host!s}:{port}"), rule_files=[RULES])

    series = server.wait_for('probe_success{job="slawitness_probe"}', lambda r: len(r) == 3)
    labels = {
        (s["metric"]["instance"], s["metric"]["target"], s["metric"]["probe"]) for s in series
    }
    assert labels == {
        ("vps1/web", "vps1", "web"),
        ("vps1/ping", "vps1", "ping"),
        ("vps2/dns", "vps2", "dns"),
    }
    assert all("exported_target" not in s["metric"] for s in series)
    server.wait_for('up{job="slawitness"}', lambda r: sample_values(r) == [1.0])

    with exporter.lock:
        probes = {
            (q["target"][0], q["probe"][0]) for path, q in exporter.requests if path == "/probe"
        }
        paths = {path for path, _ in exporter.requests}
    assert probes == {("vps1", "web"), ("vps1", "ping"), ("vps2", "dns")}
    assert paths == {"/probe", "/metrics"}
