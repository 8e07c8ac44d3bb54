"""Parts shared by the four role models: file meta, role keys, common fields.

Every model keeps the fields it does not know (``unrecognized``) so that
``to_dict()`` gives back what was received, and offers ``to_dict(go_form=True)``:
the dict whose canonical JSON is what Go notary writes when it re-serialises
the parsed struct (unknown fields dropped, ``expires`` normalised, absent or
null collections written as Go writes nil: see :mod:`notary_tuf._fields`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from notary_tuf._fields import (
    INT64_MAX,
    INT64_MIN,
    NIL_MAP,
    decode_b64,
    get_go_int,
    get_go_map,
    get_go_str_list,
    get_int,
    get_str,
    go_value,
    is_go_nil,
    require_object,
    unrecognized,
)
from notary_tuf.encoding import decode_base64, encode_base64
from notary_tuf.errors import (
    Base64Error,
    FormatError,
    HashMismatchError,
    MissingHashError,
    RoleTypeError,
)
from notary_tuf.gotime import GoTime
from notary_tuf.keys import PublicKey

SHA256: Final = "sha256"
SHA512: Final = "sha512"
_DIGEST_SIZES: Final = {SHA256: 32, SHA512: 64}

_ABSENT: Final = object()


def check_hash_structure(hashes: Mapping[str, bytes], path: str) -> None:
    """Require at least one of sha256/sha512, each of the right digest length.

    Port of Go ``data.CheckValidHashStructures``.

    Raises:
        FormatError: no supported hash, or one of the wrong length.
    """
    count = 0
    for algorithm, size in _DIGEST_SIZES.items():
        if algorithm in hashes:
            if len(hashes[algorithm]) != size:
                raise FormatError(f"{path}: {algorithm} checksum has the wrong length")
            count += 1
    if count == 0:
        raise FormatError(f"{path}: at least one supported hash needed")


@dataclass(frozen=True, slots=True, kw_only=True)
class FileMeta:
    """Length and hashes of a file (a target, or a metadata file in snapshot/timestamp).

    Attributes:
        length: the length in bytes, as recorded (Notary never checks it on the server).
        hashes: algorithm name → digest; unknown algorithms are kept. :data:`NIL_MAP`
            when absent or null, a digest :data:`NIL_BYTES` when null (Go nil).
        custom: the optional ``custom`` JSON value, or None when absent or null.
        unrecognized: fields this package does not model.
    """

    length: int
    hashes: Mapping[str, bytes]
    custom: Any = None
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    _KNOWN = frozenset({"length", "hashes", "custom"})

    @classmethod
    def from_dict(cls, data: Any, path: str) -> FileMeta:
        """Parse a FileMeta object; null and absent members take Go's zero values.

        Raises:
            FormatError: a field is of the wrong type.
        """
        if data is None:  # Go decodes null into the zero FileMeta
            return cls(length=0, hashes=NIL_MAP)
        fast = cls._from_plain_dict(data)
        if fast is not None:
            return fast
        return cls._from_dict_checked(data, path)

    @classmethod
    def _from_dict_checked(cls, data: Any, path: str) -> FileMeta:
        """:meth:`from_dict` for any shape, each error naming its path."""
        obj = require_object(data, path)
        raw_hashes = get_go_map(obj, "hashes", path)
        hashes = (
            NIL_MAP
            if is_go_nil(raw_hashes)
            else {
                name: decode_b64(value, f"{path}.hashes.{name}")
                for name, value in raw_hashes.items()
            }
        )
        return cls(
            length=get_go_int(obj, "length", path),
            hashes=hashes,
            custom=obj.get("custom"),
            unrecognized=unrecognized(obj, cls._KNOWN),
        )

    @classmethod
    def _from_plain_dict(cls, data: Any) -> FileMeta | None:
        """The common shape, ``length`` and base64 ``hashes`` only, without error paths.

        A targets file holds one of these per target: building each field's
        error path up front was most of the cost of parsing one. Anything else
        (another member, a null, a wrong type, bad base64) returns None, and
        :meth:`from_dict` parses it the slow way, with the error it reports.
        """
        if type(data) is not dict or len(data) != 2:  # noqa: PLR2004 - length and hashes
            return None
        length = data.get("length")
        hashes = data.get("hashes")
        if type(length) is not int or not INT64_MIN <= length <= INT64_MAX:
            return None
        if type(hashes) is not dict:
            return None
        decoded = {}
        for name, value in hashes.items():
            if type(value) is not str:
                return None
            try:
                decoded[name] = decode_base64(value)
            except Base64Error:
                return None
        return cls(length=length, hashes=decoded)

    @classmethod
    def for_bytes(cls, data: bytes) -> FileMeta:
        """Return the meta Notary records for ``data``: sha256 + sha512 + length."""
        return cls(
            length=len(data),
            hashes={SHA256: hashlib.sha256(data).digest(), SHA512: hashlib.sha512(data).digest()},
        )

    def to_dict(self, *, go_form: bool = False) -> dict[str, Any]:
        """Return the JSON object (see the module docstring for ``go_form``)."""
        out: dict[str, Any] = {} if go_form else dict(self.unrecognized)
        out["length"] = self.length
        out["hashes"] = (
            None
            if is_go_nil(self.hashes)
            else {
                name: None if is_go_nil(digest) else encode_base64(digest)
                for name, digest in self.hashes.items()
            }
        )
        if self.custom is not None:
            out["custom"] = self.custom
        return out

    def check(self, data: bytes, name: str) -> None:
        """Check ``data`` against every supported hash (Go ``data.CheckHashes``).

        Raises:
            HashMismatchError: a supported hash does not match.
            MissingHashError: neither sha256 nor sha512 is recorded.
        """
        count = 0
        for algorithm in _DIGEST_SIZES:
            expected = self.hashes.get(algorithm)
            if expected is None:
                continue
            actual = hashlib.new(algorithm, data).digest()
            if not hmac.compare_digest(actual, expected):
                raise HashMismatchError(f"{name}: {algorithm} checksum mismatch")
            count += 1
        if count == 0:
            raise MissingHashError(f"{name}: no supported checksum recorded")

    @property
    def sha256_hex(self) -> str | None:
        """The sha256 digest as lowercase hex, or None when absent."""
        digest = self.hashes.get(SHA256)
        return digest.hex() if digest is not None else None


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleKeys:
    """The key IDs and threshold of a role (Go ``RootRole``).

    Attributes:
        keyids: key IDs allowed to sign for the role, in the order received;
            :data:`NIL_LIST` when absent or null (a Go nil slice, written back as null).
        threshold: how many distinct keys must sign.
        unrecognized: fields this package does not model.
    """

    keyids: tuple[str, ...]
    threshold: int
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    _KNOWN = frozenset({"keyids", "threshold"})

    @classmethod
    def from_dict(cls, data: Any, path: str) -> RoleKeys:
        """Parse ``{"keyids": [...], "threshold": n}``.

        Raises:
            FormatError: a field is missing or of the wrong type.
        """
        obj = require_object(data, path)
        return cls(
            keyids=get_go_str_list(obj, "keyids", path),
            threshold=get_go_int(obj, "threshold", path),
            unrecognized=unrecognized(obj, cls._KNOWN),
        )

    def to_dict(self, *, go_form: bool = False) -> dict[str, Any]:
        """Return the JSON object (see the module docstring for ``go_form``)."""
        out: dict[str, Any] = {} if go_form else dict(self.unrecognized)
        out["keyids"] = go_list(self.keyids)
        out["threshold"] = self.threshold
        return out

    def check_structure(self, keys: Mapping[str, PublicKey], *, owner: str, role: str) -> None:
        """Require threshold ≥ 1 and every key ID present in ``keys``.

        Port of Go ``isValidRootRoleStructure``.

        Raises:
            FormatError: the threshold or a key ID is invalid.
        """
        if self.threshold < 1:
            raise FormatError(f"{owner}: invalid threshold specified for {role}: {self.threshold}")
        for keyid in self.keyids:
            if keyid not in keys:
                raise FormatError(
                    f"{owner}: key ID {keyid} specified in {role} without corresponding key"
                )


@dataclass(frozen=True, slots=True)
class CommonFields:
    """``_type``, ``version`` and ``expires``, as every role carries them."""

    type: str
    version: int
    expires: GoTime

    @classmethod
    def parse(cls, obj: Mapping[str, Any], *, expected_type: str, role: str) -> CommonFields:
        """Read and check the common fields of a ``signed`` object.

        Raises:
            RoleTypeError: ``_type`` is not ``expected_type``.
            FormatError: a field is missing or malformed, or version < 1.
        """
        path = f"{role}.signed"
        type_ = get_str(obj, "_type", path)
        if type_ != expected_type:
            raise RoleTypeError(f"{role}: expected type {expected_type}, not {type_}")
        version = get_int(obj, "version", path)
        if version < 1:
            raise FormatError(f"{role}: version cannot be less than 1")
        expires = GoTime.parse(get_str(obj, "expires", path), path=f"{path}.expires")
        return cls(type=type_, version=version, expires=expires)


def go_list(items: tuple[Any, ...]) -> list[Any] | None:
    """A tuple field as JSON: null for a Go nil slice, else a list."""
    return None if is_go_nil(items) else list(items)


def parse_keys(data: Any, path: str) -> dict[str, PublicKey]:
    """Parse a key ID → key map; IDs are checked against the keys only when verifying.

    Raises:
        FormatError: a key object is malformed.
    """
    obj = require_object(data, path)
    return {
        keyid: PublicKey.from_dict(value, path=f"{path}.{keyid}") for keyid, value in obj.items()
    }


def get_go_keys(obj: Mapping[str, Any], key: str, path: str) -> Mapping[str, PublicKey]:
    """Parse a Go ``data.Keys`` field, which has its own JSON decoder.

    Absent leaves Go's nil map (written back as ``null``), but ``null`` reaches
    ``Keys.UnmarshalJSON``, which always stores an empty, non-nil map (written
    back as ``{}``).

    Raises:
        FormatError: the field is not an object, or a key object is malformed.
    """
    if key not in obj:
        return NIL_MAP
    value = obj[key]
    return {} if value is None else parse_keys(value, f"{path}.{key}")


def keys_to_dict(keys: Mapping[str, PublicKey]) -> dict[str, Any] | None:
    """Return a key ID → key map in its JSON form (null for a Go nil map)."""
    return go_value(keys) if is_go_nil(keys) else {k: key.to_dict() for k, key in keys.items()}


def expires_value(expires: GoTime, *, go_form: bool) -> str:
    """Return ``expires`` as received, or as Go prints it back."""
    return expires.go_text if go_form else expires.text
