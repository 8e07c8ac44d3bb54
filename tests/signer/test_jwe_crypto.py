"""Key encryption at rest (Go's JWE) and the signer's key layouts."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from notary_signer import jwe
from notary_signer.crypto import SignerKey
from notary_signer.errors import KeyDecryptionError, UnsupportedAlgorithmError
from notary_tuf.crypto import verify_signature


def _header(blob: str) -> dict[str, object]:
    decoded: dict[str, object] = json.loads(
        base64.urlsafe_b64decode(blob.split(".", maxsplit=1)[0] + "==")
    )
    return decoded


def test_roundtrip_and_go_header_layout() -> None:
    blob = jwe.encrypt(b"\x00secret\xff", "pass")
    assert blob.count(".") == 4
    raw_header = base64.urlsafe_b64decode(blob.split(".")[0] + "==")
    p2s = _header(blob)["p2s"]
    assert isinstance(p2s, str)
    assert raw_header == (
        b'{"alg":"PBES2-HS256+A128KW","enc":"A256GCM","p2c":8192,"p2s":"' + p2s.encode() + b'"}'
    )
    assert len(base64.urlsafe_b64decode(p2s + "==")) == 12
    assert jwe.decrypt(blob, "pass") == b"\x00secret\xff"
    assert jwe.decrypt(blob.encode(), "pass") == b"\x00secret\xff"
    assert jwe.encrypt(b"x", "pass") != jwe.encrypt(b"x", "pass")  # fresh salt, CEK and IV


@pytest.mark.parametrize(
    "mangle",
    [
        lambda b: b,  # wrong passphrase (below)
        lambda b: b[:-2] + ("A" if b[-2] != "A" else "B") + b[-1],  # tag
        lambda b: b.rsplit(".", 1)[0],  # truncated
        lambda _: "not a jwe",
    ],
    ids=["wrong-passphrase", "tampered-tag", "four-parts", "garbage"],
)
def test_decrypt_failures(mangle: object) -> None:
    assert callable(mangle)
    blob = jwe.encrypt(b"secret", "pass")
    with pytest.raises(KeyDecryptionError) as exc:
        jwe.decrypt(mangle(blob), "other")
    assert "pass" not in str(exc.value)


def test_other_algorithms_refused() -> None:
    header = base64.urlsafe_b64encode(b'{"alg":"dir","enc":"A256GCM"}').rstrip(b"=").decode()
    with pytest.raises(KeyDecryptionError):
        jwe.decrypt(f"{header}..AAAA.AAAA.AAAA", "pass")


def test_empty_passphrase_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        jwe.encrypt(b"x", "")
    with pytest.raises(KeyDecryptionError):
        jwe.decrypt(jwe.encrypt(b"x", "p"), "")


def test_ed25519_layout_is_public_seed_public() -> None:
    key = SignerKey.generate("ed25519")
    raw = key.private_bytes()
    assert len(raw) == 96
    assert raw[:32] == raw[64:] == key.public_key.public
    again = SignerKey.from_private_bytes("ed25519", raw)
    assert again.key_id == key.key_id
    with pytest.raises(KeyDecryptionError):
        SignerKey.from_private_bytes("ed25519", raw[:64])
    with pytest.raises(KeyDecryptionError):
        SignerKey.from_private_bytes("ed25519", bytes(32) + raw[32:])


def test_ecdsa_layout_is_sec1_der() -> None:
    key = SignerKey.generate("ecdsa")
    raw = key.private_bytes()
    loaded = serialization.load_der_private_key(raw, None)
    assert isinstance(loaded, ec.EllipticCurvePrivateKey)
    assert isinstance(loaded.curve, ec.SECP256R1)
    assert raw[:2] == b"\x30\x77"  # SEQUENCE of a P-256 ECPrivateKey with public key
    assert SignerKey.from_private_bytes("ecdsa", raw).key_id == key.key_id
    with pytest.raises(KeyDecryptionError):
        SignerKey.from_private_bytes("ecdsa", b"junk")
    with pytest.raises(KeyDecryptionError):
        SignerKey.from_private_bytes("rsa", raw)


@pytest.mark.parametrize(("algorithm", "method"), [("ecdsa", "ecdsa"), ("ed25519", "eddsa")])
def test_sign_verifies(algorithm: str, method: str) -> None:
    key = SignerKey.generate(algorithm)
    assert key.signature_algorithm == method
    signature = key.sign(b"message")
    verify_signature(key.public_key, method, b"message", signature)
    assert key.key_id in repr(key)
    assert key.private_bytes().hex() not in repr(key)


def test_generate_unsupported() -> None:
    with pytest.raises(UnsupportedAlgorithmError, match="algorithm rsa not supported for create"):
        SignerKey.generate("rsa")
