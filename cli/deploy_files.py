"""`slawitness init --deploy`: the files of one way to run slawitness, filled in for here.

deploy/ holds them with the conventional paths (/usr/local/bin/slawitness,
/etc/slawitness/slawitness.yml) so they read well as they are; copying them for a
deployment replaces those with this installation's program and config, and gives the
docker set-up the Prometheus and Grafana files it mounts, beside it.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from collector.core.bounded_read import CONFIG_LIMIT, read_text_bounded
from collector.core.output_paths import OutputPathError, check_folder_target, write_text
from collector.portable.errors import UsageError

KINDS = ("cron", "systemd", "docker")
PROGRAM = "/usr/local/bin/slawitness"
CONFIG = "/etc/slawitness/slawitness.yml"
SOURCE = Path(__file__).resolve().parent.parent / "deploy"
"""The repository's deploy/ folder (`pip install -e` keeps the package beside it)."""

_FILES = {
    "cron": {"cron/slawitness": "slawitness.cron"},
    "systemd": {
        "systemd/slawitness.service": "slawitness.service",
        "systemd/slawitness-probe.service": "slawitness-probe.service",
        "systemd/slawitness-probe.timer": "slawitness-probe.timer",
    },
    "docker": {
        "docker/Dockerfile": "Dockerfile",
        "docker/docker-compose.yml": "docker-compose.yml",
        "docker/prometheus.yml": "prometheus.yml",
        "docker/grafana-datasource.yml": "grafana-datasource.yml",
        "prometheus/slawitness.rules.yml": "slawitness.rules.yml",
        "grafana/provisioning/dashboards/slawitness.yml": "grafana/dashboards.yml",
        "grafana/slawitness-dashboard.json": "grafana/slawitness-dashboard.json",
    },
}
_COMPOSE_PATHS = {  # what docker-compose.yml mounts from deploy/, and where the copy puts it
    "../prometheus/slawitness.rules.yml": "./slawitness.rules.yml",
    "../grafana/provisioning/dashboards/slawitness.yml": "./grafana/dashboards.yml",
    "../grafana/slawitness-dashboard.json": "./grafana/slawitness-dashboard.json",
}


class DeployError(UsageError):
    """The deploy files cannot be written; the message is one line for the user."""


def program_path() -> str:
    """This installation's `slawitness` program, as an absolute path."""
    found = shutil.which("slawitness")
    if found is None and Path(sys.argv[0]).name == "slawitness":
        found = sys.argv[0]
    return str(Path(found).resolve()) if found else PROGRAM


def write_deploy(kind: str, folder: Path, config_path: Path, *, force: bool = False) -> list[Path]:
    """Copy deploy/KIND's files into `folder`, filled in; the paths written."""
    if not SOURCE.is_dir():
        raise DeployError(
            f"the deploy files are not installed here ({SOURCE} is missing):"
            " run from a source checkout installed with pip install -e"
        )
    targets = {SOURCE / src: folder / dst for src, dst in _FILES[kind].items()}
    try:
        check_folder_target(folder, [str(dst.relative_to(folder)) for dst in targets.values()],
                            replace=force)  # fmt: skip
    except OutputPathError as exc:
        raise DeployError(str(exc)) from None
    replacements = {PROGRAM: program_path(), CONFIG: str(config_path.resolve())}
    if kind == "docker":
        replacements = {**_COMPOSE_PATHS, "context: ../..": f"context: {SOURCE.parent}"}
    written = []
    for src, dst in targets.items():
        text = src.read_text("utf-8")
        for old, new in replacements.items():
            text = text.replace(old, new)
        try:
            dst.parent.mkdir(parents=True, exist_ok=True)
            write_text(dst, text, replace=force)
        except OutputPathError as exc:
            raise DeployError(str(exc)) from None
        except OSError as exc:
            raise DeployError(f"cannot write {dst}: {exc.strerror or exc}") from exc
        written.append(dst)
    copy = folder / "slawitness.yml"
    if kind == "docker" and config_path.is_file() and not os.path.lexists(copy):
        try:
            write_text(copy, read_text_bounded(config_path, CONFIG_LIMIT), replace=False)
        except (OutputPathError, OSError, UnicodeDecodeError) as exc:
            raise DeployError(f"cannot copy {config_path} to {copy}: {exc}") from None
        written.append(copy)
    return written
