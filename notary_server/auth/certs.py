"""The token signers' certificates: the root bundle and ``x5c`` chain verification.

Go verifies an ``x5c`` chain with ``crypto/x509`` (``KeyUsages: Any``); we hand it to
``cryptography.x509.verification`` with the policies that make it Go's (ADR 0032):
no extended key usage or subject name is required of the leaf, every issuer must be a
CA (``basicConstraints``) whose key usage, if present, allows certificate signing
(Go's ``CheckSignatureFrom``), and a leaf that is itself one of the roots is trusted as
is. The verifier checks names, signatures, validity periods, path lengths and
unknown critical extensions along the chain; it also refuses RSA issuers under 2048
bits and chains of more than 8 intermediates, where Go has no limit. It refuses
version 1 certificates outright, which Go takes as leaves and roots: the hop from a
version 1 leaf is checked here by hand (:func:`_verify_version_1_leaf`).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import TYPE_CHECKING, Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.verification import (
    ClientVerifier,
    Criticality,
    ExtensionPolicy,
    Policy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from notary_server.auth.libtrust import (
    MIN_RSA_BITS,
    PublicKey,
    UnsupportedKeyError,
    key_id,
    supported_key,
)

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


def _may_sign_certificates(
    _policy: Policy, _certificate: x509.Certificate, usage: x509.KeyUsage | None
) -> None:
    """Go's ``CheckSignatureFrom``: an issuer's key usage, if any, includes keyCertSign."""
    if usage is not None and not usage.key_cert_sign:
        raise ValueError("the issuer's key usage does not allow certificate signing")


_ISSUER_POLICY: Final = (
    ExtensionPolicy.permit_all()
    .require_present(x509.BasicConstraints, Criticality.AGNOSTIC, None)
    .may_be_present(x509.KeyUsage, Criticality.AGNOSTIC, _may_sign_certificates)
)
"""What an intermediate or root must carry: Go's checks, none of the Web PKI's."""

_LEAF_POLICY: Final = ExtensionPolicy.permit_all()
"""Go's ``ExtKeyUsageAny``: any (known or non-critical) extensions, none required."""


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


def verify_chain(
    x5c: Sequence[object], roots: Sequence[x509.Certificate], now: dt.datetime
) -> PublicKey:
    """Verify an ``x5c`` header (leaf first, base64 DER) up to ``roots``; return the leaf key.

    Raises:
        CertificateError: the chain is malformed, does not reach a root, a
            certificate is outside its validity period or may not sign, or the
            leaf's key is one libtrust does not support.
    """
    if not x5c:
        raise CertificateError("empty x509 certificate chain")
    leaf, *intermediates = (_decode(entry) for entry in x5c)
    verifier = (
        PolicyBuilder()
        .store(Store(list(roots)))
        .time(now)
        .extension_policies(ca_policy=_ISSUER_POLICY, ee_policy=_LEAF_POLICY)
        .build_client_verifier()
    )
    try:
        if leaf.version is x509.Version.v1:
            _verify_version_1_leaf(leaf, intermediates, roots, now, verifier)
        else:
            verifier.verify(leaf, intermediates)
        return supported_key(leaf.public_key())
    except (VerificationError, UnsupportedKeyError) as e:
        raise CertificateError(f"unable to verify certificate chain: {e}") from e


def _verify_version_1_leaf(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    now: dt.datetime,
    verifier: ClientVerifier,
) -> None:
    """Go's checks of a version 1 leaf (``openssl x509 -req``), which the verifier refuses.

    The hop to the issuer is checked here (validity, name, signature, Go's
    ``CheckSignatureFrom``), the issuer's own chain by the verifier; a root, version 1
    ones included, is trusted as is, as Go trusts it.
    """
    _check_validity(leaf, now)
    if leaf in roots:
        return
    for issuer in (*intermediates, *roots):
        if _may_sign(issuer) and _issued_by(leaf, issuer):
            if issuer in roots:
                _check_validity(issuer, now)
            else:
                verifier.verify(issuer, [c for c in intermediates if c is not issuer])
            return
    raise CertificateError("certificate signed by unknown authority")


def _check_validity(certificate: x509.Certificate, now: dt.datetime) -> None:
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise CertificateError("certificate has expired or is not yet valid")


def _may_sign(issuer: x509.Certificate) -> bool:
    """Go's ``CheckSignatureFrom`` (a CA or version 1, keyCertSign if it has a key usage).

    An RSA issuer under 2048 bits may not sign, as in the verifier.
    """
    key = issuer.public_key()
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        return False
    try:
        constraints = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return issuer.version is x509.Version.v1
    try:
        usage = issuer.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return constraints.ca
    return constraints.ca and usage.key_cert_sign


def _issued_by(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Issuer name and signature match (cryptography refuses SHA-1 signatures, as Go does)."""
    try:
        child.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, UnsupportedAlgorithm, InvalidSignature):
        return False
    return True


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
