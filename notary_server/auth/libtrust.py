"""The parts of docker/libtrust that token verification uses: key IDs, JWKs, JWS signatures.

``libtrust`` knows two kinds of keys, ECDSA on P-256/P-384/P-521 and RSA; anything
else (Ed25519, other curves) is refused as Go refuses it. An EC key signs with the
one algorithm its curve implies (ES256/ES384/ES512, a fixed-length ``r || s``
signature); an RSA key with RS256/RS384/RS512 (PKCS#1 v1.5). No other algorithm
(``none``, ``HS*``, ``PS*``) verifies anything.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

__all__ = [
    "PublicKey",
    "UnsupportedKeyError",
    "jose_b64decode",
    "jose_b64encode",
    "key_id",
    "public_key_from_jwk",
    "supported_key",
    "verify_signature",
]

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey
"""The public key types libtrust supports."""

_CURVES: Final[dict[str, tuple[type[ec.EllipticCurve], str, type[hashes.HashAlgorithm]]]] = {
    "P-256": (ec.SECP256R1, "ES256", hashes.SHA256),
    "P-384": (ec.SECP384R1, "ES384", hashes.SHA384),
    "P-521": (ec.SECP521R1, "ES512", hashes.SHA512),
}
_RSA_ALGORITHMS: Final[dict[str, type[hashes.HashAlgorithm]]] = {
    "RS256": hashes.SHA256,
    "RS384": hashes.SHA384,
    "RS512": hashes.SHA512,
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
    if padded.rstrip("=").count("=") or any(c in "+/" for c in padded):
        raise ValueError("illegal base64url string")
    try:
        return base64.b64decode(padded.encode("ascii"), altchars=b"-_", validate=True)
    except (UnicodeEncodeError, binascii.Error) as e:
        raise ValueError("illegal base64url string") from e


def jose_b64encode(data: bytes) -> str:
    """Encode base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _curve_name(key: ec.EllipticCurvePublicKey) -> str:
    for name, (curve, _, _) in _CURVES.items():
        if isinstance(key.curve, curve):
            return name
    raise UnsupportedKeyError("unsupported elliptic curve")


def supported_key(key: object) -> PublicKey:
    """Return ``key`` if libtrust supports it (``FromCryptoPublicKey``).

    Raises:
        UnsupportedKeyError: not RSA and not ECDSA on P-256/P-384/P-521.
    """
    if isinstance(key, rsa.RSAPublicKey):
        return key
    if isinstance(key, ec.EllipticCurvePublicKey):
        _curve_name(key)
        return key
    raise UnsupportedKeyError(f"public key type {type(key).__name__} is not supported")


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
    curve = _CURVES[crv][0]()
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


def verify_signature(key: PublicKey, alg: str, data: bytes, signature: bytes) -> bool:
    """Verify a JWS signature as libtrust's ``PublicKey.Verify`` does."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        curve_name = _curve_name(key)
        _, expected_alg, hash_type = _CURVES[curve_name]
        size = (key.curve.key_size + 7) // 8
        if alg != expected_alg or len(signature) != 2 * size:
            return False
        r = int.from_bytes(signature[:size], "big")
        s = int.from_bytes(signature[size:], "big")
        try:
            key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hash_type()))
        except InvalidSignature:
            return False
        return True
    hash_cls = _RSA_ALGORITHMS.get(alg)
    if hash_cls is None:
        return False
    try:
        key.verify(signature, data, padding.PKCS1v15(), hash_cls())
    except (InvalidSignature, ValueError):
        return False
    return True
