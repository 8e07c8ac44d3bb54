"""Typed access to parsed JSON, with errors that name the offending field.

Go decodes metadata into typed structs and fails on a wrongly typed field; these
helpers do the same for the generic values :func:`notary_tuf.canonical.parse_json`
returns, and name the field by its path (``signed.roles.root.threshold``).

Go's decoder also tells apart what Python's JSON values blur: a slice, map or
``[]byte`` that is absent or ``null`` decodes to Go's *nil*, which Go writes back
as ``null`` (or leaves out, for ``omitempty`` fields), while ``[]``, ``{}`` and
``""`` decode to an empty value written back as such. A scalar that is absent or
``null`` keeps its zero value (``""``, ``0``, ``false``). The ``get_go_*``
helpers follow those rules; a nil collection is one of the shared empty
instances :data:`NIL_LIST`, :data:`NIL_MAP` and :data:`NIL_BYTES`, so code that
only reads the value sees an ordinary empty one, and the writers ask
:func:`is_go_nil`. The table of every field and form is in
``tests/tuf/test_go_nil_forms.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from notary_tuf.encoding import decode_base64
from notary_tuf.errors import Base64Error, FormatError

_MISSING: Final = object()
_BYTE_MAX: Final = 255


class _NilBytes(bytes):
    """The type of :data:`NIL_BYTES` (a subclass, so the instance is unique)."""

    __slots__ = ()


class _NilList(tuple[Any, ...]):
    """The type of :data:`NIL_LIST` (a subclass, so the instance is unique)."""

    __slots__ = ()


NIL_BYTES: Final[bytes] = _NilBytes()
"""A Go nil ``[]byte``: equal to ``b""``, written back as ``null``."""

NIL_LIST: Final[tuple[Any, ...]] = _NilList()
"""A Go nil slice: an empty tuple, written back as ``null``."""

NIL_MAP: Final[Mapping[str, Any]] = MappingProxyType({})
"""A Go nil map: an empty read-only mapping, written back as ``null``."""


def is_go_nil(value: object) -> bool:
    """True for the shared instances that stand for a Go nil slice, map or ``[]byte``."""
    return value is NIL_LIST or value is NIL_MAP or value is NIL_BYTES


def go_value(value: Any) -> Any:
    """``None`` (JSON null) for a Go nil collection, else ``value`` itself."""
    return None if is_go_nil(value) else value


def require_object(value: Any, path: str) -> dict[str, Any]:
    """Return ``value`` if it is a JSON object, else raise FormatError."""
    if not isinstance(value, dict):
        raise FormatError(f"{path}: expected an object, got {_json_type(value)}")
    return value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _get(obj: Mapping[str, Any], key: str, path: str) -> Any:
    value = obj.get(key, _MISSING)
    if value is _MISSING:
        raise FormatError(f"{path}.{key}: missing")
    return value


def get_str(obj: Mapping[str, Any], key: str, path: str) -> str:
    """Return the string field ``key``; raise FormatError if missing or not a string."""
    value = _get(obj, key, path)
    if not isinstance(value, str):
        raise FormatError(f"{path}.{key}: expected a string, got {_json_type(value)}")
    return value


INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1


def get_int(obj: Mapping[str, Any], key: str, path: str) -> int:
    """Return the integer field ``key`` (Go ``int``/``int64``: 64 bits).

    A fractional number, a boolean or a number outside 64 bits is an error, as
    Go's decoder fails on it.
    """
    value = _get(obj, key, path)
    if isinstance(value, bool) or not isinstance(value, int):
        raise FormatError(f"{path}.{key}: expected an integer, got {_json_type(value)}")
    if not INT64_MIN <= value <= INT64_MAX:
        raise FormatError(f"{path}.{key}: {value} does not fit a 64-bit integer")
    return value


def get_bool(obj: Mapping[str, Any], key: str, path: str, *, default: bool) -> bool:
    """Return the boolean field ``key``, or ``default`` when it is absent."""
    value = obj.get(key, default)
    if not isinstance(value, bool):
        raise FormatError(f"{path}.{key}: expected a boolean, got {_json_type(value)}")
    return value


def get_go_str(obj: Mapping[str, Any], key: str, path: str) -> str:
    """Return the string field ``key``; absent or null is Go's zero value ``""``."""
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise FormatError(f"{path}.{key}: expected a string, got {_json_type(value)}")
    return value


def get_go_int(obj: Mapping[str, Any], key: str, path: str) -> int:
    """Return the integer field ``key``; absent or null is Go's zero value 0."""
    if obj.get(key) is None:
        return 0
    return get_int(obj, key, path)


def get_go_bool(obj: Mapping[str, Any], key: str, path: str) -> bool:
    """Return the boolean field ``key``; absent or null is Go's zero value ``false``."""
    if obj.get(key) is None:
        return False
    return get_bool(obj, key, path, default=False)


def get_go_map(obj: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
    """Return the object field ``key``; absent or null is a Go nil map (:data:`NIL_MAP`)."""
    value = obj.get(key)
    if value is None:
        return NIL_MAP
    return require_object(value, f"{path}.{key}")


def get_go_str_list(obj: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
    """Return the array-of-strings field ``key``; absent or null is :data:`NIL_LIST`."""
    value = obj.get(key)
    if value is None:
        return NIL_LIST
    return _str_list(value, key, path)


def get_object(obj: Mapping[str, Any], key: str, path: str) -> dict[str, Any]:
    """Return the object field ``key``; raise FormatError if missing or not an object."""
    return require_object(_get(obj, key, path), f"{path}.{key}")


def get_str_list(obj: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
    """Return the array-of-strings field ``key`` as a tuple."""
    return _str_list(_get(obj, key, path), key, path)


def _str_list(value: Any, key: str, path: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise FormatError(f"{path}.{key}: expected an array, got {_json_type(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise FormatError(f"{path}.{key}[{i}]: expected a string, got {_json_type(item)}")
    return tuple(value)


def decode_b64(value: Any, path: str) -> bytes:
    """Decode a ``[]byte`` field the way Go's encoding/json does (null → :data:`NIL_BYTES`).

    Raises:
        Base64Error: the value is not a string of valid base64.
    """
    if value is None:
        return NIL_BYTES
    if isinstance(value, list):
        return decode_byte_array(value, path)
    if not isinstance(value, str):
        raise Base64Error(f"{path}: expected a base64 string, got {_json_type(value)}")
    try:
        return decode_base64(value)
    except Base64Error as e:
        raise Base64Error(f"{path}: {e}") from e


def decode_byte_array(items: list[Any], path: str) -> bytes:
    """Decode a ``[]byte`` given as a JSON array, element by element as Go does.

    Go's decoder fills a byte slice from an array of integers 0-255; a ``null``
    element leaves its byte zero. Anything else (a fraction, a string, a nested
    value, a number out of range) is an unmarshal error, so the file is invalid.

    Raises:
        Base64Error: an element is not an integer 0-255 or null.
    """
    out = bytearray(len(items))
    for i, item in enumerate(items):
        if item is None:
            continue
        if type(item) is not int or not 0 <= item <= _BYTE_MAX:
            raise Base64Error(f"{path}[{i}]: expected a byte (0-255), got {_json_type(item)}")
        out[i] = item
    return bytes(out)


def unrecognized(obj: Mapping[str, Any], known: frozenset[str]) -> dict[str, Any]:
    """Return the fields of ``obj`` this package does not model, to keep them."""
    return {k: v for k, v in obj.items() if k not in known}
