"""The verbs that turn evidence into a complaint: report, bundle, demo, verify-bundle.

They load `reports/` (pandas, matplotlib) only inside the verb, so the cron path never does.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cli.base import (
    EXIT_REPORT,
    EXIT_TAMPERED,
    EXIT_USAGE,
    announce,
    config_option,
    exit_on_sigterm,
    fail,
    progress_wanted,
    say,
)
from cli.proofs import policy_option, read_policy
from cli.types import FiniteFloatRange
from collector.config.loader import load_config
from collector.core.durations import format_duration
from collector.core.output_paths import OutputPathError
from collector.core.percent import cut_percent

if TYPE_CHECKING:
    from reports.report_run import PeriodChoice


multi_store_option = click.option(
    "--store",
    "store_paths",
    type=click.Path(path_type=Path),
    multiple=True,
    help="An evidence store; give it several times to merge vantage points (default: config).",
)


def _choice(period: str | None, start: str | None, end: str | None) -> PeriodChoice:
    from reports.report_run import PeriodChoice

    if period is not None and (start or end):
        fail("give either --period or --from/--to, not both", EXIT_USAGE)
    if period is None and not (start and end):
        fail("missing option: --period YYYY-MM (or --from and --to)", EXIT_USAGE)
    return PeriodChoice(month=period, start=start, end=end)


def _csv_set(value: str, allowed: set[str], option: str) -> set[str]:
    chosen = {item.strip() for item in value.split(",") if item.strip()}
    unknown = chosen - allowed
    if not chosen or unknown:
        fail(
            f"invalid value for '{option}': {value!r} (choose from {', '.join(sorted(allowed))})",
            EXIT_USAGE,
        )
    return chosen


report_scope_options = [
    config_option,
    multi_store_option,
    click.option("--target", required=True, help="The target whose SLA is reported."),
    click.option(
        "--period", default=None, help="A calendar month in the SLA's time zone: YYYY-MM."
    ),
    click.option("--from", "start", default=None, help="Start of a custom span (ISO 8601)."),
    click.option("--to", "end", default=None, help="End of a custom span, exclusive (ISO 8601)."),
]
"""What `report` and `bundle` both need: which evidence, which target, which period."""

lang_option = click.option(
    "--lang", "langs", default="en,zh", show_default=True, help="Comma-separated: en, zh."
)


def _with(options: list[Callable[[Any], Any]]) -> Callable[[Any], Any]:
    def apply(function: Any) -> Any:
        for option in reversed(options):
            function = option(function)
        return function

    return apply


@click.command()
@_with(report_scope_options)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder for the report (default: report-TARGET-PERIOD).",
)
@click.option(
    "--format",
    "formats",
    default="json,html,pdf,csv,letter",
    show_default=True,
    help="Comma-separated: json, html, pdf, csv, letter.",
)
@lang_option
@click.option(
    "--prometheus",
    default=None,
    help="Read samples from this Prometheus server instead of the store.",
)
@click.option("--force", is_flag=True, help="Replace the report already in --out.")
def report(
    config_path: Path,
    store_paths: tuple[Path, ...],
    target: str,
    period: str | None,
    start: str | None,
    end: str | None,
    out_dir: Path | None,
    formats: str,
    langs: str,
    prometheus: str | None,
    force: bool,
) -> None:
    """Compute the SLA figures of a target for a period and write the report."""
    from reports.report_run import make_report

    exit_on_sigterm()
    config = load_config(config_path)
    choice = _choice(period, start, end)
    chosen_formats = _csv_set(formats, {"json", "html", "pdf", "csv", "letter"}, "--format")
    chosen_langs = _csv_set(langs, {"en", "zh"}, "--lang")
    stores = list(store_paths) or [config.store]
    label = period or f"{start}..{end}"
    out = out_dir or Path(f"report-{target}-{label}".replace(":", ""))
    outcome = make_report(
        config,
        target,
        choice,
        stores,
        prometheus,
        out,
        chosen_formats,
        chosen_langs,
        warn=announce("report", warning=True),
        progress=announce("report") if progress_wanted() else None,
        force=force,
    )
    _print_outcome(outcome.summary, out)


def _credit_words(summary: dict[str, Any]) -> str:
    """The tier's percent and amount, or with per-incident remedies their total and count."""
    currency = summary.get("currency") or ""
    remedies = [r for r in summary.get("remedies") or [] if r.get("kind") != "tier"]
    if remedies:
        return f"{summary.get('credit_amount')} {currency} from {len(remedies)} remedies"
    return f"{summary.get('credit_percent', 0)}% = {summary.get('credit_amount')} {currency}"


def _print_outcome(summary: dict[str, Any], where: Path) -> None:
    from reports.sla.incidents import incident_tally

    conservative = float(summary.get("uptime_conservative") or 0.0)
    say(
        f"{summary['target']} {summary.get('period_label', '')}: uptime "
        f"{cut_percent(conservative)} against {summary['sla_uptime'] * 100:g}% "
        f"({'BREACHED' if summary.get('breached') else 'met'}); "
        f"{incident_tally(summary.get('incidents', []))}; "
        f"credit {_credit_words(summary)}".rstrip()
    )
    if summary.get("claim_deadline"):
        say(f"claim deadline: {summary['claim_deadline']}")
    complaint = summary.get("complaint_file") or {}
    if complaint.get("attachments"):
        names = ", ".join(str(a.get("name")) for a in complaint["attachments"])
        messages = sum(1 for e in complaint.get("timeline") or [] if e.get("event") == "message")
        say(f"complaint file: {names}; {messages} e-mail messages on the timeline")
    say(f"written to {where}")


@click.command()
@_with(report_scope_options)
@click.option(
    "--out",
    "zip_path",
    type=click.Path(path_type=Path),
    default=None,
    help="The zip to write (default: bundle-TARGET-PERIOD.zip).",
)
@lang_option
@click.option("--force", is_flag=True, help="Replace an existing bundle at --out.")
def bundle(
    config_path: Path,
    store_paths: tuple[Path, ...],
    target: str,
    period: str | None,
    start: str | None,
    end: str | None,
    zip_path: Path | None,
    langs: str,
    force: bool,
) -> None:
    """Pack the report, the raw records, the redacted config and a manifest into one zip."""
    from reports.report_run import make_bundle

    exit_on_sigterm()
    config = load_config(config_path)
    choice = _choice(period, start, end)
    stores = list(store_paths) or [config.store]
    label = period or f"{start}..{end}"
    out = zip_path or Path(f"bundle-{target}-{label}.zip".replace(":", ""))
    outcome, info = make_bundle(
        config,
        config_path,
        target,
        choice,
        stores,
        out,
        _csv_set(langs, {"en", "zh"}, "--lang"),
        warn=announce("bundle", warning=True),
        progress=announce("bundle") if progress_wanted() else None,
        force=force,
    )
    _print_outcome(outcome.summary, out)
    say(f"bundle {info.path}: {info.files} files, {info.records} records, sha256 {info.sha256}")


@click.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("slawitness-demo"),
    show_default=True,
    help="Folder for the demo's config, evidence store, report and bundle.",
)
@click.option(
    "--minutes",
    type=FiniteFloatRange(0.5, 120),
    default=3.0,
    show_default=True,
    help="How long to collect; the script scales with it.",
)
@click.option(
    "--serve/--no-serve",
    default=None,
    help="Then serve the web view over the demo's store until Ctrl-C. Default: in a terminal.",
)
def demo(out_dir: Path, minutes: float, serve: bool | None) -> None:
    """Show a whole SLA case offline: misbehaving local services, probing, report, bundle."""
    from cli.demo.case import SCRIPT, collect, report_demo

    seconds = minutes * 60
    say(f"slawitness demo: probing local services for {format_duration(seconds)};")
    say("the script (Ctrl-C stops early and still reports what was collected):")
    for phase in SCRIPT:
        say(
            f"  {format_duration(phase.start * seconds):>8} to"
            f" {format_duration(phase.end * seconds):>8}  {phase.label}"
        )
    try:
        if progress_wanted():
            with click.progressbar(length=round(seconds), label="collecting", width=30) as bar:

                def tick(elapsed: float, phase: Any) -> None:
                    bar.label = f"collecting: {phase.label}" if phase else "collecting: all up"
                    bar.update(round(elapsed) - bar.pos)

                run = collect(out_dir, seconds, tick)
        else:
            run = collect(out_dir, seconds, _phase_lines())
    except OutputPathError as exc:  # its config, written as the report's files are
        fail(str(exc), EXIT_REPORT)
    say(f"collected until {run.stopped:%H:%M:%S} UTC ({run.stop_reason}); writing the report")
    result = report_demo(run, announce("demo", warning=True))
    _print_outcome(result.summary, result.report_dir)
    for path in result.report_paths:
        if path.suffix in (".html", ".pdf"):
            say(f"  {path}")
    if result.bundle_path is not None:
        say(f"bundle: {result.bundle_path} (check it: slawitness verify-bundle"
                   f" {result.bundle_path})")  # fmt: skip
    else:
        say(f"no bundle: {result.bundle_problem}")
    say(f"config and evidence store: {run.config_path}, {run.folder / 'evidence.db'}")
    if serve is None:
        serve = sys.stdin.isatty() and sys.stdout.isatty()
    if not serve:
        say(f"the web view: slawitness serve --config {run.config_path}")
        return
    from cli.serving import serve_store

    say("the web view of this case (Ctrl-C stops it):")
    config = load_config(run.config_path)
    serve_store(config, "127.0.0.1:0", None, announce("demo"), run.config_path)


def _phase_lines() -> Callable[[float, Any], None]:
    """Without a terminal: one line each time the demo's script changes phase."""
    shown: list[object] = [None]

    def tick(elapsed: float, phase: Any) -> None:
        if phase is not shown[0]:
            shown[0] = phase
            say(f"  {format_duration(round(elapsed)):>6}  {phase.label if phase else 'all up'}")

    return tick


@click.command("verify-bundle")
@click.argument(
    "bundle_path", metavar="FILE", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--accept-unchecked-signatures",
    "accept_unchecked",
    is_flag=True,
    help="Pass even when no Ed25519 checker (cryptography, openssl) could check a signature.",
)
@policy_option
def verify_bundle(bundle_path: Path, accept_unchecked: bool, policy_path: Path | None) -> None:
    """Re-check a bundle: manifest, chain segments, snapshots, proofs and checkpoints, and
    with --policy, that the witnesses the reader trusts cosigned what its proofs rest on."""
    from collector.portable.bundle_check import verify_bundle as check

    result = check(bundle_path, read_policy(policy_path))
    for note in result.notes:
        say(f"{bundle_path}: {note}")
    if result.ok and not result.passes(accept_unchecked):
        click.echo(
            f"{bundle_path}: signatures not checked: install the Python package cryptography"
            " or OpenSSL 3, or pass --accept-unchecked-signatures to accept that"
        )
        sys.exit(EXIT_TAMPERED)
    if result.ok:
        documents = f", {result.attachments} attachments" if result.attachments else ""
        say(
            f"{bundle_path}: ok, {result.files} files, {result.records} records,"
            f" {result.proofs} proofs{documents} verified"
        )
        return
    for problem in result.problems:
        click.echo(f"{bundle_path}: {problem}")
    sys.exit(EXIT_TAMPERED)
