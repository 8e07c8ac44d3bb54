"""Token verification as docker/distribution's token auth does it (docs/protocol.md#token-auth).

Driven through :class:`TokenAccessController` (the same path requests take): a
good token yields its subject; every bad one raises the challenge with Go's
``error`` value.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from notary_server.auth.certs import load_root_bundle
from notary_server.auth.controller import (
    Access,
    AuthChallenge,
    TokenAccessController,
    go_quote,
    required_access,
)
from notary_server.auth.libtrust import jose_b64decode, jose_b64encode, key_id
from testkit.issuer import TestIssuer, der_b64, encode_jwt, make_cert, public_jwk

GUN = "docker.io/library/alpine"
PULL = required_access(GUN, ("pull",))
GRANT = [("repository", GUN, ("pull",))]


@pytest.fixture
def controller(token_issuer: TestIssuer, tmp_path: Path) -> TokenAccessController:
    config = token_issuer.config(tmp_path)
    return TokenAccessController(config, load_root_bundle(config.root_cert_bundle))


def authorize(controller: TokenAccessController, token: str, access: Any = PULL) -> str:
    return controller.authorize(f"Bearer {token}", access, "localhost")


def refused(controller: TokenAccessController, token: str, access: Any = PULL) -> str:
    with pytest.raises(AuthChallenge) as info:
        authorize(controller, token, access)
    return info.value.error


@pytest.mark.parametrize("mode", ["x5c", "kid", "jwk", "jwk-x5c"])
def test_good_token_each_key_source(
    controller: TokenAccessController, token_issuer: TestIssuer, mode: Any
) -> None:
    assert authorize(controller, token_issuer.token(GRANT, mode=mode, subject="bob")) == "bob"


def test_scheme_is_case_insensitive_and_needs_exactly_two_parts(
    controller: TokenAccessController, token_issuer: TestIssuer
) -> None:
    token = token_issuer.token(GRANT)
    assert controller.authorize(f"bEaReR {token}", PULL, "h") == "alice"
    for header in (None, "", token, f"Bearer  {token}", f"Basic {token}", f"Bearer {token} x"):
        with pytest.raises(AuthChallenge) as info:
            controller.authorize(header, PULL, "h")
        assert info.value.error == ""


@pytest.mark.parametrize(
    ("claims", "args"),
    [
        ({}, {"lifetime": -61, "not_before": -3600}),  # expired beyond the leeway
        ({}, {"not_before": 61}),  # not valid yet beyond the leeway
        ({"iss": "other"}, {}),
        ({"iss": None}, {}),
        ({"aud": "other"}, {}),
        ({"aud": None}, {}),
        ({"exp": None}, {}),  # exp 0: expired
    ],
    ids=["expired", "nbf-future", "wrong-iss", "no-iss", "wrong-aud", "no-aud", "no-exp"],
)
def test_invalid_claims(
    controller: TokenAccessController,
    token_issuer: TestIssuer,
    claims: dict[str, Any],
    args: dict[str, Any],
) -> None:
    assert refused(controller, token_issuer.token(GRANT, claims=claims, **args)) == "invalid_token"


def test_leeway_of_sixty_seconds(
    controller: TokenAccessController, token_issuer: TestIssuer
) -> None:
    assert authorize(controller, token_issuer.token(GRANT, lifetime=-30, not_before=-3600))
    assert authorize(controller, token_issuer.token(GRANT, not_before=30))


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": ["notary-test"]},  # Go's vendored ClaimSet.Audience is a string
        {"exp": float(time.time() + 300)},
        {"exp": str(int(time.time() + 300))},
        {"access": {"type": "repository"}},
        {"access": [{"type": "repository", "name": GUN, "actions": "pull"}]},
        {"sub": 5},
    ],
    ids=["aud-list", "exp-float", "exp-string", "access-object", "actions-string", "sub-number"],
)
def test_wrongly_typed_claims_are_malformed(
    controller: TokenAccessController, token_issuer: TestIssuer, claims: dict[str, Any]
) -> None:
    assert refused(controller, token_issuer.token(GRANT, claims=claims)) == "invalid_token"


def test_claim_names_match_case_insensitively_last_wins(
    controller: TokenAccessController, token_issuer: TestIssuer
) -> None:
    body = token_issuer.claims(GRANT)
    body["ISS"] = body.pop("iss")
    body["Aud"] = body.pop("aud")
    token = encode_jwt(token_issuer.header(), body, token_issuer.signer_key, "ES256")
    assert authorize(controller, token) == "alice"


def test_wrong_signature(controller: TokenAccessController, token_issuer: TestIssuer) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    token = encode_jwt(token_issuer.header(), token_issuer.claims(GRANT), other, "ES256")
    assert refused(controller, token) == "invalid_token"


def test_unknown_keys(controller: TokenAccessController, token_issuer: TestIssuer) -> None:
    stranger = ec.generate_private_key(ec.SECP256R1())
    claims = token_issuer.claims(GRANT)
    by_kid = {"typ": "JWT", "alg": "ES256", "kid": key_id(stranger.public_key())}
    by_jwk = {"typ": "JWT", "alg": "ES256", "jwk": public_jwk(stranger.public_key())}
    self_signed = make_cert(stranger, "stranger", ca=True)
    by_x5c = {"typ": "JWT", "alg": "ES256", "x5c": [der_b64(self_signed)]}
    signer_kid = {"typ": "JWT", "alg": "ES256", "kid": key_id(token_issuer.signer_key.public_key())}
    for header in (by_kid, by_jwk, by_x5c):
        assert refused(controller, encode_jwt(header, claims, stranger, "ES256")) == "invalid_token"
    # only root keys are trusted by key ID, not keys they certify
    token = encode_jwt(signer_kid, claims, token_issuer.signer_key, "ES256")
    assert refused(controller, token) == "invalid_token"
    no_key = {"typ": "JWT", "alg": "ES256"}
    token = encode_jwt(no_key, claims, token_issuer.signer_key, "ES256")
    assert refused(controller, token) == "invalid_token"


@pytest.mark.parametrize("alg", ["none", "HS256", "ES384", "RS256", "PS256", ""])
def test_algorithm_must_match_the_key(
    controller: TokenAccessController, token_issuer: TestIssuer, alg: str
) -> None:
    header = token_issuer.header() | {"alg": alg}
    forged = encode_jwt(header, token_issuer.claims(GRANT), token_issuer.signer_key, "ES256")
    assert refused(controller, forged) == "invalid_token"
    unsigned = f"{forged.rsplit('.', 1)[0]}."
    assert refused(controller, unsigned) == "invalid_token"


def test_tampered_payload(controller: TokenAccessController, token_issuer: TestIssuer) -> None:
    head, _, signature = token_issuer.token(GRANT).split(".")
    claims = token_issuer.token([("repository", GUN, ("*",))]).split(".")[1]
    assert refused(controller, f"{head}.{claims}.{signature}") == "invalid_token"


@pytest.mark.parametrize(
    "token",
    ["", "a.b", "a.b.c.d", "!!!.e30.sig", "e30.e30", "W10.e30.c2ln", "e30.W10.c2ln", "e30.e30.A"],
)
def test_malformed_tokens(controller: TokenAccessController, token: str) -> None:
    assert refused(controller, token) == "invalid_token"


def test_rsa_tokens_and_intermediate_chains(tmp_path: Path) -> None:
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    issuer = TestIssuer(issuer="rsa-issuer")
    root = make_cert(root_key, "rsa root", ca=True)
    middle_key = ec.generate_private_key(ec.SECP384R1())
    middle = make_cert(middle_key, "middle", issuer_key=root_key, issuer_name="rsa root", ca=True)
    leaf_key = ec.generate_private_key(ec.SECP521R1())
    leaf = make_cert(leaf_key, "leaf", issuer_key=middle_key, issuer_name="middle")
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    config = issuer.config(tmp_path)
    config = dataclasses.replace(config, root_cert_bundle=bundle)
    controller = TokenAccessController(config, load_root_bundle(bundle))
    claims = issuer.claims(GRANT)
    chain = {"typ": "JWT", "alg": "ES512", "x5c": [der_b64(leaf), der_b64(middle)]}
    assert authorize(controller, encode_jwt(chain, claims, leaf_key, "ES512")) == "alice"
    missing = {"typ": "JWT", "alg": "ES512", "x5c": [der_b64(leaf)]}
    assert refused(controller, encode_jwt(missing, claims, leaf_key, "ES512")) == "invalid_token"
    by_kid = {"typ": "JWT", "alg": "RS256", "kid": key_id(root_key.public_key())}
    assert authorize(controller, encode_jwt(by_kid, claims, root_key, "RS256")) == "alice"
    by_kid["alg"] = "RS512"
    assert authorize(controller, encode_jwt(by_kid, claims, root_key, "RS512")) == "alice"


def test_a_non_ca_issuer_or_expired_certificate_breaks_the_chain(
    controller: TokenAccessController, token_issuer: TestIssuer
) -> None:
    claims = token_issuer.claims(GRANT)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = make_cert(
        leaf_key, "leaf", issuer_key=token_issuer.signer_key, issuer_name="test token signer"
    )
    chain = {
        "typ": "JWT",
        "alg": "ES256",
        "x5c": [der_b64(leaf), der_b64(token_issuer.signer_cert)],
    }
    assert refused(controller, encode_jwt(chain, claims, leaf_key, "ES256")) == "invalid_token"
    old = make_cert(
        leaf_key,
        "old",
        issuer_key=token_issuer.root_key,
        issuer_name="test token root",
        not_before=dt.datetime.now(dt.UTC) - dt.timedelta(days=30),
        days=1,
    )
    expired = {"typ": "JWT", "alg": "ES256", "x5c": [der_b64(old)]}
    assert refused(controller, encode_jwt(expired, claims, leaf_key, "ES256")) == "invalid_token"


def test_access_must_name_the_gun_and_type(
    controller: TokenAccessController, token_issuer: TestIssuer
) -> None:
    for grant in (
        [("repository", "docker.io/library/alpin", ("*",))],
        [("repository", GUN + "/sub", ("*",))],
        [("registry", GUN, ("*",))],
        [("repository", GUN, ("PULL",))],
        [],
    ):
        assert refused(controller, token_issuer.token(grant)) == "insufficient_scope"
    split = [("repository", GUN, ("push",)), ("repository", GUN, ("pull",))]
    both = required_access(GUN, ("push", "pull"))
    assert authorize(controller, token_issuer.token(split), both) == "alice"


def test_catalog_access() -> None:
    assert required_access("", ("pull",)) == (Access("registry", "catalog", "*"),)
    assert required_access(GUN, ("push", "pull"))[0] == Access("repository", GUN, "push")


def test_challenge_quotes_like_go() -> None:
    assert go_quote('a"b\\c') == r'"a\"b\\c"'
    assert go_quote("tab\there\x01\x7f é\u00a0") == r'"tab\there\x01\x7f é\u00a0"'
    challenge = AuthChallenge(
        realm="r", service="s", access=required_access('we"ird', ("push", "pull")), error=""
    )
    assert (
        challenge.header() == r'Bearer realm="r",service="s",scope="repository:we\"ird:push,pull"'
    )


def test_base64url_helpers() -> None:
    assert jose_b64decode(jose_b64encode(b"\xff\xfe\xfd\x00")) == b"\xff\xfe\xfd\x00"
    for bad in ("a", "ab+/", "a=b="):
        with pytest.raises(ValueError, match="illegal"):
            jose_b64decode(bad)
