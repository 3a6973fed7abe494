"""A round's records on their way into the store, and the steps that follow each append.

Every append of probe records is followed by the same steps, in this order: the disk-full
marker is cleared (the append proved there is room again), the failing targets due a diagnosis
are claimed (`collector.diagnostics.claims`) and handed to a diagnoser that the round does
not wait for (`slawitness probe` starts a detached process: the traces take minutes where the
probes take seconds), a checkpoint is signed and then a trusted timestamp asked for when
either is due, the user is notified of what changed, and the round's series are written for
node_exporter. A cron round (`slawitness probe`) takes them one after another in
`cron_round`. The daemon takes the same steps from here but spreads them out so no probe ever
waits: diagnoses through its own queue in the background, checkpoints and timestamps on their
own connection (`seal_when_due`), notifications batched.

A step that fails never loses the round: the records are appended first, and a store that
refuses a later step still gets the textfile written (saying the append failed) before the
error reaches the caller.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Mapping, Sequence

from collector.alerts.notify import notify_round
from collector.config.model import Config
from collector.diagnostics.claims import Claim, claim_due
from collector.diagnostics.queue import run_claims
from collector.evidence.ballast import LOW_SPACE_BYTES, free_bytes, full_since, resumed
from collector.evidence.records import Stamp, collector_record
from collector.evidence.store import Appended, EvidenceStore
from collector.evidence.store_errors import StoreError
from collector.portable.signed_note import SigningKey
from collector.proving import checkpoints
from collector.proving.timestamping import step as timestamp_step
from collector.proving.witnessing import step as witness_step
from collector.running.scheduler import Attempt, Job, run_round_once

TextfileWriter = Callable[[Sequence[Mapping[str, object]], EvidenceStore, bool], None]
"""Writes a round's series (its records, the store after the append, whether the append and
its steps succeeded). Injected by the CLI, which owns the exporter's metric families."""

Diagnoser = Callable[[list[Claim]], None]
"""Traces a round's claims, outside the round (the CLI starts a detached process)."""

KeySource = Callable[[], SigningKey | None]
"""The signing key, asked for only when a checkpoint is due; None signs nothing."""

Stored = list[tuple[int, dict[str, object]]]
"""Records paired with the seq the store gave them."""

_LOG = logging.getLogger("slawitness.probe")


def cron_round(
    config: Config, store: EvidenceStore, jobs: Sequence[Job], textfile: TextfileWriter | None,
    diagnoser: Diagnoser | None = None,
) -> list[Attempt]:  # fmt: skip
    """One cron round: every job once, appended with its round record, then every step.

    The round's claims go to `diagnoser`; without one they are traced here, within the
    budget, before the round returns. A `StoreError` from the append or any step is raised
    after the textfile is written."""
    started = Stamp.now()
    attempts = asyncio.run(run_round_once(jobs, icmp_rate=config.probing.icmp_rate))
    records = round_records(config, attempts, started, len(jobs), store.path)
    free = free_bytes(store.path)
    if free < LOW_SPACE_BYTES:
        _LOG.warning("slawitness probe: only %d MiB free for %s", free // 2**20, store.path)
    try:
        appended = store.append(records)
        resumed(store.path)
        claims = claim_due(store, config, stored_pairs(appended, records))
        if claims:
            (diagnoser or functools.partial(_diagnose_here, config, store))(claims)
        seal_when_due(config, store, functools.partial(_key_for_cron, config))
        notify_round(config, store)
    except StoreError:
        if textfile is not None:
            textfile(records, store, False)
        raise
    if textfile is not None:
        textfile(records, store, True)
    return attempts


def round_records(
    config: Config, attempts: Sequence[Attempt], started: Stamp, probes: int, store_path: str
) -> list[dict[str, object]]:
    """The attempts' records and the round record, after a `resumed` record when earlier
    rounds found the disk full: the chain then shows the gap instead of hiding it."""
    secrets = config.secrets()
    records = [done.record(config.vantage, secrets) for done in attempts]
    took_ms = (Stamp.now().mono_ns - started.mono_ns) // 1_000_000
    records.append(
        collector_record("round", started, config.vantage, probes=probes, took_ms=took_ms)
    )
    gap_since = full_since(store_path)
    if gap_since is not None:
        resumed_record = collector_record(
            "resumed", started, config.vantage, reason="disk full", full_since_ns=gap_since
        )
        records.insert(0, resumed_record)
    return records


def stored_pairs(appended: Sequence[Appended], records: Sequence[dict[str, object]]) -> Stored:
    """Each record with its seq, for the steps that cite what they follow (diagnoses)."""
    return [(a.seq, r) for a, r in zip(appended, records, strict=True)]


def failing_attempts(stored: Stored) -> Stored:
    """The probe records that failed: what a diagnosis is about."""
    return [(seq, r) for seq, r in stored if r.get("type") == "probe" and r.get("ok") is False]


def seal_when_due(
    config: Config, store: EvidenceStore, key: KeySource
) -> checkpoints.StoredCheckpoint | None:
    """A signed checkpoint when the last is `checkpoints.every` old, then a trusted timestamp
    when one is due (never before the checkpoint it may stamp), then the witnesses' cosignatures
    of the latest checkpoint where they are still due. Returns the new checkpoint."""
    written = None
    if checkpoints.is_due(store, config.checkpoints.every, Stamp.now().ts_ns):
        signing_key = key()
        if signing_key is not None:
            written = checkpoints.write(store, signing_key, config.vantage)
    if config.checkpoints.timestamping is not None:
        timestamp_step(store, config.checkpoints.timestamping, config.vantage)
    if config.witnesses is not None:
        witness_step(store, config.witnesses, config.vantage)
    return written


def _diagnose_here(config: Config, store: EvidenceStore, claims: list[Claim]) -> None:
    def sink(record: dict[str, object]) -> None:
        store.append([record])

    queue = run_claims(config, claims, sink)
    queue.drain()
    queue.stop()


def _key_for_cron(config: Config) -> SigningKey | None:
    """The key from its file; a missing one is check-config's to report, not every round's."""
    try:
        return checkpoints.load_key(config.checkpoints.key)
    except checkpoints.SigningKeyError as exc:
        _LOG.debug("slawitness probe: no checkpoint: %s", exc)
        return None
