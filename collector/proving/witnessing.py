"""Asking witnesses to cosign the latest checkpoint (C2SP tlog-witness `add-checkpoint`).

After each checkpoint every configured witness is sent it, with the size that witness last
cosigned (from the store's records; 0 for a witness new to this log) and the consistency
proof from there. Each witness is asked in its own thread, bounded by `witnesses.timeout`,
so a hanging one costs at most that long and never delays another; the results are appended
together afterwards on the caller's connection. The caller is the daemon's checkpoint thread
or a cron round after its records are stored: probing never waits on a witness.

What each answer becomes (see collector.proving.witness_history for the record types):

- 200: the lines are verified against the witness's configured key over the note sent, and
  only a good one is kept as a `cosignature` record; a 200 without one is a failure;
- 409 with a size no larger than ours: the witness knows another size of this log; asked
  again at once from that size. A 409 naming a larger size, a 409 again, or a 422 (our
  consistency proof does not verify against what it holds) is a `witness_conflict`;
- 400, 403, 404, other statuses, timeouts: a `cosignature_failed` record, sent again after
  `witnesses.retry` (or with the next checkpoint, whichever comes first).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from collector.config.model import Witnesses, WitnessServer
from collector.evidence.records import Stamp
from collector.evidence.store import EvidenceStore
from collector.portable.cosignature import CosignerKey, cosignatures_in
from collector.portable.merkle import TreeLevels
from collector.portable.signed_note import NoteError
from collector.portable.witness_wire import (
    SIZE_CONTENT_TYPE,
    WireError,
    add_checkpoint_body,
    parse_size_answer,
)
from collector.proving import checkpoints, consistency
from collector.proving.cosignatures import COSIGNATURE, cosignature_record
from collector.proving.witness_history import (
    COSIGNATURE_FAILED,
    WITNESS_CONFLICT,
    WitnessState,
    witness_states,
)

STATUS_MEANINGS = {
    400: "the witness refused the request as malformed",
    403: "the witness does not trust this log's key",
    404: "the witness does not know this log (origin)",
}
"""What tlog-witness says each refusal means, for the failure record's one-line reason."""
_BODY_KEPT = 400
_LOG = logging.getLogger("slawitness.witness")


@dataclass(frozen=True)
class Outcome:
    """What one witness's exchange came to: the record type stored and a one-line why."""

    witness: str
    stored: str
    message: str


@dataclass(frozen=True)
class _Request:
    server: WitnessServer
    key: CosignerKey
    checkpoint: checkpoints.StoredCheckpoint
    tree: TreeLevels


def _due(state: WitnessState, seq: int, now_ns: int, retry_s: float) -> bool:
    if seq in state.cosigned_seqs or seq in state.conflict_seqs:
        return False
    failed = state.failed_ns.get(seq)
    return failed is None or now_ns - failed >= retry_s * 1e9


def step(store: EvidenceStore, settings: Witnesses, vantage: str) -> list[Outcome]:
    """Send the latest checkpoint to every witness it is due for; append what came back."""
    latest = checkpoints.latest(store)
    if latest is None:
        return []
    # Every round asks; the records about the latest checkpoint, all appended after it, say
    # whether anything is due, so the whole witness history is read only when something is.
    about_latest = witness_states(store, after_seq=latest.seq)
    now_ns = Stamp.now().ts_ns
    due = [
        server
        for server in settings.servers
        if _due(about_latest.get(server.key, WitnessState()), latest.seq, now_ns, settings.retry)
    ]
    if not due:
        return []
    states = witness_states(store)
    tree = consistency.leaves(store, latest.checkpoint.size)
    with ThreadPoolExecutor(max_workers=len(due)) as pool:
        futures = [
            pool.submit(
                _exchange,
                _Request(server, CosignerKey.parse(server.key), latest, tree),
                states.get(server.key, WitnessState()).cosigned_size,
                settings.timeout,
                vantage,
            )
            for server in due
        ]
        results = [future.result() for future in futures]
    store.append([record for record, _ in results])
    for _, outcome in results:
        if outcome.stored != COSIGNATURE:
            _LOG.warning("slawitness witness %s: %s", outcome.witness, outcome.message)
    return [outcome for _, outcome in results]


def _exchange(
    request: _Request, old_size: int, timeout: float, vantage: str
) -> tuple[dict[str, object], Outcome]:
    """One witness asked (and asked again once after a reconcilable 409)."""
    from collector.proving.witness_client import Answer, send_add_checkpoint

    size = request.checkpoint.checkpoint.size
    if old_size > size:
        return _conflict(request, vantage, old_size, None, b"", "it cosigned more records")
    answer = send_add_checkpoint(request.server.url, _body(request, old_size), timeout)
    if isinstance(answer, Answer) and answer.status == 409:
        try:
            theirs = parse_size_answer(answer.body)
        except WireError as exc:
            return _failed(request, vantage, 409, f"a 409 without a tree size ({exc})")
        if answer.content_type != SIZE_CONTENT_TYPE:
            _LOG.info("witness %s: a 409 of type %r", request.key.name, answer.content_type)
        if theirs > size or theirs == old_size:
            return _conflict(request, vantage, theirs, 409, answer.body, "409")
        answer = send_add_checkpoint(request.server.url, _body(request, theirs), timeout)
        if isinstance(answer, Answer) and answer.status in (409, 422):
            return _conflict(request, vantage, theirs, answer.status, answer.body, "on retry")
    if not isinstance(answer, Answer):
        return _failed(request, vantage, None, answer.reason)
    if answer.status == 200:
        return _cosigned(request, vantage, answer.body)
    if answer.status == 422:
        return _conflict(request, vantage, old_size, 422, answer.body, "422")
    reason = STATUS_MEANINGS.get(answer.status, "the witness answered an unexpected status")
    return _failed(request, vantage, answer.status, f"HTTP {answer.status}: {reason}")


def _body(request: _Request, old_size: int) -> bytes:
    size = request.checkpoint.checkpoint.size
    proof = request.tree.consistency_proof(old_size, size) if 0 < old_size < size else []
    return add_checkpoint_body(old_size, proof, request.checkpoint.note)


def _cosigned(request: _Request, vantage: str, body: bytes) -> tuple[dict[str, object], Outcome]:
    """A 200's lines kept only when one of them is the witness's good cosignature."""
    note = request.checkpoint.note
    note = note if note.endswith("\n") else note + "\n"
    try:
        good, problems = cosignatures_in(note + body.decode("utf-8"), [request.key])
    except (NoteError, UnicodeDecodeError) as exc:
        good, problems = [], [str(exc)]
    if not good:
        why = "; ".join(problems) or f"no line by {request.key.name}"
        return _failed(request, vantage, 200, f"HTTP 200 without a good cosignature ({why})")
    record = cosignature_record(request.checkpoint, good[0], request.server.url, vantage)
    return record, Outcome(request.key.name, COSIGNATURE, f"cosigned at {good[0].timestamp}")


def _fields(request: _Request, vantage: str) -> dict[str, object]:
    return {
        **Stamp.now().fields(),
        "vantage": vantage,
        "target": None,
        "checkpoint_seq": request.checkpoint.seq,
        "size": request.checkpoint.checkpoint.size,
        "root": request.checkpoint.checkpoint.root.hex(),
        "witness": request.key.name,
        "key": request.key.encode(),
        "url": request.server.url,
    }


def _failed(
    request: _Request, vantage: str, status: int | None, reason: str
) -> tuple[dict[str, object], Outcome]:
    record = {"type": COSIGNATURE_FAILED, **_fields(request, vantage), "status": status,
              "error": reason}  # fmt: skip
    return record, Outcome(request.key.name, COSIGNATURE_FAILED, reason)


def _conflict(
    request: _Request, vantage: str, witness_size: int | None, status: int | None,
    body: bytes, how: str,
) -> tuple[dict[str, object], Outcome]:  # fmt: skip
    shown = body[:_BODY_KEPT].decode("utf-8", errors="replace")
    record = {"type": WITNESS_CONFLICT, **_fields(request, vantage),
              "witness_size": witness_size, "status": status, "body": shown}  # fmt: skip
    size = request.checkpoint.checkpoint.size
    message = (f"saw a different history ({how}): it knows {witness_size} records,"
               f" our checkpoint has {size}")  # fmt: skip
    return record, Outcome(request.key.name, WITNESS_CONFLICT, message)
