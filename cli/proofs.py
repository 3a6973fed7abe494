"""The verbs of provable evidence: verify, checkpoint, prove, check-proof.

`verify` checks the chain, the signature of every checkpoint the store holds and the records
against them, the records' dates (`collector.proving.store_audit`) and, given a checkpoint that left
the machine, whether the store is still the history it signed. `checkpoint` signs the store's
tree now. `prove` writes a small file a third party can check offline with `check-proof` or
the bundle's standalone verifier, without the store.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from cli.base import (
    EXIT_TAMPERED,
    EXIT_USAGE,
    config_option,
    fail,
    load,
    progress_wanted,
    say,
    store_option,
    store_path_of,
)
from collector.config.loader import ConfigError, load_config
from collector.config.model import Config
from collector.core.bounded_read import (
    DOCUMENT_LIMIT,
    SMALL_FILE_LIMIT,
    read_text_bounded,
)
from collector.core.json_limits import JsonLimitError, loads_bounded
from collector.core.output_paths import check_file_target, check_folder_target, write_text
from collector.documents.attachments import ATTACHMENT, check_files
from collector.evidence.clock_check import ClockJump
from collector.evidence.store import EvidenceStore, VerifyReport
from collector.portable.proof_check import ProofResult, check_proof
from collector.portable.signed_note import NoteError, VerifierKey
from collector.portable.tlog_policy import Policy, PolicyError, parse_policy
from collector.portable.tlog_proof import TLOG_PROOF_HEADER, check_tlog_proof
from collector.proving import checkpoints, consistency, store_audit
from collector.proving.proofs import ProofError, consistency_proof, covering, inclusion_proofs
from collector.proving.record_dates import DateWatch
from collector.proving.witness_history import audit as witness_audit

key_option = click.option(
    "--key",
    "key_path",
    type=click.Path(path_type=Path),
    default=None,
    help="The collector's public key (its .pub file). Default: the one beside the config's key.",
)
force_option = click.option(
    "--force", is_flag=True, help="Replace an existing file at --out (never a device or folder)."
)


def _read_text(path: Path, what: str, limit: int = SMALL_FILE_LIMIT) -> str:
    """The text of a file the user named, up to `limit` bytes (keys and checkpoints are a
    few hundred; a proof is a document); a one-line usage error when it cannot be read."""
    try:
        return read_text_bounded(path, limit)
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{path}: cannot read the {what}: {getattr(exc, 'strerror', None) or exc}", EXIT_USAGE)


def _public_key(key_path: Path | None, config: Config | None) -> VerifierKey | None:
    """The key checkpoints are checked with: --key, else the .pub beside the config's key."""
    if key_path is None:
        if config is None:
            return None
        key_path = checkpoints.public_key_path(config.checkpoints.key)
        if not key_path.exists():
            return None
    try:
        return VerifierKey.parse(_read_text(key_path, "public key"))
    except NoteError as exc:
        fail(f"{key_path}: {exc}", EXIT_USAGE)


@click.command()
@config_option
@store_option
@click.option(
    "--checkpoint",
    "checkpoint_path",
    type=click.Path(path_type=Path),
    default=None,
    help="A checkpoint saved earlier: prove the store still holds the history it signed.",
)
@key_option
def verify(
    config_path: Path, store_path: Path | None, checkpoint_path: Path | None, key_path: Path | None
) -> None:
    """Recompute the hash chain, check every checkpoint's signature and every record's date;
    name the first thing that does not match."""
    path, config = _verify_config(config_path, store_path)
    note = None if checkpoint_path is None else _read_text(checkpoint_path, "checkpoint")
    plan = store_audit.plan(config, _public_key(key_path, config))
    with EvidenceStore.open(path, readonly=True) as store:
        dates = DateWatch(plan.allowance_ns, keep_checkpoints=True)
        report = _verify_chain(store, dates)
        for line in _clock_lines(report.unsynced, report.clock_jumps):
            click.echo(f"{path}: {line}", err=True)
        broken = not report.ok
        if broken:
            problem = (report.problem or "").removeprefix(f"seq {report.first_bad_seq}: ")
            click.echo(
                f"{path}: chain BROKEN at seq {report.first_bad_seq}: {problem} "
                f"({report.count} records stored)"
            )
        else:
            say(
                f"{path}: chain intact, {report.count} records, head seq {report.head_seq} "
                f"hash {report.head_hash}"
            )
        audit = store_audit.check(store, plan, dates, report)
        for line in audit.warnings:
            click.echo(f"{path}: {line}", err=True)
        for line in audit.facts:
            say(f"{path}: {line}")
        for line in audit.problems:
            click.echo(f"{path}: {line}")
        own = consistency.own_checkpoints_problem(store, audit.verified)
        if own is not None:
            click.echo(f"{path}: {own.message}")
        broken = broken or bool(audit.problems) or own is not None
        if note is not None:
            broken = _against_file(store, note, checkpoint_path, plan.key) or broken
        broken = _timestamps(store, config) or broken
        broken = _witnesses(store, config) or broken
        broken = _attachments(store) or broken
    if broken:
        sys.exit(EXIT_TAMPERED)


def _config_or_none(config_path: Path) -> Config | None:
    """The config, or None when it cannot be read: `verify --store` and `check-proof` check
    what they are given and look to a config only for its key, intervals and TSA roots."""
    try:
        return load_config(config_path, resolve_secrets=False)
    except ConfigError:
        return None


def _verify_config(config_path: Path, store_path: Path | None) -> tuple[Path, Config | None]:
    """The store and its config, read once for all verify holds the store to. The config
    is None when `--store` names the store and there is no readable config; without
    `--store` its ConfigError is the error."""
    if store_path is not None:
        return store_path, _config_or_none(config_path)
    config = load_config(config_path, resolve_secrets=False)
    return config.store, config


def _timestamps(store: EvidenceStore, config: Config | None) -> bool:
    """List the stored trusted timestamps, each checked again, then which authorities
    stamped which checkpoint and whether `at_least` of them did; True when one fails."""
    from collector.proving import stamp_coverage as coverage
    from collector.proving.timestamping import roots_by_url, stored_timestamps

    roots: dict[str, bytes] = {}
    stamping = None if config is None else config.checkpoints.timestamping
    with contextlib.suppress(OSError):  # the roots are optional: then "roots not given"
        roots = roots_by_url(stamping)
    bad = False
    stamps = stored_timestamps(store, roots=roots)
    for stamp in stamps:
        if stamp.problem is None:
            checked = "chain checked against the TSA roots" if stamp.roots_checked else ""
            say(
                f"{store.path}: timestamp seq {stamp.seq}: checkpoint of {stamp.size} records"
                f" existed by {stamp.gen_time} ({stamp.tsa or stamp.url};"
                f" {checked or 'roots not given'})"
            )
        else:
            click.echo(f"{store.path}: timestamp seq {stamp.seq} FAILED: {stamp.problem}")
            bad = True
    groups = coverage.by_checkpoint(stamps)
    for group in groups:
        say(f"{store.path}: {coverage.checkpoint_line(group)}")
    if stamping is not None:
        held = coverage.quorum(groups, stamping.quorum, len(stamping.sources))
        say(f"{store.path}: {held.line()}")
    return bad


def _witnesses(store: EvidenceStore, config: Config | None) -> bool:
    """Each checkpoint's cosigners, and every cosignature the store no longer matches or
    conflict a witness reported; True when there is one of those."""
    found = witness_audit(store, None if config is None else config.witnesses)
    for line in found.facts:
        say(f"{store.path}: {line}")
    for line in found.problems:
        click.echo(f"{store.path}: {line}")
    return bool(found.problems)


def _attachments(store: EvidenceStore) -> bool:
    """Hold every attached file against the hash its record names; True when one is missing
    or changed."""
    checks = check_files(store.path, store.records(types=[ATTACHMENT]))
    bad = [check for check in checks if check.problem is not None]
    for check in bad:
        click.echo(
            f"{store.path}: attachment seq {check.seq} ({check.name}, sha256 {check.sha256}):"
            f" {check.problem}"
        )
    if checks and not bad:
        say(f"{store.path}: {len(checks)} attachments, every file present and unchanged")
    return bool(bad)


def _verify_chain(store: EvidenceStore, dates: DateWatch) -> VerifyReport:
    if not progress_wanted():
        return store.verify(also=dates)
    with click.progressbar(length=store.count(), label="verifying", width=30) as bar:
        return store.verify(lambda done, count: bar.update(done - bar.pos), also=dates)


def _against_file(
    store: EvidenceStore, note: str, where: Path | None, key: VerifierKey | None
) -> bool:
    """Hold the store against a saved checkpoint; True when it is not consistent."""
    if key is None:
        latest = checkpoints.latest(store)
        if latest is None:
            fail(f"{where}: no public key to check it with (give --key FILE.pub)", EXIT_USAGE)
        key = latest.key
        click.echo(f"{where}: checked with the key the store names ({key.encode()})", err=True)
    try:
        found = consistency.against(store, note, key)
    except NoteError as exc:
        click.echo(f"{where}: {exc}")
        return True
    if found.verdict == "consistent":
        say(f"{where}: {found.message}")
        return False
    click.echo(f"{where}: {found.message}")
    return True


def _clock_lines(unsynced: int, jumps: Sequence[ClockJump]) -> list[str]:
    """The clock findings of a verify, one line each (warnings: they break no chain)."""
    lines = []
    if unsynced:
        lines.append(f"clock: {unsynced} records were taken while the clock was not synchronised")
    for jump in jumps[:5]:
        lines.append(
            f"clock: the wall clock jumped {jump.jump_ns / 1e9:+.3f} s"
            f" between seq {jump.seq_before} and seq {jump.seq_after}"
        )
    if len(jumps) > 5:
        lines.append(f"clock: {len(jumps) - 5} more wall-clock jumps")
    return lines


@click.command()
@config_option
@store_option
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Also save the signed checkpoint here (to keep or send elsewhere).",
)
@force_option
def checkpoint(config_path: Path, store_path: Path | None, out: Path | None, force: bool) -> None:
    """Sign the Merkle root of every record stored now, and append it to the store."""
    config = load(config_path, store_path)
    key = checkpoints.load_key(config.checkpoints.key)
    if out is not None:
        check_file_target(out, replace=force)
    with EvidenceStore.open(config.store) as store:
        written = checkpoints.write(store, key, config.vantage)
    if out is not None:
        try:
            write_text(out, written.note, replace=force)
        except OSError as exc:
            fail(f"{out}: cannot write the checkpoint: {exc.strerror}", EXIT_USAGE)
    tree = written.checkpoint
    say(
        f"checkpoint of {tree.size} records, root {tree.root.hex()}, signed by"
        f" {written.key.name} {written.key.id.hex()}, stored as seq {written.seq}"
    )


@click.command()
@config_option
@store_option
@click.option("--seq", "seqs", type=int, multiple=True, help="A record to prove (repeatable).")
@click.option(
    "--since",
    "since_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Instead: prove the latest checkpoint extends this earlier one (a consistency proof).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Write the proof here (default: standard output). With several --seq, a folder.",
)
@force_option
def prove(
    config_path: Path,
    store_path: Path | None,
    seqs: tuple[int, ...],
    since_path: Path | None,
    out: Path | None,
    force: bool,
) -> None:
    """Write a proof a third party can check offline, without the store."""
    if bool(seqs) == (since_path is not None):
        fail("give either --seq N (one or more) or --since CHECKPOINT", EXIT_USAGE)
    names = [f"seq-{seq}.json" for seq in seqs] if len(seqs) > 1 else None
    if out is not None and names is not None:
        check_folder_target(out, names, replace=force)
    elif out is not None:
        check_file_target(out, replace=force)
    path = store_path_of(config_path, store_path)
    with EvidenceStore.open(path, readonly=True) as store:
        try:
            if since_path is not None:
                proofs = [_consistency(store, _read_text(since_path, "checkpoint"), since_path)]
            else:
                at = covering(store, max(seqs))
                proofs = inclusion_proofs(store, seqs, at)
        except ProofError as exc:
            fail(f"{path}: {exc}", EXIT_USAGE)
    _write_proofs(proofs, out, force)


def _consistency(store: EvidenceStore, note: str, where: Path) -> dict[str, object]:
    latest = checkpoints.latest(store)
    if latest is None:
        raise ProofError("the store holds no checkpoint yet (run: slawitness checkpoint)")
    try:
        found = consistency.against(store, note, latest.key)
    except NoteError as exc:
        raise ProofError(f"{where}: {exc}") from None
    if found.verdict != "consistent":
        raise ProofError(f"{where}: {found.message}")
    return consistency_proof(store, note, latest, found.checkpoint.size)


def _write_proofs(proofs: list[dict[str, object]], out: Path | None, force: bool) -> None:
    texts = [json.dumps(p, ensure_ascii=False, indent=1) + "\n" for p in proofs]
    if out is None:
        for text in texts:
            click.echo(text, nl=False)
        return
    try:
        if len(proofs) == 1:
            write_text(out, texts[0], replace=force)
            say(f"wrote {out}")
            return
        out.mkdir(parents=True, exist_ok=True)
        for proof, text in zip(proofs, texts, strict=True):
            write_text(out / f"seq-{proof['seq']}.json", text, replace=force)
        say(f"wrote {len(proofs)} proofs into {out}")
    except OSError as exc:
        fail(f"{out}: cannot write the proof: {exc.strerror}", EXIT_USAGE)


accept_unchecked_option = click.option(
    "--accept-unchecked-signatures",
    "accept_unchecked",
    is_flag=True,
    help="Pass even when no Ed25519 checker (cryptography, openssl) could check a signature.",
)


policy_option = click.option(
    "--policy",
    "policy_path",
    type=click.Path(path_type=Path),
    default=None,
    help="A C2SP tlog-policy file: the witnesses whose cosignatures a .tlog-proof must carry.",
)


def read_policy(policy_path: Path | None) -> Policy | None:
    """The reader's witness policy named by --policy, or None; a one-line usage error when
    it cannot be read or does not follow C2SP tlog-policy."""
    if policy_path is None:
        return None
    try:
        return parse_policy(_read_text(policy_path, "policy"), str(policy_path))
    except PolicyError as exc:
        fail(str(exc), EXIT_USAGE)


@click.command("check-proof")
@click.argument("proof_path", metavar="FILE", type=click.Path(path_type=Path))
@key_option
@config_option
@accept_unchecked_option
@policy_option
def check_proof_cmd(
    proof_path: Path,
    key_path: Path | None,
    config_path: Path,
    accept_unchecked: bool,
    policy_path: Path | None,
) -> None:
    """Check a proof file offline: record hash, Merkle path, checkpoint signature, and for
    a C2SP .tlog-proof the witnesses' cosignatures (against --policy, when given)."""
    text = _read_text(proof_path, "proof", DOCUMENT_LIMIT)
    policy = read_policy(policy_path)
    config = _config_or_none(config_path) if key_path is None else None
    if text.startswith(TLOG_PROOF_HEADER):
        key = _public_key(key_path, config) if key_path or not (policy and policy.logs) else None
        _report_proof(proof_path, check_tlog_proof(text, key, policy).result, accept_unchecked)
        return
    try:
        proof = loads_bounded(text)
    except json.JSONDecodeError as exc:
        problem = f"not a proof file (not JSON: {exc.msg} at line {exc.lineno})"
        fail(f"{proof_path}: {problem}", EXIT_USAGE)
    except JsonLimitError as exc:
        fail(f"{proof_path}: not a proof file ({exc})", EXIT_USAGE)
    _report_proof(proof_path, check_proof(proof, _public_key(key_path, config)), accept_unchecked)


def _report_proof(proof_path: Path, result: ProofResult, accept_unchecked: bool) -> None:
    """Print what a proof showed; exit 1 when it fails or a signature went unchecked."""
    for line in result.facts:
        say(f"{proof_path}: {line}")
    for line in result.unchecked:
        click.echo(f"{proof_path}: {line}", err=True)
    for line in result.problems:
        click.echo(f"{proof_path}: FAILED: {line}")
    if not result.ok:
        sys.exit(EXIT_TAMPERED)
    if result.unchecked and not accept_unchecked:
        click.echo(
            f"{proof_path}: FAILED: the signature could not be checked (install the Python"
            " package cryptography or OpenSSL 3, or pass --accept-unchecked-signatures)"
        )
        sys.exit(EXIT_TAMPERED)
    say(f"{proof_path}: proof OK")
