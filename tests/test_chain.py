"""The record format (`portable.chain`): the exact bytes and hashes third parties reproduce."""

from __future__ import annotations

import hashlib
from enum import IntEnum

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.core.results import ErrorClass
from collector.portable.chain import (
    GENESIS,
    canonical_payload,
    chain_hash,
    first_break,
    link_problem,
    parse_payload,
    record_columns,
)

# A test vector checked outside Python with:
#   { head -c 32 /dev/zero; printf '\x00\x00\x00\x00\x00\x00\x00\x01';
#     printf '%s' '{"ok":true,"target":"vps1","ts_ns":1,"type":"probe"}'; } | sha256sum
VECTOR_PAYLOAD = b'{"ok":true,"target":"vps1","ts_ns":1,"type":"probe"}'
VECTOR_HASH = "5d8ce24c726f0c6097c1c2d79287a952879d87ae01856d82a6e9fe348d9adb13"


def test_canonical_payload_is_sorted_compact_utf8_and_drops_seq() -> None:
    record = {
        "type": "probe",
        "ts_ns": 1_790_000_000_123_456_789,
        "seq": 7,
        "target": "vps1",
        "ok": False,
        "error": ErrorClass.TIMEOUT,
        "detail": {"message": "超时 café", "code": None},
        "phases_ns": [1, [2, []], None, {}],
    }
    expected = (
        '{"detail":{"code":null,"message":"超时 café"},"error":"timeout","ok":false,'
        '"phases_ns":[1,[2,[]],null,{}],"target":"vps1","ts_ns":1790000000123456789,'
        '"type":"probe"}'
    ).encode()
    payload = canonical_payload(record)
    assert payload == expected
    assert "超".encode() in payload and b"\\u" not in payload


def test_keys_sort_by_code_point_at_every_level() -> None:
    payload = canonical_payload({"b": 1, "a": {"z": 1, "Z": 2, "é": 3}, "B": 0})
    assert payload == '{"B":0,"a":{"Z":2,"z":1,"é":3},"b":1}'.encode()


def test_booleans_stay_booleans_and_enums_become_their_values() -> None:
    class Code(IntEnum):
        OK = 200

    assert canonical_payload({"a": True, "b": 1, "c": Code.OK}) == b'{"a":true,"b":1,"c":200}'


@pytest.mark.parametrize(
    "record",
    [
        {"latency": 0.5},
        {"latency": float("nan")},
        {"latency": float("inf")},
        {"latency": float("-inf")},
        {"phases": [1, 2, 3.0]},
        {"detail": {"deep": [{"x": 1e-9}]}},
        {"tags": {"a", "b"}},
        {"blob": b"bytes"},
        {"when": object()},
        {"detail": {1: "int key"}},
        {"text": "lone \ud800 surrogate"},
    ],
)
def test_non_json_values_are_refused(record: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        canonical_payload(record)


def test_chain_hash_matches_sha256_of_the_concatenation() -> None:
    prev = bytes(range(32))
    payload = canonical_payload({"ts_ns": 5, "type": "note", "text": "ticket 48213"})
    by_hand = hashlib.sha256(prev + b"\x00\x00\x00\x00\x00\x00\x01\x02" + payload).digest()
    assert chain_hash(prev, 258, payload) == by_hand


def test_known_vector() -> None:
    payload = canonical_payload({"ts_ns": 1, "type": "probe", "target": "vps1", "ok": True})
    assert payload == VECTOR_PAYLOAD
    assert GENESIS == b"\x00" * 32
    assert chain_hash(GENESIS, 1, payload).hex() == VECTOR_HASH


@pytest.mark.parametrize(("prev", "seq"), [(b"\x00" * 31, 1), (GENESIS, -1), (GENESIS, 2**64)])
def test_chain_hash_rejects_bad_inputs(prev: bytes, seq: int) -> None:
    with pytest.raises(ValueError):
        chain_hash(prev, seq, b"{}")


@pytest.mark.parametrize(
    "payload",
    [
        b'{"a": 1}',
        b'{"text":"caf\\u00e9"}',
        b'{"x":1.5}',
        b'{"a":1,"a":1}',
        b'{"b":1,"a":2}',
        b"[1,2]",
        b'{"text":"\xff"}',
        b'{"seq":1}',
    ],
)
def test_parse_payload_refuses_anything_not_canonical(payload: bytes) -> None:
    with pytest.raises(ValueError):
        parse_payload(payload)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"type": "probe"}, "ts_ns must be an int"),
        ({"ts_ns": True, "type": "probe"}, "ts_ns must be an int"),
        ({"ts_ns": 1.0, "type": "probe"}, "ts_ns must be an int"),
        ({"ts_ns": 1, "type": ""}, "type must be a non-empty string"),
        ({"ts_ns": 1, "type": "probe", "target": 3}, "target must be a string"),
        ({"ts_ns": 1, "type": "probe", "seq": 4}, "seq is assigned by the store"),
        ({"ts_ns": 1, "type": "probe", "loss": 0.5}, "floats are not allowed"),
    ],
)
def test_record_columns_checks_the_indexed_fields(record: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        record_columns(record)


def _rows(
    records: list[dict[str, object]],
) -> list[tuple[int, object, object, object, object, object]]:
    """Rows as a conforming writer stores them."""
    rows: list[tuple[int, object, object, object, object, object]] = []
    prev = GENESIS
    for seq, record in enumerate(records, start=1):
        ts_ns, rtype, target, payload = record_columns(record)
        prev = chain_hash(prev, seq, payload)
        rows.append((seq, ts_ns, rtype, target, payload, prev.hex()))
    return rows


RECORDS = [{"ts_ns": i, "type": "probe", "target": "vps1", "n": i} for i in range(1, 6)]


def test_first_break_accepts_a_conforming_chain() -> None:
    assert first_break(_rows(RECORDS)) is None
    assert first_break([]) is None


def test_first_break_names_each_kind_of_problem() -> None:
    rows = _rows(RECORDS)
    assert first_break(rows[:2] + rows[3:]) == (3, "seq 3 missing (next stored seq is 4)")
    assert first_break(rows[2:]) == (1, "seq 1-2 missing (next stored seq is 3)")
    assert first_break([(0, *rows[0][1:]), *rows]) == (
        0,
        "seq 0 before seq 1 (the chain starts at 1)",
    )
    assert first_break([rows[0], rows[1], rows[1]]) == (
        2,
        "seq 2 duplicated or out of order (expected 3)",
    )
    bad_hash = (*rows[3][:5], "0" * 64)
    assert first_break([*rows[:3], bad_hash, rows[4]]) == (
        4,
        "seq 4: hash does not match its payload and the previous hash",
    )
    moved = (rows[1][0], rows[1][1], rows[1][2], "other", rows[1][4], rows[1][5])
    bad = first_break([rows[0], moved, *rows[2:]])
    assert bad is not None and bad[0] == 2 and "column target" in bad[1]


def test_link_problem_refuses_a_text_payload() -> None:
    assert link_problem(GENESIS, 1, 1, "{}", "00") == (
        1,
        "seq 1: payload is stored as str, not bytes",
    )


_text = st.text(st.characters(codec="utf-8"))
_scalars = st.none() | st.booleans() | st.integers() | _text
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(_text.filter(lambda k: k != "seq"), _json, max_size=6))
def test_canonical_payload_round_trips_and_ignores_insertion_order(
    record: dict[str, object],
) -> None:
    payload = canonical_payload(record)
    assert parse_payload(payload) == record
    assert canonical_payload(dict(reversed(list(record.items())))) == payload
