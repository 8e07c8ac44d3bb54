"""Tests for notary_tuf.keys: key IDs, parsing, PEM and base64 as Go reads them."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, x25519
from hypothesis import given, settings
from hypothesis import strategies as st

from notary_tuf.certs import new_root_certificate
from notary_tuf.crypto import PrivateKey
from notary_tuf.encoding import (
    decode_base64,
    encode_base64,
    iter_pem_blocks,
    pem_decode,
    pem_encode,
)
from notary_tuf.errors import Base64Error, CertificateError, KeyFormatError
from notary_tuf.keys import KeyType, PublicKey, signature_method_for

FIXTURES = Path(__file__).parent.parent / "data" / "go_fixtures" / "notary0.3"
ROOT_X509_ID = "354e203ba09dbe17807b6a9d191bff887167c06d121e738d849446a9c76c2866"
# The Go fixture's private root key file is named after the canonical key ID.
ROOT_CANONICAL_ID = "f4eaf871a74aa3b3a0ff95cef2455a1e4d461639f5625418e76756fc5c948690"
NOW = datetime(2020, 1, 1, tzinfo=UTC)


def _load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def _manual_key_id(keytype: str, public: str | None) -> str:
    """Key ID from a hand-built canonical document (ASCII-safe key types only)."""
    doc = {"keytype": keytype, "keyval": {"private": None, "public": public}}
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


ROOT_KEYS = _load("root.json")["signed"]["keys"]
DELEGATION_KEYS = _load("targets.json")["signed"]["delegations"]["keys"]


def test_key_type_values() -> None:
    assert [t.value for t in KeyType] == ["ed25519", "ecdsa", "ecdsa-x509", "rsa", "rsa-x509"]


@pytest.mark.parametrize(
    ("keyid", "data"),
    [*ROOT_KEYS.items(), *DELEGATION_KEYS.items()],
    ids=[f"{v['keytype']}-{k[:8]}" for k, v in [*ROOT_KEYS.items(), *DELEGATION_KEYS.items()]],
)
def test_go_fixture_key_ids_recompute(keyid: str, data: dict[str, Any]) -> None:
    key = PublicKey.from_dict(data, path=f"root.keys[{keyid}]")
    assert key.key_id == keyid
    assert key.to_dict() == data
    assert PublicKey.from_dict(key.to_dict()) == key


def test_go_fixture_spec_vectors() -> None:
    assert "041b64dab281324ef2b62fd2d04f4758269e120ff063b7bc78709272821a0a02" in ROOT_KEYS
    key = PublicKey.from_dict(ROOT_KEYS[ROOT_X509_ID])
    assert key.keytype == KeyType.ECDSA_X509
    assert key.is_x509
    assert key.key_id == ROOT_X509_ID
    assert key.canonical_key_id == ROOT_CANONICAL_ID


def test_canonical_key_id_of_plain_key_is_key_id() -> None:
    key = PrivateKey.generate("ecdsa").public_key
    assert key.canonical_key_id == key.key_id
    assert not key.is_x509


@pytest.mark.parametrize("keytype", ["ecdsa", "rsa"])
def test_canonical_key_id_of_certificate_is_plain_key_id(keytype: str) -> None:
    private = PrivateKey.generate(keytype)
    cert = new_root_certificate(private, "gun", not_before=NOW, not_after=NOW + timedelta(days=1))
    key = PublicKey.from_certificate(cert)
    assert key.keytype == f"{keytype}-x509"
    assert key.canonical_key_id == private.public_key.key_id
    assert key.key_id != private.public_key.key_id


def test_canonical_key_id_without_certificate() -> None:
    with pytest.raises(CertificateError, match="no certificates"):
        _ = PublicKey("ecdsa-x509", b"not pem").canonical_key_id


def test_canonical_key_id_skips_blocks_with_headers_and_bad_certs() -> None:
    private = PrivateKey.generate("ecdsa")
    cert = new_root_certificate(private, "gun", not_before=NOW, not_after=NOW + timedelta(days=1))
    good = PublicKey.from_certificate(cert).public
    junk = pem_encode("CERTIFICATE", b"\x30\x00")
    with_header = good.replace(b"-----\n", b"-----\nProc-Type: 4\n\n", 1)
    key = PublicKey("ecdsa-x509", junk + with_header + good)
    assert key.canonical_key_id == private.public_key.key_id


def test_key_id_escapes_only_quote_and_backslash() -> None:
    keytype = 'we"ird\\type\n\t<&>é\u2028'
    expected = (
        b'{"keytype":"we\\"ird\\\\type\n\t<&>\xc3\xa9\xe2\x80\xa8",'
        b'"keyval":{"private":null,"public":"AAE="}}'
    )
    assert PublicKey(keytype, b"\x00\x01").key_id == hashlib.sha256(expected).hexdigest()


def test_key_id_lone_surrogate_becomes_replacement_character() -> None:
    assert PublicKey("a\ud800", b"").key_id == PublicKey("a\ufffd", b"").key_id


def test_key_id_matches_independent_encoder() -> None:
    public = bytes(range(40))
    key = PublicKey("ed25519", public)
    assert key.key_id == _manual_key_id("ed25519", base64.b64encode(public).decode())


def test_null_public_hashes_null() -> None:
    key = PublicKey.from_dict({"keytype": "ed25519", "keyval": {"public": None}})
    assert key.null_public
    assert key.public == b""
    assert key.key_id == _manual_key_id("ed25519", None)
    assert key.key_id != PublicKey("ed25519", b"").key_id
    assert key.to_dict() == {"keytype": "ed25519", "keyval": {"private": None, "public": None}}


def test_null_public_with_bytes_is_rejected() -> None:
    with pytest.raises(KeyFormatError):
        PublicKey("ed25519", b"x", null_public=True)


def test_key_is_hashable_and_key_id_not_compared() -> None:
    key = PublicKey("ed25519", b"k" * 32)
    assert {key, PublicKey("ed25519", b"k" * 32)} == {key}
    assert "key_id" not in repr(key)


@pytest.mark.parametrize(
    ("data", "keytype", "public"),
    [
        ({"keytype": "ed25519", "keyval": {"public": "AAE=", "private": None}}, "ed25519", b"\0\1"),
        ({"keytype": "ed25519", "keyval": {"public": "AAE="}}, "ed25519", b"\0\1"),
        ({"keytype": "ed25519", "keyval": {"public": "AA\r\nE="}}, "ed25519", b"\0\1"),
        ({"KeyType": "rsa", "KEYVAL": {"Public": "AAE="}}, "rsa", b"\0\1"),
        ({"keytype": "x", "keyval": {"public": [0, 1, 255]}}, "x", b"\0\1\xff"),
        ({"keytype": "x", "keyval": {"public": ""}}, "x", b""),
        (
            {"keytype": "unknown-type", "keyval": {"public": "AAE="}, "extra": 1},
            "unknown-type",
            b"\0\1",
        ),
    ],
    ids=[
        "plain",
        "no-private",
        "crlf-in-base64",
        "case-insensitive",
        "byte-array",
        "empty",
        "unknown-type",
    ],
)
def test_from_dict_accepts_what_go_accepts(data: Any, keytype: str, public: bytes) -> None:
    key = PublicKey.from_dict(data)
    assert key.keytype == keytype
    assert key.public == public
    assert not key.null_public
    assert key.to_dict()["keyval"]["private"] is None


def test_private_bytes_are_written_back_but_not_part_of_the_key() -> None:
    # Go keeps keyval.private of a parsed key and writes it back when it re-serialises
    # the file (tests/tuf/go_nil_forms.py); the key ID and equality never include it.
    plain = PublicKey.from_dict({"keytype": "ed25519", "keyval": {"public": "AAE="}})
    key = PublicKey.from_dict(
        {"keytype": "ed25519", "keyval": {"public": "AAE=", "private": "AAA="}}
    )
    assert key.to_dict()["keyval"]["private"] == "AAA="
    assert key.key_id == plain.key_id
    assert key == plain


@pytest.mark.parametrize(
    "data",
    [None, {}, {"keytype": None, "keyval": None}],
    ids=["null", "empty-object", "null-fields"],
)
def test_from_dict_zero_values(data: Any) -> None:
    key = PublicKey.from_dict(data)
    assert key.keytype == ""
    assert key.null_public


@pytest.mark.parametrize(
    ("data", "error", "where"),
    [
        ([], KeyFormatError, "root.keys[abc]: "),
        ({"keytype": 1, "keyval": {"public": "AAE="}}, KeyFormatError, "root.keys[abc].keytype"),
        ({"keytype": "x", "keyval": "AAE="}, KeyFormatError, "root.keys[abc].keyval"),
        ({"keytype": "x", "keyval": {"public": 5}}, KeyFormatError, "keyval.public"),
        ({"keytype": "x", "keyval": {"public": [256]}}, KeyFormatError, "keyval.public"),
        ({"keytype": "x", "keyval": {"public": [True]}}, KeyFormatError, "keyval.public"),
        ({"keytype": "x", "keyval": {"public": "AAE"}}, Base64Error, "keyval.public"),
        ({"keytype": "x", "keyval": {"public": "AA*="}}, Base64Error, "keyval.public"),
        ({"keytype": "x", "keyval": {"public": "AA-_"}}, Base64Error, "keyval.public"),
        ({"keytype": "x", "keyval": {"public": "AA==AA=="}}, Base64Error, "keyval.public"),
        ({"keytype": "x", "keyval": {"public": "A==="}}, Base64Error, "keyval.public"),
        ({"keytype": "x", "keyval": {"public": " AAE="}}, Base64Error, "keyval.public"),
        (
            {"keytype": "x", "keyval": {"public": "AAE=", "private": "!"}},
            Base64Error,
            "keyval.private",
        ),
        (
            {"keytype": "x", "keyval": {"public": "AAE=", "private": {}}},
            KeyFormatError,
            "keyval.private",
        ),
    ],
    ids=[
        "not-object",
        "keytype-number",
        "keyval-string",
        "public-number",
        "byte-out-of-range",
        "byte-bool",
        "missing-padding",
        "bad-character",
        "url-alphabet",
        "data-after-padding",
        "too-much-padding",
        "space",
        "private-bad-base64",
        "private-object",
    ],
)
def test_from_dict_rejects(data: Any, error: type[Exception], where: str) -> None:
    with pytest.raises(error, match=r"^" + "root\\.keys\\[abc\\]") as info:
        PublicKey.from_dict(data, path="root.keys[abc]")
    assert where in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", b""),
        ("QQ==", b"A"),
        ("QUI=", b"AB"),
        ("QUJD", b"ABC"),
        ("QR==", b"A"),
        ("Q\nU\rJD", b"ABC"),
    ],
    ids=["empty", "two-pad", "one-pad", "no-pad", "nonzero-trailing-bits", "newlines"],
)
def test_decode_base64(text: str, expected: bytes) -> None:
    assert decode_base64(text) == expected
    assert decode_base64(text.encode()) == expected


_BASE64_REFUSALS = [
    "Q",
    "QQ",
    "QQ=",
    "Q===",
    "QQ==QQ==",
    "QQ\t==",
    "é===",
    "====",
    "QUJD====",
    "QUJDQQ======",
    "QQ=A",
    "=QUJ",
    "Q-==",
    "Q_==",
    "QQ==\x00",
]


@pytest.mark.parametrize("text", _BASE64_REFUSALS)
def test_decode_base64_rejects(text: str) -> None:
    with pytest.raises(Base64Error):
        decode_base64(text)


@pytest.mark.parametrize("text", _BASE64_REFUSALS)
def test_decode_base64_refusals_are_not_remembered(text: str) -> None:
    """Short inputs are memoised; a refusal must come again, not turn into a value."""
    for _ in range(3):
        with pytest.raises(Base64Error):
            decode_base64(text)


@settings(max_examples=500)
@given(st.binary(max_size=300))
def test_base64_round_trip_short_and_long(data: bytes) -> None:
    """Inputs on both sides of the memo's size bound encode and decode alike (twice)."""
    for _ in range(2):
        text = encode_base64(data)
        assert text == base64.b64encode(data).decode("ascii")
        assert decode_base64(text) == data
        assert decode_base64(text.encode("ascii")) == data


_GO_BASE64 = re.compile(rb"[A-Za-z0-9+/]*={0,2}")


def _go_std_decode(text: bytes) -> bytes | None:
    """Go's StdEncoding rule written out plainly: the oracle for the decoder."""
    raw = text.replace(b"\r", b"").replace(b"\n", b"")
    if len(raw) % 4 or _GO_BASE64.fullmatch(raw) is None:
        return None
    return base64.b64decode(raw)


@settings(max_examples=3000)
@given(
    st.one_of(
        st.binary(max_size=12).map(base64.b64encode),
        st.text(alphabet="AQ/+=\n-_ é", max_size=14).map(lambda text: text.encode()),
    ),
    st.lists(st.tuples(st.integers(0, 16), st.sampled_from(b"=A/\n-")), max_size=3),
)
def test_decode_base64_follows_gos_rule(text: bytes, edits: list[tuple[int, int]]) -> None:
    data = bytearray(text)
    for position, byte in edits:
        data.insert(min(position, len(data)), byte)
    expected = _go_std_decode(bytes(data))
    try:
        got: bytes | None = decode_base64(bytes(data))
    except Base64Error:
        got = None
    assert got == expected


def test_base64_long_refusal() -> None:
    with pytest.raises(Base64Error):
        decode_base64("QUJD" * 100 + "Q")


@pytest.mark.parametrize(
    ("keytype", "method"),
    [
        ("ecdsa", "ecdsa"),
        ("ecdsa-x509", "ecdsa"),
        ("rsa", "rsapss"),
        ("rsa-x509", "rsapss"),
        ("ed25519", "eddsa"),
    ],
)
def test_signature_method_for(keytype: str, method: str) -> None:
    assert signature_method_for(keytype) == method


@pytest.mark.parametrize("keytype", ["", "ECDSA", "dsa", "ed448"])
def test_signature_method_for_unknown(keytype: str) -> None:
    with pytest.raises(KeyFormatError):
        signature_method_for(keytype)


@pytest.mark.parametrize(
    ("private", "keytype"),
    [
        (ec.generate_private_key(ec.SECP256R1()), "ecdsa"),
        (rsa.generate_private_key(public_exponent=65537, key_size=2048), "rsa"),
    ],
    ids=["ecdsa", "rsa"],
)
def test_from_public_key_spki(private: Any, keytype: str) -> None:
    key = PublicKey.from_public_key(private.public_key())
    assert key.keytype == keytype
    assert key.public == private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_from_public_key_ed25519_raw() -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    key = PublicKey.from_public_key(private.public_key())
    assert key.keytype == "ed25519"
    assert len(key.public) == 32


def test_from_public_key_unsupported() -> None:
    with pytest.raises(KeyFormatError):
        PublicKey.from_public_key(x25519.X25519PrivateKey.generate().public_key())


def test_from_certificate_chain_is_leaf_first_pem() -> None:
    leaf_key, other_key = PrivateKey.generate("ecdsa"), PrivateKey.generate("rsa")
    leaf = new_root_certificate(leaf_key, "gun", not_before=NOW, not_after=NOW + timedelta(days=1))
    other = new_root_certificate(other_key, "ca", not_before=NOW, not_after=NOW + timedelta(days=1))
    key = PublicKey.from_certificate([leaf, other])
    assert key.keytype == "ecdsa-x509"
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (leaf, other))
    assert key.public == pem
    assert PublicKey.from_certificate((other, leaf)).keytype == "rsa-x509"


def test_from_certificate_rejects_empty_and_ed25519() -> None:
    with pytest.raises(CertificateError):
        PublicKey.from_certificate([])
    private = PrivateKey.generate("ed25519")
    cert = new_root_certificate(private, "gun", not_before=NOW, not_after=NOW + timedelta(days=1))
    with pytest.raises(CertificateError):
        PublicKey.from_certificate(cert)


# --- PEM -------------------------------------------------------------------------


def test_pem_encode_matches_go_layout() -> None:
    der = bytes(range(256)) * 2
    pem = pem_encode("CERTIFICATE", der)
    lines = pem.split(b"\n")
    assert lines[0] == b"-----BEGIN CERTIFICATE-----"
    assert lines[-2] == b"-----END CERTIFICATE-----"
    assert lines[-1] == b""
    assert all(len(line) == 64 for line in lines[1:-3])
    block, rest = pem_decode(pem)
    assert block is not None
    assert (block.type, block.headers, block.data, rest) == ("CERTIFICATE", {}, der, b"")


def test_pem_decode_skips_surrounding_text_and_bad_blocks() -> None:
    good = pem_encode("A", b"one")
    bad_type_line = b"-----BEGIN B----- trailing\nAAAA\n-----END B-----\n"
    bad_body = b"-----BEGIN C-----\n!!!!\n-----END C-----\n"
    wrong_end = b"-----BEGIN D-----\nAAAA\n-----END E-----\n"
    junk_after_end = b"-----BEGIN F-----\nAAAA\n-----END F----- x\n"
    data = (
        b"leading text\n" + bad_type_line + bad_body + wrong_end + junk_after_end + good + b"tail"
    )
    blocks = list(iter_pem_blocks(data))
    assert [(b.type, b.data) for b in blocks] == [("A", b"one")]


def test_pem_decode_headers_spaces_and_crlf() -> None:
    data = (
        b"-----BEGIN X-----\r\nKey: value \r\nOther:x\r\n\r\nAA EA\r\n\tAA==\r\n-----END X-----\r\n"
    )
    block, rest = pem_decode(data)
    assert block is not None
    assert block.headers == {"Key": "value", "Other": "x"}
    assert block.data == b"\x00\x01\x00\x00"
    assert rest == b""


def test_pem_decode_nothing() -> None:
    assert pem_decode(b"") == (None, b"")
    assert pem_decode(b"-----BEGIN X-----") == (None, b"-----BEGIN X-----")
    assert pem_decode(b"no pem here") == (None, b"no pem here")
    assert list(iter_pem_blocks(b"-----BEGIN X-----\nAAAA\n")) == []


def test_pem_decode_empty_body() -> None:
    block, _ = pem_decode(b"-----BEGIN X-----\n-----END X-----\n")
    assert block is not None
    assert block.data == b""


# --- properties ---------------------------------------------------------------------


@given(keytype=st.text(), public=st.binary())
def test_dict_round_trip(keytype: str, public: bytes) -> None:
    key = PublicKey(keytype, public)
    assert PublicKey.from_dict(json.loads(json.dumps(key.to_dict()))) == key
    assert PublicKey.from_dict(key.to_dict()).key_id == key.key_id


@given(public=st.binary())
def test_key_id_formula(public: bytes) -> None:
    encoded = base64.b64encode(public).decode()
    assert PublicKey("ecdsa", public).key_id == _manual_key_id("ecdsa", encoded)
