"""The msgspec fast path accepts exactly what the reference `parse_payload` accepts.

`parse_payload_fast` only ever accepts a payload when msgspec re-encodes it to the same
bytes; these tests hold msgspec's encoding to `json.dumps`'s for every Unicode scalar
value and for generated records, and feed both functions payloads that are not canonical.
"""

from __future__ import annotations

import json

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.chain import canonical_payload, parse_payload
from collector.payload_check import parse_payload_fast
from tests.test_chain import _json, _text

SCALARS = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]


def test_strings_encode_alike_for_every_code_point() -> None:
    text = "".join(SCALARS)
    reference = json.dumps(text, ensure_ascii=False).encode("utf-8")
    assert msgspec.json.encode(text) == reference
    chunks = [SCALARS[i : i + 4096] for i in range(0, len(SCALARS), 4096)]
    keys = {"".join(chunk): i for i, chunk in enumerate(chunks)}
    payload = canonical_payload(keys)
    assert parse_payload_fast(payload) == keys == parse_payload(payload)


@given(st.dictionaries(_text.filter(lambda k: k != "seq"), _json, max_size=6))
def test_generated_records_parse_alike(record: dict[str, object]) -> None:
    payload = canonical_payload(record)
    assert parse_payload_fast(payload) == record


def _verdict(parse: object, payload: bytes) -> object:
    try:
        return ("ok", parse(payload))  # type: ignore[operator]
    except ValueError as exc:
        return ("refused", str(exc))


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
def test_both_give_the_same_verdict(payload: bytes) -> None:
    assert _verdict(parse_payload_fast, payload) == _verdict(parse_payload, payload)


@given(st.binary(max_size=40))
def test_arbitrary_bytes_get_the_same_verdict(payload: bytes) -> None:
    assert _verdict(parse_payload_fast, payload) == _verdict(parse_payload, payload)


@given(st.dictionaries(_text, _json, max_size=4), st.sampled_from([" ", "\n", "\\u0041"]))
def test_altered_payloads_get_the_same_verdict(record: dict[str, object], noise: str) -> None:
    payload = canonical_payload(record)
    for at in range(1, len(payload), max(1, len(payload) // 7)):
        altered = payload[:at] + noise.encode() + payload[at:]
        assert _verdict(parse_payload_fast, altered) == _verdict(parse_payload, altered)
