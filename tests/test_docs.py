"""The README is checked against the code: every verb, option, probe kind and key is documented."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from cli.main import cli
from collector.config.model import Config, Control, Provider, Target
from collector.config.sla_terms import DowntimeRule, SlaTerms
from collector.probes import KINDS
from collector.probes.base import ProbeSpec

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "slawitness") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            found.extend(_commands(command, path))
        else:
            found.append((path, command))
    return found


@pytest.mark.parametrize(("path", "command"), _commands(cli))
def test_every_verb_and_its_options_are_in_the_readme(path: str, command: click.Command) -> None:
    assert f"`{path}" in README, f"{path} is not documented in README.md"
    for param in command.params:
        for opt in getattr(param, "opts", []):
            if opt.startswith("--") and opt not in ("--help",):
                assert opt in README, f"{path} {opt} is not documented in README.md"


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_probe_kind_and_key_is_in_the_readme(kind: str) -> None:
    row = next((line for line in README.splitlines() if line.startswith(f"| `{kind}` |")), None)
    assert row is not None, f"probe kind {kind} has no row in README.md"
    own_keys = set(KINDS[kind].spec.model_fields) - set(ProbeSpec.model_fields)
    for key in own_keys:
        assert f"`{key}`" in row, f"{kind}.{key} is not documented in its README row"


@pytest.mark.parametrize(
    "model", [Config, Target, Control, Provider, SlaTerms, DowntimeRule, ProbeSpec]
)
def test_every_config_key_is_in_the_readme(model: type) -> None:
    for key in model.model_fields:
        if key in {"role", "kind"}:
            continue
        assert f"{key}:" in README or f"`{key}`" in README, f"{model.__name__}.{key} undocumented"
