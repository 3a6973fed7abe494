"""EVIDENCE.md's worked example is the real thing: the script runs, says what the document
says, and the document shows exactly the commands the script runs."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from tests.rig.prometheus import free_port

REPO = Path(__file__).resolve().parents[1]
DOC = (REPO / "EVIDENCE.md").read_text(encoding="utf-8")
_DATES = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def _commands(text: str) -> list[str]:
    return [_DATES.sub("T", line) for line in text.splitlines() if line.startswith("$ ")]


def test_the_worked_example_runs_and_shows_what_the_document_says(tmp_path: Path) -> None:
    done = subprocess.run(
        ["bash", str(REPO / "docs" / "evidence_example.sh"), str(tmp_path / "example")],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "EXAMPLE_PORT": str(free_port())},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert _commands(out) == _commands(DOC), "EVIDENCE.md shows the commands the script runs"
    for phrase in (
        "proof OK",
        "seq 7: probe vps1 web FAILED (refused)",
        "consistent: the store holds the 5 records the checkpoint signed and 4 after them",
        "OK: ",
        "TRUNCATED: the checkpoint signed 9 records, the store holds 6: seq 7-9 are gone",
    ):
        assert phrase in out and phrase in DOC, phrase
    assert "Traceback" not in out + done.stderr
