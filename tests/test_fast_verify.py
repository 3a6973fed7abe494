"""The fast chain check accepts exactly what the reference accepts, and says the same.

`accepted_record` only ever accepts a payload when msgspec re-encodes it to the same bytes;
these tests hold msgspec's encoding to `json.dumps`'s for every Unicode scalar value and
for generated records, feed both checks payloads that are not canonical, and compare
`first_break_fast` with the reference `first_break` on tampered chains.
"""

from __future__ import annotations

import json

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.evidence.fast_verify import accepted_record, first_break_fast
from collector.portable.chain import (
    GENESIS,
    Row,
    canonical_payload,
    chain_hash,
    first_break,
    parse_payload,
)
from tests.test_chain import _json, _text

SCALARS = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]


def test_strings_encode_alike_for_every_code_point() -> None:
    text = "".join(SCALARS)
    reference = json.dumps(text, ensure_ascii=False).encode("utf-8")
    assert msgspec.json.encode(text) == reference
    chunks = [SCALARS[i : i + 4096] for i in range(0, len(SCALARS), 4096)]
    keys = {"".join(chunk): i for i, chunk in enumerate(chunks)}
    payload = canonical_payload(keys)
    assert accepted_record(payload) == keys == parse_payload(payload)


@given(st.dictionaries(_text.filter(lambda k: k != "seq"), _json, max_size=6))
def test_generated_records_are_accepted_fast(record: dict[str, object]) -> None:
    payload = canonical_payload(record)
    assert accepted_record(payload) == record


def _never_wrongly_accepted(payload: bytes) -> None:
    """What the fast check accepts, the reference accepts as the same record."""
    fast = accepted_record(payload)
    if fast is not None:
        assert parse_payload(payload) == fast


@pytest.mark.parametrize(
    "payload",
    [
        b'{"a": 1}',
        b'{"text":"caf\\u00e9"}',
        b'{"x":1.5}',
        b'{"x":1e5}',
        b'{"x":NaN}',
        b'{"x":-0}',
        b'{"x":01}',
        b'{"a":1,"a":1}',
        b'{"a":2,"a":1}',
        b'{"b":1,"a":2}',
        b'{"a":"\\ud800"}',
        b'{"a":"\\u001f"}',
        b'{"a":"\x1f"}',
        b'{"a":"\\/"}',
        b"[1,2]",
        b'"text"',
        b'{"text":"\xff"}',
        b'{"seq":1}',
        b'{"a":1} ',
        b"",
        b'{"big":123456789012345678901234567890}',
        b'{"big":-18446744073709551616}',
    ],
)
def test_non_canonical_payloads_are_left_to_the_reference(payload: bytes) -> None:
    _never_wrongly_accepted(payload)
    if parse_payload_refuses(payload):
        assert accepted_record(payload) is None


def parse_payload_refuses(payload: bytes) -> bool:
    try:
        parse_payload(payload)
    except ValueError:
        return True
    return False


@given(st.binary(max_size=40))
def test_arbitrary_bytes_get_the_same_verdict(payload: bytes) -> None:
    _never_wrongly_accepted(payload)


@given(st.dictionaries(_text, _json, max_size=4), st.sampled_from([" ", "\n", "\\u0041"]))
def test_altered_payloads_get_the_same_verdict(record: dict[str, object], noise: str) -> None:
    payload = canonical_payload(record)
    for at in range(1, len(payload), max(1, len(payload) // 7)):
        altered = payload[:at] + noise.encode() + payload[at:]
        _never_wrongly_accepted(altered)


def chain_of(records: list[dict[str, object]]) -> list[Row]:
    rows, prev = [], GENESIS
    for seq, record in enumerate(records, start=1):
        payload = canonical_payload(record)
        prev = chain_hash(prev, seq, payload)
        rows.append(
            (seq, record["ts_ns"], record["type"], record.get("target"), payload, prev.hex())
        )
    return rows


def _edits() -> st.SearchStrategy[tuple[int, int, object]]:
    """(row, column, new value) of one stored cell; seq (column 0) stays an integer, as
    SQLite keeps it."""
    values = st.one_of(st.integers(-2, 8), st.binary(max_size=8), st.text(max_size=4), st.none())
    return st.one_of(
        st.tuples(st.integers(0, 5), st.just(0), st.integers(-2, 8)),
        st.tuples(st.integers(0, 5), st.integers(1, 5), values),
    )


@given(
    st.lists(
        st.dictionaries(_text.filter(lambda k: k != "seq"), _json, max_size=3),
        min_size=1,
        max_size=6,
    ),
    st.lists(_edits(), max_size=3),
)
def test_fast_and_reference_chain_checks_agree(
    bodies: list[dict[str, object]], edits: list[tuple[int, int, object]]
) -> None:
    records = [
        {**body, "ts_ns": i, "type": "probe", "target": "vps1"} for i, body in enumerate(bodies)
    ]
    rows = [list(row) for row in chain_of(records)]
    for row, column, value in edits:
        if row < len(rows):
            rows[row][column] = value
    stored = [tuple(row) for row in rows]
    seen: list[tuple[int, dict[str, object]]] = []
    fast = first_break_fast(stored, on_record=lambda seq, record: seen.append((seq, record)))
    assert fast == first_break(stored)  # type: ignore[arg-type]
    assert seen == [(i + 1, records[i]) for i in range(len(seen))]
    if fast is None:
        assert len(seen) == len(records)
