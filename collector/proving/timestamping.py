"""Trusted time for checkpoints: RFC 3161 authorities countersign one a day, k of n.

A signed checkpoint proves what the history was, not when: its owner could have signed it
later. A timestamp from an independent authority (TSA) over the signed checkpoint fixes
"no later than"; several authorities make that no single one's word. Every step is chained
evidence, for each authority on its own, in this order:

1. a `timestamp_request` record (its `url` names the authority) holds the DER request for
   the latest checkpoint's note, with its own nonce, appended before any network I/O, so
   a request is never lost to a crash or an outage;
2. the requests due are sent, all authorities at once (one attempt each, bounded by
   `timeout`), so a hanging authority never delays another's answer;
3. a `timestamp` record keeps an authority's raw answer (with the certificates it
   carries), or a `timestamp_failed` record says why it failed, and that request stays
   pending: it is sent again at most every RETRY_S, by the daemon's loop or by the next
   cron round, while the other authorities go on by their own schedule.

Probing never waits on any of it: the daemon runs it in its own thread and connection, and a
cron round reaches it only after its records are stored. This module is on every cron
round's path, so `tsa` (rfc3161-client, cryptography, httpx) is imported inside the
functions that use it: a collector without `timestamping` configured never loads it.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass

from collector.config.model import Timestamping, TsaAuthority
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
    """What one step did for one authority: nothing due, a request answered, or a failure."""

    request_seq: int | None
    stored: str | None
    """`timestamp` or `timestamp_failed`, or None when nothing was sent."""
    message: str
    url: str = ""
    """The authority this outcome is about."""


def _record(rtype: str, stamp: Stamp, vantage: str, **fields: object) -> dict[str, object]:
    return {"type": rtype, **stamp.fields(), "vantage": vantage, "target": None, **fields}


def _latest_requests(store: EvidenceStore, urls: list[str]) -> dict[str, StoredRecord]:
    """Each authority's latest request, from one newest-first pass for all of them that
    stops once every one of `urls` is found."""
    found: dict[str, StoredRecord] = {}
    for request in store.records(types=[REQUEST], newest_first=True):
        url = request.record.get("url")
        if isinstance(url, str) and url in urls and url not in found:
            found[url] = request
            if len(found) == len(urls):
                break
    return found


def _answered(store: EvidenceStore, request: StoredRecord) -> bool:
    answers = store.records(types=[RESPONSE], after_seq=request.seq)
    return any(a.record.get("request_seq") == request.seq for a in answers)


def _pending(store: EvidenceStore, request: StoredRecord | None) -> StoredRecord | None:
    """The authority's latest request, when no answer to it is stored yet."""
    if request is None or _answered(store, request):
        return None
    return request


def _retry_due(store: EvidenceStore, request: StoredRecord, now_ns: int) -> bool:
    failures = store.records(types=[FAILED], after_seq=request.seq, newest_first=True)
    failed = next((f for f in failures if f.record.get("request_seq") == request.seq), None)
    if failed is None:
        return True
    ts_ns = failed.record.get("ts_ns")
    return not isinstance(ts_ns, int) or now_ns - ts_ns >= RETRY_S * 1e9


def queue_request(
    store: EvidenceStore,
    settings: Timestamping,
    vantage: str,
    now_ns: int,
    url: str,
    last: StoredRecord | None,
) -> StoredRecord | None:
    """Append a request to the authority at `url` for the latest checkpoint, when its last
    request (`last`) is `every` old."""
    from collector.proving.tsa import timestamp_request

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
        root=checkpoint.checkpoint.root.hex(), url=url,
        request=base64.b64encode(request).decode("ascii"),
    )  # fmt: skip
    appended = store.append([record])[0]
    return StoredRecord(appended.seq, appended.hash, record)


def step(store: EvidenceStore, settings: Timestamping, vantage: str) -> Outcome:
    """Every authority's step (see `step_each`); the first authority's outcome."""
    return step_each(store, settings, vantage)[0]


def step_each(store: EvidenceStore, settings: Timestamping, vantage: str) -> list[Outcome]:
    """For each authority: queue a request when one is due, then send the pending ones that
    may be sent, all at once. Answers are checked and stored here, on the caller's
    connection, as they come; the slowest authority bounds the whole step by `timeout`."""
    now_ns = Stamp.now().ts_ns
    outcomes: dict[str, Outcome] = {}
    due: list[tuple[TsaAuthority, StoredRecord]] = []
    latest = _latest_requests(store, [authority.url for authority in settings.sources])
    for authority in settings.sources:
        url, last = authority.url, latest.get(authority.url)
        request = _pending(store, last) or queue_request(
            store, settings, vantage, now_ns, url, last
        )
        if request is None:
            outcomes[url] = Outcome(None, None, "no timestamp due", url)
        elif not _retry_due(store, request, now_ns):
            outcomes[url] = Outcome(request.seq, None, "waiting to retry", url)
        else:
            due.append((authority, request))
    if due:
        with ThreadPoolExecutor(len(due), thread_name_prefix="slawitness-tsa") as pool:
            sent = {_send(pool, a, r, settings.timeout): (a, r) for a, r in due}
            for future in as_completed(sent):
                authority, request = sent[future]
                outcome = _store_answer(store, authority, request, future, vantage)
                outcomes[authority.url] = outcome
    return [outcomes[a.url] for a in settings.sources]


def _send(
    pool: ThreadPoolExecutor, authority: TsaAuthority, request: StoredRecord, timeout: float
) -> Future[bytes]:
    """The exchange with one authority, in a thread of its own: network I/O only."""
    from collector.proving.tsa import send_request

    der = base64.b64decode(str(request.record["request"]))
    return pool.submit(send_request, authority.url, der, timeout=timeout)


def _store_answer(
    store: EvidenceStore,
    authority: TsaAuthority,
    request: StoredRecord,
    sent: Future[bytes],
    vantage: str,
) -> Outcome:
    """Check one authority's answer and chain it, or chain why there is none."""
    from collector.proving.tsa import TsaError, check_response

    der = base64.b64decode(str(request.record["request"]))
    url = authority.url
    try:
        answer = sent.result()
        roots = read_bounded(authority.roots, DOCUMENT_LIMIT) if authority.roots else None
        stamp = check_response(der, answer, _note_of(store, request), roots_pem=roots)
    except (TsaError, OSError) as exc:
        failure = _record(FAILED, Stamp.now(), vantage, request_seq=request.seq, error=str(exc))
        store.append([failure])
        _LOG.warning("slawitness timestamp: %s (request seq %d kept)", exc, request.seq)
        return Outcome(request.seq, FAILED, str(exc), url)
    response = _record(
        RESPONSE, Stamp.now(), vantage,
        request_seq=request.seq, url=url,
        response=base64.b64encode(answer).decode("ascii"),
        gen_time=stamp.gen_time.isoformat(), serial=str(stamp.serial_number),
        tsa=stamp.tsa_name, verified_with_roots=stamp.verified_with_roots,
    )  # fmt: skip
    store.append([response])
    message = f"timestamped by {stamp.tsa_name or url} at {stamp.gen_time}"
    return Outcome(request.seq, RESPONSE, message, url)


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
    checkpoint_seq: int | None = None
    """The checkpoint record the stamp is for (None when its request is missing)."""
    roots_checked: bool = False
    """True when the token's chain was checked against the authority's roots."""


def roots_by_url(settings: Timestamping | None) -> dict[str, bytes]:
    """Each configured authority's roots, read; an authority without roots is left out.
    Raises OSError naming nothing: the caller says which file and whether that is fatal."""
    found = {}
    for authority in [] if settings is None else settings.sources:
        if authority.roots is not None:
            found[authority.url] = read_bounded(authority.roots, DOCUMENT_LIMIT)
    return found


def stored_timestamps(
    store: EvidenceStore, roots_pem: bytes | None = None, roots: Mapping[str, bytes] | None = None
) -> list[StoredTimestamp]:
    """Every stored timestamp, re-checked against its request and the checkpoint it is for,
    and against its authority's roots in `roots` (by URL), else against `roots_pem`."""
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
        checkpoint_seq = int(str(request.record.get("checkpoint_seq")))
        pem = (roots or {}).get(url, roots_pem)
        try:
            stamp = check_response(
                base64.b64decode(str(request.record["request"])),
                base64.b64decode(str(answer.record["response"])),
                _note_of(store, request),
                roots_pem=pem,
            )
        except (TsaError, ValueError, KeyError) as exc:
            found.append(
                StoredTimestamp(answer.seq, size, url, None, None, str(exc), checkpoint_seq)
            )
            continue
        gen_time = stamp.gen_time.isoformat()
        found.append(
            StoredTimestamp(
                answer.seq, size, url, gen_time, stamp.tsa_name, None, checkpoint_seq, bool(pem)
            )
        )
    return found
