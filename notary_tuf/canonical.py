r"""JSON exactly as Go notary 0.7 reads and writes it.

Notary signs the *canonical* form of the ``signed`` object as produced by its
vendored ``github.com/docker/go/canonical/json`` package, and it writes metadata
files as an envelope whose ``signed`` part is that canonical form passed through
Go's HTML-escaping compactor. Neither is what Python's ``json`` produces:

* canonical strings escape only ``"`` and ``\\``; control characters, ``<>&``,
  U+2028/9 and every non-ASCII character are written raw;
* object keys are sorted byte-wise, there is no whitespace at all;
* numbers went through ``float64`` on the way in (Go decodes generic JSON numbers
  as ``float64``) and come out as ``int64`` decimals; a fractional number is an
  error.

Decoding follows Go's ``encoding/json`` as the server uses it: invalid UTF-8 and
lone surrogate escapes become U+FFFD, duplicate keys keep the last value,
``NaN``/``Infinity`` and out-of-range numbers are errors.

This module only deals with bytes and generic values (dict, list, str, int,
float, bool, None); it knows nothing about TUF roles.
"""

from __future__ import annotations

import codecs
import json
import math
import re
from typing import TYPE_CHECKING, Any, Final

from notary_tuf.errors import CanonicalizationError, JSONFormatError

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "canonical_bytes",
    "envelope_string",
    "html_escape",
    "parse_json",
]

_GO_REPLACE: Final = "notary_tuf.go_replace"


def _replace_each_byte(error: UnicodeError) -> tuple[str, int]:
    # Go's decoder replaces every invalid byte with its own U+FFFD, where
    # Python's "replace" handler folds a maximal invalid run into one.
    if not isinstance(error, UnicodeDecodeError):  # pragma: no cover - decode only
        raise error
    return "\ufffd" * (error.end - error.start), error.end


codecs.register_error(_GO_REPLACE, _replace_each_byte)

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_INT64_MIN: Final = -(2**63)
_INT64_LIMIT: Final = 2**63
_MAX_INT_DIGITS: Final = 309  # float64 tops out near 1.8e308


def _reject_constant(name: str) -> Any:
    raise JSONFormatError(f"invalid JSON value {name!r}")


class NegativeZero(int):
    """The literal ``-0``: zero everywhere, but Go refuses it for an unsigned field.

    Go parses a ``[]byte`` element with ``ParseUint``, which rejects the sign;
    every signed field takes it as 0. Only :func:`notary_tuf._fields.decode_byte_array`
    tells the two apart (by exact type).
    """

    __slots__ = ()


_NEGATIVE_ZERO: Final = NegativeZero(0)


def _parse_int(text: str) -> int:
    if text == "-0":
        return _NEGATIVE_ZERO
    # Go decodes every number as float64; a literal beyond its range is an error.
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise JSONFormatError(f"number {text[:20]}... is out of range")
    value = int(text)
    try:
        float(value)
    except OverflowError as e:
        raise JSONFormatError(f"number {text[:20]}... is out of range") from e
    return value


def _parse_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise JSONFormatError(f"number {text} is out of range")
    return value


def _clean_strings(value: Any) -> Any:
    r"""Replace lone surrogates (from ``\\ud800`` escapes) with U+FFFD, as Go does.

    Iterative, in place: the value comes fresh from ``json.loads`` (nobody else
    holds it), and a document nested as deeply as the decoder allows must not
    exhaust the stack here (issue #14: a recursive walk raised RecursionError,
    a 500).
    """
    pending: list[dict[str, Any] | list[Any]] = []
    cleaned = _clean_item(value, pending)
    while pending:
        container = pending.pop()
        if isinstance(container, list):
            container[:] = [_clean_item(item, pending) for item in container]
            continue
        items = list(container.items())
        container.clear()  # a cleaned key may repeat: the last value wins, as in Go
        for key, item in items:
            container[_LONE_SURROGATE.sub("\ufffd", key)] = _clean_item(item, pending)
    return cleaned


def _clean_item(value: Any, pending: list[dict[str, Any] | list[Any]]) -> Any:
    """A string cleaned; a container queued (cleaned in place later); anything else as is."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict | list):
        pending.append(value)
    return value


def parse_json(data: bytes) -> Any:
    """Decode JSON bytes into generic Python values the way Go's decoder does.

    Integers stay ``int`` and other numbers become ``float``; whoever needs Go's
    ``float64`` view of an integer gets it from :func:`canonical_bytes`.

    Args:
        data: the JSON document.

    Returns:
        The decoded value.

    Raises:
        JSONFormatError: ``data`` is not a single valid JSON document.
    """
    text = data.decode("utf-8", errors=_GO_REPLACE)
    try:
        value = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_float=_parse_float,
            parse_int=_parse_int,
        )
    except json.JSONDecodeError as e:
        raise JSONFormatError(f"invalid JSON: {e.msg} at offset {e.pos}") from e
    except RecursionError as e:
        raise JSONFormatError("invalid JSON: nested too deeply") from e
    if "\\u" in text:
        return _clean_strings(value)
    return value


def _go_int64(number: float) -> int:
    """Return what Go's ``int64(float64(number))`` gives on amd64."""
    as_float = float(number)
    if not as_float.is_integer():
        raise CanonicalizationError(f"non-integral number {number!r} has no canonical form")
    as_int = int(as_float)
    if not _INT64_MIN <= as_int < _INT64_LIMIT:
        # amd64's CVTTSD2SI yields the "integer indefinite" value on overflow.
        return _INT64_MIN
    return as_int


def _canonical_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _write_recursive(value: Any, out: list[str]) -> None:
    """Append ``value``'s canonical text to ``out`` (recursive: the quicker writer)."""
    if isinstance(value, dict):
        _check_keys(value)
        out.append("{")
        for i, key in enumerate(sorted(value)):
            if i:
                out.append(",")
            out.append(_canonical_string(key))
            out.append(":")
            _write_recursive(value[key], out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write_recursive(item, out)
        out.append("]")
    else:
        out.append(_scalar(value))


def _write_iterative(value: Any, out: list[str]) -> None:
    """Append ``value``'s canonical text to ``out``, at any depth.

    Iterative (a stack of the open containers' remaining members), for what
    :func:`_write_recursive` cannot nest into: any depth the decoder accepts
    can be written and verified (issue #14), as in Go.
    """
    # Each open container: an iterator over (text before the member, member), and its closer.
    open_members: list[Iterator[tuple[str, Any]]] = []
    closers: list[str] = []
    item = value
    while True:
        if isinstance(item, dict):
            out.append("{")
            open_members.append(_object_members(item))
            closers.append("}")
        elif isinstance(item, list | tuple):
            out.append("[")
            open_members.append((("," if i else "", v) for i, v in enumerate(item)))
            closers.append("]")
        else:
            out.append(_scalar(item))
        while open_members:
            member = next(open_members[-1], None)
            if member is not None:
                out.append(member[0])
                item = member[1]
                break
            open_members.pop()
            out.append(closers.pop())
        else:
            return


def _check_keys(value: dict[Any, Any]) -> None:
    for key in value:
        if not isinstance(key, str):
            raise CanonicalizationError(f"object key {key!r} is not a string")


def _object_members(value: dict[Any, Any]) -> Iterator[tuple[str, Any]]:
    """An object's members in canonical order, each with the text before it."""
    _check_keys(value)
    return (
        (("," if i else "") + _canonical_string(key) + ":", value[key])
        for i, key in enumerate(sorted(value))
    )


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _canonical_string(value)
    if isinstance(value, int | float):
        return str(_go_int64(value))
    raise CanonicalizationError(f"{type(value).__name__} has no canonical JSON form")


# The fast path: the C encoder writes what Go writes as long as no string needs
# an escape (then the text has no backslash at all), no number is a float, and
# every integer is exact in float64 (fewer than 16 digits). Keys must be str:
# the C encoder would quietly turn an int key into a string.
_FAST_ENCODER: Final = json.JSONEncoder(
    ensure_ascii=False,
    check_circular=False,
    allow_nan=False,
    sort_keys=True,
    separators=(",", ":"),
)
_NOT_FAST_NUMBER_RE: Final = re.compile(r"\.|\de|\d{16}")


def _fast_canonical(value: Any) -> bytes | None:
    """The canonical bytes by way of the C encoder, or None when it may differ from Go."""
    try:
        text = _FAST_ENCODER.encode(value)
    except (TypeError, ValueError, RecursionError):
        return None
    if "\\" in text:
        return None
    # Without backslashes every '"' delimits a string, so the even pieces are
    # what lies outside strings: the numbers.
    if _NOT_FAST_NUMBER_RE.search("".join(text.split('"')[::2])):
        return None
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return None


def canonical_bytes(value: Any, *, str_keys: bool = False) -> bytes:
    """Encode a generic value as Go notary's canonical JSON.

    Sorting by ``str`` order equals Go's byte-wise sort: for valid Unicode,
    code point order and UTF-8 byte order agree.

    Args:
        value: dicts with string keys, lists/tuples, strings, ints, integral
            floats, booleans and None.
        str_keys: the caller guarantees that every object key is a ``str``
            (values from :func:`parse_json` or a model's ``to_dict``). Such a
            value is encoded by the C encoder when the result is provably the
            same (no escapes, no floats, no integer beyond float64's exact
            range) -- 1.5-2x faster (ADR 0014); otherwise, and without the
            guarantee, by the pure-Python writer.

    Returns:
        The canonical UTF-8 bytes.

    Raises:
        CanonicalizationError: a value has no canonical form (a fractional
            number, a non-string key, an unsupported type).
    """
    if str_keys:
        fast = _fast_canonical(value)
        if fast is not None:
            return fast
    out: list[str] = []
    try:
        _write_recursive(value, out)
    except RecursionError:  # nested deeper than the stack allows (issue #14)
        out.clear()
        _write_iterative(value, out)
    try:
        return "".join(out).encode("utf-8")
    except UnicodeEncodeError as e:
        raise CanonicalizationError("string holds a lone surrogate") from e


_HTML_ESCAPES: Final = {
    b"<": b"\\u003c",
    b">": b"\\u003e",
    b"&": b"\\u0026",
    "\u2028".encode(): b"\\u2028",
    "\u2029".encode(): b"\\u2029",
}
_HTML_ESCAPE_RE: Final = re.compile(b"[<>&]|\xe2\x80[\xa8\xa9]")
_HTML_ESCAPE_FIRST_BYTES: Final = (b"<", b">", b"&", b"\xe2\x80\xa8", b"\xe2\x80\xa9")
_CONTROL_BYTES: Final = bytes(range(0x20))


def html_escape(canonical: bytes) -> bytes:
    """Pass canonical JSON through Go's compactor with HTML escaping.

    This is how the ``signed`` part of every metadata file is written: the
    canonical bytes with ``<``, ``>``, ``&``, U+2028 and U+2029 escaped.

    Args:
        canonical: output of :func:`canonical_bytes`.

    Returns:
        The bytes that appear in the file.

    Raises:
        CanonicalizationError: the canonical form holds a raw control character,
            which Go's compactor rejects, so Go could never write such a file.
    """
    if len(canonical.translate(None, _CONTROL_BYTES)) != len(canonical):
        raise CanonicalizationError(
            "a string holds a control character; Go cannot write it into a metadata file"
        )
    if not any(byte in canonical for byte in _HTML_ESCAPE_FIRST_BYTES):
        return canonical  # nothing to escape (the common case): skip the substitution
    return _HTML_ESCAPE_RE.sub(lambda m: _HTML_ESCAPES[m.group(0)], canonical)


_GO_STRING_ESCAPES: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t", '"': '\\"', "\\": "\\\\"}
_GO_STRING_RE: Final = re.compile('[\x00-\x1f"\\\\<>&\u2028\u2029]')


def _go_escape_char(match: re.Match[str]) -> str:
    char = match.group(0)
    return _GO_STRING_ESCAPES.get(char) or f"\\u{ord(char):04x}"


def envelope_string(value: str) -> bytes:
    """Encode a string as Go's non-canonical ``json.Marshal`` does.

    Used for the ``keyid`` and ``method`` fields of the envelope's signatures.

    Args:
        value: the string.

    Returns:
        The quoted, escaped UTF-8 bytes.
    """
    cleaned = _LONE_SURROGATE.sub("\ufffd", value)
    return ('"' + _GO_STRING_RE.sub(_go_escape_char, cleaned) + '"').encode("utf-8")
