"""Per-user rights per GUN prefix for the built-in issuer: ``auth.options.access`` (ADR 0027).

Without rules every htpasswd user may push or delete any repository. With
them the issuer grants each requested scope only what the matching rules
allow; anonymous pulls can be opened per prefix. Checked three ways: the rule
parser and the grant function; the token endpoint of the app (which actions
land in the token); and the real ``notary`` CLI against our server.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from notary_server.app import create_app
from notary_server.auth.access import (
    AccessRuleError,
    granted_actions,
    holds_everything,
    parse_access_rules,
)
from notary_server.auth.libtrust import jose_b64decode
from notary_server.config import ConfigError, load_config
from notary_server.console.settings import ConsoleConfig
from notary_server.storage.memory import MemoryMetaStore
from notary_server.trust.local import LocalCryptoService
from testkit.gotools import AuthNotaryCLI, require_go_tools
from testkit.issuer import TestIssuer
from testkit.ourserver import OurNotaryServer
from testkit.server_helpers import AppClient, make_config
from tests.auth.test_auth_config import write
from tests.auth.test_builtin_issuer import basic, get_token
from tests.console.test_console_security import BASE, login_csrf

if TYPE_CHECKING:
    from pytest_aiohttp import AiohttpClient

USERS = {"alice": "wonderland", "admin": "root-pw"}
RULES: list[dict[str, Any]] = [
    {"prefix": "example.com/team-a/", "users": ["alice"], "actions": ["pull", "push"]},
    {"prefix": "", "users": ["admin"], "actions": ["*"]},
    {"prefix": "example.com/public/", "anonymous": True, "users": ["*"], "actions": ["pull"]},
    {"type": "registry", "prefix": "catalog", "users": ["admin"], "actions": ["*"]},
]


# ---------------------------------------------------------------- the rules themselves


def test_grants_add_up_and_stay_within_what_was_asked() -> None:
    rules = parse_access_rules(RULES, "auth.options.access")
    team_a, public = "example.com/team-a/app", "example.com/public/app"
    assert granted_actions(rules, "alice", "repository", team_a, ["push", "pull"]) == (
        "push",
        "pull",
    )
    assert granted_actions(rules, "alice", "repository", team_a, ["*"]) == ()
    assert granted_actions(rules, "alice", "repository", "example.com/team-b/app", ["pull"]) == ()
    assert granted_actions(rules, "alice", "repository", public, ["pull", "push"]) == ("pull",)
    assert granted_actions(rules, "", "repository", public, ["pull"]) == ("pull",)
    assert granted_actions(rules, "", "repository", team_a, ["pull"]) == ()
    assert granted_actions(rules, "admin", "repository", team_a, ["*"]) == ("*",)
    assert granted_actions(rules, "alice", "registry", "catalog", ["*"]) == ()
    assert granted_actions(rules, "admin", "registry", "catalog", ["*"]) == ("*",)
    assert holds_everything(rules, "admin")
    assert not holds_everything(rules, "alice")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"prefix": ""}, r"auth\.options\.access: must be a list"),
        (["x"], r"access\[0\]: must be a map"),
        ([{"users": ["a"]}], r"access\[0\]\.actions: must be a list"),
        ([{"users": ["a"], "actions": []}], r"access\[0\]\.actions: must name"),
        ([{"actions": ["pull"]}], r"access\[0\]\.users: name users"),
        ([{"users": "alice", "actions": ["pull"]}], r"access\[0\]\.users: must be a list"),
        ([{"users": ["a"], "actions": ["pull"], "prefx": ""}], r"access\[0\]\.prefx: not a rule"),
        ([{"users": ["a"], "actions": ["pull"], "anonymous": "yes"}], r"anonymous: must be true"),
        ([{"users": ["a"], "actions": ["pull"], "prefix": 3}], r"prefix: must be a string"),
    ],
)
def test_malformed_rules_name_their_key(value: Any, message: str) -> None:
    with pytest.raises(AccessRuleError, match=message):
        parse_access_rules(value, "auth.options.access")


# ---------------------------------------------------------------- the token endpoint


@pytest.fixture
async def client(
    aiohttp_client: AiohttpClient, token_issuer: TestIssuer, tmp_path: Path, crypto: Any
) -> AppClient:
    auth = token_issuer.builtin_config(
        tmp_path, USERS, realm="https://notary.example.com/auth/token"
    )
    auth = dataclasses.replace(auth, access=parse_access_rules(RULES, "auth.options.access"))
    config = dataclasses.replace(make_config(), auth=auth)
    return await aiohttp_client(create_app(config, store=MemoryMetaStore(), crypto=crypto))


async def _granted(client: AppClient, headers: dict[str, str], *scopes: str) -> list[Any]:
    response = await get_token(client, headers, *scopes)
    assert response.status == 200, await response.text()
    claims = json.loads(jose_b64decode((await response.json())["token"].split(".")[1]))
    access: list[Any] = claims["access"]
    return access


async def test_the_token_holds_only_what_the_rules_allow(client: AppClient) -> None:
    alice = basic("alice", "wonderland")
    assert await _granted(
        client, alice, "repository:example.com/team-a/app:push,pull *", "registry:catalog:*"
    ) == [{"type": "repository", "name": "example.com/team-a/app", "actions": ["push", "pull"]}]
    assert await _granted(client, alice, "repository:example.com/team-b/app:push,pull") == []
    assert await _granted(client, {}, "repository:example.com/public/app:pull,push") == [
        {"type": "repository", "name": "example.com/public/app", "actions": ["pull"]}
    ]
    admin = basic("admin", "root-pw")
    assert await _granted(client, admin, "repository:example.com/team-b/app:*") == [
        {"type": "repository", "name": "example.com/team-b/app", "actions": ["*"]}
    ]


def test_rules_without_the_builtin_issuer_are_a_config_error(
    token_issuer: TestIssuer, tmp_path: Path
) -> None:
    options = token_issuer.options(tmp_path, realm="https://auth.example.com/token")
    path = write(tmp_path, {"type": "token", "options": options | {"access": RULES}})
    with pytest.raises(ConfigError, match=r"auth\.options\.access: rules apply to the built-in"):
        load_config(path, {})


# ---------------------------------------------------------------- the real notary CLI


def test_the_notary_cli_publishes_only_where_the_rules_allow(
    token_issuer: TestIssuer, tmp_path: Path
) -> None:
    require_go_tools()
    auth = token_issuer.builtin_server_auth(tmp_path, USERS)
    auth["options"]["access"] = RULES
    suffix = secrets.token_hex(3)
    team_a, team_b = f"example.com/team-a/{suffix}", f"example.com/team-b/{suffix}"
    public = f"example.com/public/{suffix}"
    extra = {"auth": auth}
    with OurNotaryServer(tmp_path / "ours", storage="sqlite3", extra_config=extra) as ours:

        def cli(name: str, login: str | None) -> AuthNotaryCLI:
            return AuthNotaryCLI(
                tmp_path / name, server_url=ours.url, ca_path=ours.ca_path, credentials=login
            )

        alice = cli("alice", "alice:wonderland")
        payload = tmp_path / "v1.bin"
        payload.write_bytes(b"v1")
        alice.run("init", team_a)
        alice.run("add", "-p", team_a, "v1", payload)
        refused = alice.run("init", "-p", team_b, check=False)
        assert refused.returncode != 0, refused

        admin = cli("admin", "admin:root-pw")
        admin.run("init", public)
        admin.run("add", "-p", public, "v1", payload)
        anonymous = cli("anonymous", None)
        assert [row.name for row in anonymous.list_targets(public)] == ["v1"]
        assert anonymous.run("list", team_a, check=False).returncode != 0


# ---------------------------------------------------------------- the console


async def test_the_console_takes_passwords_only_from_users_holding_everything(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    """A narrower user signs in with a token, whose scopes the console follows per GUN."""
    issuer = TestIssuer(service="notary-server")
    auth = issuer.builtin_config(tmp_path, USERS, realm="https://127.0.0.1/auth/token")
    auth = dataclasses.replace(auth, access=parse_access_rules(RULES, "auth.options.access"))
    config = dataclasses.replace(make_config(), auth=auth, console=ConsoleConfig(enabled=True))
    client = await aiohttp_client(
        create_app(config, store=MemoryMetaStore(), crypto=LocalCryptoService())
    )

    async def sign_in(user: str, password: str) -> Any:
        csrf = await login_csrf(client)
        form = {"csrf": csrf, "method": "password", "username": user, "password": password}
        return await client.post(f"{BASE}/login", data=form, allow_redirects=False)

    narrow = await sign_in("alice", "wonderland")
    assert narrow.status == 403
    assert "sign in with a token" in await narrow.text()
    assert "notary_console=" not in narrow.headers.get("Set-Cookie", "")
    assert (await sign_in("admin", "root-pw")).status == 303
