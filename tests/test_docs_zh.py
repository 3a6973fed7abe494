"""README.zh-CN.md says what README.md says: same set-up commands, same example config."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from collector.config.model import Config

ROOT = Path(__file__).parents[1]
EN = (ROOT / "README.md").read_text(encoding="utf-8")
ZH = (ROOT / "README.zh-CN.md").read_text(encoding="utf-8")


def blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def test_the_two_set_up_commands_are_the_same() -> None:
    assert blocks(ZH, "sh")[0] == blocks(EN, "sh")[0]


def test_the_example_config_is_the_same_config() -> None:
    assert yaml.safe_load(blocks(ZH, "yaml")[0]) == yaml.safe_load(blocks(EN, "yaml")[0])


def test_the_chinese_readme_covers_what_the_issue_asks() -> None:
    for needed in ("slawitness demo", "slawitness init --deploy", "ping_group_range",
                   "AmbientCapabilities=CAP_NET_RAW", "FCC", "BEREC", "MIC", "MIIT",
                   "slawitness note add", "docs/config-reference.md", "--quiet",
                   "deploy/prometheus/"):  # fmt: skip
        assert needed in ZH, needed
    assert "[中文](README.zh-CN.md)" in EN and "[English](README.md)" in ZH


def test_the_example_config_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VPS1_TOKEN", "Bearer example")
    config = Config.model_validate(yaml.safe_load(blocks(EN, "yaml")[0]))
    assert [c.name for c in config.controls] == ["gateway", "resolver"]
    assert config.targets[0].sla is not None
