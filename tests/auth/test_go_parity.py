"""Go notary-server and ours, both with token auth, answer the same tokens the same way.

The same root bundle and the same tokens go to both servers; status, challenge
and body must agree. Go writes a route's actions in map order (``push,pull`` or
``pull,push`` at random), so the scope's actions are compared as a set.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from notary_server.auth.libtrust import key_id
from testkit.gotools import GoNotaryServer, require_go_tools
from testkit.issuer import TestIssuer, encode_jwt
from testkit.ourserver import OurNotaryServer

if TYPE_CHECKING:
    from collections.abc import Iterator

    from testkit.gotools import NotaryServerProcess

pytestmark = pytest.mark.gotools

GUN = "docker.io/library/parity"
ISSUER = TestIssuer(service="parity-service", issuer="parity-issuer")


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    require_go_tools()
    workdir = tmp_path_factory.mktemp("parity")
    auth = {"auth": {"type": "token", "options": ISSUER.options(workdir)}}
    with (
        GoNotaryServer(workdir / "go", extra_config=auth) as go,
        OurNotaryServer(workdir / "ours", extra_config=auth) as ours,
    ):
        yield go, ours


def _normalise_scope(header: str) -> str:
    def sort_actions(match: re.Match[str]) -> str:
        head, actions = match.group(1).rsplit(":", 1)
        return f'scope="{head}:{",".join(sorted(actions.split(",")))}"'

    return re.sub(r'scope="([^"]*)"', sort_actions, header)


def answer(server: NotaryServerProcess, method: str, path: str, token: str | None) -> Any:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    response = server.request(method, path, headers=headers)
    challenge = response.headers.get("WWW-Authenticate")
    return (
        response.status,
        None if challenge is None else _normalise_scope(challenge),
        response.body if response.status == 401 else None,
    )


FULL = [("repository", GUN, ("*",)), ("registry", "catalog", ("*",))]
_STRANGER = ec.generate_private_key(ec.SECP256R1())


def _tokens() -> dict[str, str | None]:
    claims = ISSUER.claims(FULL)
    return {
        "none": None,
        "x5c": ISSUER.token(FULL),
        "kid": ISSUER.token(FULL, mode="kid"),
        "jwk": ISSUER.token(FULL, mode="jwk"),
        "jwk-x5c": ISSUER.token(FULL, mode="jwk-x5c"),
        "pull-only": ISSUER.token([("repository", GUN, ("pull",))]),
        "push-pull": ISSUER.token([("repository", GUN, ("push", "pull"))]),
        "star-only": ISSUER.token([("repository", GUN, ("*",))]),
        "other-gun": ISSUER.token([("repository", GUN + "x", ("*",))]),
        "expired": ISSUER.token(FULL, lifetime=-61, not_before=-3600),
        "in-leeway": ISSUER.token(FULL, lifetime=-30, not_before=-3600),
        "future": ISSUER.token(FULL, not_before=90),
        "wrong-iss": ISSUER.token(FULL, claims={"iss": "nope"}),
        "wrong-aud": ISSUER.token(FULL, claims={"aud": "nope"}),
        "aud-list": ISSUER.token(FULL, claims={"aud": [ISSUER.service]}),
        "upper-keys": encode_jwt(
            ISSUER.header(),
            {k.upper(): v for k, v in claims.items()},
            ISSUER.signer_key,
            "ES256",
        ),
        "stranger-kid": encode_jwt(
            {"typ": "JWT", "alg": "ES256", "kid": key_id(_STRANGER.public_key())},
            claims,
            _STRANGER,
            "ES256",
        ),
        "alg-none": ISSUER.token(FULL, header={"alg": "none"}),
        "garbage": "not.a.token",
    }


TOKENS = _tokens()
REQUESTS = [
    ("GET", "/v2/"),
    ("GET", f"/v2/{GUN}/_trust/tuf/root.json"),
    ("GET", f"/v2/{GUN}/_trust/tuf/timestamp.key"),
    ("DELETE", f"/v2/{GUN}/_trust/tuf/"),
    ("GET", "/v2/_trust/changefeed"),
    ("GET", "/nowhere"),
]


@pytest.mark.parametrize("token_name", list(TOKENS))
def test_same_answers(servers: tuple[Any, Any], token_name: str) -> None:
    go, ours = servers
    token = TOKENS[token_name]
    for method, path in REQUESTS:
        expected = answer(go, method, path, token)
        assert answer(ours, method, path, token) == expected, (method, path)
