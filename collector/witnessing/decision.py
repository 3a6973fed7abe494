"""What a witness answers to one `add-checkpoint` request, as pure functions.

Split in two so the part that needs the witness's state runs under the state's lock and
nothing else does: `admit` needs only the request and the trusted logs (body syntax 400,
unknown origin 404, no trusted signature 403, old size past the checkpoint 400); `judge`
compares what was admitted with the latest checkpoint cosigned for that origin (409 with the
size the client should retry from, 422 for a proof that does not verify, or cosign). The
status codes and their order are C2SP tlog-witness's; a refusal that shows the log signed two
incompatible views (a bad proof, the same size with another root) is marked as evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus

from collector.portable.errors import SlawitnessError
from collector.portable.merkle import verify_consistency
from collector.portable.signed_note import (
    Checkpoint,
    NoteError,
    VerifierKey,
    split_note,
    verify_note,
)
from collector.portable.witness_wire import AddCheckpoint, WireError, parse_add_checkpoint
from collector.witnessing.trusted_logs import TrustedLogs


@dataclass(frozen=True)
class Latest:
    """The latest checkpoint this witness cosigned for one origin."""

    size: int
    root: bytes
    note: str


@dataclass(frozen=True)
class Submission:
    """A request whose checkpoint a trusted key of its origin signed."""

    request: AddCheckpoint
    text: str
    """The checkpoint's note text (what a cosignature signs, signatures not included)."""
    checkpoint: Checkpoint


class Refused(SlawitnessError):
    """The answer to a request that is not cosigned: its status and why, in one line
    (handled where it happens: the server turns it into the HTTP answer)."""

    def __init__(self, status: HTTPStatus, reason: str, latest_size: int | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.latest_size = latest_size
        """For a 409: the size the client should send as its old size."""

    @property
    def misbehaviour(self) -> bool:
        """A signed checkpoint that cannot extend what was cosigned: kept as evidence."""
        return self.status == HTTPStatus.UNPROCESSABLE_ENTITY or (
            self.status == HTTPStatus.CONFLICT and "root" in self.reason
        )


def admit(logs: TrustedLogs, body: bytes) -> Submission:
    """The request read and its checkpoint's signature checked; Refused otherwise."""
    try:
        request = parse_add_checkpoint(body)
        text, _ = split_note(request.note)
        checkpoint = Checkpoint.parse(text)
    except (WireError, NoteError) as exc:
        raise Refused(HTTPStatus.BAD_REQUEST, str(exc)) from None
    keys = logs.of(checkpoint.origin)
    if not keys:
        raise Refused(HTTPStatus.NOT_FOUND, f"unknown log origin {checkpoint.origin[:100]!r}")
    if not any(_signed_by(request.note, key) for key in keys):
        raise Refused(HTTPStatus.FORBIDDEN, "no signature by a trusted key of this log")
    if request.old_size > checkpoint.size:
        reason = f"old size {request.old_size} is past the checkpoint's size {checkpoint.size}"
        raise Refused(HTTPStatus.BAD_REQUEST, reason)
    return Submission(request, text, checkpoint)


def _signed_by(note: str, key: VerifierKey) -> bool:
    try:
        verify_note(note, key)
    except NoteError:
        return False
    return True


def judge(submission: Submission, latest: Latest | None) -> Latest:
    """The checkpoint to record as the new latest when `submission` extends `latest`
    consistently (the caller cosigns it); Refused otherwise."""
    old, proof = submission.request.old_size, submission.request.proof
    new = submission.checkpoint
    known = latest.size if latest is not None else 0
    if old != known:
        raise Refused(HTTPStatus.CONFLICT, f"the latest cosigned size is {known}", known)
    if latest is not None and old == new.size and latest.root != new.root:
        reason = f"size {old} was cosigned with another root hash"
        raise Refused(HTTPStatus.CONFLICT, reason, known)
    if old == 0 or latest is None:
        if proof:
            raise Refused(HTTPStatus.UNPROCESSABLE_ENTITY, "a proof from size 0 must be empty")
    elif not verify_consistency(old, new.size, proof, latest.root, new.root):
        reason = f"the consistency proof from {old} to {new.size} does not verify"
        raise Refused(HTTPStatus.UNPROCESSABLE_ENTITY, reason)
    return Latest(new.size, new.root, submission.request.note)
