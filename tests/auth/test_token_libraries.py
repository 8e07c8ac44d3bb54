"""Token checks on joserfc and cryptography's verifier keep Go's behaviour (ADR 0032).

What a generic JWT library or the Web PKI would refuse but Go accepts is accepted
(Go's header and base64 readings, leaves without EKU, version 1 certificates as
OpenSSL makes them); what Go refuses (an issuer whose key usage forbids certificate
signing, an unknown critical extension) is refused; the deliberate differences (RSA
under 2048 bits, more than 8 intermediates, a version 3 leaf of a version 1 root) are
pinned. Go's answers to the same cases were taken from the Debian notary-server
(tests/auth/test_go_parity.py runs the everyday ones against it).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from notary_server.auth.certs import CertificateError, load_root_bundle, verify_chain
from notary_server.auth.controller import AuthChallenge, TokenAccessController, required_access
from notary_server.auth.htpasswd import Htpasswd
from notary_server.auth.issuer import TokenIssuer
from notary_server.auth.libtrust import jose_b64decode, key_id
from notary_server.auth.token import InvalidTokenError, VerifyOptions, parse_token, verify_token
from testkit.issuer import TestIssuer, der_b64, encode_jwt, public_jwk

GUN = "docker.io/library/alpine"
PULL = required_access(GUN, ("pull",))
GRANT = [("repository", GUN, ("pull",))]
Key = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
CA = x509.BasicConstraints(ca=True, path_length=None)
UNKNOWN_CRITICAL = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.2.3.4.5"), b"\x05\x00")
VERSION_1 = Path(__file__).parent.parent / "data" / "token_v1"


def _cert(
    key: Key,
    name: str,
    issuer: tuple[Key, str] | None = None,
    *extensions: tuple[x509.ExtensionType, bool],
) -> x509.Certificate:
    """A certificate for ``key`` issued by ``issuer`` (key, name), else self-signed."""
    issuer_key, issuer_name = issuer or (key, name)
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(issuer_key, hashes.SHA256())


def _p256() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _controller(
    token_issuer: TestIssuer, tmp_path: Path, *roots: x509.Certificate
) -> TokenAccessController:
    return TokenAccessController(token_issuer.config(tmp_path), roots or (token_issuer.root_cert,))


def _x5c_token(
    token_issuer: TestIssuer, leaf_key: Key, chain: list[x509.Certificate], alg: str = "ES256"
) -> str:
    header = {"typ": "JWT", "alg": alg, "x5c": [der_b64(c) for c in chain]}
    return encode_jwt(header, token_issuer.claims(GRANT), leaf_key, alg)


def _accepted(controller: TokenAccessController, token: str) -> bool:
    """Whether the token is accepted (a refusal must be ``invalid_token``)."""
    error = "accepted"
    try:
        controller.authorize(f"Bearer {token}", PULL, "localhost")
    except AuthChallenge as challenge:
        error = challenge.error
    assert error in ("accepted", "invalid_token")
    return error == "accepted"


def _noncanonical(token: str) -> str:
    """The token with its signature's unused last bits set (Go's decoder ignores them)."""
    head, claims, signature = token.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    unused = {2: 0b1111, 3: 0b11}[len(signature) % 4]
    last = alphabet[alphabet.index(signature[-1]) | unused]
    return f"{head}.{claims}.{signature[:-1]}{last}"


def test_what_go_does_not_read_is_not_checked(token_issuer: TestIssuer, tmp_path: Path) -> None:
    controller = _controller(token_issuer, tmp_path)
    key = token_issuer.signer_key
    claims = token_issuer.claims(GRANT)
    x5c = token_issuer.header()
    root_jwk = public_jwk(token_issuer.root_key.public_key())
    cases = {
        "crit": encode_jwt(x5c | {"crit": ["foo"], "foo": 1}, claims, key, "ES256"),
        "b64": encode_jwt(x5c | {"crit": ["b64"], "b64": False}, claims, key, "ES256"),
        "iat-future": encode_jwt(x5c, claims | {"iat": int(time.time()) + 7200}, key, "ES256"),
        "header-case": encode_jwt(
            {"TYP": "JWT", "Alg": "ES256", "X5C": x5c["x5c"]}, claims, key, "ES256"
        ),
        "jwk-use-alg": encode_jwt(
            {"typ": "JWT", "alg": "ES256", "jwk": root_jwk | {"use": "enc", "alg": "ES384"}},
            claims,
            token_issuer.root_key,
            "ES256",
        ),
        "noncanonical-base64": _noncanonical(encode_jwt(x5c, claims, key, "ES256")),
    }
    assert {name: _accepted(controller, token) for name, token in cases.items()} == dict.fromkeys(
        cases, True
    )


def _verify_at(token_issuer: TestIssuer, raw: str, now: float) -> bool:
    root = token_issuer.root_key.public_key()
    options = VerifyOptions(
        issuer=token_issuer.issuer,
        service=token_issuer.service,
        roots=(token_issuer.root_cert,),
        trusted_keys={key_id(root): root},
    )
    try:
        verify_token(parse_token(raw), options, dt.datetime.fromtimestamp(now, dt.UTC))
    except InvalidTokenError:
        return False
    return True


def test_leeway_to_the_second_as_go(token_issuer: TestIssuer) -> None:
    edge = int(time.time()) + 100  # Go: refused after exp + 60 s, before nbf - 60 s
    expiring = token_issuer.token(GRANT, mode="kid", claims={"exp": edge, "nbf": 0})
    assert _verify_at(token_issuer, expiring, edge + 59.999)
    assert not _verify_at(token_issuer, expiring, edge + 60.5)
    starting = token_issuer.token(GRANT, mode="kid", claims={"nbf": edge, "exp": edge + 600})
    assert _verify_at(token_issuer, starting, edge - 60)
    assert not _verify_at(token_issuer, starting, edge - 60.5)


def test_issuer_key_usage_must_allow_certificate_signing(
    token_issuer: TestIssuer, tmp_path: Path
) -> None:
    root_key, leaf_key = _p256(), _p256()
    results = []
    for cert_sign in (True, False):
        usage = x509.KeyUsage(True, False, False, False, False, cert_sign, False, False, False)
        root = _cert(root_key, "root", None, (CA, True), (usage, True))
        controller = _controller(token_issuer, tmp_path, root)
        leaf = _cert(leaf_key, "leaf", (root_key, "root"))
        results.append(_accepted(controller, _x5c_token(token_issuer, leaf_key, [leaf])))
    assert results == [True, False]


def test_leaf_extensions_as_go(token_issuer: TestIssuer, tmp_path: Path) -> None:
    root_key, middle_key, leaf_key = _p256(), _p256(), _p256()
    root = _cert(root_key, "root", None, (CA, True))
    controller = _controller(token_issuer, tmp_path, root)
    by_root = (root_key, "root")
    server_only = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH])
    odd_middle = _cert(middle_key, "middle", by_root, (CA, True), (UNKNOWN_CRITICAL, True))
    chains = {
        "server-auth-only": [_cert(leaf_key, "leaf", by_root, (server_only, False))],
        "ca-leaf": [_cert(leaf_key, "leaf", by_root, (CA, True))],
        "unknown-critical": [_cert(leaf_key, "leaf", by_root, (UNKNOWN_CRITICAL, True))],
        "unknown-critical-middle": [
            _cert(leaf_key, "leaf", (middle_key, "middle")),
            odd_middle,
        ],
    }
    accepted = {
        name: _accepted(controller, _x5c_token(token_issuer, leaf_key, chain))
        for name, chain in chains.items()
    }
    assert accepted == {
        "server-auth-only": True,
        "ca-leaf": True,
        "unknown-critical": False,
        "unknown-critical-middle": False,
    }


def test_roots_as_go(token_issuer: TestIssuer, tmp_path: Path) -> None:
    root_key, leaf_key = _p256(), _p256()
    not_ca = x509.BasicConstraints(ca=False, path_length=None)
    lone = _cert(leaf_key, "lone", None, (not_ca, True))
    non_ca_root = _cert(root_key, "root", None, (not_ca, True))
    controller = _controller(token_issuer, tmp_path, lone, non_ca_root)
    leaf = _cert(leaf_key, "leaf", (root_key, "root"))
    assert _accepted(controller, _x5c_token(token_issuer, leaf_key, [lone]))
    assert not _accepted(controller, _x5c_token(token_issuer, leaf_key, [leaf]))


def _openssl_cert(name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((VERSION_1 / f"{name}.pem").read_bytes())


def test_version_1_certificates_as_go() -> None:
    """OpenSSL's version 1 certificates (tests/data/token_v1), which the verifier refuses."""
    roots = (_openssl_cert("rootv1"), _openssl_cert("ca3"))
    start = roots[1].not_valid_before_utc
    short_root = (_openssl_cert("rootv1short"), roots[1])

    def accepted(
        *names: str,
        now: dt.datetime = start + dt.timedelta(days=1),
        roots: tuple[x509.Certificate, ...] = roots,
    ) -> bool:
        chain = [_openssl_cert(name) for name in names]
        try:
            key = verify_chain([der_b64(c) for c in chain], roots, now)
        except CertificateError:
            return False
        assert key == chain[0].public_key()
        return True

    assert {
        "v1 root itself": accepted("rootv1"),
        "v1 leaf of v3 CA": accepted("leafb"),
        "v1 leaf of v1 root": accepted("leafd"),
        "v1 leaf, SHA-1": accepted("leafs"),
        "v1 leaf of v1 intermediate": accepted("leafm", "midv1"),
        "v1 leaf of non-CA": accepted("leafn", "eev3"),
        "v1 leaf of CA without keyCertSign": accepted("leafk", "kuca"),
        "v1 leaf of RSA-1024 CA": accepted("leafr", "rsaca"),  # Go: accepted; ADR 0032
        "v1 leaf, expired": accepted("leafb", now=start + dt.timedelta(days=36001)),
        "v1 root, expired": accepted(
            "leafd", now=start + dt.timedelta(days=35001), roots=short_root
        ),
        "v3 leaf of v1 root": accepted("leafc"),  # Go: accepted; ADR 0032
    } == {
        "v1 root itself": True,
        "v1 leaf of v3 CA": True,
        "v1 leaf of v1 root": True,
        "v1 leaf, SHA-1": False,
        "v1 leaf of v1 intermediate": False,
        "v1 leaf of non-CA": False,
        "v1 leaf of CA without keyCertSign": False,
        "v1 leaf of RSA-1024 CA": False,
        "v1 leaf, expired": False,  # its CA is still valid
        "v1 root, expired": False,  # its leaf is still valid
        "v3 leaf of v1 root": False,
    }


def test_at_most_eight_intermediates(token_issuer: TestIssuer, tmp_path: Path) -> None:
    keys = [_p256() for _ in range(11)]
    certs = [_cert(keys[0], "c0", None, (CA, True))] + [
        _cert(keys[i], f"c{i}", (keys[i - 1], f"c{i - 1}"), (CA, True)) for i in range(1, 10)
    ]
    controller = _controller(token_issuer, tmp_path, certs[0])
    results = {}
    for depth in (8, 9):
        leaf = _cert(keys[10], "leaf", (keys[depth], f"c{depth}"))
        chain = [leaf, *reversed(certs[1 : depth + 1])]
        results[depth] = _accepted(controller, _x5c_token(token_issuer, keys[10], chain))
    assert results == {8: True, 9: False}


def test_rsa_keys_under_2048_bits_are_refused(token_issuer: TestIssuer, tmp_path: Path) -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - on trial
    bundle = tmp_path / "weak.pem"
    weak_root = _cert(weak, "weak", None, (CA, True))
    bundle.write_bytes(weak_root.public_bytes(serialization.Encoding.PEM))
    with pytest.raises(CertificateError, match="1024 bits"):
        load_root_bundle(bundle)
    controller = _controller(token_issuer, tmp_path)
    leaf = _cert(weak, "leaf", (token_issuer.root_key, "test token root"))
    assert not _accepted(controller, _x5c_token(token_issuer, weak, [leaf], "RS256"))


@pytest.mark.parametrize(
    ("key", "alg"),
    [
        (ec.generate_private_key(ec.SECP256R1()), "ES256"),
        (ec.generate_private_key(ec.SECP384R1()), "ES384"),
        (ec.generate_private_key(ec.SECP521R1()), "ES512"),
        (rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256"),
    ],
    ids=["p256", "p384", "p521", "rsa"],
)
def test_builtin_issuer_signs_by_key_type(
    token_issuer: TestIssuer, tmp_path: Path, key: Key, alg: str
) -> None:
    root_key = _p256()
    root = _cert(root_key, "root", None, (CA, True))
    chain = [_cert(key, "issuer", (root_key, "root"))]
    config = token_issuer.config(tmp_path)
    issuer = TokenIssuer(config=config, key=key, chain=chain, users=Htpasswd({}))
    token = issuer.mint("alice", [], dt.datetime.now(dt.UTC))
    header: dict[str, Any] = json.loads(jose_b64decode(token.split(".")[0]))
    assert (header["alg"], header["x5c"]) == (alg, [der_b64(chain[0])])
    controller = TokenAccessController(config, [root])
    assert controller.authorize(f"Bearer {token}", [], "localhost") == "alice"
