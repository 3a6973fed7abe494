"""The one exception tree (collector.portable.errors): every error of ours has its place in it.

An error outside the tree would reach the command line as "internal error" and exit 70, and
one under the wrong branch would end with another code; both are found here by loading every
module of ours and walking the classes it defines, so a new error cannot be forgotten.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import cli
import collector
import reports
from cli.main import cli as command
from collector.config.loader import ConfigError
from collector.core.output_paths import OutputPathError
from collector.documents.attachments import AttachError, FolderError
from collector.evidence.store_errors import StoreError, StoreMissing
from collector.portable.errors import (
    EXIT_BUG,
    EXIT_REPORT,
    EXIT_STORE,
    EXIT_TAMPERED,
    EXIT_USAGE,
    ReportError,
    SlawitnessError,
    StoreAccessError,
    TamperedError,
    UsageError,
)
from collector.portable.signed_note import NoteError
from reports.bundle.errors import BundleError
from reports.render.pdf import PdfUnavailable
from reports.sources.stores import SourceError

PRIVATE_CONTROL_FLOW = {"_FloatFound", "_Failed", "_Bad"}
"""Raised and caught inside one function to leave a loop; never seen outside it."""


def _our_exception_classes() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for package in (cli, collector, reports):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if info.name.endswith(".__main__"):  # runs the command when imported
                continue
            module = importlib.import_module(info.name)
            for _, value in inspect.getmembers(module, inspect.isclass):
                if (
                    issubclass(value, BaseException)
                    and value.__module__ == module.__name__
                    and value.__name__ not in PRIVATE_CONTROL_FLOW
                ):
                    found[f"{value.__module__}.{value.__qualname__}"] = value
    return list(found.values())


def test_every_exception_class_of_ours_derives_from_the_root() -> None:
    classes = _our_exception_classes()
    assert len(classes) >= 40, "the walk found too few classes to be walking the packages"
    outside = sorted(
        f"{c.__module__}.{c.__qualname__}" for c in classes if not issubclass(c, SlawitnessError)
    )
    assert outside == [], "derive these from a branch of collector.portable.errors"


@pytest.mark.parametrize(
    ("branch", "code"),
    [
        (SlawitnessError, EXIT_BUG),
        (UsageError, EXIT_USAGE),
        (StoreAccessError, EXIT_STORE),
        (ReportError, EXIT_REPORT),
        (TamperedError, EXIT_TAMPERED),
    ],
)
def test_each_branch_has_its_exit_code(branch: type[SlawitnessError], code: int) -> None:
    assert branch.exit_code == code
    assert branch("x").stderr_lines() == ["slawitness: x"]


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ConfigError(["a.yml: targets[0].host: missing"]), EXIT_USAGE),
        (OutputPathError(Path("out"), "a folder"), EXIT_USAGE),
        (AttachError("x.pdf: empty"), EXIT_USAGE),
        (FolderError("attachments: read-only"), EXIT_STORE),
        (StoreMissing("evidence.db", "no store"), EXIT_STORE),
        (SourceError("no data"), EXIT_REPORT),
        (BundleError("no data"), EXIT_REPORT),
        (PdfUnavailable("no weasyprint"), EXIT_REPORT),
        (NoteError("bad signature"), EXIT_TAMPERED),
    ],
)
def test_an_error_ends_with_its_branch_code(error: SlawitnessError, code: int) -> None:
    assert error.exit_code == code


def test_standard_bases_stay_for_callers_that_catch_them() -> None:
    assert issubclass(FolderError, AttachError) and issubclass(AttachError, ValueError)
    assert issubclass(StoreMissing, StoreError)
    assert issubclass(PdfUnavailable, RuntimeError)


@pytest.mark.parametrize(
    ("error", "stderr", "code"),
    [
        (ConfigError(["a.yml: one", "a.yml: two"]), "a.yml: one\na.yml: two\n", EXIT_USAGE),
        (
            StoreMissing("evidence.db", "no store"),
            "slawitness: evidence.db: no store\n",
            EXIT_STORE,
        ),
        (SourceError("no data"), "slawitness: no data\n", EXIT_REPORT),
        (
            SlawitnessError("unhandled"),
            "slawitness: internal error: SlawitnessError: unhandled"
            " (SLAWITNESS_DEBUG=1 shows more)\n",
            EXIT_BUG,
        ),
    ],
)
def test_the_command_line_prints_an_error_once_with_its_code(
    error: SlawitnessError, stderr: str, code: int
) -> None:
    @click.command("raise-it")
    def raise_it() -> None:
        raise error

    command.add_command(raise_it)
    try:
        done = CliRunner().invoke(command, ["raise-it"])
    finally:
        command.commands.pop("raise-it")
    assert (done.exit_code, done.stderr) == (code, stderr)
