"""The token signers' certificates: the root bundle and ``x5c`` chain verification.

Go verifies an ``x5c`` chain with ``crypto/x509`` (``KeyUsages: Any``): a leaf
that is itself one of the roots is trusted as is; otherwise each certificate
must be directly issued (name and signature) by the next one, up to a root,
every issuer being a CA allowed to sign certificates, and every certificate in
the chain must be within its validity period.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import TYPE_CHECKING, Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from notary_server.auth.libtrust import PublicKey, UnsupportedKeyError, key_id, supported_key

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

__all__ = [
    "CertificateError",
    "IssuerError",
    "SigningKey",
    "load_root_bundle",
    "load_signing_material",
    "verify_chain",
    "x5c_entry",
]

SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
"""A key the built-in issuer can sign tokens with."""

MAX_CHAIN_LENGTH: Final = 10
"""Certificates above the leaf that a chain may have (Go has no fixed limit; x5c is short)."""


class CertificateError(ValueError):
    """A certificate bundle or chain that cannot be used."""


def load_root_bundle(path: Path) -> tuple[x509.Certificate, ...]:
    """Read ``rootcertbundle``: PEM with at least one certificate, each with a libtrust key.

    Raises:
        CertificateError: unreadable, no certificate, an unparsable one, or a key
            libtrust does not support (Go refuses to start then too).
    """
    try:
        data = path.read_bytes()
    except OSError as e:
        raise CertificateError(f"unable to read {path}: {e.strerror}") from e
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise CertificateError(f"{path}: requires at least one token signing root certificate")
    try:
        certificates = tuple(x509.load_pem_x509_certificates(data))
    except ValueError as e:
        raise CertificateError(f"{path}: unable to parse a certificate: {e}") from e
    for certificate in certificates:
        try:
            supported_key(certificate.public_key())
        except UnsupportedKeyError as e:
            raise CertificateError(f"{path}: {certificate.subject.rfc4514_string()}: {e}") from e
    return certificates


def x5c_entry(der: bytes) -> str:
    """Encode a DER certificate for an ``x5c`` header (standard base64, padded)."""
    return base64.b64encode(der).decode("ascii")


def _decode(entry: object) -> x509.Certificate:
    if not isinstance(entry, str) or not entry:
        raise CertificateError("malformed certificate chain")
    try:
        der = base64.b64decode(entry.encode("ascii"), validate=True)
        return x509.load_der_x509_certificate(der)
    except (UnicodeEncodeError, binascii.Error, ValueError) as e:
        raise CertificateError("unable to decode a certificate of the chain") from e


def _check_time(certificate: x509.Certificate, now: dt.datetime) -> None:
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise CertificateError("certificate has expired or is not yet valid")


def _may_sign(issuer: x509.Certificate, depth: int) -> bool:
    """Go's ``CheckSignatureFrom`` and intermediate rules: a CA with certificate signing."""
    try:
        constraints = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return issuer.version is x509.Version.v1
    if not constraints.ca:
        return False
    if constraints.path_length is not None and depth > constraints.path_length:
        return False
    try:
        usage = issuer.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return usage.key_cert_sign


def _issued_by(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def verify_chain(
    x5c: Sequence[object], roots: Sequence[x509.Certificate], now: dt.datetime
) -> PublicKey:
    """Verify an ``x5c`` header (leaf first, base64 DER) up to ``roots``; return the leaf key.

    Raises:
        CertificateError: the chain is malformed, does not reach a root, or a
            certificate is outside its validity period or may not sign.
    """
    if not x5c:
        raise CertificateError("empty x509 certificate chain")
    leaf, *rest = (_decode(entry) for entry in x5c)
    _check_time(leaf, now)
    if not any(leaf == root for root in roots):
        _build_path(leaf, rest, roots, now)
    try:
        return supported_key(leaf.public_key())
    except UnsupportedKeyError as e:
        raise CertificateError(str(e)) from e


def _build_path(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    now: dt.datetime,
) -> None:
    current, used = leaf, [leaf]
    for depth in range(MAX_CHAIN_LENGTH):
        for root in roots:
            if _may_sign(root, depth) and _issued_by(current, root):
                _check_time(root, now)
                return
        parent = next(
            (
                c
                for c in intermediates
                if c not in used and _may_sign(c, depth) and _issued_by(current, c)
            ),
            None,
        )
        if parent is None:
            break
        _check_time(parent, now)
        current = parent
        used.append(parent)
    raise CertificateError("certificate signed by unknown authority")


class IssuerError(ValueError):
    """The issuer key or certificate cannot be used."""


def load_signing_material(
    key_path: Path, cert_path: Path, roots: Sequence[x509.Certificate]
) -> tuple[SigningKey, tuple[x509.Certificate, ...]]:
    """Read the issuer's private key and certificate chain (leaf first) and check them.

    Raises:
        IssuerError: unreadable, an unsupported key, a certificate for another key,
            or a chain that does not verify up to ``roots`` now.
    """
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        chain = tuple(x509.load_pem_x509_certificates(cert_path.read_bytes()))
    except (OSError, ValueError, TypeError) as e:
        raise IssuerError(f"cannot load the issuer key or certificate: {e}") from e
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise IssuerError("the issuer key must be ECDSA (P-256/P-384/P-521) or RSA")
    try:
        same_key = key_id(supported_key(chain[0].public_key())) == key_id(
            supported_key(key.public_key())
        )
    except UnsupportedKeyError as e:
        raise IssuerError(str(e)) from e
    if not same_key:
        raise IssuerError("the issuer certificate is not for the issuer key")
    try:
        verify_chain(
            [x5c_entry(c.public_bytes(serialization.Encoding.DER)) for c in chain],
            roots,
            dt.datetime.now(dt.UTC),
        )
    except CertificateError as e:
        raise IssuerError(f"the issuer certificate does not chain to rootcertbundle: {e}") from e
    return key, chain
