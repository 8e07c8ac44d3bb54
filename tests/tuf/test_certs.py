"""Tests for notary_tuf.certs: root certificates and Go's root leaf selection."""

from __future__ import annotations

import json
import logging
import string
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from notary_tuf.certs import (
    check_certificate,
    check_common_name,
    cn_matches_gun,
    common_name,
    is_ca,
    load_certificate_bundle,
    new_root_certificate,
    valid_root_leaf_keys,
)
from notary_tuf.crypto import PrivateKey, verify_signature
from notary_tuf.encoding import pem_encode
from notary_tuf.errors import (
    CertificateError,
    CertificateExpiredError,
    CertificateNameError,
    WeakCertificateError,
)
from notary_tuf.keys import PublicKey, parse_certificate
from notary_tuf.x509names import GO_PRINTABLE, load_der_certificate, relax_printable_names

FIXTURES = Path(__file__).parent.parent / "data" / "go_fixtures" / "notary0.3"
NOW = datetime(2020, 6, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
GUN = "docker.io/library/app"

EC_KEY = PrivateKey.generate("ecdsa")
RSA_KEY = PrivateKey.generate("rsa")
RSA_1024 = PrivateKey.generate("rsa", bits=1024)
ED_KEY = PrivateKey.generate("ed25519")


def make_cert(
    private: PrivateKey = EC_KEY,
    cn: str = GUN,
    *,
    not_before: datetime = NOW - DAY,
    not_after: datetime = NOW + 365 * DAY,
    ca: bool = False,
) -> x509.Certificate:
    """A certificate signed by its own key; ``ca`` adds CA basic constraints."""
    if not ca:
        return new_root_certificate(private, cn, not_before=not_before, not_after=not_after)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.cryptography_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    )
    return builder.sign(private.cryptography_key, hashes.SHA256())


def patch_der(cert: x509.Certificate, *swaps: tuple[bytes, bytes]) -> x509.Certificate:
    """Rewrite same-length byte strings in a certificate's DER (its signature then breaks)."""
    der = cert.public_bytes(serialization.Encoding.DER)
    for old, new in swaps:
        assert len(old) == len(new)
        assert old in der
        der = der.replace(old, new)
    return x509.load_der_x509_certificate(der)


def sha1_cert() -> x509.Certificate:
    # cryptography refuses to sign with SHA-1, so relabel a SHA-256 signature;
    # Go's check looks at the algorithm identifier only.
    sha256_rsa = bytes.fromhex("06092a864886f70d01010b")
    sha1_rsa = bytes.fromhex("06092a864886f70d010105")
    return patch_der(make_cert(RSA_KEY), (sha256_rsa, sha1_rsa))


def inverted_window_cert() -> x509.Certificate:
    # The builder refuses NotBefore > NotAfter, so swap the two UTCTime values.
    before, after = b"200101000000Z", b"210101000000Z"
    cert = make_cert(
        not_before=datetime(2020, 1, 1, tzinfo=UTC), not_after=datetime(2021, 1, 1, tzinfo=UTC)
    )
    return patch_der(cert, (before, b"XXXXXXXXXXXXX"), (after, before), (b"XXXXXXXXXXXXX", after))


def secp256k1_cert() -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256K1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, GUN)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + DAY)
    )
    return builder.sign(key, hashes.SHA256())


def bundle_key(*certs: x509.Certificate, keytype: str | None = None) -> PublicKey:
    key = PublicKey.from_certificate(list(certs))
    return PublicKey(keytype, key.public) if keytype else key


# --- bundles -----------------------------------------------------------------------


def test_load_certificate_bundle_order_and_leading_text() -> None:
    first, second = make_cert(), make_cert(RSA_KEY, "other")
    pem = b"comment\n" + bundle_key(first, second).public + b"trailing"
    assert load_certificate_bundle(pem) == [first, second]


@pytest.mark.parametrize(
    "pem",
    [
        b"",
        b"garbage",
        pem_encode("CERTIFICATE", b"\x30\x03\x02\x01\x01"),
        pem_encode("PUBLIC KEY", EC_KEY.public_key.public),
        bundle_key(make_cert()).public + pem_encode("PRIVATE KEY", b"x"),
        pem_encode("CERTIFICATE", secp256k1_cert().public_bytes(serialization.Encoding.DER)),
    ],
    ids=["empty", "garbage", "bad-der", "public-key-block", "trailing-other-block", "secp256k1"],
)
def test_load_certificate_bundle_rejects(pem: bytes) -> None:
    with pytest.raises(CertificateError):
        load_certificate_bundle(pem)


def test_load_certificate_bundle_allows_headers() -> None:
    pem = bundle_key(make_cert()).public.replace(b"-----\n", b"-----\nA: b\n\n", 1)
    assert len(load_certificate_bundle(pem)) == 1


# --- new_root_certificate ----------------------------------------------------------


@pytest.mark.parametrize(
    ("private", "hash_name"),
    [
        (EC_KEY, "sha256"),
        (RSA_KEY, "sha256"),
        (PrivateKey.from_cryptography(ec.generate_private_key(ec.SECP384R1())), "sha384"),
        (PrivateKey.from_cryptography(ec.generate_private_key(ec.SECP521R1())), "sha512"),
        (ED_KEY, None),
    ],
    ids=["ecdsa", "rsa", "p384", "p521", "ed25519"],
)
def test_new_root_certificate_fields(private: PrivateKey, hash_name: str | None) -> None:
    cert = new_root_certificate(private, GUN, not_before=NOW, not_after=NOW + 3650 * DAY)
    algorithm = cert.signature_hash_algorithm
    assert (algorithm.name if algorithm else None) == hash_name
    assert common_name(cert) == GUN
    assert cert.issuer == cert.subject
    assert cert.not_valid_before_utc == NOW
    assert cert.not_valid_after_utc == NOW + 3650 * DAY
    assert 0 < cert.serial_number < 2**128
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature
    assert usage.value.key_encipherment
    assert not usage.value.key_cert_sign
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert list(eku.value) == [ExtendedKeyUsageOID.CODE_SIGNING]
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert not constraints.value.ca
    assert not is_ca(cert)
    cert.verify_directly_issued_by(cert)
    check_certificate(cert, now=NOW)


def test_new_root_certificate_key_signs_for_its_x509_key() -> None:
    key = bundle_key(make_cert(RSA_KEY))
    verify_signature(key, RSA_KEY.method, b"msg", RSA_KEY.sign(b"msg"))
    assert key.canonical_key_id == RSA_KEY.public_key.key_id


def test_naive_times_are_utc() -> None:
    naive = NOW.replace(tzinfo=None)
    cert = new_root_certificate(EC_KEY, GUN, not_before=naive, not_after=naive + DAY)
    assert cert.not_valid_before_utc == NOW
    check_certificate(cert, now=naive)


# --- check_certificate ------------------------------------------------------------


@pytest.mark.parametrize(
    ("cert", "now", "check_expiry"),
    [
        (make_cert(), NOW, True),
        (make_cert(not_before=NOW + DAY), NOW, True),
        (make_cert(not_after=NOW), NOW, True),
        (make_cert(not_after=NOW - DAY), NOW, False),
        (make_cert(not_before=NOW + 30 * DAY), NOW, False),
        (make_cert(ca=True), NOW, True),
    ],
    ids=[
        "valid",
        "starts-in-exactly-one-day",
        "ends-now",
        "expired-unchecked",
        "future-unchecked",
        "ca",
    ],
)
def test_check_certificate_accepts(
    cert: x509.Certificate, now: datetime, check_expiry: bool
) -> None:
    check_certificate(cert, now=now, check_expiry=check_expiry)


@pytest.mark.parametrize(
    ("cert", "check_expiry", "error"),
    [
        (make_cert(not_before=NOW - 10 * DAY, not_after=NOW - DAY), True, CertificateExpiredError),
        (make_cert(not_after=NOW - timedelta(seconds=1)), True, CertificateExpiredError),
        (make_cert(not_before=NOW + DAY + timedelta(seconds=1)), True, CertificateExpiredError),
        (
            make_cert(not_before=NOW + 30 * DAY, not_after=NOW + 60 * DAY),
            True,
            CertificateExpiredError,
        ),
        (sha1_cert(), True, WeakCertificateError),
        (sha1_cert(), False, WeakCertificateError),
        (make_cert(RSA_1024), True, WeakCertificateError),
        (make_cert(RSA_1024), False, WeakCertificateError),
        (inverted_window_cert(), False, CertificateError),
    ],
    ids=[
        "expired",
        "expired-by-a-second",
        "not-yet-valid-beyond-a-day",
        "not-yet-valid",
        "sha1",
        "sha1-unchecked",
        "rsa-1024",
        "rsa-1024-unchecked",
        "inverted-window",
    ],
)
def test_check_certificate_rejects(
    cert: x509.Certificate, check_expiry: bool, error: type[CertificateError]
) -> None:
    with pytest.raises(error):
        check_certificate(cert, now=NOW, check_expiry=check_expiry)


def test_inverted_window_is_not_an_expiry_error() -> None:
    with pytest.raises(CertificateError) as info:
        check_certificate(inverted_window_cert(), now=NOW)
    assert not isinstance(info.value, CertificateExpiredError)


def test_near_expiry_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="notary_tuf.certs"):
        check_certificate(make_cert(not_after=NOW + 30 * DAY), now=NOW)
    assert "near expiry" in caplog.text


# --- common names ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cn", "gun", "matches"),
    [
        (GUN, GUN, True),
        (GUN, GUN + "2", False),
        (GUN + "2", GUN, False),
        ("docker.io/library/*", GUN, True),
        ("docker.io/library*", GUN, True),
        ("docker.io/library/**", GUN, True),
        ("docker.io/other/*", GUN, False),
        ("*", GUN, True),
        ("docker.io/library/", GUN, False),
        ("Docker.io/library/app", GUN, False),
        ("docker.io/*/app", GUN, False),
    ],
    ids=[
        "exact",
        "gun-longer",
        "cn-longer",
        "wildcard",
        "wildcard-no-slash",
        "double-star",
        "wildcard-mismatch",
        "star-only",
        "prefix-without-star",
        "case-sensitive",
        "inner-star",
    ],
)
def test_cn_matches_gun(cn: str, gun: str, matches: bool) -> None:
    cert = make_cert(cn=cn)
    assert cn_matches_gun(cert, gun) is matches
    if matches:
        check_common_name(cert, gun)
    else:
        with pytest.raises(CertificateNameError):
            check_common_name(cert, gun)


def test_common_name_last_attribute_wins_and_missing_is_empty() -> None:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "first"),
            x509.NameAttribute(NameOID.COMMON_NAME, GUN),
        ]
    )
    key = EC_KEY.cryptography_key

    def build(subject: x509.Name) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(1)
            .not_valid_before(NOW - DAY)
            .not_valid_after(NOW + DAY)
        )
        return builder.sign(key, hashes.SHA256())

    assert common_name(build(name)) == GUN
    assert not is_ca(build(name))
    cert = build(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "org")]))
    assert common_name(cert) == ""
    assert cn_matches_gun(cert, "")


# --- valid_root_leaf_keys -------------------------------------------------------------


def _select(*keys: PublicKey, check_expiry: bool = True, gun: str = GUN) -> dict[str, PublicKey]:
    mapping = {key.key_id: key for key in keys}
    return valid_root_leaf_keys(mapping, list(mapping), gun, now=NOW, check_expiry=check_expiry)


def test_valid_root_leaf_keys_single_certificate() -> None:
    key = bundle_key(make_cert())
    assert _select(key) == {key.key_id: key}


def test_valid_root_leaf_keys_keeps_valid_intermediates_in_order() -> None:
    leaf, ca1, ca2 = (
        make_cert(),
        make_cert(RSA_KEY, "ca1", ca=True),
        make_cert(EC_KEY, "ca2", ca=True),
    )
    key = bundle_key(leaf, ca1, ca2)
    assert _select(key) == {key.key_id: key}


def test_valid_root_leaf_keys_rebuilds_without_invalid_intermediates() -> None:
    leaf = make_cert()
    expired_ca = make_cert(RSA_KEY, "ca", ca=True, not_before=NOW - 9 * DAY, not_after=NOW - DAY)
    key = bundle_key(leaf, expired_ca)
    rebuilt = bundle_key(leaf)
    assert _select(key) == {rebuilt.key_id: rebuilt}
    # Go does not filter the previous root's intermediates.
    assert _select(key, check_expiry=False) == {key.key_id: key}


def test_valid_root_leaf_keys_rebuild_normalises_pem() -> None:
    leaf = make_cert()
    messy = PublicKey("ecdsa-x509", b"junk\n" + bundle_key(leaf).public.replace(b"\n", b"\r\n"))
    clean = bundle_key(leaf)
    assert messy.key_id != clean.key_id
    assert _select(messy) == {clean.key_id: clean}


def test_valid_root_leaf_keys_ignores_key_type_like_go() -> None:
    leaf = make_cert()
    mislabelled = bundle_key(leaf, keytype="ecdsa")
    expected = bundle_key(leaf)
    assert _select(mislabelled) == {expected.key_id: expected}


def test_valid_root_leaf_keys_mixed() -> None:
    good = bundle_key(make_cert())
    bad = [
        EC_KEY.public_key,
        bundle_key(make_cert(cn="other/gun")),
        bundle_key(make_cert(not_before=NOW - 9 * DAY, not_after=NOW - DAY)),
        bundle_key(make_cert(ca=True)),
        bundle_key(make_cert(ca=True), make_cert(RSA_KEY)),
        bundle_key(make_cert(), make_cert(RSA_KEY)),
        bundle_key(sha1_cert()),
    ]
    assert _select(good, *bad) == {good.key_id: good}


@pytest.mark.parametrize(
    "key",
    [
        EC_KEY.public_key,
        PublicKey("ecdsa-x509", b"not a certificate"),
        bundle_key(make_cert(cn="other/gun")),
        bundle_key(make_cert(cn="docker.io/other/*")),
        bundle_key(make_cert(not_before=NOW - 9 * DAY, not_after=NOW - DAY)),
        bundle_key(make_cert(not_before=NOW + 2 * DAY)),
        bundle_key(make_cert(ca=True)),
        bundle_key(make_cert(RSA_KEY, "ca", ca=True), make_cert()),
        bundle_key(make_cert(), make_cert(RSA_KEY)),
        bundle_key(sha1_cert()),
        bundle_key(make_cert(RSA_1024)),
        bundle_key(inverted_window_cert()),
    ],
    ids=[
        "plain-ecdsa",
        "garbage",
        "cn-mismatch",
        "wildcard-mismatch",
        "expired",
        "not-yet-valid",
        "ca-as-leaf",
        "ca-first",
        "two-leaves",
        "sha1",
        "rsa-1024",
        "inverted-window",
    ],
)
def test_valid_root_leaf_keys_rejects(key: PublicKey) -> None:
    with pytest.raises(CertificateError, match="unable to retrieve valid leaf certificates"):
        _select(key)


def test_valid_root_leaf_keys_expiry_unchecked_for_previous_root() -> None:
    key = bundle_key(make_cert(not_before=NOW - 9 * DAY, not_after=NOW - DAY))
    assert _select(key, check_expiry=False) == {key.key_id: key}
    with pytest.raises(CertificateError):
        _select(bundle_key(make_cert(cn="other/gun")), check_expiry=False)


def test_valid_root_leaf_keys_wildcard_cn() -> None:
    key = bundle_key(make_cert(cn="docker.io/*"))
    assert _select(key) == {key.key_id: key}


def test_valid_root_leaf_keys_only_listed_and_present_ids() -> None:
    listed, unlisted = bundle_key(make_cert()), bundle_key(make_cert(RSA_KEY))
    keys = {listed.key_id: listed, unlisted.key_id: unlisted}
    result = valid_root_leaf_keys(keys, [listed.key_id, "missing"], GUN, now=NOW, check_expiry=True)
    assert result == {listed.key_id: listed}
    with pytest.raises(CertificateError):
        valid_root_leaf_keys(keys, ["missing"], GUN, now=NOW, check_expiry=True)


def test_valid_root_leaf_keys_ed25519_leaf_is_valid_but_unusable() -> None:
    # Go counts it as a valid leaf but cannot turn it into a key.
    pem = pem_encode("CERTIFICATE", make_cert(ED_KEY).public_bytes(serialization.Encoding.DER))
    assert _select(PublicKey("ecdsa-x509", pem)) == {}


def test_valid_root_leaf_keys_go_fixture() -> None:
    root: Any = json.loads((FIXTURES / "root.json").read_text())["signed"]
    keys = {keyid: PublicKey.from_dict(data) for keyid, data in root["keys"].items()}
    keyids = root["roles"]["root"]["keyids"]
    gun = "docker.com/notary0.3/tst"
    result = valid_root_leaf_keys(keys, keyids, gun, now=NOW, check_expiry=True)
    assert list(result) == keyids
    late = datetime(2030, 1, 1, tzinfo=UTC)
    with pytest.raises(CertificateError):
        valid_root_leaf_keys(keys, keyids, gun, now=late, check_expiry=True)
    assert list(valid_root_leaf_keys(keys, keyids, gun, now=late, check_expiry=False)) == keyids
    with pytest.raises(CertificateError):
        valid_root_leaf_keys(keys, keyids, "docker.com/notary0.3/other", now=NOW, check_expiry=True)


# --- names Go reads but cryptography refuses: PrintableString with '*' or '&' ---------

GO_FIXTURE_CERT = FIXTURES.parent / "docker-star-printable-cn.crt"  # Go cmd/notary tests
GO_FIXTURE_KEY_ID = "c58a735abbb9577f87e149b2493e1039a836ca8002488c7932931d859b850d5d"
PRINTABLE, UTF8 = 0x13, 0x0C


def _tlv(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(octets)]) + octets + content


def resign(private: PrivateKey, cert: x509.Certificate, *swaps: tuple[bytes, bytes]) -> bytes:
    """DER of ``cert`` with same-length swaps in its TBS part, signed again by ``private``.

    cryptography will not build (or load) what this makes, so it is assembled by hand.
    """
    der = cert.public_bytes(serialization.Encoding.DER)
    tbs = cert.tbs_certificate_bytes
    rest = der[der.index(tbs) + len(tbs) :]
    algorithm = rest[: 2 + rest[1]]  # the signatureAlgorithm SEQUENCE (short length)
    for old, new in swaps:
        assert len(old) == len(new)
        assert old in tbs
        tbs = tbs.replace(old, new)
    key = private.cryptography_key
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(tbs, padding.PKCS1v15(), hashes.SHA256())
    else:
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        signature = key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    return _tlv(0x30, tbs + algorithm + _tlv(0x03, b"\0" + signature))


def retag(value: str, old: int = UTF8, new: int = PRINTABLE) -> tuple[bytes, bytes]:
    """The swap turning a short string attribute of tag ``old`` into one of tag ``new``."""
    raw = value.encode()
    return bytes([old, len(raw)]) + raw, bytes([new, len(raw)]) + raw


def named_cert(
    private: PrivateKey = EC_KEY,
    cn: str = "docker/*",
    *,
    organization: str | None = None,
    tags: tuple[int, int] = (PRINTABLE, PRINTABLE),
    ca: bool = False,
    not_before: datetime = NOW - DAY,
    not_after: datetime = NOW + 365 * DAY,
) -> bytes:
    """A self-signed certificate for ``cn`` (and O) with the string tags ``tags`` (CN, O).

    Go's client makes the same certificate but for the CN encoding (UTF8String).
    """
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if organization is not None:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    name = x509.Name(attributes)
    key = private.cryptography_key
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    cert = builder.sign(key, hashes.SHA256())
    swaps = [retag(cn, new=tags[0])]
    if organization is not None:
        swaps.append(retag(organization, new=tags[1]))
    return resign(private, cert, *[swap for swap in swaps if swap[0] != swap[1]])


def der_key(*ders: bytes) -> PublicKey:
    return PublicKey("ecdsa-x509", b"".join(pem_encode("CERTIFICATE", der) for der in ders))


def test_named_cert_is_self_signed_with_the_tags_asked_for() -> None:
    der = named_cert(RSA_KEY, organization="A&B", tags=(PRINTABLE, UTF8))
    assert der.count(retag("docker/*", new=PRINTABLE)[1]) == 2  # issuer and subject
    assert der.count(retag("A&B", new=UTF8)[1]) == 2
    # 30 82 LL LL | TBS | AlgorithmIdentifier (15 bytes) | 03 82 01 01 00 + 256-byte signature
    tbs = der[4 : len(der) - 15 - 261]
    public = RSA_KEY.cryptography_key.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(der[-256:], tbs, padding.PKCS1v15(), hashes.SHA256())


@pytest.mark.parametrize(
    ("cn", "tag", "gun", "accepted"),
    [
        ("docker/*", PRINTABLE, "docker/x", True),
        ("docker/*", PRINTABLE, "docker/a/b", True),
        ("docker/*", PRINTABLE, "other/x", False),
        ("docker/*", PRINTABLE, "docker", False),
        ("docker/*", UTF8, "docker/x", True),
        ("docker/*", UTF8, "other/x", False),
        ("example.com/*", PRINTABLE, "example.com/app", True),
        ("example.com/**", PRINTABLE, "example.com/app", True),
        ("example.com/*", PRINTABLE, "example.org/app", False),
        ("*", PRINTABLE, "anything/at-all", True),
        ("docker/x", PRINTABLE, "docker/x", True),
        ("docker/x", PRINTABLE, "docker/y", False),
    ],
)
def test_printable_string_wildcard_cn(cn: str, tag: int, gun: str, accepted: bool) -> None:
    key = der_key(named_cert(cn=cn, tags=(tag, tag)))
    [cert] = load_certificate_bundle(key.public)
    assert common_name(cert) == cn
    assert cn_matches_gun(cert, gun) is accepted
    if accepted:
        assert _select(key, gun=gun) == {key.key_id: key}
    else:
        with pytest.raises(CertificateError, match="unable to retrieve valid leaf certificates"):
            _select(key, gun=gun)


@pytest.mark.parametrize(
    "der",
    [
        named_cert(not_before=NOW - 9 * DAY, not_after=NOW - DAY),
        named_cert(not_before=NOW + 2 * DAY),
        named_cert(RSA_1024),
        named_cert(ca=True),
        named_cert(RSA_KEY).replace(
            bytes.fromhex("06092a864886f70d01010b"), bytes.fromhex("06092a864886f70d010105")
        ),
    ],
    ids=["expired", "not-yet-valid", "rsa-1024", "ca-as-leaf", "sha1"],
)
def test_printable_string_wildcard_cn_other_rules_still_apply(der: bytes) -> None:
    key = der_key(der)
    assert common_name(load_certificate_bundle(key.public)[0]) == "docker/*"
    with pytest.raises(CertificateError, match="unable to retrieve valid leaf certificates"):
        _select(key, gun="docker/x")


def test_printable_string_chain_keeps_its_own_bytes() -> None:
    # The rebuilt key is made of the DER as it came (Go's cert.Raw), not of the
    # UTF8String stand-in cryptography parsed: otherwise its ID would change.
    leaf = named_cert(organization="R&D")
    ca = named_cert(RSA_KEY, cn="CA & *", ca=True)
    expired_ca = named_cert(RSA_KEY, cn="old CA *", ca=True, not_after=NOW - DAY)
    expected = der_key(leaf, ca)
    assert _select(expected, gun="docker/x") == {expected.key_id: expected}
    assert _select(der_key(leaf, ca, expired_ca), gun="docker/x") == {expected.key_id: expected}


def test_printable_string_key_verifies_signatures() -> None:
    key = der_key(named_cert())
    verify_signature(key, EC_KEY.method, b"msg", EC_KEY.sign(b"msg"))
    assert key.canonical_key_id == EC_KEY.public_key.key_id


@pytest.mark.parametrize("organization", ["A&B", "*", "&&", "Wild*Card & Co. (1) + 'x'-y/z:w=v?"])
def test_printable_string_go_extras_parse(organization: str) -> None:
    [cert] = load_certificate_bundle(der_key(named_cert(organization=organization)).public)
    values = [attr.value for attr in cert.subject]
    assert values == ["docker/*", organization]
    assert [attr.value for attr in cert.issuer] == values


@pytest.mark.parametrize("organization", ["A@B", "A_B", "a;b", "x!", "*@", "a\x00*"])
def test_printable_string_outside_go_set_is_refused(organization: str) -> None:
    # Go's parser refuses these too ("invalid PrintableString").
    der = named_cert(organization=organization)
    with pytest.raises(CertificateError, match="unable to parse certificate"):
        load_certificate_bundle(pem_encode("CERTIFICATE", der))
    with pytest.raises(CertificateError, match="unable to retrieve valid leaf certificates"):
        _select(der_key(der), gun="docker/x")


def test_go_fixture_printable_string_wildcard_certificate() -> None:
    pem = GO_FIXTURE_CERT.read_bytes()
    key = PublicKey("ecdsa-x509", pem)
    [cert] = load_certificate_bundle(pem)
    assert common_name(cert) == "docker/*"
    assert not is_ca(cert)
    # The ID Go's own test expects for the key made of this certificate.
    assert list(_select(key, gun="docker/repoName")) == [GO_FIXTURE_KEY_ID]
    with pytest.raises(CertificateError, match="unable to retrieve valid leaf certificates"):
        _select(key, gun="other/repoName")
    late = datetime(2027, 4, 27, tzinfo=UTC)  # the day after its NotAfter
    with pytest.raises(CertificateError, match="unable to retrieve valid leaf certificates"):
        valid_root_leaf_keys(
            {key.key_id: key}, [key.key_id], "docker/x", now=late, check_expiry=True
        )


def _only_retagged(before: bytes, after: bytes | None) -> bool:
    """``after`` is None, or ``before`` with some PrintableString tags made UTF8String."""
    if after is None:
        return True
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    return bool(changed) and all(pair == (PRINTABLE, UTF8) for pair in changed)


WILDCARD_DER = named_cert(organization="R&D*")
# Go 1.19 crypto/x509 isPrintable, written out here rather than taken from the code.
GO_PRINTABLE_TEXT = string.ascii_letters + string.digits + " '()+,-./:=?" + "*&"


@settings(max_examples=1000)
@given(st.binary(max_size=400))
def test_relax_printable_names_fuzz_arbitrary_bytes(data: bytes) -> None:
    relaxed = relax_printable_names(data)
    assert _only_retagged(data, relaxed)
    if relaxed is not None:
        assert relax_printable_names(relaxed) is None


# A mutated serial can turn non-positive: cryptography warns (Go 1.19 accepts it).
@pytest.mark.filterwarnings("ignore:Parsed a serial number which wasn't positive")
@settings(max_examples=1000)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["set", "insert", "delete"]),
            st.integers(0, len(WILDCARD_DER) - 1),
            st.integers(0, 255),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_relaxed_parsing_fuzz_mutated_certificate(edits: list[tuple[str, int, int]]) -> None:
    der = bytearray(WILDCARD_DER)
    for kind, index, value in edits:
        at = min(index, len(der) - 1)
        if kind == "set":
            der[at] = value
        elif kind == "insert":
            der.insert(at, value)
        else:
            del der[at]
    data = bytes(der)
    relaxed = relax_printable_names(data)
    assert _only_retagged(data, relaxed)
    try:
        cert = parse_certificate(data)
    except CertificateError:
        return
    _ = common_name(cert), is_ca(cert)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=GO_PRINTABLE_TEXT, min_size=1, max_size=64))
def test_printable_string_cn_round_trip_fuzz(cn: str) -> None:
    der = named_cert(cn=cn)
    [cert] = load_certificate_bundle(pem_encode("CERTIFICATE", der))
    assert common_name(cert) == cn
    expected = der_key(der)
    assert _select(expected, gun=cn) == {expected.key_id: expected}


def test_go_printable_set() -> None:
    assert frozenset(GO_PRINTABLE_TEXT.encode()) == GO_PRINTABLE


def test_relax_printable_names_leaves_other_certificates() -> None:
    utf8 = named_cert(tags=(UTF8, UTF8), organization="R&D")
    assert relax_printable_names(utf8) is None
    strict = named_cert(cn="docker/x", organization="R and D")
    assert relax_printable_names(strict) is None
    relaxed = relax_printable_names(WILDCARD_DER)
    assert relaxed is not None
    assert _only_retagged(WILDCARD_DER, relaxed)
    assert sum(a != b for a, b in zip(WILDCARD_DER, relaxed, strict=True)) == 4
    # Long names (long-form lengths) and a certificate cryptography refuses anyway.
    long_cn, long_org = "docker/" + "x" * 56 + "*", "&" * 64
    long_der = named_cert(cn=long_cn, organization=long_org)
    [cert] = load_certificate_bundle(pem_encode("CERTIFICATE", long_der))
    assert [attr.value for attr in cert.subject] == [long_cn, long_org]
    with pytest.raises(ValueError, match="PrintableString"):
        load_der_certificate(named_cert(organization="*@"))
