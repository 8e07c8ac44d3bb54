"""Tests for notary_tuf.crypto: Go's verifiers and Notary's signing."""

from __future__ import annotations

import base64
import contextlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils, x25519
from hypothesis import given, settings
from hypothesis import strategies as st

from notary_tuf.canonical import canonical_bytes
from notary_tuf.certs import new_root_certificate
from notary_tuf.crypto import PrivateKey, verify_signature
from notary_tuf.encoding import pem_encode
from notary_tuf.errors import (
    InvalidSignatureError,
    KeyFormatError,
    KeyMethodMismatchError,
    NotaryTufError,
    UnknownMethodError,
)
from notary_tuf.keys import PublicKey

FIXTURES = Path(__file__).parent.parent / "data" / "go_fixtures" / "notary0.3"
NOW = datetime(2020, 1, 1, tzinfo=UTC)
MESSAGE = b'{"_type":"Targets","version":1}'

ECDSA = PrivateKey.generate("ecdsa")
ED25519 = PrivateKey.generate("ed25519")
RSA = PrivateKey.generate("rsa")
RSA_1024 = PrivateKey.generate("rsa", bits=1024)


def _x509(private: PrivateKey) -> PublicKey:
    cert = new_root_certificate(private, "gun", not_before=NOW, not_after=NOW + timedelta(days=1))
    return PublicKey.from_certificate(cert)


ECDSA_X509 = _x509(ECDSA)
RSA_X509 = _x509(RSA)


def _rsa_pem_key(private: PrivateKey) -> PublicKey:
    """An ``rsa`` key whose public bytes are PEM (the pycrypto verifier's format)."""
    pem = private.cryptography_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return PublicKey("rsa", pem)


def _pkcs1v15(private: PrivateKey, message: bytes) -> bytes:
    key = private.cryptography_key
    assert isinstance(key, rsa.RSAPrivateKey)
    return key.sign(message, padding.PKCS1v15(), hashes.SHA256())


def _pss(private: PrivateKey, message: bytes, salt: int) -> bytes:
    key = private.cryptography_key
    assert isinstance(key, rsa.RSAPrivateKey)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=salt)
    return key.sign(message, pss, hashes.SHA256())


@pytest.mark.parametrize(
    ("private", "key", "method", "length"),
    [
        (ECDSA, ECDSA.public_key, "ecdsa", 64),
        (ECDSA, ECDSA_X509, "ecdsa", 64),
        (ED25519, ED25519.public_key, "eddsa", 64),
        (RSA, RSA.public_key, "rsapss", 256),
        (RSA, RSA_X509, "rsapss", 256),
    ],
    ids=["ecdsa", "ecdsa-x509", "ed25519", "rsa", "rsa-x509"],
)
def test_sign_verify_round_trip(
    private: PrivateKey, key: PublicKey, method: str, length: int
) -> None:
    assert private.method == method
    signature = private.sign(MESSAGE)
    assert len(signature) == length
    verify_signature(key, method, MESSAGE, signature)
    verify_signature(key, method.upper(), MESSAGE, signature)


@pytest.mark.parametrize(
    ("curve", "length"),
    [(ec.SECP224R1(), 56), (ec.SECP384R1(), 96), (ec.SECP521R1(), 132)],
    ids=["p224", "p384", "p521"],
)
def test_ecdsa_other_go_curves(curve: ec.EllipticCurve, length: int) -> None:
    private = PrivateKey.from_cryptography(ec.generate_private_key(curve))
    signature = private.sign(MESSAGE)
    assert len(signature) == length
    verify_signature(private.public_key, "ecdsa", MESSAGE, signature)
    verify_signature(_x509(private), "ecdsa", MESSAGE, signature)


def test_ecdsa_signature_is_always_padded() -> None:
    assert {len(ECDSA.sign(bytes([i]))) for i in range(64)} == {64}


def test_rsa_pkcs1v15_and_pycrypto_verify() -> None:
    verify_signature(RSA.public_key, "rsapkcs1v15", MESSAGE, _pkcs1v15(RSA, MESSAGE))
    verify_signature(RSA_X509, "RSAPKCS1V15", MESSAGE, _pkcs1v15(RSA, MESSAGE))
    verify_signature(_rsa_pem_key(RSA), "pycrypto-pkcs#1 pss", MESSAGE, RSA.sign(MESSAGE))


def _flip(data: bytes, index: int = -1) -> bytes:
    out = bytearray(data)
    out[index] ^= 0x01
    return bytes(out)


ECDSA_SIG = ECDSA.sign(MESSAGE)
ED_SIG = ED25519.sign(MESSAGE)
RSA_SIG = RSA.sign(MESSAGE)
SECP256K1 = ec.generate_private_key(ec.SECP256K1()).public_key()


def _big_exponent_key() -> PublicKey:
    key = RSA.cryptography_key
    assert isinstance(key, rsa.RSAPrivateKey)
    modulus = key.public_key().public_numbers().n
    return PublicKey.from_public_key(rsa.RSAPublicNumbers(2**31 + 1, modulus).public_key())


def _compressed_spki() -> bytes:
    public = ECDSA.cryptography_key.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    point = public.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    # SEQUENCE { SEQUENCE { ecPublicKey, prime256v1 }, BIT STRING point }
    algorithm = bytes.fromhex("301306072a8648ce3d020106082a8648ce3d030107")
    bit_string = b"\x03" + bytes([len(point) + 1]) + b"\x00" + point
    body = algorithm + bit_string
    return b"\x30" + bytes([len(body)]) + body


NEGATIVE_CASES: list[tuple[str, PublicKey, str, bytes, bytes, type[NotaryTufError]]] = [
    (
        "ecdsa-tampered-sig",
        ECDSA.public_key,
        "ecdsa",
        MESSAGE,
        _flip(ECDSA_SIG),
        InvalidSignatureError,
    ),
    (
        "ecdsa-tampered-msg",
        ECDSA.public_key,
        "ecdsa",
        MESSAGE + b" ",
        ECDSA_SIG,
        InvalidSignatureError,
    ),
    (
        "ecdsa-x509-tampered",
        ECDSA_X509,
        "ecdsa",
        MESSAGE,
        _flip(ECDSA_SIG, 0),
        InvalidSignatureError,
    ),
    ("ecdsa-short-sig", ECDSA.public_key, "ecdsa", MESSAGE, ECDSA_SIG[:-1], InvalidSignatureError),
    (
        "ecdsa-long-sig",
        ECDSA.public_key,
        "ecdsa",
        MESSAGE,
        ECDSA_SIG + b"\0",
        InvalidSignatureError,
    ),
    (
        "ecdsa-der-sig",
        ECDSA.public_key,
        "ecdsa",
        MESSAGE,
        utils.encode_dss_signature(
            int.from_bytes(ECDSA_SIG[:32], "big"), int.from_bytes(ECDSA_SIG[32:], "big")
        ),
        InvalidSignatureError,
    ),
    ("ecdsa-zero-sig", ECDSA.public_key, "ecdsa", MESSAGE, bytes(64), InvalidSignatureError),
    (
        "eddsa-tampered-sig",
        ED25519.public_key,
        "eddsa",
        MESSAGE,
        _flip(ED_SIG),
        InvalidSignatureError,
    ),
    ("eddsa-short-sig", ED25519.public_key, "eddsa", MESSAGE, ED_SIG[:-1], InvalidSignatureError),
    (
        "rsapss-tampered-sig",
        RSA.public_key,
        "rsapss",
        MESSAGE,
        _flip(RSA_SIG),
        InvalidSignatureError,
    ),
    ("rsapss-short-sig", RSA.public_key, "rsapss", MESSAGE, RSA_SIG[1:], InvalidSignatureError),
    ("rsapss-long-sig", RSA.public_key, "rsapss", MESSAGE, b"\0" + RSA_SIG, InvalidSignatureError),
    (
        "rsapss-salt-20",
        RSA.public_key,
        "rsapss",
        MESSAGE,
        _pss(RSA, MESSAGE, 20),
        InvalidSignatureError,
    ),
    (
        "rsapss-with-pkcs1-sig",
        RSA.public_key,
        "rsapss",
        MESSAGE,
        _pkcs1v15(RSA, MESSAGE),
        InvalidSignatureError,
    ),
    ("pkcs1-with-pss-sig", RSA.public_key, "rsapkcs1v15", MESSAGE, RSA_SIG, InvalidSignatureError),
    (
        "unknown-method",
        ECDSA.public_key,
        "rsassa-pss-sha256",
        MESSAGE,
        ECDSA_SIG,
        UnknownMethodError,
    ),
    ("empty-method", ECDSA.public_key, "", MESSAGE, ECDSA_SIG, UnknownMethodError),
    ("eddsa-with-ecdsa-key", ECDSA.public_key, "eddsa", MESSAGE, ED_SIG, KeyMethodMismatchError),
    ("eddsa-with-x509-key", ECDSA_X509, "eddsa", MESSAGE, ED_SIG, KeyMethodMismatchError),
    (
        "ecdsa-with-ed25519-key",
        ED25519.public_key,
        "ecdsa",
        MESSAGE,
        ECDSA_SIG,
        KeyMethodMismatchError,
    ),
    ("ecdsa-with-rsa-key", RSA.public_key, "ecdsa", MESSAGE, ECDSA_SIG, KeyMethodMismatchError),
    ("rsapss-with-ecdsa-key", ECDSA.public_key, "rsapss", MESSAGE, RSA_SIG, KeyMethodMismatchError),
    (
        "rsapss-with-ed25519-key",
        ED25519.public_key,
        "rsapss",
        MESSAGE,
        RSA_SIG,
        KeyMethodMismatchError,
    ),
    ("pkcs1-with-ecdsa-x509", ECDSA_X509, "rsapkcs1v15", MESSAGE, RSA_SIG, KeyMethodMismatchError),
    (
        "pycrypto-with-rsa-x509",
        RSA_X509,
        "pycrypto-pkcs#1 pss",
        MESSAGE,
        RSA_SIG,
        KeyMethodMismatchError,
    ),
    (
        "unknown-keytype",
        PublicKey("dsa", b"x"),
        "ecdsa",
        MESSAGE,
        ECDSA_SIG,
        KeyMethodMismatchError,
    ),
    (
        "rsa-1024-pss",
        RSA_1024.public_key,
        "rsapss",
        MESSAGE,
        RSA_1024.sign(MESSAGE),
        KeyMethodMismatchError,
    ),
    (
        "rsa-1024-pkcs1",
        RSA_1024.public_key,
        "rsapkcs1v15",
        MESSAGE,
        _pkcs1v15(RSA_1024, MESSAGE),
        KeyMethodMismatchError,
    ),
    (
        "rsa-1024-x509",
        _x509(RSA_1024),
        "rsapss",
        MESSAGE,
        RSA_1024.sign(MESSAGE),
        KeyMethodMismatchError,
    ),
    (
        "ed25519-31-byte-key",
        PublicKey("ed25519", ED25519.public_key.public[:31]),
        "eddsa",
        MESSAGE,
        ED_SIG,
        KeyMethodMismatchError,
    ),
    (
        "ecdsa-garbage-key",
        PublicKey("ecdsa", b"garbage"),
        "ecdsa",
        MESSAGE,
        ECDSA_SIG,
        KeyFormatError,
    ),
    (
        "ecdsa-key-is-rsa",
        PublicKey("ecdsa", RSA.public_key.public),
        "ecdsa",
        MESSAGE,
        ECDSA_SIG,
        KeyFormatError,
    ),
    (
        "rsa-key-is-ecdsa",
        PublicKey("rsa", ECDSA.public_key.public),
        "rsapss",
        MESSAGE,
        RSA_SIG,
        KeyFormatError,
    ),
    (
        "secp256k1-key",
        PublicKey.from_public_key(SECP256K1),
        "ecdsa",
        MESSAGE,
        ECDSA_SIG,
        KeyFormatError,
    ),
    (
        "compressed-point",
        PublicKey("ecdsa", _compressed_spki()),
        "ecdsa",
        MESSAGE,
        ECDSA_SIG,
        KeyFormatError,
    ),
    (
        "x509-not-pem",
        PublicKey("ecdsa-x509", b"garbage"),
        "ecdsa",
        MESSAGE,
        ECDSA_SIG,
        KeyFormatError,
    ),
    (
        "x509-bad-der",
        PublicKey("rsa-x509", pem_encode("CERTIFICATE", b"\x30\x00")),
        "rsapss",
        MESSAGE,
        RSA_SIG,
        KeyFormatError,
    ),
    (
        "x509-type-ecdsa-holding-rsa",
        PublicKey("ecdsa-x509", RSA_X509.public),
        "ecdsa",
        MESSAGE,
        ECDSA_SIG,
        KeyFormatError,
    ),
    ("rsa-exponent-too-big", _big_exponent_key(), "rsapss", MESSAGE, RSA_SIG, KeyFormatError),
    (
        "pycrypto-der-not-pem",
        RSA.public_key,
        "pycrypto-pkcs#1 pss",
        MESSAGE,
        RSA_SIG,
        KeyFormatError,
    ),
]


@pytest.mark.parametrize(
    ("key", "method", "message", "signature", "error"),
    [case[1:] for case in NEGATIVE_CASES],
    ids=[case[0] for case in NEGATIVE_CASES],
)
def test_verify_rejects(
    key: PublicKey, method: str, message: bytes, signature: bytes, error: type[NotaryTufError]
) -> None:
    with pytest.raises(error):
        verify_signature(key, method, message, signature)


def test_verify_uses_first_pem_block_as_leaf() -> None:
    other = _x509(PrivateKey.generate("ecdsa"))
    chain = PublicKey("ecdsa-x509", ECDSA_X509.public + other.public)
    verify_signature(chain, "ecdsa", MESSAGE, ECDSA_SIG)
    with pytest.raises(InvalidSignatureError):
        verify_signature(
            PublicKey("ecdsa-x509", other.public + ECDSA_X509.public), "ecdsa", MESSAGE, ECDSA_SIG
        )


KEYS_FOR_FUZZ = [ECDSA.public_key, ECDSA_X509, ED25519.public_key, RSA.public_key, RSA_X509]


@settings(max_examples=200, deadline=None)
@given(
    keytype=st.sampled_from(["ecdsa", "ecdsa-x509", "rsa", "rsa-x509", "ed25519", "x"]),
    public=st.one_of(st.binary(max_size=300), st.sampled_from([k.public for k in KEYS_FOR_FUZZ])),
    method=st.sampled_from(["ecdsa", "eddsa", "rsapss", "rsapkcs1v15", "pycrypto-pkcs#1 pss", "x"]),
    signature=st.one_of(st.binary(max_size=300), st.sampled_from([ECDSA_SIG, ED_SIG, RSA_SIG])),
)
def test_verify_raises_only_notary_errors(
    keytype: str, public: bytes, method: str, signature: bytes
) -> None:
    with contextlib.suppress(NotaryTufError):
        verify_signature(PublicKey(keytype, public), method, MESSAGE, signature)


# --- Go fixtures -------------------------------------------------------------------


def _signed_file(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def _verify_file(name: str, keys: dict[str, Any]) -> list[str]:
    document = _signed_file(name)
    message = canonical_bytes(document["signed"])
    methods = []
    for signature in document["signatures"]:
        key = PublicKey.from_dict(keys[signature["keyid"]])
        verify_signature(key, signature["method"], message, base64.b64decode(signature["sig"]))
        with pytest.raises(InvalidSignatureError):
            verify_signature(
                key, signature["method"], message + b" ", base64.b64decode(signature["sig"])
            )
        methods.append(signature["method"])
    return methods


@pytest.mark.parametrize("name", ["root.json", "targets.json", "snapshot.json", "timestamp.json"])
def test_go_fixture_signatures_verify(name: str) -> None:
    keys = _signed_file("root.json")["signed"]["keys"]
    assert _verify_file(name, keys) == ["ecdsa"]


def test_go_fixture_delegation_rsapss_verifies() -> None:
    keys = _signed_file("targets.json")["signed"]["delegations"]["keys"]
    assert _verify_file("targets/releases.json", keys) == ["rsapss"]


# --- PrivateKey --------------------------------------------------------------------


@pytest.mark.parametrize("keytype", ["ecdsa", "ed25519", "rsa"])
def test_private_key_pem_round_trip(keytype: str) -> None:
    private = {"ecdsa": ECDSA, "ed25519": ED25519, "rsa": RSA}[keytype]
    assert private.keytype == keytype
    for password in (None, b"secret"):
        pem = private.to_pem(password)
        assert pem.startswith(
            b"-----BEGIN ENCRYPTED PRIVATE KEY" if password else b"-----BEGIN PRIVATE KEY"
        )
        loaded = PrivateKey.from_pem(pem, password)
        assert loaded.public_key == private.public_key
        verify_signature(private.public_key, loaded.method, MESSAGE, loaded.sign(MESSAGE))


def test_private_key_from_legacy_sec1_pem() -> None:
    key = ECDSA.cryptography_key
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    assert PrivateKey.from_pem(pem).public_key == ECDSA.public_key


@pytest.mark.parametrize(
    ("data", "password"),
    [
        (b"garbage", None),
        (ECDSA.to_pem(b"right"), b"wrong"),
        (ECDSA.to_pem(b"right"), None),
        (ECDSA.to_pem(), b"unneeded"),
    ],
    ids=["garbage", "wrong-password", "missing-password", "unexpected-password"],
)
def test_private_key_from_pem_rejects(data: bytes, password: bytes | None) -> None:
    with pytest.raises(KeyFormatError):
        PrivateKey.from_pem(data, password)


def test_private_key_rejects_unsupported() -> None:
    with pytest.raises(KeyFormatError):
        PrivateKey.generate("ecdsa-x509")
    with pytest.raises(KeyFormatError):
        PrivateKey.from_cryptography(x25519.X25519PrivateKey.generate())
    with pytest.raises(KeyFormatError):
        PrivateKey.from_cryptography(ec.generate_private_key(ec.SECP256K1()))
    x25519_pem = x25519.X25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(KeyFormatError):
        PrivateKey.from_pem(x25519_pem)


def test_private_key_repr_hides_material() -> None:
    text = repr(ECDSA)
    assert text == f"PrivateKey(ecdsa, {ECDSA.public_key.key_id})"
    assert "PRIVATE" not in text


def test_rsa_generate_bits() -> None:
    assert isinstance(RSA.cryptography_key, rsa.RSAPrivateKey)
    assert RSA.cryptography_key.key_size == 2048
    key = RSA_1024.cryptography_key
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.key_size == 1024
