"""The `slawitness` command. Every user mistake ends as one line on stderr and an exit code.

Exit codes: 0 done (a down target is data, not an error); 1 `verify` found the chain broken;
2 bad arguments or config; 3 the evidence store cannot be opened or written; 70 a bug.
"""

from __future__ import annotations

import asyncio
import os
import sys
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from collector.config import DEFAULT_CONFIG, Config, Target
from collector.config_loader import ConfigError, load_config
from collector.durations import format_duration
from collector.export import write_csv, write_jsonl
from collector.listen import DEFAULT_LISTEN, ListenAddressError, parse_listen
from collector.records import Stamp, collector_record, note_record
from collector.round_summary import round_lines
from collector.scheduler import UnknownTarget, jobs_for, run_round_once
from collector.store import EvidenceStore
from collector.store_errors import StoreError

if TYPE_CHECKING:
    from collector.web_config import WebConfig

EXIT_TAMPERED, EXIT_USAGE, EXIT_STORE, EXIT_BUG = 1, 2, 3, 70


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"slawitness: {message}", err=True)
    sys.exit(code)


class _Cli(click.Group):
    """Maps the program's own errors onto one line and an exit code, at one boundary."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            for line in exc.lines:
                click.echo(line, err=True)
            sys.exit(EXIT_USAGE)
        except (UnknownTarget, ListenAddressError) as exc:
            _fail(str(exc), EXIT_USAGE)
        except StoreError as exc:
            _fail(str(exc), EXIT_STORE)
        except (click.exceptions.Exit, click.ClickException, SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:  # the CLI top level: a bug, reported without hiding it
            if os.environ.get("SLAWITNESS_DEBUG"):
                traceback.print_exc()
            _fail(
                f"internal error: {type(exc).__name__}: {exc} (SLAWITNESS_DEBUG=1 shows more)",
                EXIT_BUG,
            )


config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=DEFAULT_CONFIG,
    show_default=True,
    help="The config file.",
)
store_option = click.option(
    "--store",
    "store_path",
    type=click.Path(path_type=Path),
    default=None,
    help="The evidence store, overriding the config's `store`.",
)


def _load(config_path: Path, store_path: Path | None) -> Config:
    config = load_config(config_path)
    if store_path is not None:
        config = config.model_copy(update={"store": store_path})
    return config


def _store_path(config_path: Path, store_path: Path | None) -> Path:
    """Verbs that only read need no config when the store is named."""
    if store_path is not None:
        return store_path
    return load_config(config_path, resolve_secrets=False).store


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="slawitness")
def cli() -> None:
    """Collect evidence that a rented server broke its SLA."""


@cli.command()
@config_option
@store_option
@click.option("--force", is_flag=True, help="Overwrite an existing config file.")
def init(config_path: Path, store_path: Path | None, force: bool) -> None:
    """Write a commented example config and create the evidence store."""
    if config_path.exists() and not force:
        _fail(f"{config_path}: already exists (use --force to overwrite)", EXIT_USAGE)
    template = resources.files("collector").joinpath("templates/slawitness.yml").read_text("utf-8")
    try:
        config_path.write_text(template, encoding="utf-8")
    except OSError as exc:
        _fail(f"{config_path}: cannot write config: {exc.strerror}", EXIT_USAGE)
    config = _load(config_path, store_path)
    with EvidenceStore.open(config.store, create=True) as store:
        click.echo(f"wrote {config_path}; evidence store {config.store} ({store.count()} records)")
    click.echo("edit the targets and SLA terms, then run: slawitness check-config")


@cli.command("check-config")
@config_option
@store_option
def check_config(config_path: Path, store_path: Path | None) -> None:
    """Validate the config and print what it describes."""
    config = _load(config_path, store_path)
    click.echo(f"{config_path}: ok")
    click.echo(f"vantage {config.vantage}, store {config.store}")
    for host in config.hosts():
        probes = ", ".join(
            f"{p.name} ({p.kind} every {format_duration(p.interval)})" for p in host.probes
        )
        sla = ""
        if isinstance(host, Target) and host.sla is not None:
            sla = f"; SLA {host.sla.uptime}% per {host.sla.period} ({host.sla.timezone})"
        click.echo(f"{host.role} {host.name} [{host.host}]: {probes}{sla}")


web_config_option = click.option(
    "--web-config",
    "web_config_path",
    type=click.Path(path_type=Path),
    default=None,
    help="TLS and basic auth for the exporter (exporter-toolkit web config format).",
)


def _web_config(path: Path | None) -> WebConfig | None:
    from collector.web_config import load_web_config

    return None if path is None else load_web_config(path)


@cli.command()
@config_option
@store_option
@click.option("--target", default=None, help="Probe only this target or control.")
@click.option(
    "--textfile",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write the round's series here for node_exporter's textfile collector.",
)
def probe(
    config_path: Path, store_path: Path | None, target: str | None, textfile: Path | None
) -> None:
    """Run every probe once and append the results (one cron round)."""
    config = _load(config_path, store_path)
    jobs = jobs_for(config, target)
    with EvidenceStore.open(config.store, create=True) as store:
        started = Stamp.now()
        attempts = asyncio.run(run_round_once(jobs))
        secrets = config.secrets()
        records = [done.record(config.vantage, secrets) for done in attempts]
        took_ms = (Stamp.now().mono_ns - started.mono_ns) // 1_000_000
        records.append(
            collector_record("round", started, config.vantage, probes=len(jobs), took_ms=took_ms)
        )
        try:
            store.append(records)
        except StoreError:
            if textfile is not None:
                _write_textfile(textfile, config, records, store, append_ok=False)
            raise
        if textfile is not None:
            _write_textfile(textfile, config, records, store, append_ok=True)
    for line in round_lines(attempts):
        click.echo(line)


def _write_textfile(
    path: Path,
    config: Config,
    records: list[dict[str, object]],
    store: EvidenceStore,
    append_ok: bool,
) -> None:
    from collector.serving import TextfileError, write_round_textfile

    try:
        write_round_textfile(path, config, records, store, append_ok)
    except TextfileError as exc:
        _fail(str(exc), EXIT_USAGE)


def _announce(verb: str) -> Callable[[str], None]:
    return lambda message: click.echo(f"slawitness {verb}: {message}", err=True)


@cli.command()
@config_option
@store_option
@click.option("--listen", default=None, help="Serve /metrics and /probe here, e.g. 127.0.0.1:9925.")
@web_config_option
def run(
    config_path: Path,
    store_path: Path | None,
    listen: str | None,
    web_config_path: Path | None,
) -> None:
    """Run as a daemon: each probe at its own interval, until SIGTERM or Ctrl-C."""
    from collector.serving import run_daemon

    config = _load(config_path, store_path)
    web_config = _web_config(web_config_path)
    _check_listen(listen)
    with EvidenceStore.open(config.store, create=True) as store:
        daemon = run_daemon(config, store, listen, web_config, _announce("run"))
    click.echo(f"slawitness run: stopped ({daemon.stop_reason})", err=True)


@cli.command()
@config_option
@store_option
@click.option(
    "--listen",
    default=DEFAULT_LISTEN,
    show_default=True,
    help="Where to serve /metrics and /probe.",
)
@web_config_option
def serve(
    config_path: Path, store_path: Path | None, listen: str, web_config_path: Path | None
) -> None:
    """Serve the store's series (and /probe) for Prometheus, where cron writes the store."""
    from collector.serving import serve_store

    config = _load(config_path, store_path)
    web_config = _web_config(web_config_path)
    _check_listen(listen)
    serve_store(config, listen, web_config, _announce("serve"))


def _check_listen(listen: str | None) -> None:
    if listen is None:
        return
    try:
        parse_listen(listen)
    except ListenAddressError as exc:
        _fail(f"invalid value for '--listen': {exc}", EXIT_USAGE)


@cli.group()
def note() -> None:
    """Notes and support tickets, chained like measurements."""


@note.command("add")
@config_option
@store_option
@click.option("--target", required=True, help="The target the note is about.")
@click.option("--ticket", default=None, help="The provider's ticket or case number.")
@click.argument("text")
def note_add(
    config_path: Path, store_path: Path | None, target: str, ticket: str | None, text: str
) -> None:
    """Record a support contact or remark about a target."""
    config = _load(config_path, store_path)
    jobs_for(config, target)
    if not text.strip():
        _fail("note text is empty", EXIT_USAGE)
    with EvidenceStore.open(config.store, create=True) as store:
        [appended] = store.append([note_record(Stamp.now(), config.vantage, target, text, ticket)])
    click.echo(f"note recorded as seq {appended.seq} ({appended.hash[:16]})")


def _parse_when(value: str | None, option: str) -> int | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        _fail(
            f"invalid value for '{option}': {value!r} is not an ISO 8601 date or time", EXIT_USAGE
        )
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp()) * 1_000_000_000 + when.microsecond * 1000


@cli.command()
@config_option
@store_option
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="jsonl", show_default=True
)
@click.option("--since", default=None, help="ISO 8601 start (UTC unless a zone is given).")
@click.option("--until", default=None, help="ISO 8601 end, exclusive.")
@click.option("--target", default=None, help="Only records of this target.")
@click.option(
    "--type",
    "kind",
    type=click.Choice(["all", "probe", "note", "collector"]),
    default="all",
    show_default=True,
    help="Only records of this type.",
)
def export(
    config_path: Path,
    store_path: Path | None,
    fmt: str,
    since: str | None,
    until: str | None,
    target: str | None,
    kind: str,
) -> None:
    """Write records to stdout as CSV or JSON lines."""
    since_ns, until_ns = _parse_when(since, "--since"), _parse_when(until, "--until")
    path = _store_path(config_path, store_path)
    with EvidenceStore.open(path, readonly=True) as store:
        rows = store.records(
            since_ns=since_ns,
            until_ns=until_ns,
            target=target,
            types=None if kind == "all" else [kind],
        )
        writer = write_csv if fmt == "csv" else write_jsonl
        writer(rows, sys.stdout)


@cli.command()
@config_option
@store_option
def verify(config_path: Path, store_path: Path | None) -> None:
    """Recompute the hash chain; name the first record that does not match."""
    path = _store_path(config_path, store_path)
    with EvidenceStore.open(path, readonly=True) as store:
        report = store.verify()
    if report.ok:
        click.echo(
            f"{path}: chain intact, {report.count} records, head seq {report.head_seq} "
            f"hash {report.head_hash}"
        )
        return
    problem = (report.problem or "").removeprefix(f"seq {report.first_bad_seq}: ")
    click.echo(
        f"{path}: chain BROKEN at seq {report.first_bad_seq}: {problem} "
        f"({report.count} records stored)"
    )
    sys.exit(EXIT_TAMPERED)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="slawitness")
