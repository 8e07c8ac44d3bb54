"""Signature verification and signing exactly as Go notary 0.7 does them.

Port of Go ``tuf/signed/verifiers.go`` (verification) and of the signing half of
``tuf/data/keys.go`` (``ECDSAPrivateKey.Sign``, ``RSAPrivateKey.Sign``,
``ED25519PrivateKey.Sign``). Each verifier refuses keys of the wrong type for
its method, which is Go's fix for NCC 2015 finding 1.

Everything here raises only :mod:`notary_tuf.errors` exceptions; errors from
``cryptography`` are wrapped where they occur. Key storage and key encryption
are not this module's business.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable
from typing import Any, Final

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils

from notary_tuf.encoding import pem_decode
from notary_tuf.errors import (
    CertificateError,
    InvalidSignatureError,
    KeyFormatError,
    KeyMethodMismatchError,
    UnknownMethodError,
)
from notary_tuf.keys import GO_CURVES, KeyType, PublicKey, parse_certificate, spki_der

__all__ = ["PrivateKey", "verify_signature"]

logger = logging.getLogger(__name__)

MIN_RSA_BITS: Final = 2048
_ED25519_KEY_SIZE: Final = 32
_ED25519_SIG_SIZE: Final = 64
_PSS_SALT: Final = 32  # Go: rsa.PSSSaltLengthEqualsHash with SHA-256
_GO_MAX_RSA_EXPONENT: Final = (1 << 31) - 1

_Verifier = Callable[[PublicKey, bytes, bytes], None]


# --- public key decoding ---------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _load_spki(der: bytes) -> Any:
    """Parse a DER SubjectPublicKeyInfo as strictly as Go's ``ParsePKIXPublicKey``.

    Remembered: the same few keys verify every upload of a repository, and the
    key objects are immutable. A refusal raises, so it is never remembered.
    """
    try:
        public = serialization.load_der_public_key(der)
        if isinstance(public, ec.EllipticCurvePublicKey):
            if not isinstance(public.curve, GO_CURVES):
                raise KeyFormatError(f"unsupported elliptic curve {public.curve.name}")
            # Go only reads uncompressed points; re-encoding shows any other form.
            if spki_der(public) != der:
                raise KeyFormatError("public key is not in Go's DER form")
    except (ValueError, UnsupportedAlgorithm) as e:
        raise KeyFormatError(f"unable to parse public key: {e}") from e
    return public


def _first_block_certificate_key(key: PublicKey) -> Any:
    """The public key of the certificate in the first PEM block (what Go's verifiers use)."""
    block, _ = pem_decode(key.public)
    if block is None:
        raise KeyFormatError("failed to decode PEM-encoded x509 certificate")
    try:
        return parse_certificate(block.data).public_key()
    except (CertificateError, UnsupportedAlgorithm) as e:
        raise KeyFormatError(f"failed to parse x509 certificate: {e}") from e


def _rsa_public(key: PublicKey) -> Any:
    if key.keytype == KeyType.RSA_X509:
        return _first_block_certificate_key(key)
    if key.keytype == KeyType.RSA:
        return _load_spki(key.public)
    raise KeyMethodMismatchError(f"key type {key.keytype!r} cannot verify RSA signatures")


def _check_rsa(public: Any) -> rsa.RSAPublicKey:
    if not isinstance(public, rsa.RSAPublicKey):
        raise KeyFormatError("value is not an RSA public key")
    if public.key_size < MIN_RSA_BITS:
        raise KeyMethodMismatchError(f"RSA key must be at least {MIN_RSA_BITS} bits")
    exponent = public.public_numbers().e
    if not 2 <= exponent <= _GO_MAX_RSA_EXPONENT:  # noqa: PLR2004
        raise KeyFormatError("RSA public exponent is out of range")
    return public


def _rsa_verify(public: rsa.RSAPublicKey, signature: bytes, message: bytes, pad: Any) -> None:
    # Go compares the length first; OpenSSL would also reject it, but say why.
    if len(signature) != (public.key_size + 7) // 8:
        raise InvalidSignatureError("RSA signature has the wrong length")
    try:
        public.verify(signature, message, pad, hashes.SHA256())
    except (InvalidSignature, ValueError) as e:
        raise InvalidSignatureError("RSA signature does not verify") from e


def _pss() -> padding.PSS:
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=_PSS_SALT)


# --- verifiers (Go tuf/signed/verifiers.go) -----------------------------------------


def _verify_eddsa(key: PublicKey, signature: bytes, message: bytes) -> None:
    if key.keytype != KeyType.ED25519:
        raise KeyMethodMismatchError(f"key type {key.keytype!r} cannot verify eddsa signatures")
    if len(signature) != _ED25519_SIG_SIZE:
        raise InvalidSignatureError("ed25519 signature has the wrong length")
    if len(key.public) != _ED25519_KEY_SIZE:
        raise KeyMethodMismatchError(f"ed25519 public key must be {_ED25519_KEY_SIZE} bytes")
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(key.public).verify(signature, message)
    except ValueError as e:
        raise KeyFormatError(f"unable to load ed25519 key: {e}") from e
    except InvalidSignature as e:
        raise InvalidSignatureError("ed25519 signature does not verify") from e


def _verify_rsapss(key: PublicKey, signature: bytes, message: bytes) -> None:
    _rsa_verify(_check_rsa(_rsa_public(key)), signature, message, _pss())


def _verify_rsapkcs1v15(key: PublicKey, signature: bytes, message: bytes) -> None:
    _rsa_verify(_check_rsa(_rsa_public(key)), signature, message, padding.PKCS1v15())


def _verify_pycrypto(key: PublicKey, signature: bytes, message: bytes) -> None:
    if key.keytype != KeyType.RSA:
        raise KeyMethodMismatchError(f"key type {key.keytype!r} cannot verify pycrypto signatures")
    block, _ = pem_decode(key.public)
    if block is None:
        raise KeyFormatError("failed to decode PEM-encoded public key")
    _rsa_verify(_check_rsa(_load_spki(block.data)), signature, message, _pss())


def _verify_ecdsa(key: PublicKey, signature: bytes, message: bytes) -> None:
    if key.keytype == KeyType.ECDSA_X509:
        public = _first_block_certificate_key(key)
    elif key.keytype == KeyType.ECDSA:
        public = _load_spki(key.public)
    else:
        raise KeyMethodMismatchError(f"key type {key.keytype!r} cannot verify ecdsa signatures")
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise KeyFormatError("value is not an ECDSA public key")
    octets = (public.curve.key_size + 7) // 8
    if len(signature) != 2 * octets:
        raise InvalidSignatureError("ecdsa signature has the wrong length")
    r = int.from_bytes(signature[:octets], "big")
    s = int.from_bytes(signature[octets:], "big")
    digest = hashlib.sha256(message).digest()
    try:
        public.verify(
            utils.encode_dss_signature(r, s), digest, ec.ECDSA(utils.Prehashed(hashes.SHA256()))
        )
    except InvalidSignature as e:
        raise InvalidSignatureError("ecdsa signature does not verify") from e


_VERIFIERS: Final[dict[str, _Verifier]] = {
    "eddsa": _verify_eddsa,
    "rsapss": _verify_rsapss,
    "rsapkcs1v15": _verify_rsapkcs1v15,
    "pycrypto-pkcs#1 pss": _verify_pycrypto,
    "ecdsa": _verify_ecdsa,
}


def verify_signature(key: PublicKey, method: str, message: bytes, signature: bytes) -> None:
    """Check one signature the way Go's verifier for ``method`` does.

    Args:
        key: the key the signature claims.
        method: the signature's ``method`` (compared lower-cased).
        message: the signed bytes.
        signature: the decoded ``sig`` bytes.

    Raises:
        UnknownMethodError: ``method`` is not one Notary can verify.
        KeyMethodMismatchError: the key's type (or size) cannot be used with ``method``.
        KeyFormatError: the key's bytes do not parse as that type.
        InvalidSignatureError: the signature does not verify.
    """
    verifier = _VERIFIERS.get(method.lower())
    if verifier is None:
        raise UnknownMethodError(f"unknown signature method {method!r}")
    verifier(key, signature, message)


# --- private keys --------------------------------------------------------------------

_PrivateObject = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


class PrivateKey:
    """A private key that signs the way Notary signs.

    Signatures: ``ecdsa`` is SHA-256 then raw ``r || s``, each left-padded to the
    curve's byte length; ``rsapss`` is RSASSA-PSS with SHA-256, MGF1-SHA-256 and a
    32-byte salt; ``eddsa`` is pure Ed25519 over the message.
    """

    __slots__ = ("_key",)

    def __init__(self, key: _PrivateObject) -> None:
        """Wrap a cryptography private key.

        Raises:
            KeyFormatError: the key is not RSA, elliptic-curve or Ed25519.
        """
        if not isinstance(key, _PrivateObject):
            raise KeyFormatError(f"unsupported private key type {type(key).__name__}")
        if isinstance(key, ec.EllipticCurvePrivateKey) and not isinstance(key.curve, GO_CURVES):
            raise KeyFormatError(f"unsupported elliptic curve {key.curve.name}")
        self._key: _PrivateObject = key

    def __repr__(self) -> str:
        """Name the key type and key ID, never the key material."""
        return f"PrivateKey({self.keytype}, {self.public_key.key_id})"

    @classmethod
    def from_cryptography(cls, obj: Any) -> PrivateKey:
        """Wrap a cryptography private key object (see :meth:`__init__`)."""
        return cls(obj)

    @classmethod
    def generate(cls, keytype: str, *, bits: int = MIN_RSA_BITS) -> PrivateKey:
        """Generate a new key: ``ecdsa`` (P-256), ``ed25519`` or ``rsa`` (``bits``).

        Raises:
            KeyFormatError: ``keytype`` cannot be generated.
        """
        if keytype == KeyType.ECDSA:
            return cls(ec.generate_private_key(ec.SECP256R1()))
        if keytype == KeyType.ED25519:
            return cls(ed25519.Ed25519PrivateKey.generate())
        if keytype == KeyType.RSA:
            return cls(rsa.generate_private_key(public_exponent=65537, key_size=bits))
        raise KeyFormatError(f"cannot generate keys of type {keytype!r}")

    @classmethod
    def from_pem(cls, data: bytes, password: bytes | None = None) -> PrivateKey:
        """Load a PEM private key (PKCS#8, or PKCS#1/SEC1), optionally encrypted.

        Raises:
            KeyFormatError: the data is not a supported, decryptable private key.
        """
        try:
            key = serialization.load_pem_private_key(data, password=password)
        except (ValueError, TypeError, UnsupportedAlgorithm) as e:
            raise KeyFormatError(f"unable to load private key: {e}") from e
        return cls.from_cryptography(key)

    @property
    def cryptography_key(self) -> _PrivateObject:
        """The wrapped cryptography object (for building certificates)."""
        return self._key

    @property
    def keytype(self) -> str:
        """``ecdsa``, ``rsa`` or ``ed25519``."""
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            return KeyType.ECDSA.value
        if isinstance(self._key, rsa.RSAPrivateKey):
            return KeyType.RSA.value
        return KeyType.ED25519.value

    @property
    def method(self) -> str:
        """The signature method this key produces: ``ecdsa``, ``rsapss`` or ``eddsa``."""
        return {"ecdsa": "ecdsa", "rsa": "rsapss", "ed25519": "eddsa"}[self.keytype]

    @property
    def public_key(self) -> PublicKey:
        """The matching plain (non-x509) public key."""
        return PublicKey.from_public_key(self._key.public_key())

    def to_pem(self, password: bytes | None = None) -> bytes:
        """Serialise as PKCS#8 PEM, encrypted when ``password`` is given."""
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password)
            if password
            else serialization.NoEncryption()
        )
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    def sign(self, message: bytes) -> bytes:
        """Sign ``message`` exactly as Notary does (see the class docstring)."""
        key = self._key
        if isinstance(key, ed25519.Ed25519PrivateKey):
            return key.sign(message)
        if isinstance(key, rsa.RSAPrivateKey):
            return key.sign(message, _pss(), hashes.SHA256())
        der = key.sign(message, ec.ECDSA(hashes.SHA256()))
        r, s = utils.decode_dss_signature(der)
        octets = (key.curve.key_size + 7) // 8
        return r.to_bytes(octets, "big") + s.to_bytes(octets, "big")
