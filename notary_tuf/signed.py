"""The metadata file envelope: ``{"signed": …, "signatures": […]}``.

A file is parsed in two steps, as Go does: :class:`Envelope` holds the generic
``signed`` value, its canonical bytes (the message that was signed) and the
signatures; :class:`Metadata` adds the typed role model. Both keep the bytes
received, so whatever is stored or hashed is exactly what arrived.

Files are written in Go's exact layout (docs/protocol.md#file-layout): ``signed`` first, then
``signatures``; each signature's keys in the order ``keyid``, ``method``,
``sig``; no whitespace. The ``signed`` part is the canonical form, HTML-escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from notary_tuf._fields import NIL_BYTES, decode_b64, get_go_str, is_go_nil, require_object
from notary_tuf.canonical import canonical_bytes, envelope_string, html_escape, parse_json
from notary_tuf.encoding import encode_base64
from notary_tuf.errors import FormatError, InvalidRoleNameError
from notary_tuf.models import Root, Snapshot, Targets, Timestamp
from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS, TIMESTAMP, is_delegation

__all__ = ["Envelope", "Metadata", "RoleModel", "Signature", "encode_envelope"]

RoleModel = Root | Targets | Snapshot | Timestamp
T = TypeVar("T", Root, Targets, Snapshot, Timestamp)


@dataclass(frozen=True, slots=True, kw_only=True)
class Signature:
    """One signature over the canonical ``signed`` bytes.

    Attributes:
        keyid: the ID of the signing key.
        method: the signature scheme (``ecdsa``, ``rsapss``, ``eddsa``…), as written.
        sig: the raw signature bytes (:data:`NIL_BYTES` when null or absent).

    Go decodes a signature into a struct, so a null or absent field is its zero
    value and a null signature is an empty one; such signatures never verify
    but, as in Go, do not make the file invalid while others meet the threshold.
    """

    keyid: str
    method: str
    sig: bytes

    @classmethod
    def from_dict(cls, data: Any, path: str) -> Signature:
        """Parse a signature object.

        Raises:
            FormatError: a field is malformed (bad base64 included).
        """
        if data is None:
            return cls(keyid="", method="", sig=NIL_BYTES)
        obj = require_object(data, path)
        return cls(
            keyid=get_go_str(obj, "keyid", path),
            method=get_go_str(obj, "method", path),
            sig=decode_b64(obj.get("sig"), f"{path}.sig"),
        )

    def to_bytes(self) -> bytes:
        """Return the signature object exactly as Go writes it."""
        return (
            b'{"keyid":'
            + envelope_string(self.keyid)
            + b',"method":'
            + envelope_string(self.method)
            + b',"sig":'
            + (b"null" if is_go_nil(self.sig) else b'"' + encode_base64(self.sig).encode() + b'"')
            + b"}"
        )


def encode_envelope(canonical_signed: bytes, signatures: Sequence[Signature]) -> bytes:
    """Return a metadata file in Go's exact envelope layout.

    Args:
        canonical_signed: the canonical JSON of the ``signed`` object.
        signatures: the signatures, in order.

    Raises:
        CanonicalizationError: the canonical bytes hold a raw control character.
    """
    return (
        b'{"signed":'
        + html_escape(canonical_signed)
        + b',"signatures":['
        + b",".join(sig.to_bytes() for sig in signatures)
        + b"]}"
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Envelope:
    """A parsed metadata file before its role is interpreted.

    Attributes:
        signed: the generic ``signed`` object.
        signatures: the signatures in file order.
        canonical: the canonical bytes of ``signed``: the message signatures cover.
        raw: the file bytes as received (None for envelopes built in memory).
    """

    signed: dict[str, Any]
    signatures: tuple[Signature, ...]
    canonical: bytes
    raw: bytes | None = field(default=None, repr=False)

    @classmethod
    def from_bytes(cls, data: bytes) -> Envelope:
        """Parse a metadata file.

        Raises:
            JSONFormatError: the bytes are not JSON.
            FormatError: the envelope shape is wrong (``signed`` missing or not an
                object, ``signatures`` not an array, a malformed signature).
            CanonicalizationError: ``signed`` has no canonical form (a fraction).
        """
        return cls.from_value(data, parse_json(data))

    @classmethod
    def from_value(cls, data: bytes, value: Any) -> Envelope:
        """Build the envelope of ``data`` from ``value``, what :func:`parse_json` made of it.

        For a caller that has parsed the file already (the server reads each
        uploaded part as JSON while the body streams in): the file is parsed once.

        Raises:
            FormatError: as :meth:`from_bytes`.
            CanonicalizationError: as :meth:`from_bytes`.
        """
        doc = require_object(value, "metadata")
        signed = doc.get("signed")
        if signed is None:
            raise FormatError("metadata: the file contained an empty payload")
        signed = require_object(signed, "signed")
        raw_sigs = doc.get("signatures")
        if raw_sigs is not None and not isinstance(raw_sigs, list):
            raise FormatError("signatures: expected an array")
        signatures = tuple(
            Signature.from_dict(item, f"signatures[{i}]") for i, item in enumerate(raw_sigs or ())
        )
        return cls(
            signed=signed,
            signatures=signatures,
            canonical=canonical_bytes(signed, str_keys=True),
            raw=data,
        )

    def to_bytes(self) -> bytes:
        """Return the file in Go's layout, rebuilt from the parsed values."""
        return encode_envelope(self.canonical, self.signatures)

    @property
    def is_go_layout(self) -> bool:
        """True when the received bytes are exactly Go's layout of what they say."""
        return self.raw is not None and self.raw == self.to_bytes()


def _model_for(role: str) -> type[RoleModel]:
    if role == ROOT:
        return Root
    if role == SNAPSHOT:
        return Snapshot
    if role == TIMESTAMP:
        return Timestamp
    if role == TARGETS or is_delegation(role):
        return Targets
    raise InvalidRoleNameError(f"tuf: invalid role {role}.")


@dataclass(frozen=True, slots=True, kw_only=True)
class Metadata(Generic[T]):
    """A metadata file of a known role: the typed model plus its envelope.

    Attributes:
        role: the role name the file is for (``targets/releases`` for a delegation).
        signed: the typed ``signed`` object.
        envelope: the parsed envelope (signatures, canonical bytes, raw bytes).
    """

    role: str
    signed: T
    envelope: Envelope

    @classmethod
    def from_bytes(cls, role: str, data: bytes) -> Metadata[Any]:
        """Parse a file for ``role`` into the matching model.

        Raises:
            InvalidRoleNameError: ``role`` is not a valid role name.
            FormatError: the file is malformed for that role.
        """
        return cls.from_parsed(role, data, parse_json(data))

    @classmethod
    def from_parsed(cls, role: str, data: bytes, value: Any) -> Metadata[Any]:
        """:meth:`from_bytes` for a file already parsed into ``value`` (see ``from_value``).

        Raises:
            InvalidRoleNameError: ``role`` is not a valid role name.
            FormatError: the file is malformed for that role.
        """
        model = _model_for(role)
        envelope = Envelope.from_value(data, value)
        return Metadata(role=role, signed=model.from_dict(envelope.signed, role), envelope=envelope)

    @classmethod
    def from_signed(cls, role: str, signed: T, signatures: Sequence[Signature] = ()) -> Metadata[T]:
        """Wrap a model built in memory (for signing and writing)."""
        canonical = canonical_bytes(signed.to_dict(), str_keys=True)
        envelope = Envelope(
            signed=signed.to_dict(), signatures=tuple(signatures), canonical=canonical
        )
        return cls(role=role, signed=signed, envelope=envelope)

    @property
    def signatures(self) -> tuple[Signature, ...]:
        """The signatures in file order."""
        return self.envelope.signatures

    @property
    def version(self) -> int:
        """The version of the ``signed`` object."""
        return self.signed.version

    def with_signatures(self, signatures: Sequence[Signature]) -> Metadata[T]:
        """Return a copy carrying ``signatures`` instead of the current ones."""
        envelope = Envelope(
            signed=self.envelope.signed,
            signatures=tuple(signatures),
            canonical=self.envelope.canonical,
        )
        return Metadata(role=self.role, signed=self.signed, envelope=envelope)

    def to_bytes(self) -> bytes:
        """Return the file in Go's layout (the raw bytes are not consulted)."""
        return self.envelope.to_bytes()

    def go_bytes(self) -> bytes:
        """Return the file Go would write after parsing this one into its structs.

        Go notary hashes this re-serialisation, not the bytes it stores (docs/protocol.md#hashing);
        an upload for which it differs from the raw bytes would break clients.
        """
        return encode_envelope(
            canonical_bytes(self.signed.to_dict(go_form=True), str_keys=True), self.signatures
        )
