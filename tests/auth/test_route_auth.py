"""Token auth on every route (docs/protocol.md#token-auth): who needs what, and Go's 401 for
each refusal.

Each route is tried with no token, an expired one, one from another issuer, one for
another service, one for another GUN and a pull-only one; a refusal is a 401 with
Go's challenge and body, and leaves the store as it was.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from notary_server.app import create_app
from notary_server.storage.memory import MemoryMetaStore
from testkit.issuer import REALM, SERVICE, TestIssuer
from testkit.server_helpers import GUN, AppClient, dump_store, make_config, publish_new, tuf_url

HEX64 = "ab" * 32
OTHER_GUN = "docker.io/library/other"
CATALOG = "catalog"

# (id, method, path, what Go requires: CATALOG or the route's actions)
ROUTES: list[tuple[str, str, str, Any]] = [
    ("ping", "GET", "/v2/", CATALOG),
    ("update", "POST", tuf_url(GUN), ("push", "pull")),
    ("get-by-hash", "GET", tuf_url(GUN, f"root.{HEX64}.json"), ("pull",)),
    ("get-by-version", "GET", tuf_url(GUN, "1.root.json"), ("pull",)),
    ("get-current", "GET", tuf_url(GUN, "root.json"), ("pull",)),
    ("get-timestamp", "GET", tuf_url(GUN, "timestamp.json"), ("pull",)),
    ("get-key", "GET", tuf_url(GUN, "timestamp.key"), ("push", "pull")),
    ("rotate-key", "POST", tuf_url(GUN, "snapshot.key"), ("*",)),
    ("delete", "DELETE", tuf_url(GUN), ("*",)),
    ("changefeed", "GET", f"/v2/{GUN}/_trust/changefeed", ("pull",)),
    ("global-changefeed", "GET", "/v2/_trust/changefeed", CATALOG),
    ("catch-all-get", "GET", "/nothing/here", CATALOG),
    ("catch-all-post", "POST", tuf_url(GUN, "bogus"), CATALOG),
]

SCENARIOS = ["none", "expired", "wrong-issuer", "wrong-service", "other-gun", "pull-only"]


def required(kind: Any) -> list[dict[str, str]]:
    if kind == CATALOG:
        return [{"Type": "registry", "Class": "", "Name": "catalog", "Action": "*"}]
    return [{"Type": "repository", "Class": "", "Name": GUN, "Action": a} for a in kind]


def scope(kind: Any) -> str:
    return "registry:catalog:*" if kind == CATALOG else f"repository:{GUN}:{','.join(kind)}"


def challenge(kind: Any, error: str = "") -> str:
    value = f'Bearer realm="{REALM}",service="{SERVICE}",scope="{scope(kind)}"'
    return value + (f',error="{error}"' if error else "")


def unauthorized_body(kind: Any) -> bytes:
    body = {
        "errors": [
            {"code": "UNAUTHORIZED", "message": "authentication required", "detail": required(kind)}
        ]
    }
    return json.dumps(body, separators=(",", ":")).encode() + b"\n"


def scenario_token(issuer: TestIssuer, scenario: str) -> tuple[str | None, str]:
    """The Authorization header for a scenario and the challenge error it earns."""
    full = [("repository", GUN, ("*",)), ("registry", "catalog", ("*",))]
    if scenario == "none":
        return None, ""
    if scenario == "expired":
        return issuer.token(full, lifetime=-61, not_before=-3600), "invalid_token"
    if scenario == "wrong-issuer":
        return issuer.token(full, claims={"iss": "someone-else"}), "invalid_token"
    if scenario == "wrong-service":
        return issuer.token(full, claims={"aud": "other-service"}), "invalid_token"
    if scenario == "other-gun":
        return issuer.token([("repository", OTHER_GUN, ("*",))]), "insufficient_scope"
    assert scenario == "pull-only"
    return issuer.token([("repository", GUN, ("pull",))]), "insufficient_scope"


async def send(client: AppClient, method: str, path: str, token: str | None) -> Any:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return await client.request(method, path, headers=headers, allow_redirects=False)


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize(
    ("method", "path", "kind"), [r[1:] for r in ROUTES], ids=[r[0] for r in ROUTES]
)
async def test_refusals(  # noqa: PLR0917 - pytest passes fixtures and parameters by name
    auth_client: AppClient,
    open_client: AppClient,
    store: MemoryMetaStore,
    token_issuer: TestIssuer,
    method: str,
    path: str,
    kind: Any,
    scenario: str,
) -> None:
    await publish_new(open_client)
    before = await dump_store(store)
    token, error = scenario_token(token_issuer, scenario)
    response = await send(auth_client, method, path, token)
    if scenario == "pull-only" and kind == ("pull",):
        assert response.status != 401  # pull-only is enough here
        return
    assert response.status == 401
    assert response.headers.getall("WWW-Authenticate") == [challenge(kind, error)]
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert await response.read() == unauthorized_body(kind)
    assert await dump_store(store) == before


FULL_ACCESS = [("repository", GUN, ("*",)), ("registry", "catalog", ("*",))]


@pytest.mark.parametrize(
    ("method", "path"),
    [(m, p) for _, m, p, _ in ROUTES if m == "GET"],
    ids=[i for i, m, _, _ in ROUTES if m == "GET"],
)
async def test_granted_reads_answer_as_without_auth(
    auth_client: AppClient,
    open_client: AppClient,
    token_issuer: TestIssuer,
    method: str,
    path: str,
) -> None:
    await publish_new(open_client)
    expected = await send(open_client, method, path, None)
    response = await send(auth_client, method, path, token_issuer.token(FULL_ACCESS))
    assert response.status == expected.status
    assert "WWW-Authenticate" not in response.headers
    assert await response.read() == await expected.read()


async def test_granted_writes(
    auth_client: AppClient, open_client: AppClient, token_issuer: TestIssuer
) -> None:
    await publish_new(open_client)
    star = token_issuer.token([("repository", GUN, ("*",))])
    response = await send(auth_client, "POST", tuf_url(GUN, "snapshot.key"), star)
    assert response.status == 200
    response = await send(auth_client, "DELETE", tuf_url(GUN), star)
    assert response.status == 200
    response = await send(auth_client, "GET", tuf_url(GUN, "root.json"), star)
    assert response.status == 404


async def test_star_grants_push_and_pull_but_push_pull_is_not_star(
    auth_client: AppClient, open_client: AppClient, token_issuer: TestIssuer
) -> None:
    """Go's ``actionSet.contains``: a granted ``*`` allows any action; ``*`` must be granted."""
    await publish_new(open_client)
    star = token_issuer.token([("repository", GUN, ("*",))])
    push_pull = token_issuer.token([("repository", GUN, ("push", "pull"))])
    assert (await send(auth_client, "GET", tuf_url(GUN, "timestamp.key"), star)).status == 200
    assert (await send(auth_client, "GET", tuf_url(GUN, "timestamp.key"), push_pull)).status == 200
    response = await send(auth_client, "DELETE", tuf_url(GUN), push_pull)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == challenge(("*",), "insufficient_scope")
    push_only = token_issuer.token([("repository", GUN, ("push",))])
    response = await send(auth_client, "GET", tuf_url(GUN, "timestamp.key"), push_only)
    assert response.status == 401


async def test_health_needs_no_token_and_metrics_does(auth_client: AppClient) -> None:
    # Go serves both to anyone. With token auth on, /metrics asks for a token by
    # default (ADR 0018; metrics.require_auth: false opens it again).
    assert (await auth_client.get("/_notary_server/health")).status == 200
    assert (await auth_client.get("/metrics")).status == 401


async def test_gun_prefix_filter_answers_before_auth(
    aiohttp_client: Any, store: MemoryMetaStore, crypto: Any, auth_config: Any
) -> None:
    config = dataclasses.replace(make_config(gun_prefixes=("docker.io/",)), auth=auth_config)
    client = await aiohttp_client(create_app(config, store=store, crypto=crypto))
    response = await client.post(tuf_url("quay.io/app"))
    assert response.status == 400
    assert "WWW-Authenticate" not in response.headers
    response = await client.get(tuf_url("quay.io/app", "root.json"))
    assert response.status == 404
    response = await client.get(tuf_url("docker.io/app", "root.json"))
    assert response.status == 401


async def test_autoredirect_realm_uses_the_host(
    aiohttp_client: Any, store: MemoryMetaStore, crypto: Any, auth_config: Any
) -> None:
    auth = dataclasses.replace(auth_config, autoredirect=True)
    config = dataclasses.replace(make_config(), auth=auth)
    client = await aiohttp_client(create_app(config, store=store, crypto=crypto))
    response = await client.get("/v2/", headers={"Host": "notary.example.com:4443"})
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == (
        'Bearer realm="https://notary.example.com:4443/auth/token",service="notary-test",'
        'scope="registry:catalog:*"'
    )


async def test_no_auth_configured_serves_everyone(open_client: AppClient) -> None:
    response = await open_client.get("/v2/")
    assert response.status == 200
