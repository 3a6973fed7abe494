"""The checks CI holds the code to: ruff's lint and format, mypy's types, and a set-up that
a newcomer can follow (the README's commands install what CI installs)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from mypy import api as mypy_api

ROOT = Path(__file__).parents[1]


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    ruff = shutil.which("ruff")
    assert ruff is not None, "ruff is a test dependency: pip install -e '.[test]'"
    return subprocess.run([ruff, *args], cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_finds_nothing_to_lint() -> None:
    done = _ruff("check", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_file_is_formatted() -> None:
    done = _ruff("format", "--check", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_finds_no_type_error() -> None:
    out, err, status = mypy_api.run(["--config-file", str(ROOT / "pyproject.toml")])
    assert status == 0, out + err


def _apt_packages(command: str) -> list[str]:
    """The package names of the first `apt-get install` in a shell command line."""
    words = shlex.split(command.replace("\\\n", " "))
    start = words.index("install") + 1
    names = []
    for word in words[start:]:
        if word in {"&&", ";", "|"}:
            break
        if not word.startswith("-"):
            names.append(word)
    return names


def _readme_test_command(name: str) -> str:
    text = (ROOT / name).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if re.match(r"apt-get install .*pytest", line)]
    assert len(lines) == 1, f"{name}: one test command line expected, found {len(lines)}"
    return lines[0]


def _ci_install() -> str:
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    found = re.search(r"^apt-get install .*?(?<!\\)\n", script, re.M | re.S)
    assert found is not None, ".ci/run: no apt-get install"
    return found.group(0)


@pytest.mark.parametrize("readme", ["README.md", "README.zh-CN.md"])
def test_the_readme_test_command_installs_what_ci_installs(readme: str) -> None:
    command = _readme_test_command(readme)
    assert _apt_packages(command) == _apt_packages(_ci_install())
    assert command.endswith("&& python3 -m pytest")


def test_ci_runs_the_readme_test_command() -> None:
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    last = [line for line in script.splitlines() if line and not line.startswith("#")][-1]
    assert last == "python3 -m pytest"
    assert "pip install -q -e '.[test]'" in script
