"""What `verify` holds a store to besides its chain: its signatures and its dates.

A chain that links proves nothing against someone who re-chains it, so `verify` also
checks what only the key holder could have made (every stored checkpoint's signature,
`collector.proving.checkpoint_signatures`), that the store was signed as often as its config asks,
and that no record is dated earlier than the store could have taken it
(`collector.proving.record_dates`, run in the chain check's own pass). Each finding is one line
naming seqs; any of them makes `verify` exit 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from collector.config.model import Checkpoints, Config
from collector.evidence.store import EvidenceStore, VerifyReport
from collector.portable.signed_note import VerifierKey
from collector.proving import checkpoint_signatures
from collector.proving.checkpoints import StoredCheckpoint
from collector.proving.record_dates import DateWatch, allowance_ns


@dataclass(frozen=True)
class AuditPlan:
    """What the store is held to: the key from outside it (None: the one it names), the
    checkpoint interval when its config signs checkpoints, and how early a record may be
    dated."""

    key: VerifierKey | None
    every_s: float | None
    allowance_ns: int


def plan(config: Config | None, key: VerifierKey | None) -> AuditPlan:
    """The plan for a store of `config` (None: `--store` alone, no config to read).

    Checkpoints are expected when the store's public key is known, from `--key` or from the
    `.pub` beside the config's key: that key exists because the collector signs with it.
    """
    every = (config.checkpoints if config is not None else Checkpoints()).every
    return AuditPlan(key, every if key is not None else None, allowance_ns(config))


@dataclass
class AuditResult:
    """Problems (each a line, exit 1), facts for the terminal, and the checkpoints whose
    signature verified (what the records are then held against)."""

    problems: list[str] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    verified: list[StoredCheckpoint] = field(default_factory=list)


def check(
    store: EvidenceStore, plan: AuditPlan, dates: DateWatch, chain: VerifyReport
) -> AuditResult:
    """Signatures, coverage and dates of `store`, whose chain check `dates` watched."""
    result = AuditResult()
    kept = dates.checkpoint_records if chain.ok else None  # a broken pass stopped early
    found = checkpoint_signatures.audit(store, plan.key, kept)
    result.verified = found.verified
    result.problems += found.problems
    if found.verified:
        key = plan.key or found.verified[0].key
        result.facts.append(
            f"{len(found.verified)} checkpoints, each signed by {key.name} {key.id.hex()}"
        )
        if plan.key is None:
            result.warnings.append(
                "checkpoints checked with the key the store names"
                " (give --key FILE.pub to check them against yours)"
            )
    if plan.every_s is not None:
        newest = None if dates.mark is None else dates.mark.ts_ns
        late = checkpoint_signatures.coverage_problem(
            found, chain.count, chain.head_seq, newest, dates.signed, plan.every_s
        )
        if late is not None:
            result.problems.append(late)
    result.problems += dates.lines()
    result.warnings += [f"clock: {line}" for line in dates.lines(clock_set_back=True)]
    if dates.imported:
        result.facts.append(
            f"{dates.imported} imported records (origin import:...) keep the dates of their files"
        )
    return result
