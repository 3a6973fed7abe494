"""Trusted time for checkpoints: an RFC 3161 authority countersigns one a day.

A signed checkpoint proves what the history was, not when: its owner could have signed it
later. A timestamp from an independent authority (TSA) over the signed checkpoint fixes
"no later than". Every step is chained evidence, in this order:

1. a `timestamp_request` record holds the DER request for the latest checkpoint's note,
   appended before any network I/O, so a request is never lost to a crash or an outage;
2. the request is sent (one attempt, bounded by `timeout`);
3. a `timestamp` record keeps the TSA's raw answer (with the certificates it carries), or a
   `timestamp_failed` record says why it failed, and the request stays pending: it is sent
   again at most every RETRY_S, by the daemon's loop or by the next cron round.

Probing never waits on any of it: the daemon runs it in its own thread and connection, and a
cron round reaches it only after its records are stored. This module is on every cron
round's path, so `tsa` (rfc3161-client, cryptography, httpx) is imported inside the
functions that use it: a collector without `timestamping` configured never loads it.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass

from collector.config.model import Timestamping
from collector.core.bounded_read import DOCUMENT_LIMIT, read_bounded
from collector.evidence.records import Stamp
from collector.evidence.store import EvidenceStore, StoredRecord
from collector.proving import checkpoints

REQUEST, RESPONSE, FAILED = "timestamp_request", "timestamp", "timestamp_failed"
RETRY_S = 300.0
"""How long after a failed attempt a pending request is sent again."""
_LOG = logging.getLogger("slawitness.timestamp")


@dataclass(frozen=True)
class Outcome:
    """What one step did: nothing due, a request queued and answered, or a failure."""

    request_seq: int | None
    stored: str | None
    """`timestamp` or `timestamp_failed`, or None when nothing was sent."""
    message: str


def _record(rtype: str, stamp: Stamp, vantage: str, **fields: object) -> dict[str, object]:
    return {"type": rtype, **stamp.fields(), "vantage": vantage, "target": None, **fields}


def _pending(store: EvidenceStore) -> StoredRecord | None:
    """The latest request, when no answer to it is stored yet."""
    request = store.latest(REQUEST)
    if request is None:
        return None
    answer = store.latest(RESPONSE)
    if answer is not None and answer.record.get("request_seq") == request.seq:
        return None
    return request


def _retry_due(store: EvidenceStore, request: StoredRecord, now_ns: int) -> bool:
    failed = store.latest(FAILED)
    if failed is None or failed.record.get("request_seq") != request.seq:
        return True
    ts_ns = failed.record.get("ts_ns")
    return not isinstance(ts_ns, int) or now_ns - ts_ns >= RETRY_S * 1e9


def queue_request(
    store: EvidenceStore, settings: Timestamping, vantage: str, now_ns: int
) -> StoredRecord | None:
    """Append a request for the latest checkpoint when the last one is `every` old."""
    from collector.proving.tsa import timestamp_request

    last = store.latest(REQUEST)
    if last is not None:
        ts_ns = last.record.get("ts_ns")
        if isinstance(ts_ns, int) and now_ns - ts_ns < settings.every * 1e9:
            return None
    checkpoint = checkpoints.latest(store)
    if checkpoint is None:
        return None
    request = timestamp_request(checkpoint.note.encode("utf-8"))
    record = _record(
        REQUEST, Stamp.now(), vantage,
        checkpoint_seq=checkpoint.seq, size=checkpoint.checkpoint.size,
        root=checkpoint.checkpoint.root.hex(), url=settings.url,
        request=base64.b64encode(request).decode("ascii"),
    )  # fmt: skip
    appended = store.append([record])[0]
    return StoredRecord(appended.seq, appended.hash, record)


def step(store: EvidenceStore, settings: Timestamping, vantage: str) -> Outcome:
    """Queue a request when one is due, then send the pending one when it may be sent."""
    from collector.proving.tsa import TsaError, check_response, send_request

    now_ns = Stamp.now().ts_ns
    request = _pending(store) or queue_request(store, settings, vantage, now_ns)
    if request is None:
        return Outcome(None, None, "no timestamp due")
    if not _retry_due(store, request, now_ns):
        return Outcome(request.seq, None, "waiting to retry")
    der = base64.b64decode(str(request.record["request"]))
    data = _note_of(store, request)
    try:
        answer = send_request(settings.url, der, timeout=settings.timeout)
        roots = read_bounded(settings.roots, DOCUMENT_LIMIT) if settings.roots else None
        stamp = check_response(der, answer, data, roots_pem=roots)
    except (TsaError, OSError) as exc:
        failure = _record(FAILED, Stamp.now(), vantage, request_seq=request.seq, error=str(exc))
        store.append([failure])
        _LOG.warning("slawitness timestamp: %s (request seq %d kept)", exc, request.seq)
        return Outcome(request.seq, FAILED, str(exc))
    response = _record(
        RESPONSE, Stamp.now(), vantage,
        request_seq=request.seq, url=settings.url,
        response=base64.b64encode(answer).decode("ascii"),
        gen_time=stamp.gen_time.isoformat(), serial=str(stamp.serial_number),
        tsa=stamp.tsa_name, verified_with_roots=stamp.verified_with_roots,
    )  # fmt: skip
    store.append([response])
    return Outcome(request.seq, RESPONSE, f"timestamped by {stamp.tsa_name} at {stamp.gen_time}")


def _note_of(store: EvidenceStore, request: StoredRecord) -> bytes:
    """The signed note the request is for: the bytes the TSA is asked to stamp."""
    seq = request.record.get("checkpoint_seq")
    assert isinstance(seq, int)
    [checkpoint] = store.records(after_seq=seq - 1, limit=1)
    return str(checkpoint.record.get("note")).encode("utf-8")


@dataclass(frozen=True)
class StoredTimestamp:
    """A stored answer checked again: what it says, or why it no longer checks out."""

    seq: int
    size: int
    url: str
    gen_time: str | None
    tsa: str | None
    problem: str | None


def stored_timestamps(store: EvidenceStore, roots_pem: bytes | None) -> list[StoredTimestamp]:
    """Every stored timestamp, re-checked against its request and the checkpoint it is for."""
    from collector.proving.tsa import TsaError, check_response

    requests = {r.seq: r for r in store.records(types=[REQUEST])}
    found = []
    for answer in store.records(types=[RESPONSE]):
        request = requests.get(int(str(answer.record.get("request_seq"))))
        url = str(answer.record.get("url"))
        if request is None:
            found.append(StoredTimestamp(answer.seq, 0, url, None, None, "its request is missing"))
            continue
        size = int(str(request.record.get("size")))
        try:
            stamp = check_response(
                base64.b64decode(str(request.record["request"])),
                base64.b64decode(str(answer.record["response"])),
                _note_of(store, request),
                roots_pem=roots_pem,
            )
        except (TsaError, ValueError, KeyError) as exc:
            found.append(StoredTimestamp(answer.seq, size, url, None, None, str(exc)))
            continue
        found.append(
            StoredTimestamp(answer.seq, size, url, stamp.gen_time.isoformat(), stamp.tsa_name, None)
        )
    return found
