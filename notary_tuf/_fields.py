"""Typed access to parsed JSON, with errors that name the offending field.

Go decodes metadata into typed structs and fails on a wrongly typed field; these
helpers do the same for the generic values :func:`notary_tuf.canonical.parse_json`
returns, and name the field by its path (``signed.roles.root.threshold``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from notary_tuf.encoding import decode_base64
from notary_tuf.errors import Base64Error, FormatError

_MISSING: Final = object()


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


def get_int(obj: Mapping[str, Any], key: str, path: str) -> int:
    """Return the integer field ``key``; a fractional number or a boolean is an error."""
    value = _get(obj, key, path)
    if isinstance(value, bool) or not isinstance(value, int):
        raise FormatError(f"{path}.{key}: expected an integer, got {_json_type(value)}")
    return value


def get_bool(obj: Mapping[str, Any], key: str, path: str, *, default: bool) -> bool:
    """Return the boolean field ``key``, or ``default`` when it is absent."""
    value = obj.get(key, default)
    if not isinstance(value, bool):
        raise FormatError(f"{path}.{key}: expected a boolean, got {_json_type(value)}")
    return value


def get_object(obj: Mapping[str, Any], key: str, path: str) -> dict[str, Any]:
    """Return the object field ``key``; raise FormatError if missing or not an object."""
    return require_object(_get(obj, key, path), f"{path}.{key}")


def get_str_list(obj: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
    """Return the array-of-strings field ``key`` as a tuple."""
    return _str_list(_get(obj, key, path), key, path)


def get_nullable_str_list(obj: Mapping[str, Any], key: str, path: str) -> tuple[str, ...] | None:
    """Like :func:`get_str_list`, but a JSON ``null`` (a Go nil slice) gives None."""
    value = _get(obj, key, path)
    return None if value is None else _str_list(value, key, path)


def _str_list(value: Any, key: str, path: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise FormatError(f"{path}.{key}: expected an array, got {_json_type(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise FormatError(f"{path}.{key}[{i}]: expected a string, got {_json_type(item)}")
    return tuple(value)


def decode_b64(value: Any, path: str) -> bytes:
    """Decode a ``[]byte`` field the way Go's encoding/json does (null → empty).

    Raises:
        Base64Error: the value is not a string of valid base64.
    """
    if value is None:
        return b""
    if not isinstance(value, str):
        raise Base64Error(f"{path}: expected a base64 string, got {_json_type(value)}")
    try:
        return decode_base64(value)
    except Base64Error as e:
        raise Base64Error(f"{path}: {e}") from e


def unrecognized(obj: Mapping[str, Any], known: frozenset[str]) -> dict[str, Any]:
    """Return the fields of ``obj`` this package does not model, to keep them."""
    return {k: v for k, v in obj.items() if k not in known}
