"""Root key certificates: creation, validity rules and root leaf selection.

Port of Go ``trustpinning/certs.go`` (``MatchCNToGun``, ``validRootLeafCerts``,
``validRootIntCerts``, ``parseAllCerts``), of ``ValidateCertificate``,
``LoadCertBundleFromPEM`` and ``CertsToKeys`` from ``tuf/utils/x509.go``, and of
``cryptoservice/certificate.go`` (the certificate the client makes for a root key).

The server trusts on first use, so there is no trust pinning here: this module
decides which root keys are usable certificates, and the caller checks the root's
signatures against the keys it returns. Signature checking itself is elsewhere.
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, SignatureAlgorithmOID

from notary_tuf.crypto import MIN_RSA_BITS, PrivateKey
from notary_tuf.encoding import iter_pem_blocks, pem_encode
from notary_tuf.errors import (
    CertificateError,
    CertificateExpiredError,
    CertificateNameError,
    WeakCertificateError,
)
from notary_tuf.keys import PublicKey, parse_certificate

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = [
    "check_certificate",
    "check_common_name",
    "cn_matches_gun",
    "common_name",
    "is_ca",
    "load_certificate_bundle",
    "new_root_certificate",
    "valid_root_leaf_keys",
]

logger = logging.getLogger(__name__)

_SHA1_ALGORITHMS: Final = frozenset(
    {
        SignatureAlgorithmOID.RSA_WITH_SHA1,
        x509.ObjectIdentifier("1.3.14.3.2.29"),  # the ISO OID Go also reads as SHA1WithRSA
        SignatureAlgorithmOID.DSA_WITH_SHA1,
        SignatureAlgorithmOID.ECDSA_WITH_SHA1,
    }
)
_SERIAL_LIMIT: Final = 1 << 128  # Go NewCertificate: rand.Int(rand.Reader, 2^128)
_NEAR_EXPIRY: Final = timedelta(days=182)


def load_certificate_bundle(pem: bytes) -> list[x509.Certificate]:
    """Parse every certificate of a PEM bundle (Go ``LoadCertBundleFromPEM``).

    Args:
        pem: PEM text; headers inside CERTIFICATE blocks are allowed.

    Returns:
        The certificates in order.

    Raises:
        CertificateError: a block is not a CERTIFICATE, a certificate does not
            parse, or there are none.
    """
    return [cert for cert, _ in _load_bundle(pem)]


def _load_bundle(pem: bytes) -> list[tuple[x509.Certificate, bytes]]:
    """:func:`load_certificate_bundle`, with each certificate's DER as it came.

    The DER is kept because a certificate Go parses but cryptography only parses
    relaxed (see :mod:`notary_tuf.x509names`) re-encodes differently.
    """
    certificates: list[tuple[x509.Certificate, bytes]] = []
    for block in iter_pem_blocks(pem):
        if block.type != "CERTIFICATE":
            raise CertificateError(f"invalid pem block type: {block.type}")
        certificates.append((parse_certificate(block.data), block.data))
    if not certificates:
        raise CertificateError("no valid certificates found")
    return certificates


def is_ca(cert: x509.Certificate) -> bool:
    """Whether the certificate's basic constraints mark it as a CA (Go ``IsCA``)."""
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    return constraints.value.ca


def common_name(cert: x509.Certificate) -> str:
    """The subject common name as Go reads it: the last CN attribute, or empty."""
    values = [
        attr.value
        for attr in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if isinstance(attr.value, str)
    ]
    return values[-1] if values else ""


def cn_matches_gun(cert: x509.Certificate, gun: str) -> bool:
    """Whether the certificate's CN names ``gun`` (Go ``MatchCNToGun``).

    A CN ending in ``*`` matches every GUN starting with the CN stripped of all
    its trailing ``*``; any other CN must equal the GUN.
    """
    name = common_name(cert)
    if name.endswith("*"):
        return gun.startswith(name.rstrip("*"))
    return name == gun


def check_common_name(cert: x509.Certificate, gun: str) -> None:
    """Raise unless the certificate's CN matches ``gun`` (see :func:`cn_matches_gun`).

    Raises:
        CertificateNameError: the CN does not match.
    """
    if not cn_matches_gun(cert, gun):
        raise CertificateNameError(
            f"certificate CN {common_name(cert)!r} does not match the GUN {gun!r}"
        )


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def check_certificate(cert: x509.Certificate, *, now: datetime, check_expiry: bool = True) -> None:
    """Apply Go's ``ValidateCertificate`` rules to one certificate.

    Args:
        cert: the certificate.
        now: the current time (naive values are taken as UTC).
        check_expiry: also require ``NotBefore <= now + 1 day`` and ``now <= NotAfter``.

    Raises:
        CertificateError: ``NotBefore`` is after ``NotAfter`` or the key does not load.
        WeakCertificateError: SHA-1 signature, or an RSA key below 2048 bits.
        CertificateExpiredError: outside the validity period.
    """
    not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    name = common_name(cert)
    if not_before > not_after:
        raise CertificateError("certificate validity window is invalid")
    if cert.signature_algorithm_oid in _SHA1_ALGORITHMS:
        raise WeakCertificateError(
            f"certificate with CN {name} uses invalid SHA1 signature algorithm"
        )
    try:
        public = cert.public_key()
    except UnsupportedAlgorithm:
        public = None
    if isinstance(public, rsa.RSAPublicKey) and public.key_size < MIN_RSA_BITS:
        raise WeakCertificateError("RSA bit length is too short")
    if check_expiry:
        current = _as_utc(now)
        # Go allows one day of clock skew on NotBefore but none on NotAfter.
        if not_before > current + timedelta(days=1) or current > not_after:
            raise CertificateExpiredError(f"certificate with CN {name} is expired")
        if not_after < current + _NEAR_EXPIRY:
            logger.warning("certificate with CN %s is near expiry", name)


def new_root_certificate(
    private: PrivateKey, gun: str, *, not_before: datetime, not_after: datetime
) -> x509.Certificate:
    """Make the self-signed certificate the notary client makes for a root key.

    Port of Go ``cryptoservice.GenerateCertificate`` with the template of
    ``utils.NewCertificate``: random serial below 2^128, subject and issuer CN =
    ``gun``, critical KeyUsage digitalSignature|keyEncipherment, ExtKeyUsage
    codeSigning and critical BasicConstraints CA=false. The signature hash
    follows the key as Go picks it: SHA-384 for P-384, SHA-512 for P-521,
    otherwise SHA-256 (PKCS#1 v1.5 for RSA); Ed25519 keys sign pure Ed25519,
    though Go itself refuses to make certificates for them.

    Args:
        private: the root private key.
        gun: the repository name.
        not_before: start of validity.
        not_after: end of validity.

    Returns:
        The certificate.
    """
    key = private.cryptography_key
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, gun)])
    algorithm: hashes.SHA256 | hashes.SHA384 | hashes.SHA512 | None = hashes.SHA256()
    if isinstance(key, ed25519.Ed25519PrivateKey):
        algorithm = None
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        if isinstance(key.curve, ec.SECP384R1):
            algorithm = hashes.SHA384()
        elif isinstance(key.curve, ec.SECP521R1):
            algorithm = hashes.SHA512()
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1 + secrets.randbelow(_SERIAL_LIMIT - 1))
        .not_valid_before(_as_utc(not_before))
        .not_valid_after(_as_utc(not_after))
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    return builder.sign(key, algorithm)


_Parsed = tuple[x509.Certificate, bytes]
"""A certificate and its DER as it came (what Go's ``cert.Raw`` holds)."""


def _root_chains(
    keys: Mapping[str, PublicKey], keyids: Iterable[str]
) -> dict[str, tuple[_Parsed, list[_Parsed]]]:
    """Go ``parseAllCerts``: leaf and intermediates per root key, by computed key ID.

    Like Go, this does not look at the key type: any key whose public bytes are
    a certificate bundle with exactly one leaf, placed first, counts.
    """
    chains: dict[str, tuple[_Parsed, list[_Parsed]]] = {}
    for keyid in keyids:
        key = keys.get(keyid)
        if key is None:
            logger.debug("root key %s is not in the keys map", keyid)
            continue
        try:
            certs = _load_bundle(key.public)
        except CertificateError as e:
            logger.debug("root key %s is not a certificate bundle: %s", keyid, e)
            continue
        leaves = [parsed for parsed in certs if not is_ca(parsed[0])]
        if len(leaves) != 1 or is_ca(certs[0][0]):
            logger.debug("root key %s does not hold exactly one leaf, first", keyid)
            continue
        chains[key.key_id] = (leaves[0], [parsed for parsed in certs if is_ca(parsed[0])])
    return chains


def _chain_key(chain: list[_Parsed]) -> PublicKey:
    """Go ``CertBundleToKey``: the key of a leaf-first chain, from the chain's own DER.

    Raises:
        CertificateError: the leaf's key is neither RSA nor ECDSA.
    """
    typed = PublicKey.from_certificate(chain[0][0])
    return PublicKey(typed.keytype, b"".join(pem_encode("CERTIFICATE", der) for _, der in chain))


def valid_root_leaf_keys(
    keys: Mapping[str, PublicKey],
    keyids: Iterable[str],
    gun: str,
    *,
    now: datetime,
    check_expiry: bool,
) -> dict[str, PublicKey]:
    """Return the root keys whose certificates are valid for ``gun``, rebuilt as Go rebuilds them.

    Port of what Go ``ValidateRoot`` does with ``parseAllCerts``,
    ``validRootLeafCerts``, ``validRootIntCerts`` and ``CertsToKeys``. Each key is
    rebuilt from its leaf and intermediates, re-PEM-encoded, so signatures must
    name the rebuilt key's ID. With ``check_expiry`` (a new root), intermediates
    that fail :func:`check_certificate` are dropped; without it (the previous
    root) Go uses the intermediates unfiltered, and so does this function.

    Args:
        keys: the root's ``keys`` map.
        keyids: the root role's key IDs.
        gun: the repository name the leaf CNs must match.
        now: the current time.
        check_expiry: whether leaf (and intermediate) validity periods count.

    Returns:
        Rebuilt key ID → rebuilt key. It may be empty when the valid leaves have
        keys that are neither RSA nor ECDSA, as Go then finds no key either.

    Raises:
        CertificateError: no valid leaf certificate at all.
    """
    chains = _root_chains(keys, keyids)
    result: dict[str, PublicKey] = {}
    valid_leaves = 0
    for keyid, ((leaf, leaf_der), intermediates) in chains.items():
        if not cn_matches_gun(leaf, gun):
            logger.debug("leaf CN %s of %s does not match %s", common_name(leaf), keyid, gun)
            continue
        try:
            check_certificate(leaf, now=now, check_expiry=check_expiry)
        except CertificateError as e:
            logger.debug("leaf certificate of %s is invalid: %s", keyid, e)
            continue
        valid_leaves += 1
        usable = intermediates
        if check_expiry:
            usable = [parsed for parsed in intermediates if _is_valid(parsed[0], now)]
        try:
            rebuilt = _chain_key([(leaf, leaf_der), *usable])
        except CertificateError as e:
            logger.debug("leaf certificate of %s has an unusable key: %s", keyid, e)
            continue
        result[rebuilt.key_id] = rebuilt
    if not valid_leaves:
        raise CertificateError("unable to retrieve valid leaf certificates")
    return result


def _is_valid(cert: x509.Certificate, now: datetime) -> bool:
    try:
        check_certificate(cert, now=now, check_expiry=True)
    except CertificateError:
        return False
    return True
