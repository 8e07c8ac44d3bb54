"""Public keys and key IDs as Go notary 0.7 defines them.

Port of the public-key half of Go ``tuf/data/keys.go`` plus the key helpers of
``tuf/utils/x509.go`` (``CanonicalKeyID``, ``CertToKey``, ``CertBundleToKey``).

A key is a type name and opaque public bytes. The bytes are a DER
SubjectPublicKeyInfo for ``ecdsa`` and ``rsa``, a PEM certificate chain (leaf
first) for ``ecdsa-x509`` and ``rsa-x509`` and the raw 32 bytes for ``ed25519``.
Unknown type names are kept, as Go keeps them, and simply never verify.

It deliberately does no signature work; that lives in :mod:`notary_tuf.crypto`.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import PublicKeyAlgorithmOID

from notary_tuf._fields import decode_byte_array
from notary_tuf.encoding import decode_base64, iter_pem_blocks, pem_encode
from notary_tuf.errors import Base64Error, CertificateError, KeyFormatError
from notary_tuf.x509names import load_der_certificate

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "KeyType",
    "PublicKey",
    "parse_certificate",
    "signature_method_for",
]

logger = logging.getLogger(__name__)


class KeyType(enum.StrEnum):
    """The key types Notary knows (Go ``tuf/data/types.go``)."""

    ED25519 = "ed25519"
    ECDSA = "ecdsa"
    ECDSA_X509 = "ecdsa-x509"
    RSA = "rsa"
    RSA_X509 = "rsa-x509"


X509_TYPES: Final = frozenset({KeyType.ECDSA_X509.value, KeyType.RSA_X509.value})

_METHODS: Final = {
    KeyType.ECDSA.value: "ecdsa",
    KeyType.ECDSA_X509.value: "ecdsa",
    KeyType.RSA.value: "rsapss",
    KeyType.RSA_X509.value: "rsapss",
    KeyType.ED25519.value: "eddsa",
}

# The curves Go's crypto/x509 parses; a key on any other curve fails to parse there.
GO_CURVES: Final = (ec.SECP224R1, ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)


def signature_method_for(keytype: str) -> str:
    """Return the signature ``method`` Notary writes for a key of ``keytype``.

    Args:
        keytype: a key type name.

    Returns:
        ``ecdsa``, ``rsapss`` or ``eddsa``.

    Raises:
        KeyFormatError: Notary cannot sign with keys of this type.
    """
    try:
        return _METHODS[keytype]
    except KeyError:
        raise KeyFormatError(f"no signature method for key type {keytype!r}") from None


_GO_KEY_ALGORITHMS: Final = frozenset(
    {
        PublicKeyAlgorithmOID.RSAES_PKCS1_v1_5,
        PublicKeyAlgorithmOID.EC_PUBLIC_KEY,
        PublicKeyAlgorithmOID.ED25519,
        PublicKeyAlgorithmOID.DSA,
    }
)


def _check_public_key(public: Any) -> None:
    """Reject public keys Go's x509 parser refuses."""
    if isinstance(public, ec.EllipticCurvePublicKey) and not isinstance(public.curve, GO_CURVES):
        raise CertificateError(f"unsupported elliptic curve {public.curve.name}")


def parse_certificate(der: bytes) -> x509.Certificate:
    """Parse a DER certificate, failing where Go's ``x509.ParseCertificate`` would.

    Extensions and the public key are decoded eagerly because Go decodes them
    while parsing; a certificate with a public key algorithm nobody knows still
    parses, as in Go.

    Args:
        der: the DER bytes.

    Returns:
        The certificate.

    Raises:
        CertificateError: the bytes are not a certificate Go would accept.
    """
    try:
        # Also takes the PrintableString names with '*' or '&' Go takes (x509names).
        cert = load_der_certificate(der)
        _ = cert.extensions
        # Names too: cryptography decodes them lazily, and a malformed subject
        # would otherwise raise ValueError later, e.g. when reading the CN
        # (found by fuzzing; Go's parser fails on it here).
        _ = cert.subject, cert.issuer
        try:
            _check_public_key(cert.public_key())
        except UnsupportedAlgorithm as e:
            # Go fails on an RSA/EC/Ed25519/DSA key it cannot read (an unknown curve,
            # say) but parses certificates whose key algorithm it does not know.
            if cert.public_key_algorithm_oid in _GO_KEY_ALGORITHMS:
                raise CertificateError(f"unsupported certificate public key: {e}") from e
            logger.debug("certificate has a public key of unknown algorithm")
    # InvalidVersion is not a ValueError (found by fuzzing).
    except (ValueError, TypeError, x509.DuplicateExtension, x509.InvalidVersion) as e:
        raise CertificateError(f"unable to parse certificate: {e}") from e
    return cert


def _leaf_from_pem(public: bytes) -> x509.Certificate:
    """Return the first parseable header-less CERTIFICATE block (Go ``LoadCertFromPEM``)."""
    for block in iter_pem_blocks(public):
        if block.type != "CERTIFICATE" or block.headers:
            continue
        try:
            return parse_certificate(block.data)
        except CertificateError:
            continue
    raise CertificateError("no certificates found in PEM data")


def spki_der(public: Any) -> bytes:
    """Return the DER SubjectPublicKeyInfo of a cryptography public key object.

    Raises:
        KeyFormatError: the key is not an RSA, ECDSA or Ed25519 key.
    """
    if not isinstance(
        public, rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
    ):
        raise KeyFormatError(f"unsupported public key type {type(public).__name__}")
    return public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


# --- key IDs ---------------------------------------------------------------------

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _canonical_string(value: str) -> bytes:
    # Go canonical JSON escapes only '"' and '\'; Go's decoder has already made
    # lone surrogates U+FFFD by the time it hashes a key type.
    cleaned = _LONE_SURROGATE.sub("\ufffd", value)
    escaped = cleaned.replace("\\", "\\\\").replace('"', '\\"')
    return b'"' + escaped.encode("utf-8") + b'"'


def _compute_key_id(keytype: str, public: bytes, *, null_public: bool) -> str:
    encoded = b"null" if null_public else b'"' + base64.b64encode(public) + b'"'
    document = (
        b'{"keytype":'
        + _canonical_string(keytype)
        + b',"keyval":{"private":null,"public":'
        + encoded
        + b"}}"
    )
    return hashlib.sha256(document).hexdigest()


# --- parsing helpers ---------------------------------------------------------------


def _field(data: dict[str, Any], name: str) -> Any:
    """Look a struct field up the way Go's JSON decoder does (case-insensitive, last wins)."""
    found: Any = None
    for key, value in data.items():
        folded = key.replace("\u212a", "k").replace("\u017f", "s")
        if folded.isascii() and folded.lower() == name:
            found = value
    return found


def _decode_bytes(value: Any, path: str) -> bytes | None:
    """Decode a Go ``[]byte`` JSON value: base64 string, null or array of bytes."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return decode_base64(value)
        except Base64Error as e:
            raise Base64Error(f"{path}: {e}") from e
    if isinstance(value, list):
        try:
            return decode_byte_array(value, path)
        except Base64Error as e:
            raise KeyFormatError(str(e)) from e
    raise KeyFormatError(f"{path}: expected a base64 string, got {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A TUF public key as Notary stores it in metadata.

    Attributes:
        keytype: the key type name, kept verbatim (unknown names allowed).
        public: the decoded ``keyval.public`` bytes.
        null_public: ``keyval.public`` was JSON null rather than a string. Go
            hashes ``null`` instead of ``""`` into the key ID then.
        private: ``keyval.private`` as received, None when null or absent. It
            never enters the key ID nor any comparison; it is kept only because
            Go writes it back when it re-serialises a parsed file.
        key_id: lowercase hex SHA-256 of the key's canonical JSON.
    """

    keytype: str
    public: bytes
    null_public: bool = field(default=False, kw_only=True)
    private: bytes | None = field(default=None, kw_only=True, compare=False, repr=False)
    key_id: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Validate the fields and compute the key ID.

        Raises:
            KeyFormatError: ``null_public`` is set while ``public`` is not empty.
        """
        if self.null_public and self.public:
            raise KeyFormatError("a key with null public bytes cannot hold public bytes")
        key_id = _compute_key_id(self.keytype, self.public, null_public=self.null_public)
        object.__setattr__(self, "key_id", key_id)

    @classmethod
    def from_dict(cls, data: Any, *, path: str = "key") -> PublicKey:
        """Build a key from its parsed JSON object, accepting what Go accepts.

        Go decodes into a struct, so a missing or null ``keytype`` is the empty
        type, a missing ``keyval`` has null public bytes and field names match
        case-insensitively. ``keyval.private`` must decode as Go ``[]byte`` but
        is dropped: it does not enter the key ID and is never kept.

        Args:
            data: the parsed JSON value.
            path: where the value sits, for error messages.

        Returns:
            The key.

        Raises:
            KeyFormatError: a field has the wrong JSON type.
            Base64Error: ``public`` or ``private`` is not valid base64.
        """
        if data is None:
            return cls("", b"", null_public=True)
        if not isinstance(data, dict):
            raise KeyFormatError(f"{path}: expected an object, got {type(data).__name__}")
        keytype = _field(data, "keytype")
        if keytype is None:
            keytype = ""
        if not isinstance(keytype, str):
            raise KeyFormatError(f"{path}.keytype: expected a string")
        keyval = _field(data, "keyval")
        if keyval is None:
            keyval = {}
        if not isinstance(keyval, dict):
            raise KeyFormatError(f"{path}.keyval: expected an object")
        public = _decode_bytes(_field(keyval, "public"), f"{path}.keyval.public")
        private = _decode_bytes(_field(keyval, "private"), f"{path}.keyval.private")
        if public is None:
            return cls(keytype, b"", null_public=True, private=private)
        return cls(keytype, public, private=private)

    def to_dict(self) -> dict[str, Any]:
        """Return the metadata form ``{"keytype": …, "keyval": {"private": …, "public": …}}``.

        ``private`` is null unless the key was parsed from a file that held one.
        """
        public = None if self.null_public else base64.b64encode(self.public).decode("ascii")
        private = None if self.private is None else base64.b64encode(self.private).decode("ascii")
        return {"keytype": self.keytype, "keyval": {"private": private, "public": public}}

    @property
    def is_x509(self) -> bool:
        """Whether the key is a certificate chain (``ecdsa-x509`` or ``rsa-x509``)."""
        return self.keytype in X509_TYPES

    @property
    def canonical_key_id(self) -> str:
        """The key ID keystores file the private key under (Go ``CanonicalKeyID``).

        For x509 keys this is the ID of the plain ``ecdsa``/``rsa`` key holding the
        leaf certificate's SubjectPublicKeyInfo; otherwise it is :attr:`key_id`.

        Raises:
            CertificateError: an x509 key holds no usable certificate.
        """
        if not self.is_x509:
            return self.key_id
        cert = _leaf_from_pem(self.public)
        try:
            der = spki_der(cert.public_key())
        except (UnsupportedAlgorithm, KeyFormatError) as e:
            raise CertificateError(f"unsupported certificate public key: {e}") from e
        return _compute_key_id(self.keytype.removesuffix("-x509"), der, null_public=False)

    @classmethod
    def from_certificate(
        cls, cert_or_chain: x509.Certificate | Sequence[x509.Certificate]
    ) -> PublicKey:
        """Build an ``ecdsa-x509``/``rsa-x509`` key from a leaf and optional intermediates.

        Port of Go ``CertToKey`` and ``CertBundleToKey``: the public bytes are the
        PEM of each certificate, leaf first, and the type follows the leaf's key.

        Args:
            cert_or_chain: a certificate, or a non-empty sequence with the leaf first.

        Returns:
            The key.

        Raises:
            CertificateError: the chain is empty or the leaf's key is neither RSA nor ECDSA.
        """
        chain = (
            [cert_or_chain] if isinstance(cert_or_chain, x509.Certificate) else list(cert_or_chain)
        )
        if not chain:
            raise CertificateError("empty certificate chain")
        try:
            leaf_key = chain[0].public_key()
        except UnsupportedAlgorithm as e:
            raise CertificateError("unsupported certificate public key") from e
        if isinstance(leaf_key, rsa.RSAPublicKey):
            keytype = KeyType.RSA_X509
        elif isinstance(leaf_key, ec.EllipticCurvePublicKey):
            keytype = KeyType.ECDSA_X509
        else:
            raise CertificateError(f"unsupported certificate public key {type(leaf_key).__name__}")
        pem = b"".join(
            pem_encode("CERTIFICATE", cert.public_bytes(serialization.Encoding.DER))
            for cert in chain
        )
        return cls(keytype.value, pem)

    @classmethod
    def from_public_key(cls, pub: Any) -> PublicKey:
        """Build a plain key from a cryptography public key object.

        Args:
            pub: an RSA, elliptic-curve or Ed25519 public key.

        Returns:
            An ``rsa`` or ``ecdsa`` key holding the DER SubjectPublicKeyInfo, or an
            ``ed25519`` key holding the raw 32 bytes.

        Raises:
            KeyFormatError: any other kind of key.
        """
        if isinstance(pub, ed25519.Ed25519PublicKey):
            raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            return cls(KeyType.ED25519.value, raw)
        if isinstance(pub, rsa.RSAPublicKey):
            return cls(KeyType.RSA.value, spki_der(pub))
        if isinstance(pub, ec.EllipticCurvePublicKey):
            return cls(KeyType.ECDSA.value, spki_der(pub))
        raise KeyFormatError(f"unsupported public key type {type(pub).__name__}")
