"""Provider presets: every shipped file loads, says where its terms come from and what it
leaves out; a config starts from one and overrides it; `init --provider` and
`check-config --explain` use them. A month's report under each preset, with figures computed
by hand, is in tests/test_preset_scenarios.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from collector.config.loader import ConfigError, parse_config
from collector.config.presets import FILL_IN, PRESET_NAMES, load_preset
from collector.config.sla_terms import SlaTerms
from tests.clirun import slawitness

PING = [{"name": "ping", "kind": "icmp", "interval": "60s", "timeout": "2s"}]
PRESETS_FOLDER = Path(__file__).resolve().parent.parent / "collector/config/presets"


def with_users_figures(name: str, **more: Any) -> dict[str, Any]:
    """The `sla:` a user writes for preset `name`: the fee, the currency, and what the page
    did not state."""
    asked = {key: 99.9 for key in load_preset(name).ask}
    return {"preset": name, "monthly_fee": 24, "currency": "USD", **asked, **more}


def config_text(sla: dict[str, Any], *, controls: bool = False) -> str:
    data: dict[str, Any] = {
        "vantage": "office",
        "store": "evidence.db",
        "targets": [{"name": "vps1", "host": "203.0.113.10", "probes": PING, "sla": sla}],
    }
    if controls:
        data["controls"] = [{"name": "resolver", "host": "198.51.100.53", "probes": PING}]
    return yaml.safe_dump(data, sort_keys=False)


def test_every_named_preset_is_shipped_and_no_other() -> None:
    assert sorted(p.stem for p in PRESETS_FOLDER.glob("*.yml")) == sorted(PRESET_NAMES)


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_each_preset_validates_and_says_where_each_term_is(name: str) -> None:
    raw = yaml.safe_load((PRESETS_FOLDER / f"{name}.yml").read_text())
    assert raw["name"] == name
    assert set(raw) <= {"name", "provider", "service", "source", "note", "ask", "terms",
                        "pending", "clauses", "not_encoded", "not_found"}  # fmt: skip
    preset = load_preset(name)
    assert preset.url.startswith("https://") and preset.read_on.isoformat() == "2026-12-07"
    assert preset.provider and preset.service
    for key in ("monthly_fee", "currency"):
        assert key not in preset.terms, f"{name}: {key} is the user's, not the page's"
    for term in [*preset.terms, *preset.pending, *preset.ask]:
        clause = preset.clauses.get(term)
        assert clause is not None or term in preset.ask, f"{name}: no clause for {term}"
        if clause is not None:
            assert clause.where.strip() and len(clause.text) > 20, f"{name}: {term}"
    # what the page says that the model cannot, and what was not on it, are named
    assert preset.not_encoded or preset.not_found
    assert all(line.strip() for line in [*preset.not_encoded, *preset.not_found])
    for term in preset.ask:
        assert any(term in line for line in preset.not_found), f"{name}: why ask for {term}?"
    terms = SlaTerms.model_validate(with_users_figures(name))
    assert terms.preset == name
    assert terms.source is not None and terms.source.url == preset.url
    assert terms.source.read_on == preset.read_on
    for term in preset.terms:
        assert terms.source.terms[term] == preset.clauses[term].where  # type: ignore[index]
        assert term in SlaTerms.model_fields


def test_the_vultr_preset_holds_its_outage_credit_table() -> None:
    terms = SlaTerms.model_validate(with_users_figures("vultr"))
    assert terms.uptime == 100 and terms.claim_requires_ticket is True
    assert terms.incident_credits is not None and terms.incident_credits.unit == "service_hours"
    table = [(b.at_least, int(b.credit)) for b in terms.incident_credits.buckets]
    assert table == [(0, 12), (600, 24), (3600, 48), (7200, 120), (14400, 240), (25200, 672)]


def test_a_key_given_beside_the_preset_replaces_the_presets_whole() -> None:
    terms = SlaTerms.model_validate(
        with_users_figures("digitalocean", uptime=99.95, downtime={"min_duration": "10m"})
    )
    assert terms.uptime == 99.95
    # the preset's 5-minute granule went with its `downtime`: replaced, not merged into
    assert terms.downtime.min_duration == 600 and terms.downtime.granule is None
    assert terms.hourly_credit is not None  # what was not given stays the preset's
    assert terms.source is not None
    assert "uptime" not in terms.source.terms and "downtime" not in terms.source.terms
    assert terms.source.terms["hourly_credit"] == "Service Credits"


def test_a_source_given_beside_the_preset_is_the_one_cited() -> None:
    own = {"url": "https://example.com/my-contract", "read_on": "2026-11-01"}
    terms = SlaTerms.model_validate(with_users_figures("linode", source=own))
    assert terms.source is not None and terms.source.url == own["url"]
    assert terms.uptime == 99.99 and terms.maintenance_notice == 86_400


@pytest.mark.parametrize(
    ("sla", "line"),
    [
        (
            {"preset": "vulture", "monthly_fee": 24, "currency": "USD"},
            "slawitness.yml: targets[0].sla.preset: unknown preset 'vulture' (known: aws-ec2,"
            " google-compute-engine, azure-vm, hetzner-cloud, ovhcloud, digitalocean, vultr,"
            " linode, upcloud, alibaba-ecs, tencent-cvm)",
        ),
        (
            {"preset": "upcloud"},
            "slawitness.yml: targets[0].sla.monthly_fee: the preset upcloud's compensation are"
            " paid out of the monthly fee: give monthly_fee and currency (e.g. sla: {preset:"
            " upcloud, monthly_fee: 24, currency: USD})",
        ),
        (
            {"preset": "vultr", "monthly_fee": FILL_IN, "currency": "USD"},
            "slawitness.yml: targets[0].sla.monthly_fee: fill in what the host costs per month,"
            " from your invoice (slawitness init left <fill in>)",
        ),
        (
            {"preset": "tencent-cvm"},
            "slawitness.yml: targets[0].sla.uptime: the preset tencent-cvm's page does not state"
            " it: give the contract's uptime, from your own copy of it",
        ),
        (
            {"preset": "vultr", "monthly_fee": 24, "currency": "USD", "uptme": 99},
            "slawitness.yml: targets[0].sla.uptme: unknown key",
        ),
    ],
)
def test_a_preset_mistake_is_one_line_naming_the_key(sla: dict[str, Any], line: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(config_text(sla), Path("slawitness.yml"))
    assert list(caught.value.stderr_lines()) == [line]


def test_init_with_a_provider_writes_a_config_check_config_takes_once_the_fee_is_in(
    tmp_path: Path,
) -> None:
    config = tmp_path / "slawitness.yml"
    done = slawitness("init", "--config", str(config), "--provider", "vultr", "--no-timestamping")
    assert done.returncode == 0, done.stderr
    assert "fill in monthly_fee and currency" in done.stdout
    text = config.read_text()
    assert "preset: vultr" in text and "https://www.vultr.com/legal/sla/" in text
    assert "2026-12-07" in text and "sole discretion" in text  # a not-encoded line
    assert (tmp_path / "evidence.db").exists() and (tmp_path / "slawitness.key").exists()
    waiting = slawitness("check-config", "--config", str(config))
    assert waiting.returncode == 2
    assert waiting.stderr.strip().endswith(
        "targets[0].sla.monthly_fee: fill in what the host costs per month, from your invoice"
        " (slawitness init left <fill in>)"
    )
    filled = text.replace(f'monthly_fee: "{FILL_IN}"', "monthly_fee: 24")
    config.write_text(filled.replace(f'currency: "{FILL_IN}"', "currency: USD"))
    done = slawitness("check-config", "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert "SLA 100.0% per month (UTC)" in done.stdout


def test_init_refuses_a_provider_it_does_not_know(tmp_path: Path) -> None:
    done = slawitness("init", "--config", str(tmp_path / "c.yml"), "--provider", "vulture")
    assert done.returncode == 2 and not (tmp_path / "c.yml").exists()
    assert "'vulture' is not one of" in done.stderr and "'upcloud'" in done.stderr


def test_check_config_explain_gives_the_terms_and_clauses_on_one_screen(tmp_path: Path) -> None:
    config = tmp_path / "slawitness.yml"
    config.write_text(config_text(with_users_figures("upcloud", monthly_fee=31)))
    plain = slawitness("check-config", "--config", str(config))
    done = slawitness("check-config", "--config", str(config), "--explain")
    assert done.returncode == 0, done.stderr
    explained = done.stdout.splitlines()[len(plain.stdout.splitlines()) :]
    assert 10 < len(explained) < 40, "\n".join(explained)
    text = "\n".join(explained)
    assert explained[0].startswith("target vps1: UpCloud Ltd, Cloud Servers (preset upcloud;")
    page = "https://www.upcloud.com/support/agreements-and-terms-of-use/"
    assert f"{page}, read on 2026-12-07" in text
    assert "  uptime: 100% per calendar month in UTC" in explained
    assert '    [Service Guarantee] "UpCloud will guarantee 100% virtual server' in text
    assert "50x the prorated fee for each incident of 5m or more" in text
    assert "at most 100% of the fee per incident" in text and "fee 31 USD" in text
    assert "one announced less than 1d ahead counts as downtime" in text
    assert "within 15 days of each incident; credits are owed only when asked for" in text
    assert '[Payment of Compensation] "When a failure in the Services has been corrected' in text
    preset = load_preset("upcloud")
    for line in [*preset.not_encoded, *preset.not_found]:
        assert f"    - {line}" in explained
    assert "  could not be encoded:" in explained and "  not found on the page:" in explained


def test_explain_names_an_override_as_the_configs_own(tmp_path: Path) -> None:
    config = tmp_path / "slawitness.yml"
    config.write_text(config_text(with_users_figures("upcloud", uptime=99.9)))
    done = slawitness("check-config", "--config", str(config), "--explain")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    uptime = lines.index("  uptime: 99.9% per calendar month in UTC")
    assert not lines[uptime + 1].startswith("    ["), "an override has no page clause"


def test_docs_presets_lists_each_presets_source_terms_and_gaps() -> None:
    doc = (PRESETS_FOLDER.parent.parent.parent / "docs/presets.md").read_text()
    for name in PRESET_NAMES:
        preset = load_preset(name)
        assert f"## `{name}`: {preset.provider}" in doc
        assert f"<{preset.url}>, read on {preset.read_on.isoformat()}" in doc
        for term in preset.terms:
            assert f"| `{term}` |" in doc
        for line in [*preset.not_encoded, *preset.not_found]:
            assert f"- {line}\n" in doc, f"{name}: {line}"


def test_explain_states_a_configs_own_terms_with_their_citations(tmp_path: Path) -> None:
    sla = {
        "uptime": 99.5, "downtime": {"probes": "all", "min_duration": "5m"},
        "credits": [{"below": 99.5, "credit": 10}], "monthly_fee": 40, "currency": "EUR",
        "claim_window": {"days": 5, "business_days": True},
        "source": {"url": "https://host.example/sla", "read_on": "2026-11-02",
                   "terms": {"credits": "§3 Credits"}},
    }  # fmt: skip
    config = tmp_path / "slawitness.yml"
    config.write_text(config_text(sla))
    done = slawitness("check-config", "--config", str(config), "--explain")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    start = lines.index(
        "target vps1: SLA terms from the config (https://host.example/sla, read on 2026-11-02)"
    )
    assert lines[start + 1 :] == [
        "  uptime: 99.5% per calendar month in UTC",
        "  down: while every probe fails; outages shorter than 5m do not count",
        "  clock: downtime counts from the outage's first down second",
        "  exclusions: 0 maintenance windows listed, each left out of the month as announced",
        "  remedy: tiers of the monthly fee (below 99.5%: 10%); fee 40 EUR",
        "    [§3 Credits]",
        "  claim: within 5 business days (Mon-Fri) of the month's end",
    ]
