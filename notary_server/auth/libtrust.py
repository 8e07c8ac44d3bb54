"""The parts of docker/libtrust that token verification uses: key IDs and JWKs (ADR 0032).

``libtrust`` knows two kinds of keys, ECDSA on P-256/P-384/P-521 and RSA; anything
else (Ed25519, other curves) is refused as Go refuses it, and so is an RSA key under
2048 bits (beyond Go, ADR 0032). Signatures are checked by joserfc
(:mod:`notary_server.auth.token`); :func:`jose_key` hands it a key without the JWK
members (``use``, ``alg``, ``key_ops``) that libtrust ignores and joserfc would act on.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any, Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc.jwk import ECKey, RSAKey

__all__ = [
    "MIN_RSA_BITS",
    "PublicKey",
    "UnsupportedKeyError",
    "jose_b64decode",
    "jose_b64encode",
    "jose_key",
    "key_id",
    "public_key_from_jwk",
    "supported_key",
]

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey
"""The public key types libtrust supports."""

MIN_RSA_BITS: Final = 2048
"""The smallest RSA key accepted (Go takes any; cryptography's chain verifier takes 2048)."""

_CURVES: Final[dict[str, type[ec.EllipticCurve]]] = {
    "P-256": ec.SECP256R1,
    "P-384": ec.SECP384R1,
    "P-521": ec.SECP521R1,
}


class UnsupportedKeyError(ValueError):
    """A key libtrust cannot represent, or a malformed JWK."""


def jose_b64decode(text: str) -> bytes:
    """Decode unpadded base64url as Go's ``joseBase64UrlDecode`` does.

    Raises:
        ValueError: the length is impossible or a character is outside the alphabet.
    """
    remainder = len(text) % 4
    if remainder == 1:
        raise ValueError("illegal base64url string")
    padded = text + "=" * ((4 - remainder) % 4)
    if padded.rstrip("=").count("=") or "+" in padded or "/" in padded:
        raise ValueError("illegal base64url string")
    try:
        return base64.b64decode(padded.encode("ascii"), altchars=b"-_", validate=True)
    except (UnicodeEncodeError, binascii.Error) as e:
        raise ValueError("illegal base64url string") from e


def jose_b64encode(data: bytes) -> str:
    """Encode base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def supported_key(key: object) -> PublicKey:
    """Return ``key`` if libtrust supports it (``FromCryptoPublicKey``) and it is not weak.

    Raises:
        UnsupportedKeyError: not ECDSA on P-256/P-384/P-521, nor RSA of 2048 bits or more.
    """
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise UnsupportedKeyError(f"RSA key of {key.key_size} bits (at least {MIN_RSA_BITS})")
        return key
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not any(isinstance(key.curve, curve) for curve in _CURVES.values()):
            raise UnsupportedKeyError("unsupported elliptic curve")
        return key
    raise UnsupportedKeyError(f"public key type {type(key).__name__} is not supported")


def jose_key(
    key: PublicKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
) -> ECKey | RSAKey:
    """The joserfc key for a supported key (no JWK members: joserfc checks only type and curve)."""
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        return RSAKey.import_key(key)
    return ECKey.import_key(key)


def key_id(key: PublicKey) -> str:
    """Return libtrust's key ID: SHA-256 of the DER SPKI, first 240 bits, base32, 12 groups of 4."""
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode("ascii").rstrip("=")
    return ":".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


def _string(jwk: dict[str, Any], name: str) -> str:
    value = jwk.get(name)
    if not isinstance(value, str):
        raise UnsupportedKeyError(f"JWK {name!r} value not specified or not a string")
    return value


def _decode(jwk: dict[str, Any], name: str) -> bytes:
    try:
        return jose_b64decode(_string(jwk, name))
    except ValueError as e:
        raise UnsupportedKeyError(f"JWK {name!r}: invalid base64 URL encoding") from e


def _ec_key(jwk: dict[str, Any]) -> PublicKey:
    crv = _string(jwk, "crv")
    if crv not in _CURVES:
        raise UnsupportedKeyError(f"JWK EC curve not supported: {crv!r}")
    curve = _CURVES[crv]()
    size = (curve.key_size + 7) // 8
    x, y = _decode(jwk, "x"), _decode(jwk, "y")
    if len(x) != size or len(y) != size:
        raise UnsupportedKeyError("JWK EC coordinate has the wrong number of octets")
    try:
        numbers = ec.EllipticCurvePublicNumbers(
            int.from_bytes(x, "big"), int.from_bytes(y, "big"), curve
        )
        return numbers.public_key()
    except ValueError as e:
        raise UnsupportedKeyError("JWK EC point is not on the curve") from e


def _rsa_key(jwk: dict[str, Any]) -> PublicKey:
    n = int.from_bytes(_decode(jwk, "n"), "big")
    e_bytes = _decode(jwk, "e")
    if len(e_bytes) > 4:  # noqa: PLR2004 - Go reads E into a uint32
        raise UnsupportedKeyError("JWK RSA exponent too large")
    try:
        key = rsa.RSAPublicNumbers(int.from_bytes(e_bytes, "big"), n).public_key()
    except ValueError as err:
        raise UnsupportedKeyError("JWK RSA key is invalid") from err
    if "d" in jwk:
        raise UnsupportedKeyError("JWK RSA Public Key cannot contain private exponent")
    return key


def public_key_from_jwk(jwk: Any) -> PublicKey:
    """Parse a public JWK as ``libtrust.UnmarshalPublicKeyJWK`` does.

    A ``kid``, if present, must be the key's libtrust key ID; an RSA JWK must not
    carry the private exponent ``d``.

    Raises:
        UnsupportedKeyError: not a JSON object, an unsupported ``kty``/``crv``, bad
            coordinates or a mismatching ``kid``.
    """
    if not isinstance(jwk, dict):
        raise UnsupportedKeyError("JWK is not a JSON object")
    kty = _string(jwk, "kty")
    if kty == "EC":
        key = _ec_key(jwk)
    elif kty == "RSA":
        key = _rsa_key(jwk)
    else:
        raise UnsupportedKeyError(f"JWK Public Key type not supported: {kty!r}")
    if "kid" in jwk and _string(jwk, "kid") != key_id(key):
        raise UnsupportedKeyError("JWK key ID does not match the key")
    return key
