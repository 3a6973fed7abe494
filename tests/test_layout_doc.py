"""The README's Layout section names every package there is, in both languages.

A newcomer finds the architecture from that one table; a package added or moved without it
would leave the map wrong, so the map is checked against the tree.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
README = {
    "en": ((ROOT / "README.md").read_text(encoding="utf-8"), "## Layout"),
    "zh": ((ROOT / "README.zh-CN.md").read_text(encoding="utf-8"), "## 代码结构"),
}
TOPS = ("cli", "collector", "reports")
TOP_LEVEL_MODULE_LIMIT = 12
"""The issue that drew the layout allows `collector/` no more than a dozen top-level modules."""


def packages() -> list[str]:
    """Every package directory under the three top-level packages, as `a/b/` paths."""
    return sorted(
        f"{init.parent.relative_to(ROOT).as_posix()}/"
        for top in TOPS
        for init in (ROOT / top).rglob("__init__.py")
        if init.parent.relative_to(ROOT).as_posix() not in ("collector", "reports")
    )


def section(text: str, heading: str) -> str:
    """The text of one `##` section of a README."""
    start = text.index(heading + "\n")
    following = re.search(r"^## ", text[start + len(heading) :], flags=re.M)
    end = start + len(heading) + following.start() if following else len(text)
    return text[start:end]


@pytest.mark.parametrize("language", sorted(README))
def test_the_layout_table_names_every_package(language: str) -> None:
    text, heading = README[language]
    table = section(text, heading)
    named = set(re.findall(r"`((?:cli|collector|reports)/[\w/]*)`", table))
    for package in packages():
        parent = package.rsplit("/", 2)[0] + "/"
        assert package in named or parent in named, f"{language} README: {package} missing"
    for path in named:
        assert (ROOT / path).is_dir(), f"{language} README names {path}, which does not exist"


def test_each_package_says_what_lives_there_and_what_it_may_import() -> None:
    for package in [*packages(), "collector/", "reports/"]:
        init = (ROOT / package / "__init__.py").read_text(encoding="utf-8")
        assert init.startswith('"""'), f"{package}__init__.py has no docstring"
        assert "import" in init.split('"""')[1].lower(), f"{package}__init__.py: no import rule"


def test_collector_has_no_more_than_a_dozen_top_level_modules() -> None:
    modules = sorted(p.name for p in (ROOT / "collector").glob("*.py"))
    assert len(modules) <= TOP_LEVEL_MODULE_LIMIT, modules
