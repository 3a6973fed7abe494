"""The `slawitness` command. Every user mistake ends as one line on stderr and an exit code.

Exit codes: 0 done (a down target is data, not an error); 1 `verify` or `verify-bundle` found
a mismatch; 2 bad arguments or config; 3 the evidence store cannot be opened or written; 4 a
report or bundle could not be made (no data, Prometheus unreachable, output not writable);
70 a bug. Each error of ours carries its code by the branch of the tree it derives from
(collector.portable.errors: UsageError 2, StoreAccessError 3, ReportError 4, TamperedError
1), and `_Cli` below is the one place that turns an error into its lines and code.
"""

from __future__ import annotations

import functools
import io
import logging
import os
import re
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from cli.base import (
    EXIT_BUG,
    EXIT_USAGE,
    OUTPUT,
    announce,
    config_option,
    fail,
    load,
    quit_on_closed_output,
    say,
    store_option,
)
from cli.explain import explain_target
from cli.provider_example import with_provider_sla
from cli.round_summary import round_lines
from cli.types import Instant, one_line
from collector.config.loader import load_config, parse_config
from collector.config.model import Config, Target
from collector.config.presets import PRESET_NAMES
from collector.core.durations import format_duration
from collector.core.output_paths import write_text
from collector.core.results import JsonScalar
from collector.diagnostics import detached
from collector.diagnostics.claims import Claim
from collector.documents.attachments import cited_problem
from collector.evidence import compaction_runs
from collector.evidence.compaction import is_due
from collector.evidence.custody import HashingStream, record_custody
from collector.evidence.export import write_csv, write_jsonl
from collector.evidence.records import Stamp, custody_record, note_record, readable
from collector.evidence.store import EvidenceStore
from collector.portable.errors import SlawitnessError
from collector.prometheus.listen import DEFAULT_LISTEN, ListenAddressError, parse_listen
from collector.proving.checkpoints import (
    SigningKeyError,
    create_key,
    load_key,
    origin,
    public_key_path,
)
from collector.running.round import cron_round
from collector.running.scheduler import jobs_for

if TYPE_CHECKING:
    from collector.prometheus.web_config import WebConfig


class _Cli(click.Group):
    """Maps the program's own errors onto their lines and exit code, at one boundary: each
    error's branch of the tree (collector.portable.errors) says which code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SlawitnessError as exc:
            if exc.exit_code == EXIT_BUG:  # one of ours that should have been handled
                _report_bug(exc)
            for line in exc.stderr_lines():
                click.echo(line, err=True)
            sys.exit(exc.exit_code)
        except click.BadParameter as exc:
            fail(one_line(exc), EXIT_USAGE)
        except BrokenPipeError:
            quit_on_closed_output()
        except (click.exceptions.Exit, click.ClickException, SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:  # the CLI top level: a bug, reported without hiding it
            _report_bug(exc)


def _report_bug(exc: Exception) -> NoReturn:
    if os.environ.get("SLAWITNESS_DEBUG"):
        traceback.print_exc()
    fail(f"internal error: {type(exc).__name__}: {exc} (SLAWITNESS_DEBUG=1 shows more)", EXIT_BUG)


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="slawitness")
@click.option(
    "--quiet",
    "-q",
    is_flag=True,
    help="Print only warnings and errors (for cron): no summaries, no progress.",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
    help="The least severe messages printed on stderr.",
)
def cli(quiet: bool, log_level: str) -> None:
    """Collect evidence that a rented server broke its SLA."""
    level = logging.WARNING if quiet else getattr(logging, log_level.upper())
    OUTPUT.quiet = quiet or level > logging.INFO
    own = logging.getLogger("slawitness")  # libraries' loggers (httpx...) keep their defaults
    own.handlers[:] = [logging.StreamHandler(sys.stderr)]
    own.setLevel(level)
    own.propagate = False


@cli.command()
@config_option
@store_option
@click.option("--force", is_flag=True, help="Overwrite an existing config (or deploy) file.")
@click.option(
    "--deploy",
    type=(click.Choice(["cron", "systemd", "docker"]), click.Path(path_type=Path)),
    default=None,
    metavar="KIND DIR",
    help="Instead: copy the cron, systemd or docker files into DIR, filled in for --config.",
)
@click.option(
    "--key-only",
    is_flag=True,
    help="Only create the signing key and the document certificate, those missing (for a"
    " config and store made before them).",
)
@click.option(
    "--no-timestamping",
    is_flag=True,
    help="Leave trusted time out of the new config (by default: public RFC 3161 TSAs, 2 of n).",
)
@click.option(
    "--provider",
    type=click.Choice(PRESET_NAMES),
    default=None,
    help="Start the target's SLA terms from this provider's preset (its published terms, cited);"
    " you fill in the monthly fee and currency.",
)
def init(
    config_path: Path,
    store_path: Path | None,
    force: bool,
    deploy: tuple[str, Path] | None,
    key_only: bool,
    no_timestamping: bool,
    provider: str | None,
) -> None:
    """Write a commented example config, create the evidence store and its signing key."""
    if deploy is not None:
        _init_deploy(*deploy, config_path, force)
        return
    example = None
    if not key_only:
        template = resources.files("collector").joinpath("templates/slawitness.yml")
        text = template.read_text("utf-8")
        if not no_timestamping:
            from collector.proving.public_tsas import config_block

            text += config_block(TSA_ROOTS_FOLDER)
        example = text
        if provider is not None:
            text = with_provider_sla(text, provider)
        try:
            write_text(config_path, text, replace=force)
        except OSError as exc:
            fail(f"{config_path}: cannot write config: {exc.strerror}", EXIT_USAGE)
        if not no_timestamping:
            _init_public_tsas(config_path.parent / TSA_ROOTS_FOLDER)
    from collector.proving.document_certificate import document_certificate_exists

    if provider is not None and example is not None:
        # the written config waits for the user's fee; the store, key and certificate are
        # where the example's say, which are the same keys
        config = parse_config(example, config_path)
        if store_path is not None:
            config = config.model_copy(update={"store": store_path})
    else:
        config = load(config_path, store_path)
    with EvidenceStore.open(config.store, create=True) as store:
        if not key_only:
            say(f"wrote {config_path}; evidence store {config.store} ({store.count()} records)")
        key_path = config.checkpoints.key
        key = None
        # --key-only makes what is missing; with nothing missing, the key "already exists"
        keep = not key_only or not document_certificate_exists(config.documents)
        if key_path.exists() and keep:
            say(f"keeping the signing key {key_path}")
        else:
            key = create_key(key_path, origin(store))
    if key is not None:
        say(f"signing key {key_path} (keep it private); public key {public_key_path(key_path)}:")
        say(f"  {key.verifier().encode()}")
    _init_document_certificate(config)
    if provider is not None and not key_only:
        say(
            f"the target's SLA terms are the {provider} preset's: fill in monthly_fee and"
            " currency, then run: slawitness check-config --explain"
        )
    elif key is not None and not key_only:
        say("edit the targets and SLA terms, then run: slawitness check-config")


def _init_document_certificate(config: Config) -> None:
    """Create the PDFs' signing certificate when the config's is absent; keep one that is
    there (the user's own, or an earlier init's), as the signing key is kept."""
    from collector.proving.document_certificate import (
        create_document_certificate,
        document_certificate_exists,
    )

    documents = config.documents
    if document_certificate_exists(documents):
        where = documents.pkcs12 or documents.certificate
        say(f"keeping the document certificate {where}")
        return
    made = create_document_certificate(documents, config.vantage)
    say(f"document certificate {documents.certificate}, key {documents.key} (keep it private);")
    say(f"  SHA-256 fingerprint {made.sha256}")


TSA_ROOTS_FOLDER = "tsa-roots"
"""Where `init` puts the public TSAs' root certificates, beside the config."""


def _init_public_tsas(folder: Path) -> None:
    """Write the proposed TSAs' roots beside the config and say that trusted time is on."""
    from collector.proving.public_tsas import AT_LEAST, PUBLIC_TSAS, write_roots

    try:
        write_roots(folder)
    except OSError as exc:
        fail(f"{folder}: cannot write the TSA roots: {exc.strerror}", EXIT_USAGE)
    names = ", ".join(tsa.name for tsa in PUBLIC_TSAS)
    say(
        f"trusted time: checkpoints are time-stamped daily by public TSAs ({names}),"
        f" {AT_LEAST} of {len(PUBLIC_TSAS)} required; roots in {folder}"
        " (init --no-timestamping leaves this out)"
    )


def _init_deploy(kind: str, folder: Path, config_path: Path, force: bool) -> None:
    from cli.deploy_files import write_deploy

    for path in write_deploy(kind, folder, config_path, force=force):
        say(f"wrote {path}")


@cli.command("check-config")
@config_option
@store_option
@click.option(
    "--explain",
    is_flag=True,
    help="Also explain each target's SLA terms in plain words, with the clause each comes from"
    " and what its preset could not encode.",
)
def check_config(config_path: Path, store_path: Path | None, explain: bool) -> None:
    """Validate the config and print what it describes."""
    config = load(config_path, store_path)
    say(f"{config_path}: ok")
    say(f"vantage {config.vantage}, store {config.store}")
    try:
        key = load_key(config.checkpoints.key).verifier()
        every = format_duration(config.checkpoints.every)
        say(f"checkpoints every {every}, signed by {key.name} {key.id.hex()}")
    except SigningKeyError as exc:
        announce("check-config", warning=True)(f"no checkpoints will be signed: {exc}")
    _check_document_certificate(config)
    for host in config.hosts():
        probes = ", ".join(
            f"{p.name} ({p.kind} every {format_duration(p.interval)})" for p in host.probes
        )
        sla = ""
        if isinstance(host, Target) and host.sla is not None:
            sla = f"; SLA {host.sla.uptime}% per {host.sla.period} ({host.sla.timezone})"
        say(f"{host.role} {host.name} [{host.host}]: {probes}{sla}")
    for index, target in enumerate(config.targets):
        source = target.sla.source if target.sla is not None else None
        if source is not None and source.attachment is not None:
            problem = cited_problem(config.store, target.name, source.attachment)
            if problem is not None:
                where = f"{config_path}: targets[{index}].sla.source.attachment"
                announce("check-config", warning=True)(f"{where}: {problem}")
    if explain:
        for target in config.targets:
            for line in explain_target(target):
                say(line)


def _check_document_certificate(config: Config) -> None:
    """Who the PDFs will be signed as, or the warning why they will not be."""
    from collector.proving.document_certificate import (
        DocumentCertificateError,
        load_document_certificate,
    )

    if not config.documents.sign:
        say("documents are not signed (documents.sign: false)")
        return
    try:
        document = load_document_certificate(config.documents)
    except DocumentCertificateError as exc:
        announce("check-config", warning=True)(f"no document will be signed: {exc}")
        return
    expiry = document.not_after.date().isoformat()
    say(f"documents signed as {document.subject}, valid until {expiry}")
    say(f"  SHA-256 fingerprint {document.sha256}")


web_config_option = click.option(
    "--web-config",
    "web_config_path",
    type=click.Path(path_type=Path),
    default=None,
    help="TLS and basic auth for the exporter (exporter-toolkit web config format).",
)


def _web_config(path: Path | None) -> WebConfig | None:
    from collector.prometheus.web_config import load_web_config

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
    config = load(config_path, store_path)
    jobs = jobs_for(config, target)
    writer = None if textfile is None else functools.partial(_write_textfile, textfile, config)
    with EvidenceStore.open(config.store, create=True) as store:
        attempts = cron_round(config, store, jobs, writer, _detached_diagnoser(config_path, config))
        compaction_due = is_due(store, time.time_ns())
    for line in round_lines(attempts):
        say(line)
    if config.remote_write:
        from collector.prometheus.remote_write_runner import ship_after_round

        ship_after_round(config, announce("probe", warning=True))
    if compaction_due:  # detached and niced: the round does not wait for zstd
        compaction_runs.start_detached(config_path, config.store)


def _detached_diagnoser(config_path: Path, config: Config) -> Callable[[list[Claim]], None]:
    """The round's traces in a process of their own, which `probe` does not wait for."""

    def start(claims: list[Claim]) -> None:
        seqs = [c.due_seq for c in claims if c.due_seq is not None]
        detached.start(config_path, config.store, min(seqs), max(seqs))

    return start


@cli.command("diagnose-due", hidden=True)
@config_option
@store_option
@click.option("--seqs", required=True, help="The diagnosis_due records to trace, FIRST-LAST.")
def diagnose_due(config_path: Path, store_path: Path | None, seqs: str) -> None:
    """Trace a cron round's due diagnoses (started by `probe`, detached from it)."""
    first, _, last = seqs.partition("-")
    if not (first.isdigit() and last.isdigit()):
        fail(f"--seqs: expected FIRST-LAST, got {seqs!r}", EXIT_USAGE)
    config = load(config_path, store_path)
    with EvidenceStore.open(config.store) as store:
        detached.diagnose_due(config, store, int(first), int(last))


def _write_textfile(
    path: Path,
    config: Config,
    records: Sequence[Mapping[str, object]],
    store: EvidenceStore,
    append_ok: bool,
) -> None:
    from cli.serving import TextfileError, write_round_textfile

    try:
        write_round_textfile(path, config, records, store, append_ok)
    except TextfileError as exc:
        fail(str(exc), EXIT_USAGE)


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
    from cli.serving import run_daemon

    config = load(config_path, store_path)
    web_config = _web_config(web_config_path)
    _check_listen(listen)
    key = None
    try:
        key = load_key(config.checkpoints.key)
    except SigningKeyError as exc:
        announce("run", warning=True)(f"no checkpoints will be signed: {exc}")
    with EvidenceStore.open(config.store, create=True) as store:
        daemon = run_daemon(
            config, store, listen, web_config, announce("run"), key, config_path=config_path
        )
    announce("run")(f"stopped ({daemon.stop_reason})")


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
    from cli.serving import serve_store

    config = load(config_path, store_path)
    web_config = _web_config(web_config_path)
    _check_listen(listen)
    serve_store(config, listen, web_config, announce("serve"), config_path)


def _check_listen(listen: str | None) -> None:
    if listen is None:
        return
    try:
        parse_listen(listen)
    except ListenAddressError as exc:
        fail(f"invalid value for '--listen': {exc}", EXIT_USAGE)


@cli.command("import")
@config_option
@store_option
@click.option("--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl", show_default=True)
@click.argument("file", type=click.Path(path_type=Path))
def import_(config_path: Path, store_path: Path | None, fmt: str, file: Path) -> None:
    """Append records from another monitor (JSON lines), chained and marked with their origin."""
    from collector.evidence.importer import import_jsonl

    config = load(config_path, store_path)
    with EvidenceStore.open(config.store, create=True) as store:
        result = import_jsonl(file, store, config)
    say(f"imported {result.imported} records from {file} (sha256 {result.file_sha256})")


@cli.group()
def note() -> None:
    """Notes and support tickets, chained like measurements."""


@note.command("add")
@config_option
@store_option
@click.option(
    "--target", default=None, help="The target the note is about (optional with --custody)."
)
@click.option("--ticket", default=None, help="The provider's ticket or case number.")
@click.option(
    "--claim",
    default=None,
    metavar="PERIOD",
    help="This note records the claim filed for PERIOD (YYYY-MM): `status` stops reminding.",
)
@click.option(
    "--custody",
    is_flag=True,
    help="TEXT tells where the evidence went (a hand-over: 'sent to provider by e-mail').",
)
@click.argument("text")
def note_add(
    config_path: Path,
    store_path: Path | None,
    target: str | None,
    ticket: str | None,
    claim: str | None,
    custody: bool,
    text: str,
) -> None:
    """Record a support contact or remark about a target, or with --custody a hand-over."""
    config = load(config_path, store_path)
    if target is None and not custody:
        fail("missing option '--target' (it may be left out only with --custody)", EXIT_USAGE)
    if target is not None:
        jobs_for(config, target)
    if not text.strip():
        fail("note text is empty", EXIT_USAGE)
    if custody:
        if claim is not None:
            fail("--claim and --custody: a claim is a note of its own", EXIT_USAGE)
        _add_hand_over(config, target, ticket, text)
        return
    assert target is not None
    if claim is not None and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", claim):
        fail(f"--claim {claim!r}: expected a period like 2026-10", EXIT_USAGE)
    record = note_record(Stamp.now(), config.vantage, target, text, ticket)
    if claim is not None:
        record["claim"] = claim
    with EvidenceStore.open(config.store, create=True) as store:
        [appended] = store.append([record])
    say(f"note recorded as seq {appended.seq} ({appended.hash[:16]})")


def _add_hand_over(config: Config, target: str | None, ticket: str | None, text: str) -> None:
    """A hand-over is a custody event: chained as a `custody` record, listed by reports."""
    detail: dict[str, JsonScalar] = {} if ticket is None else {"ticket": readable(ticket)}
    record = custody_record(
        Stamp.now(), config.vantage, "hand-over", text=text, target=target, detail=detail
    )
    with EvidenceStore.open(config.store, create=True) as store:
        [appended] = store.append([record])
    say(f"custody event recorded as seq {appended.seq} ({appended.hash[:16]})")


RECORD_TYPES = (
    "probe", "note", "collector", "import", "diagnosis", "checkpoint",
    "timestamp_request", "timestamp", "timestamp_failed", "backup", "seal", "attachment",
    "cosignature", "cosignature_failed", "witness_conflict", "custody",
)  # fmt: skip
"""Every record type slawitness writes, for `export --type`."""


@cli.command()
@config_option
@store_option
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="jsonl", show_default=True
)
@click.option(
    "--since", type=Instant(), default=None, help="ISO 8601 start (UTC unless a zone is given)."
)
@click.option("--until", type=Instant(), default=None, help="ISO 8601 end, exclusive.")
@click.option("--target", default=None, help="Only records of this target.")
@click.option(
    "--type",
    "kind",
    type=click.Choice(["all", *RECORD_TYPES]),
    default="all",
    show_default=True,
    help="Only records of this type.",
)
def export(
    config_path: Path,
    store_path: Path | None,
    fmt: str,
    since: int | None,
    until: int | None,
    target: str | None,
    kind: str,
) -> None:
    """Write records to stdout as CSV or JSON lines; the export is then chained as a
    custody event with the SHA-256 of exactly the bytes written."""
    config = None if store_path is not None else load_config(config_path, resolve_secrets=False)
    path = config.store if config is not None else store_path
    assert path is not None
    sys.stdout.flush()
    hashed = HashingStream(sys.stdout.buffer)
    out = io.TextIOWrapper(
        io.BufferedWriter(hashed),
        encoding=sys.stdout.encoding,
        errors=sys.stdout.errors,
        newline="\n",
    )
    with EvidenceStore.open(path, readonly=True) as store:
        rows = store.records(
            since_ns=since,
            until_ns=until,
            target=target,
            types=None if kind == "all" else [kind],
        )
        writer = write_csv if fmt == "csv" else write_jsonl
        count = writer(rows, out)
        out.flush()
    detail: dict[str, JsonScalar] = {"format": fmt, "type": kind, "records": count}
    vantage = None if config is None else config.vantage
    record = custody_record(Stamp.now(), vantage, "export", target=target, since_ns=since,
                            until_ns=until, files=[hashed.entry("stdout")],
                            detail=detail)  # fmt: skip
    record_custody(path, record, announce("export", warning=True))


from cli.attach import attach  # noqa: E402
from cli.keeping import backup, compact, seal  # noqa: E402
from cli.notify import notify  # noqa: E402
from cli.proofs import check_proof_cmd, checkpoint, prove, verify  # noqa: E402
from cli.publish import publish  # noqa: E402
from cli.reports import bundle, demo, report, verify_bundle  # noqa: E402
from cli.status import status, status_page  # noqa: E402
from cli.witness import witness  # noqa: E402

for _command in (
    report, bundle, demo, verify_bundle, verify, checkpoint, prove, check_proof_cmd,
    backup, seal, compact, status, status_page, notify, attach, publish, witness,
):  # fmt: skip
    cli.add_command(_command)


def main() -> None:
    """Console-script entry point; output cut short by its reader (`| head`) ends quietly."""
    try:
        cli(prog_name="slawitness")
    finally:
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            quit_on_closed_output()
