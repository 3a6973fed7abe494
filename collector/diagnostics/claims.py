"""Which failing targets are due a diagnosis, decided once for every process that asks.

Cron rounds overlap: a round a minute later may start while the last one's traces still
run. So the decision is made, and recorded, in one store transaction: for each target with a
failing attempt, the rate limit (one diagnosis per `diagnostics.every`) is read from the
store, and each target found due gets a chained `diagnosis_due` record naming the failing
attempt. A second round deciding at the same moment waits for that transaction and then sees
those records, so it never traces the same target again. Each `diagnosis_due` is later
answered by exactly one `diagnosis` record (traced, cut short, or not traced) whose `due_seq`
points back at it.

A target whose last due diagnosis was not traced (its round's budget ran out, or the
collector stopped) is due again at once: "not traced" must not hide a still-failing target
for a whole `every`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from collector.config.model import Config
from collector.diagnostics.capture import DIAGNOSIS, NOT_TRACED
from collector.evidence.records import Stamp
from collector.evidence.store import EvidenceStore

DIAGNOSIS_DUE = "diagnosis_due"


@dataclass(frozen=True)
class Claim:
    """A due diagnosis: the target, the failing attempt, and how urgent it is."""

    target: str
    attempt: Mapping[str, object]
    attempt_seq: int | None
    due_seq: int | None
    sla: bool
    """The target has `sla` terms: its evidence is what a claim rests on, so it goes first."""
    last_traced_ns: int
    """When it was last traced (0: never); the longest untraced go first."""

    def order(self) -> tuple[int, int, int]:
        return (0 if self.sla else 1, self.last_traced_ns, self.due_seq or 0)


def _last(store: EvidenceStore, target: str) -> tuple[Mapping[str, object] | None, int]:
    """The newest diagnosis or due record of `target`, and when it was last traced."""
    newest: Mapping[str, object] | None = None
    for row in store.records(target=target, types=[DIAGNOSIS, DIAGNOSIS_DUE],
                             newest_first=True, limit=50):  # fmt: skip
        record = row.record
        newest = newest or record
        if record.get("type") == DIAGNOSIS and record.get("status") != NOT_TRACED:
            ts_ns = record.get("ts_ns")
            return newest, ts_ns if isinstance(ts_ns, int) else 0
    return newest, 0


def _is_due(newest: Mapping[str, object] | None, every_s: float, now_ns: int) -> bool:
    if newest is None:
        return True
    if newest.get("type") == DIAGNOSIS and newest.get("status") == NOT_TRACED:
        return True
    ts_ns = newest.get("ts_ns")
    return not isinstance(ts_ns, int) or now_ns - ts_ns >= every_s * 1e9


def failing_targets(
    config: Config, stored: Sequence[tuple[int, Mapping[str, object]]]
) -> dict[str, tuple[int, Mapping[str, object]]]:
    """Each target with a failing probe in `stored`, with its first failing attempt."""
    names = {t.name for t in config.targets}
    failing: dict[str, tuple[int, Mapping[str, object]]] = {}
    for seq, record in stored:
        name = record.get("target")
        if record.get("type") == "probe" and record.get("ok") is False and name in names:
            failing.setdefault(str(name), (seq, record))
    return failing


def claim_due(
    store: EvidenceStore, config: Config, stored: Sequence[tuple[int, Mapping[str, object]]]
) -> list[Claim]:
    """Decide and record, in one transaction, which of the failing targets in `stored` are
    due a diagnosis; returns them, most urgent first."""
    if not config.diagnostics.enabled:
        return []
    failing = failing_targets(config, stored)
    if not failing:
        return []
    sla = {t.name: t.sla is not None for t in config.targets}
    last_traced: dict[str, int] = {}

    def decide() -> list[dict[str, object]]:
        stamp = Stamp.now()
        records = []
        for name, (seq, attempt) in failing.items():
            newest, last_traced[name] = _last(store, name)
            if _is_due(newest, config.diagnostics.every, stamp.ts_ns):
                records.append({
                    "type": DIAGNOSIS_DUE, **stamp.fields(), "vantage": config.vantage,
                    "target": name, "attempt_seq": seq, "probe": attempt.get("probe"),
                })  # fmt: skip
        return records

    claims = []
    for appended, record in store.append_decided(decide):
        name = str(record["target"])
        seq, attempt = failing[name]
        claims.append(Claim(name, attempt, seq, appended.seq, sla[name], last_traced[name]))
    return sorted(claims, key=Claim.order)


def claims_between(store: EvidenceStore, config: Config, first: int, last: int) -> list[Claim]:
    """The claims recorded at seqs `first`..`last` (what a detached diagnoser was handed),
    with their failing attempts read back from the store, most urgent first."""
    sla = {t.name: t.sla is not None for t in config.targets}
    claims = []
    for row in store.records(types=[DIAGNOSIS_DUE], after_seq=first - 1):
        if row.seq > last:
            break
        name = str(row.record.get("target"))
        if name not in sla:
            continue
        attempt_seq = row.record.get("attempt_seq")
        attempt: Mapping[str, object] = {}
        if isinstance(attempt_seq, int):
            attempt = next(iter(store.records(after_seq=attempt_seq - 1, limit=1))).record
        claims.append(Claim(name, attempt, attempt_seq if isinstance(attempt_seq, int) else None,
                            row.seq, sla[name], _last(store, name)[1]))  # fmt: skip
    return sorted(claims, key=Claim.order)
