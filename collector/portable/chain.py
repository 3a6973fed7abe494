"""The record format's hash chain, in the standard library only.

This module is the normative record format made executable: a third party holding the
store (or an export of it) must be able to re-implement it from docs/record-format.md (whose
test vectors tests/test_record_format.py checks against this code) and get the same bytes
and hashes, so it imports nothing outside the standard library and knows nothing about
SQLite.

- `canonical_payload(record)` is the exact byte string that is hashed and stored: the record
  as JSON without `seq`, keys sorted, `,` and `:` separators, UTF-8 (not ASCII-escaped),
  and only integers, strings, booleans, null, lists and objects. A float anywhere is refused,
  because float formatting differs between languages and would make hashes unreproducible.
- `chain_hash(prev_hash, seq, payload)` = SHA-256(prev_hash || seq as 8 bytes big-endian ||
  payload); the first record's `prev_hash` is `GENESIS` (32 zero bytes).
- `record_columns(record)` checks a record before it is appended: an int `ts_ns`, a
  non-empty str `type`, an optional str `target` (the store indexes those three columns).
- `first_break(rows)` is the whole verification: it walks stored rows in seq order and names
  the first seq whose position, hash, previous-hash link, payload form or indexed columns do
  not match. It streams, so it runs in constant memory over any number of rows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping

GENESIS = bytes(32)
"""The `prev_hash` of the first record (seq 1)."""

_Json = None | bool | int | str | list["_Json"] | dict[str, "_Json"]


def _clean(value: object, where: str) -> _Json:
    """A plain copy of `value` that `json.dumps` renders one way only, or ValueError.

    Subclasses of str/int (StrEnum, IntEnum) are reduced to their plain values, so the
    bytes never depend on a Python class's repr.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, float):
        raise ValueError(f"{where}: floats are not allowed in a record (got {value!r})")
    if isinstance(value, list | tuple):
        return [_clean(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, Mapping):
        out: dict[str, _Json] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where}: object keys must be strings (got {key!r})")
            out[str.__str__(key)] = _clean(item, f"{where}.{key}")
        return out
    raise ValueError(f"{where}: {type(value).__name__} is not allowed in a record")


def canonical_payload(record: Mapping[str, object]) -> bytes:
    """The bytes that are stored and hashed for `record` (every field except `seq`).

    Raises ValueError for a float (including NaN and infinities), a non-string key, a lone
    surrogate, or any type outside int/str/bool/None/list/dict.
    """
    if not isinstance(record, Mapping):
        raise ValueError(f"a record must be a mapping, got {type(record).__name__}")
    body = {key: value for key, value in record.items() if key != "seq"}
    clean = _clean(body, "record")
    text = json.dumps(
        clean, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"record: string is not valid Unicode ({exc.reason})") from exc


def chain_hash(prev_hash: bytes, seq: int, payload: bytes) -> bytes:
    """SHA-256(prev_hash || seq as 8 bytes big-endian || payload), 32 raw bytes."""
    if len(prev_hash) != 32:
        raise ValueError(f"prev_hash must be 32 bytes, got {len(prev_hash)}")
    if not 0 <= seq < 2**64:
        raise ValueError(f"seq must fit in 8 unsigned bytes, got {seq}")
    return hashlib.sha256(b"".join((prev_hash, seq.to_bytes(8, "big"), payload))).digest()


def parse_payload(payload: bytes) -> dict[str, object]:
    """The record stored in `payload`, or ValueError when the bytes are not canonical.

    A payload whose hash is right but whose bytes are not what `canonical_payload` would
    write (spaces, escaped non-ASCII, a float, duplicate keys) was not written by a
    conforming writer, so verification treats it as a break as well.
    """
    try:
        record = json.loads(
            payload.decode("utf-8"), parse_float=_no_float, parse_constant=_no_float
        )
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"payload is not UTF-8 JSON ({exc})") from exc
    except _FloatFound:
        raise ValueError("payload is not in canonical form (it holds a float)") from None
    if not isinstance(record, dict):
        raise ValueError("payload is not a JSON object")
    # json.loads yields only dict/list/str/int/bool/None here (floats were refused), so
    # json.dumps in C gives the canonical bytes without the slower _clean walk.
    try:
        again = json.dumps(
            record, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("payload is not in canonical form (lone surrogate)") from None
    if again != payload or "seq" in record:
        raise ValueError("payload is not in canonical form")
    return record


class _FloatFound(Exception):
    """A float or NaN in a stored payload: canonical payloads never hold one."""


def _no_float(text: str) -> object:
    raise _FloatFound(text)


def link_problem(
    prev_hash: bytes, expected_seq: int, seq: int, payload: object, stored_hash: object
) -> tuple[int, str] | None:
    """The first bad seq and what is wrong with one row of the chain, or None if it links.

    `expected_seq` is the seq the row must have (1 for the first row, one more than the
    previous row after that); `prev_hash` is the previous row's verified hash. A row whose
    seq is ahead of `expected_seq` means rows are missing, so the missing seq is named.
    """
    if seq > expected_seq:
        missing = f"{expected_seq}" if seq == expected_seq + 1 else f"{expected_seq}-{seq - 1}"
        return expected_seq, f"seq {missing} missing (next stored seq is {seq})"
    if seq < expected_seq:
        if expected_seq == 1:
            return seq, f"seq {seq} before seq 1 (the chain starts at 1)"
        return seq, f"seq {seq} duplicated or out of order (expected {expected_seq})"
    if not isinstance(payload, bytes):
        return seq, f"seq {seq}: payload is stored as {type(payload).__name__}, not bytes"
    if stored_hash != chain_hash(prev_hash, seq, payload).hex():
        return seq, f"seq {seq}: hash does not match its payload and the previous hash"
    return None


def record_columns(record: Mapping[str, object]) -> tuple[int, str, str | None, bytes]:
    """A record's indexed columns (ts_ns, type, target) and payload, or ValueError."""
    if not isinstance(record, Mapping):
        raise ValueError(f"a record must be a mapping, got {type(record).__name__}")
    if "seq" in record:
        raise ValueError("seq is assigned by the store, do not pass one")
    ts_ns, rtype, target = record.get("ts_ns"), record.get("type"), record.get("target")
    if type(ts_ns) is not int:
        raise ValueError(f"ts_ns must be an int (nanoseconds), got {ts_ns!r}")
    if type(rtype) is not str or not rtype:
        raise ValueError(f"type must be a non-empty string, got {rtype!r}")
    if target is not None and type(target) is not str:
        raise ValueError(f"target must be a string, got {target!r}")
    return ts_ns, rtype, target, canonical_payload(record)


def _column_problem(record: dict[str, object], row: tuple[object, ...]) -> str | None:
    for name, column in zip(("ts_ns", "type", "target"), row, strict=True):
        value = record.get(name)
        if value != column or type(value) is not type(column):
            return f"column {name} ({column!r}) does not match the payload ({value!r})"
    return None


Row = tuple[int, object, object, object, object, object]
"""A stored row: seq, ts_ns, type, target, payload, hash."""


def row_problem(
    prev_hash: bytes, expected_seq: int, row: Row
) -> tuple[tuple[int, str] | None, dict[str, object] | None]:
    """One stored row checked against the verified hash before it: (problem, None) when
    it does not verify, (None, record) when it does."""
    seq, ts_ns, rtype, target, payload, stored_hash = row
    problem = link_problem(prev_hash, expected_seq, seq, payload, stored_hash)
    if problem is not None:
        return problem, None
    assert isinstance(payload, bytes)
    try:
        record = parse_payload(payload)
    except ValueError as exc:
        return (seq, f"seq {seq}: {exc}"), None
    column = _column_problem(record, (ts_ns, rtype, target))
    if column is not None:
        return (seq, f"seq {seq}: {column}"), None
    return None, record


def first_break(
    rows: Iterable[Row], *, prev_hash: bytes = GENESIS, expected_seq: int = 1
) -> tuple[int, str] | None:
    """The first bad seq and a one-line problem, or None when every row verifies.

    `rows` must come in ascending seq order. Only a row that passed every check lends its
    hash to the next one, so the seq named is where the evidence stops being trustworthy.
    A reader that verifies a store in seq ranges starts a range from the stored hash of the
    row before it (`prev_hash`, `expected_seq`).
    """
    prev, expected = prev_hash, expected_seq
    for row in rows:
        problem, _ = row_problem(prev, expected, row)
        if problem is not None:
            return problem
        seq, stored_hash = row[0], row[5]
        assert isinstance(stored_hash, str)
        prev, expected = bytes.fromhex(stored_hash), seq + 1
    return None
