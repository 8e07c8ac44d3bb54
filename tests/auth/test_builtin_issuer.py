"""The built-in token issuer (ADR 0008): credentials in, tokens the server accepts out."""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient

from notary_server.app import create_app
from notary_server.auth.issuer import Scope, parse_scopes
from notary_server.auth.libtrust import jose_b64decode
from notary_server.storage.memory import MemoryMetaStore
from testkit.issuer import TestIssuer
from testkit.server_helpers import GUN, AppClient, make_config, tuf_url

USERS = {"alice": "wonderland"}


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
async def client(
    aiohttp_client: AiohttpClient, token_issuer: TestIssuer, tmp_path: Path, crypto: Any
) -> AppClient:
    auth = token_issuer.builtin_config(
        tmp_path, USERS, realm="https://notary.example.com/auth/token"
    )
    config = dataclasses.replace(make_config(), auth=auth)
    return await aiohttp_client(create_app(config, store=MemoryMetaStore(), crypto=crypto))


async def get_token(client: AppClient, headers: dict[str, str], *scopes: str) -> Any:
    params = [("service", "notary-test"), *(("scope", s) for s in scopes)]
    return await client.get("/auth/token", params=params, headers=headers)


async def test_user_gets_what_it_asks_for(client: AppClient) -> None:
    response = await get_token(client, basic("alice", "wonderland"), f"repository:{GUN}:push,pull")
    assert response.status == 200
    body = await response.json()
    assert body["token"] == body["access_token"]
    assert body["expires_in"] == 300
    claims = json.loads(jose_b64decode(body["token"].split(".")[1]))
    assert claims["sub"] == "alice"
    assert claims["access"] == [{"type": "repository", "name": GUN, "actions": ["push", "pull"]}]
    auth = {"Authorization": f"Bearer {body['token']}"}
    assert (await client.get(tuf_url(GUN, "timestamp.key"), headers=auth)).status == 200
    response = await client.delete(tuf_url(GUN), headers=auth)
    assert response.status == 401  # "*" was not asked for


async def test_anonymous_gets_a_token_granting_nothing(client: AppClient) -> None:
    response = await get_token(client, {}, f"repository:{GUN}:pull")
    assert response.status == 200
    token = (await response.json())["token"]
    claims = json.loads(jose_b64decode(token.split(".")[1]))
    assert claims["sub"] == ""
    assert claims["access"] == []
    response = await client.get(
        tuf_url(GUN, "root.json"), headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].endswith('error="insufficient_scope"')


@pytest.mark.parametrize(
    "headers",
    [basic("alice", "wrong"), basic("bob", "wonderland"), {"Authorization": "Basic !!!"}],
    ids=["wrong-password", "unknown-user", "malformed"],
)
async def test_bad_credentials(client: AppClient, headers: dict[str, str]) -> None:
    response = await get_token(client, headers, f"repository:{GUN}:pull")
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="notary-test"'
    assert (await response.json())["errors"][0]["code"] == "UNAUTHORIZED"


async def test_other_service_is_refused(client: AppClient) -> None:
    response = await client.get("/auth/token", params={"service": "registry"})
    assert response.status == 400


def test_parse_scopes() -> None:
    assert parse_scopes(["repository:127.0.0.1:5000/app:pull,push registry:catalog:*", "bad"]) == [
        Scope("repository", "127.0.0.1:5000/app", ("pull", "push")),
        Scope("registry", "catalog", ("*",)),
    ]
