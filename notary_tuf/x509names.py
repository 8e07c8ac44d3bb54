"""Certificates whose names Go's x509 parser reads but pyca/cryptography refuses.

Go's ``crypto/x509`` (the Go 1.19 that Debian built notary 0.7 with) accepts
``*`` and ``&`` in a PrintableString attribute of a certificate name, though
X.680 allows neither: wildcard CNs such as ``docker/*`` are often encoded that
way, Go notary's own tests use one. cryptography rejects such a certificate in
``load_der_x509_certificate`` itself, so Go would take the key as a certificate
and we would not.

:func:`load_der_certificate` loads a certificate as cryptography does and, only
when that fails, retries once with those PrintableStrings of the issuer and
subject names retagged as UTF8String (the same bytes, so the same text). Only
the tag byte changes, so lengths and everything else stay; the certificate
object's DER (``public_bytes``, ``tbs_certificate_bytes``) is then not the
original, and its self-signature no longer verifies: a caller that needs the
original bytes keeps them itself.

This is not a DER parser: it walks just far enough to find the two names and
leaves every check of the result to cryptography, which parses it afterwards.
"""

from __future__ import annotations

from typing import Final

from cryptography import x509

__all__ = ["GO_PRINTABLE", "load_der_certificate", "relax_printable_names"]

_STRICT_PRINTABLE: Final = frozenset(
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 '()+,-./:=?"
)
GO_PRINTABLE: Final = _STRICT_PRINTABLE | frozenset(b"*&")
"""The bytes Go's ``crypto/x509`` allows in a PrintableString of a name (``isPrintable``)."""

_SEQUENCE: Final = 0x30
_SET: Final = 0x31
_OID: Final = 0x06
_PRINTABLE_STRING: Final = 0x13
_UTF8_STRING: Final = 0x0C
_VERSION: Final = 0xA0  # [0] EXPLICIT, constructed
_MAX_LENGTH_OCTETS: Final = 4
_ISSUER: Final = 2  # in TBSCertificate, after the optional version
_SUBJECT: Final = 4


class _MalformedError(Exception):
    """The bytes are not shaped like a certificate; cryptography will say why."""


def _read(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """Read one TLV at ``pos`` (before ``end``): its tag, content start and content end."""
    if end - pos < 2:  # noqa: PLR2004 - a tag and a length octet
        raise _MalformedError
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first & 0x80:
        count = first & 0x7F
        if not 0 < count <= _MAX_LENGTH_OCTETS or end - pos < count:
            raise _MalformedError
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    else:
        length = first
    if end - pos < length:
        raise _MalformedError
    return tag, pos, pos + length


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """The TLVs between ``start`` and ``end``: (tag offset, tag, content start, content end)."""
    found = []
    pos = start
    while pos < end:
        tag, content, after = _read(data, pos, end)
        found.append((pos, tag, content, after))
        pos = after
    return found


def _expect(data: bytes, pos: int, end: int, tag: int) -> tuple[int, int]:
    found, content, after = _read(data, pos, end)
    if found != tag:
        raise _MalformedError
    return content, after


def _lenient_strings(data: bytes, start: int, end: int) -> list[int]:
    """Tag offsets of the PrintableStrings in a Name only Go's wider set allows."""
    offsets = []
    for _, rdn_tag, rdn_start, rdn_end in _children(data, start, end):
        if rdn_tag != _SET:
            raise _MalformedError
        for _, atv_tag, atv_start, atv_end in _children(data, rdn_start, rdn_end):
            if atv_tag != _SEQUENCE:
                raise _MalformedError
            parts = _children(data, atv_start, atv_end)
            if len(parts) != 2 or parts[0][1] != _OID:  # noqa: PLR2004 - type and value
                raise _MalformedError
            offset, tag, value_start, value_end = parts[1]
            value = data[value_start:value_end]
            if (
                tag == _PRINTABLE_STRING
                and all(b in GO_PRINTABLE for b in value)
                and not all(b in _STRICT_PRINTABLE for b in value)
            ):
                offsets.append(offset)
    return offsets


def _name_offsets(der: bytes) -> list[int]:
    """Tag offsets of the Go-only PrintableStrings in the issuer and subject names."""
    cert_start, cert_end = _expect(der, 0, len(der), _SEQUENCE)
    tbs_start, tbs_end = _expect(der, cert_start, cert_end, _SEQUENCE)
    fields = _children(der, tbs_start, tbs_end)
    if fields and fields[0][1] == _VERSION:
        fields = fields[1:]
    # serialNumber, signature, issuer, validity, subject, ...
    if len(fields) <= _SUBJECT:
        raise _MalformedError
    offsets: list[int] = []
    for _, tag, start, end in (fields[_ISSUER], fields[_SUBJECT]):
        if tag != _SEQUENCE:
            raise _MalformedError
        offsets += _lenient_strings(der, start, end)
    return offsets


def relax_printable_names(der: bytes) -> bytes | None:
    """Retag Go-only PrintableStrings of the issuer and subject names as UTF8String.

    A PrintableString qualifies when all its bytes are in :data:`GO_PRINTABLE`
    and one is ``*`` or ``&``. Nothing else changes.

    Args:
        der: what should be a DER certificate.

    Returns:
        The rewritten bytes, or None when there is nothing to rewrite or the
        bytes are not shaped like a certificate.
    """
    try:
        offsets = _name_offsets(der)
    except _MalformedError:
        return None
    if not offsets:
        return None
    relaxed = bytearray(der)
    for offset in offsets:
        relaxed[offset] = _UTF8_STRING
    return bytes(relaxed)


def load_der_certificate(der: bytes) -> x509.Certificate:
    """``x509.load_der_x509_certificate``, also taking the names Go's parser takes.

    Args:
        der: the DER bytes.

    Returns:
        The certificate; see the module docstring for how it differs from
        ``der`` when the names had to be relaxed.

    Raises:
        ValueError: cryptography cannot load the certificate, relaxed or not
            (the error is the one for ``der`` itself).
    """
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError as error:
        relaxed = relax_printable_names(der)
        if relaxed is None:
            raise
        try:
            return x509.load_der_x509_certificate(relaxed)
        except ValueError:
            raise error from None
