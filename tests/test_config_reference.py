"""The configuration reference is generated from the models, and the committed copy matches.

A key added to a model, or a field left without a docstring, fails here: the reference is
written from the models, so the only ways to drift are a stale file and an empty description.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, Field, create_model

from collector.config.model import Config, Control, Provider, Target
from collector.config.reference import (
    REGENERATE,
    documented_models,
    main,
    reference_markdown,
)
from collector.config.sla_terms import (
    CreditTier,
    DowntimeRule,
    OneOffWindow,
    Percent,
    RecurringWindow,
    SlaTerms,
)
from collector.probes import KINDS, ProbeKind, ProbeSpec, tcp
from collector.probes.http import BasicAuth

ROOT = Path(__file__).parents[1]
DOC = ROOT / "docs" / "config-reference.md"
REFERENCE = reference_markdown()

CONFIG_MODELS: list[type[BaseModel]] = [
    Config,
    Target,
    Control,
    Provider,
    SlaTerms,
    DowntimeRule,
    OneOffWindow,
    RecurringWindow,
    CreditTier,
    ProbeSpec,
    BasicAuth,
    *(kind.spec for kind in KINDS.values()),
]


def _part(heading: str) -> str:
    """The text under a `### ` heading, up to the next heading of that level or above."""
    after = REFERENCE.split(f"\n{heading}\n", 1)[1]
    return after.split("\n### ", 1)[0].split("\n## ", 1)[0]


def _row(path: str, within: str = REFERENCE) -> list[str]:
    """The cells of the one table row documenting `path`, the key's own cell left out."""
    prefix = f"| `{path}` | "
    rows = [line for line in within.splitlines() if line.startswith(prefix)]
    assert len(rows) == 1, f"{path}: expected one row, found {len(rows)}"
    return [cell.strip() for cell in rows[0][len(prefix) : -1].split(" | ")]


def test_committed_reference_is_up_to_date() -> None:
    committed = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    assert committed == REFERENCE, f"docs/config-reference.md is stale; run: {REGENERATE}"


def test_header_says_generated_and_how_to_regenerate() -> None:
    head = "\n".join(REFERENCE.splitlines()[:10])
    assert "generated" in head
    assert REGENERATE in head


def test_every_config_model_is_in_the_walk() -> None:
    walked = documented_models()
    missing = [model.__name__ for model in CONFIG_MODELS if model not in walked]
    assert not missing, f"not reached from Config or the probe registry: {missing}"


@pytest.mark.parametrize(
    ("model", "key"),
    [(model, key) for model in documented_models() for key in model.model_fields],
    ids=lambda value: value if isinstance(value, str) else value.__name__,
)
def test_every_field_has_a_description(model: type[BaseModel], key: str) -> None:
    description = model.model_fields[key].description
    assert description and description.strip(), (
        f"{model.__name__}.{key}: add a docstring under the field"
    )
    assert description.rstrip().endswith("."), f"{model.__name__}.{key}: end it with a period"


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_probe_kind_and_key_is_in_the_reference(kind: str) -> None:
    common, own = _part("### Keys of every probe"), _part(f"### `kind: {kind}`")
    for key in KINDS[kind].spec.model_fields:
        where = common if key in ProbeSpec.model_fields else own
        assert f"| `probes[].{key}` |" in where, f"{kind}.{key} is missing"
    assert f"`{kind}`" in _row("probes[].kind", common)[0]


@pytest.mark.parametrize(
    ("path", "yaml_type", "default", "constraints"),
    [
        ("vantage", "string", "required", "at least 1 character, at most 64 characters"),
        ("store", "file path", "`evidence.db`", ""),
        ("targets", "list of mappings (see `targets[]`)", "required", "at least 1 entry"),
        ("controls", "list of mappings (see `controls[]`)", "`[]`", ""),
        ("targets[].probes", "list of probes (see Probes)", "required", "at least 1 entry"),
        ("targets[].role", "`target`", "`target`", ""),
        ("controls[].role", "`control`", "`control`", ""),
        ("targets[].provider.name", "string", "unset", ""),
        ("targets[].sla", "mapping (see `targets[].sla`)", "unset", ""),
        ("targets[].sla.uptime", "percent (`99.9` is 99.9 %)", "required", "> 0, <= 100"),
        ("targets[].sla.downtime", "mapping (see `targets[].sla.downtime`)", "the defaults", ""),
        ("targets[].sla.downtime.probes", "one of `any`, `all` or list of strings", "`any`", ""),
        ("targets[].sla.downtime.min_duration", "duration (`30s`, `5m`)", "`0s`", ""),
        ("targets[].sla.maintenance[].start", "date and time with a zone", "required", ""),
        ("targets[].sla.maintenance[].cron", "string", "required", ""),
        ("targets[].sla.maintenance[].duration", "duration (`30s`, `5m`)", "required", ""),
        ("targets[].sla.credits[].below", "percent (`99.9` is 99.9 %)", "required", "> 0"),
        ("targets[].sla.monthly_fee", "decimal number", "unset", ">= 0"),
        ("targets[].sla.currency", "string", "unset", "matches `^[A-Z]{3}$`"),
        ("targets[].sla.confirm_vantages", "integer", "`1`", ">= 1"),
        ("targets[].sla.latency_threshold", "duration (`30s`, `5m`)", "unset", ""),
        ("targets[].sla.loss_threshold", "percent (`99.9` is 99.9 %)", "unset", "<= 100"),
        ("probes[].interval", "duration (`30s`, `5m`)", "`60s`", ""),
        ("probes[].ip_version", "one of `auto`, `4`, `6`", "`auto`", ""),
        ("probes[].spacing", "duration (`30s`, `5m`)", "`200ms`", ""),
        ("probes[].payload_size", "integer", "`56`", ">= 0, <= 65000"),
        ("probes[].expect_status", "list of integers", "unset", ""),
        ("probes[].headers", "mapping of string to secret", "`{}`", ""),
        ("probes[].basic_auth.password", "secret", "required", ""),
        ("probes[].tls_verify", "boolean", "`true`", ""),
        ("probes[].max_body_bytes", "integer", "`1048576`", ">= 0"),
        ("probes[].transport", "one of `udp`, `tcp`", "`udp`", ""),
    ],
)
def test_key_rows_say_type_default_and_constraints(
    path: str, yaml_type: str, default: str, constraints: str
) -> None:
    cells = _row(path)
    assert cells[0].startswith(yaml_type)
    assert cells[1].startswith(default)
    assert constraints in cells[2]
    assert cells[3], f"{path}: no description"


@pytest.mark.parametrize(("kind", "default"), [("tcp", "required"), ("dns", "`53`")])
def test_a_key_two_kinds_share_is_documented_under_each(kind: str, default: str) -> None:
    cells = _row("probes[].port", _part(f"### `kind: {kind}`"))
    assert cells[:3] == ["integer", default, ">= 1, <= 65535"]


def test_maintenance_forms_are_both_described() -> None:
    assert "## `targets[].sla.maintenance[]` (one off window)" in REFERENCE
    assert "## `targets[].sla.maintenance[]` (recurring window)" in REFERENCE


def test_an_added_top_level_key_shows_up() -> None:
    extended = create_model(
        "Extended",
        __base__=Config,
        retention_days=(int, Field(default=30, ge=1, description="Days to keep evidence.")),
    )
    text = reference_markdown(extended)
    assert "| `retention_days` | integer | `30` | >= 1 | Days to keep evidence. |" in text
    assert "retention_days" not in REFERENCE


def test_an_added_nested_key_shows_up_at_its_path() -> None:
    terms = create_model(
        "Terms",
        __base__=SlaTerms,
        penalty=(Percent | None, Field(default=None, description="An extra penalty.")),
    )
    target = create_model("WatchedHost", __base__=Target, sla=(terms | None, None))
    root = create_model("Root", __base__=Config, targets=(list[target], Field(min_length=1)))
    text = reference_markdown(root)
    assert "| `targets[].sla.penalty` | percent (`99.9` is 99.9 %) | unset |" in text
    assert "targets[].sla.penalty" not in REFERENCE


class _SmtpSpec(ProbeSpec):
    """An smtp probe's config keys."""

    kind: Literal["smtp"]
    """`smtp`: read the server's greeting."""
    port: int = Field(default=25, ge=1, le=65535)
    """The SMTP port."""
    banner: str | None = None
    """Text the greeting must contain."""


def test_an_added_probe_kind_shows_up_with_its_keys() -> None:
    kinds = {**KINDS, "smtp": ProbeKind(_SmtpSpec, tcp.probe)}
    text = reference_markdown(kinds=kinds)
    assert "### `kind: smtp`" in text
    assert "| `probes[].banner` | string | unset |  | Text the greeting must contain. |" in text
    assert "one of `icmp`, `tcp`, `http`, `dns`, `smtp`" in text
    assert _SmtpSpec in documented_models(kinds=kinds)


def test_main_prints_the_reference(capsys: pytest.CaptureFixture[str]) -> None:
    main()
    assert capsys.readouterr().out == REFERENCE


def test_the_regenerate_command_gives_the_same_text_in_a_fresh_process() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "collector.config.reference"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=True,
    )
    assert done.stdout == REFERENCE
