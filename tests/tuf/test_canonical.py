"""Canonical JSON and the envelope encoding, byte for byte as Go writes them."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notary_tuf import canonical
from notary_tuf.canonical import canonical_bytes, envelope_string, html_escape, parse_json
from notary_tuf.errors import CanonicalizationError, JSONFormatError, NotaryTufError

_TEXT = st.characters(exclude_categories=("Cs", "Cc"))
# JSON values as Go's decoder produces them (integers within float64's exact range).
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.text(alphabet=_TEXT, max_size=20)
)
# Raw control characters are canonical but not parseable (by Go either), so the
# round-trip properties leave them out; test_canonical_bytes covers them.
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.text(alphabet=_TEXT, max_size=10), children)
    ),
    max_leaves=30,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"b": 1, "a": 2}, b'{"a":2,"b":1}'),
        ({"a": [1, "x", None, True, False]}, b'{"a":[1,"x",null,true,false]}'),
        ('quote " and backslash \\', b'"quote \\" and backslash \\\\"'),
        ("raw\ncontrol\tchars\x01", b'"raw\ncontrol\tchars\x01"'),
        ("<html> & \u2028\u2029", '"<html> & \u2028\u2029"'.encode()),
        ("caf\u00e9 \U0001f600", '"caf\u00e9 \U0001f600"'.encode()),
        (1.0, b"1"),
        (1e2, b"100"),
        (-0.0, b"0"),
        (2**53 + 1, b"9007199254740992"),  # float64 rounding, as Go's decoder does
        (2**63, b"-9223372036854775808"),  # Go's int64(float64) overflow on amd64
        ({"\u00e9": 1, "z": 2, "Z": 3}, '{"Z":3,"z":2,"\u00e9":1}'.encode()),
    ],
    ids=[
        "sorted-keys",
        "array-and-literals",
        "only-quote-and-backslash-escaped",
        "control-characters-raw",
        "html-and-separators-raw",
        "non-ascii-raw",
        "integral-float",
        "exponent",
        "negative-zero",
        "beyond-2^53",
        "int64-overflow",
        "byte-order-of-keys",
    ],
)
@pytest.mark.parametrize("str_keys", [False, True], ids=["python-writer", "fast-path"])
def test_canonical_bytes(value: Any, expected: bytes, str_keys: bool) -> None:
    assert canonical_bytes(value, str_keys=str_keys) == expected


@pytest.mark.parametrize(
    "value",
    [1.5, {"a": float("nan")}, {1: "x"}, object()],
    ids=["fraction", "nan", "int-key", "object"],
)
def test_values_without_canonical_form(value: Any) -> None:
    with pytest.raises(CanonicalizationError):
        canonical_bytes(value)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"{",
        b'{"a":NaN}',
        b'{"a":Infinity}',
        b"[1e400]",
        b"1" * 400,
        b"\xef\xbb\xbf{}",
        b'"\x01"',
    ],
    ids=[
        "empty",
        "truncated",
        "nan",
        "infinity",
        "float-overflow",
        "int-overflow",
        "bom",
        "raw-control",
    ],
)
def test_parse_rejects_what_go_rejects(data: bytes) -> None:
    with pytest.raises(JSONFormatError):
        parse_json(data)


def test_parse_replaces_invalid_utf8_byte_by_byte_like_go() -> None:
    assert parse_json(b'"a\xe2\x80b"') == "a\ufffd\ufffdb"
    assert parse_json(b'"\xff"') == "\ufffd"


def test_parse_replaces_lone_surrogate_escapes() -> None:
    assert parse_json(b'"\\ud800x"') == "\ufffdx"
    assert parse_json(b'"\\ud83d\\ude00"') == "\U0001f600"


def test_parse_duplicate_keys_keep_the_last() -> None:
    assert parse_json(b'{"a":1,"a":2}') == {"a": 2}


def test_html_escape_matches_gos_compactor() -> None:
    canonical = canonical_bytes({"a": "<&>\u2028\u2029"})
    assert html_escape(canonical) == b'{"a":"\\u003c\\u0026\\u003e\\u2028\\u2029"}'


def test_html_escape_refuses_raw_control_characters() -> None:
    with pytest.raises(CanonicalizationError):
        html_escape(canonical_bytes({"a": "line\nbreak"}))


@pytest.mark.parametrize("char", ["<", ">", "&", "\u2028", "\u2029", "\u2027", "é", "x"])
def test_html_escape_each_character_and_its_neighbours(char: str) -> None:
    """Only the five characters are escaped; text without them is returned as it is."""
    canonical = canonical_bytes({"a": f"1{char}2"})
    expected = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}.get(char)
    if char in ("\u2028", "\u2029"):
        expected = f"\\u{ord(char):04x}"
    want = f'{{"a":"1{expected or char}2"}}'.encode()
    assert html_escape(canonical) == want


@pytest.mark.parametrize("byte", [0x00, 0x09, 0x1F])
def test_html_escape_refuses_every_control_byte(byte: int) -> None:
    with pytest.raises(CanonicalizationError):
        html_escape(b'{"a":"' + bytes([byte]) + b'"}')


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("abc", b'"abc"'),
        ("a<b>&", b'"a\\u003cb\\u003e\\u0026"'),
        ("\n\r\t\x01", b'"\\n\\r\\t\\u0001"'),
        ('"\\', b'"\\"\\\\"'),
        ("\u2028", b'"\\u2028"'),
        ("\u00e9", '"\u00e9"'.encode()),
    ],
)
def test_envelope_string_matches_gos_marshal(value: str, expected: bytes) -> None:
    assert envelope_string(value) == expected


@settings(max_examples=500)
@given(json_values)
def test_canonical_round_trip(value: Any) -> None:
    encoded = canonical_bytes(value)
    assert parse_json(encoded) == value
    assert canonical_bytes(parse_json(encoded)) == encoded


@settings(max_examples=500)
@given(json_values)
def test_canonical_equals_sorted_compact_json_without_escapes(value: Any) -> None:
    """Without control characters, Python's sorted compact json agrees with Go's canonical form."""
    ours = canonical_bytes(value).decode()
    theirs = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert ours == theirs


# Every JSON value, with what the fast path must hand to the pure-Python writer:
# escapes, control characters, floats, integers beyond float64's exact range.
_ANY_SCALAR = (
    json_scalars
    | st.text(max_size=20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(min_value=-(2**70), max_value=2**70)
)
any_values = st.recursive(
    _ANY_SCALAR,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children)
    ),
    max_leaves=30,
)


def _canonical_or_error(value: Any, *, str_keys: bool) -> bytes | str:
    try:
        return canonical_bytes(value, str_keys=str_keys)
    except CanonicalizationError as e:
        return f"error: {e}"


@settings(max_examples=1500)
@given(any_values)
def test_fast_path_equals_the_python_writer(value: Any) -> None:
    """``str_keys=True`` (the C encoder where provably exact) changes nothing, errors included."""
    assert _canonical_or_error(value, str_keys=True) == _canonical_or_error(value, str_keys=False)


@pytest.mark.parametrize(
    "value",
    [
        {"a": 'say "hi"'},
        {"a": "back\\slash"},
        {"a": "line\nbreak", "b": "\x00"},
        {"n": 1.5},
        {"n": 1.0, "e": 1e20},
        {"n": 2**53 + 1, "m": -(2**63) - 1},
        {"n": 10**15, "m": 10**16},
        {"s": "\ud800"},
        {"k": ("tuple", 1)},
    ],
    ids=[
        "quote",
        "backslash",
        "control",
        "fraction",
        "integral-floats",
        "big-ints",
        "16-digits",
        "lone-surrogate",
        "tuple",
    ],
)
def test_fast_path_hands_over_what_it_cannot_write_exactly(value: Any) -> None:
    assert _canonical_or_error(value, str_keys=True) == _canonical_or_error(value, str_keys=False)


@settings(max_examples=2000)
@given(st.binary(max_size=200))
def test_parse_raises_only_our_errors(data: bytes) -> None:
    try:
        value = parse_json(data)
    except NotaryTufError:
        return
    with contextlib.suppress(CanonicalizationError):
        canonical_bytes(value)


def _iterative_or_error(value: Any) -> bytes | str:
    out: list[str] = []
    try:
        canonical._write_iterative(value, out)
        return "".join(out).encode("utf-8")
    except CanonicalizationError as e:
        return f"error: {e}"
    except UnicodeEncodeError:
        return "error: string holds a lone surrogate"


@settings(max_examples=1000)
@given(any_values)
def test_iterative_writer_equals_the_recursive_one(value: Any) -> None:
    """The fallback for deep nesting (issue #14) writes what the recursive writer writes."""
    assert _iterative_or_error(value) == _canonical_or_error(value, str_keys=False)


def test_nesting_deeper_than_the_stack_is_written_and_cleaned() -> None:
    # Issue #14: parse_json's surrogate cleaning and the Python writer were
    # recursive; 600 levels and a \u escape raised RecursionError (a 500).
    depth = 5_000
    value: Any = 'q\ud800"'
    for level in range(depth):
        value = {"a": value} if level % 2 else [value]
    expected = '{"a":[' * (depth // 2) + '"q\ud800\\""' + "]}" * (depth // 2)
    out: list[str] = []
    canonical._write_iterative(value, out)
    assert "".join(out) == expected
    with pytest.raises(CanonicalizationError, match="lone surrogate"):
        canonical_bytes(value)
    text = '{"a":[' * 300 + '"\\ud800\\u0041"' + "]}" * 300
    assert (
        canonical_bytes(parse_json(text.encode()))
        == ('{"a":[' * 300 + '"\ufffdA"' + "]}" * 300).encode()
    )
