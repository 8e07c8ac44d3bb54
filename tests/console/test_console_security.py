"""The console's access rules in process: sessions, CSRF, headers, visibility, configuration.

The browser tests (``test_console_browser.py``) show the same rules through
real pages; these pin each rule down directly and quickly.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from typing import TYPE_CHECKING

import pytest

from notary_server.app import create_app
from notary_server.config import ConfigError, load_config
from notary_server.console.mount import CONTENT_SECURITY_POLICY
from notary_server.console.settings import ConsoleConfig
from notary_server.storage.memory import MemoryMetaStore
from notary_server.trust.local import LocalCryptoService
from testkit.issuer import TestIssuer
from testkit.server_helpers import AppClient, make_config, publish_new

if TYPE_CHECKING:
    from pathlib import Path

    from pytest_aiohttp import AiohttpClient

BASE = "/_notary_server/console"
VISIBLE, HIDDEN = "example.com/team/visible", "example.com/team/hidden"
VIEW = ("registry", "console", ("view",))


@pytest.fixture
def issuer() -> TestIssuer:
    return TestIssuer(service="notary-server")


@pytest.fixture
async def client(aiohttp_client: AiohttpClient, issuer: TestIssuer, tmp_path: Path) -> AppClient:
    store, crypto = MemoryMetaStore(), LocalCryptoService()
    plain = await aiohttp_client(create_app(make_config(), store=store, crypto=crypto))
    for gun in (VISIBLE, HIDDEN):
        await publish_new(plain, gun)
    auth = issuer.builtin_config(
        tmp_path, {"admin": "pw-admin"}, realm="https://127.0.0.1/auth/token"
    )
    config = dataclasses.replace(make_config(), auth=auth, console=ConsoleConfig(enabled=True))
    return await aiohttp_client(create_app(config, store=store, crypto=crypto))


async def login_csrf(client: AppClient) -> str:
    response = await client.get(f"{BASE}/login")
    assert response.status == 200
    found = re.search(r'name="csrf" value="([^"]+)"', await response.text())
    assert found
    return found[1]


async def sign_in(client: AppClient) -> str:
    """Sign in as the htpasswd user; return the session's CSRF token."""
    csrf = await login_csrf(client)
    response = await client.post(
        f"{BASE}/login",
        data={"csrf": csrf, "method": "password", "username": "admin", "password": "pw-admin"},
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert f"Path={BASE}/" in cookie
    page = await (await client.get(f"{BASE}/recovery?gun={VISIBLE}")).text()
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found
    return found[1]


async def test_every_page_carries_the_security_headers(client: AppClient) -> None:
    response = await client.get(f"{BASE}/login")
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "script-src" not in CONTENT_SECURITY_POLICY  # default-src 'none': no script at all
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    redirect = await client.get(f"{BASE}/repositories", allow_redirects=False)
    assert redirect.status == 303
    assert redirect.headers["Location"] == f"{BASE}/login"
    assert redirect.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


async def test_login_needs_the_form_token_and_the_password(client: AppClient) -> None:
    data = {"method": "password", "username": "admin", "password": "pw-admin"}
    fresh = await client.post(f"{BASE}/login", data=data | {"csrf": "forged"})
    assert fresh.status == 403
    csrf = await login_csrf(client)
    wrong = await client.post(f"{BASE}/login", data=data | {"csrf": csrf, "password": "nope"})
    assert wrong.status == 401
    assert "notary_console=" not in wrong.headers.get("Set-Cookie", "")


async def test_a_tampered_session_is_no_session(client: AppClient) -> None:
    await sign_in(client)
    assert (await client.get(f"{BASE}/repositories")).status == 200
    cookie = client.session.cookie_jar.filter_cookies(client.make_url(f"{BASE}/"))
    value = cookie["notary_console"].value
    payload, mac = value.split(".")
    session = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = base64.urlsafe_b64encode(json.dumps(session | {"s": "mallory"}).encode())
    client.session.cookie_jar.update_cookies(
        {"notary_console": forged.decode().rstrip("=") + "." + mac}, client.make_url(f"{BASE}/")
    )
    response = await client.get(f"{BASE}/repositories", allow_redirects=False)
    assert response.status == 303


async def test_actions_need_the_sessions_csrf_token(client: AppClient) -> None:
    csrf = await sign_in(client)
    data = {"gun": VISIBLE, "confirm": VISIBLE, "digest": "x"}
    refused = await client.post(f"{BASE}/recovery", data=data | {"csrf": "wrong"})
    assert refused.status == 403
    stale = await client.post(f"{BASE}/recovery", data=data | {"csrf": csrf})
    assert stale.status == 409  # the dry run's digest is wrong: nothing removed
    assert (await client.get(f"/v2/{VISIBLE}/_trust/tuf/root.json")).status == 401
    logout = await client.post(f"{BASE}/logout", data={"csrf": "wrong"})
    assert logout.status == 403


async def test_a_bearer_token_sees_only_its_repositories(
    client: AppClient, issuer: TestIssuer
) -> None:
    token = issuer.token([VIEW, ("repository", VISIBLE, ("pull",))], subject="carol")
    headers = {"Authorization": f"Bearer {token}"}
    listing = await (await client.get(f"{BASE}/repositories", headers=headers)).text()
    assert VISIBLE in listing
    assert HIDDEN not in listing
    for query in ("example.com/", HIDDEN, "example.com/team/h"):
        page = await (
            await client.get(f"{BASE}/repositories", params={"q": query}, headers=headers)
        ).text()
        assert HIDDEN not in page.replace(query, "")
    hidden = await client.get(f"{BASE}/repository", params={"gun": HIDDEN}, headers=headers)
    absent = await client.get(f"{BASE}/repository", params={"gun": HIDDEN + "x"}, headers=headers)
    assert hidden.status == absent.status == 404
    assert (await hidden.text()).replace(HIDDEN, "") == (await absent.text()).replace(
        HIDDEN + "x", ""
    )
    expiring = await (await client.get(f"{BASE}/expiring?within=3650", headers=headers)).text()
    assert HIDDEN not in expiring
    assert (await client.get(f"{BASE}/server", headers=headers)).status == 403
    purge = await client.post(
        f"{BASE}/recovery", data={"gun": VISIBLE, "confirm": VISIBLE}, headers=headers
    )
    assert purge.status == 404  # pull is not enough to purge
    no_scope = issuer.token([("repository", VISIBLE, ("pull",))], subject="dave")
    refused = await client.get(
        f"{BASE}/repositories", headers={"Authorization": f"Bearer {no_scope}"}
    )
    assert refused.status == 403


async def test_the_console_is_off_unless_enabled(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(create_app(make_config(), store=MemoryMetaStore()))
    response = await client.get(f"{BASE}/login")
    assert response.status == 404
    assert response.content_type == "application/json"


def write_config(tmp_path: Path, console: dict[str, object], **extra: object) -> Path:
    document = {
        "server": {"http_addr": "127.0.0.1:4443"},
        "trust_service": {"type": "local"},
        "storage": {"backend": "memory"},
        "console": console,
        **extra,
    }
    path = tmp_path / "server-config.json"
    path.write_text(json.dumps(document))
    return path


def test_config_refuses_a_console_without_token_auth(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r'console\.enabled: the console needs auth\.type "token"'
    ):
        load_config(write_config(tmp_path, {"enabled": True}), {})
    assert not load_config(write_config(tmp_path, {}), {}).console.enabled


def test_config_reads_the_console_keys(tmp_path: Path, issuer: TestIssuer) -> None:
    auth = {"type": "token", "options": issuer.options(tmp_path)}
    config = load_config(
        write_config(tmp_path, {"enabled": True, "session_ttl": 600}, auth=auth), {}
    )
    assert config.console == ConsoleConfig(enabled=True, login=("token",), session_ttl=600)
    with pytest.raises(ConfigError, match=r"console\.login: 'sso' is not one of"):
        load_config(write_config(tmp_path, {"enabled": True, "login": ["sso"]}, auth=auth), {})
    with pytest.raises(ConfigError, match=r"console\.login: password sign-in needs"):
        load_config(write_config(tmp_path, {"enabled": True, "login": ["password"]}, auth=auth), {})
    with pytest.raises(ConfigError, match=r"console\.session_ttl: must be between"):
        load_config(write_config(tmp_path, {"enabled": True, "session_ttl": 0}, auth=auth), {})


async def test_failed_sign_ins_count_against_the_issuers_limit(
    aiohttp_client: AiohttpClient, issuer: TestIssuer, tmp_path: Path
) -> None:
    htpasswd, key, cert = issuer.write_builtin_files(tmp_path, {"admin": "pw-admin"})
    auth = issuer.config(
        tmp_path,
        realm="https://127.0.0.1/auth/token",
        htpasswd=htpasswd,
        issuer_key=key,
        issuer_cert=cert,
        login_user_burst=1,
    )
    config = dataclasses.replace(make_config(), auth=auth, console=ConsoleConfig(enabled=True))
    client = await aiohttp_client(create_app(config, store=MemoryMetaStore()))
    data = {"method": "password", "username": "admin", "password": "wrong"}
    first = await client.post(f"{BASE}/login", data=data | {"csrf": await login_csrf(client)})
    assert first.status == 401
    second = await client.post(
        f"{BASE}/login", data=data | {"csrf": await login_csrf(client), "password": "pw-admin"}
    )
    assert second.status == 429  # refused before the password is checked
    assert "Retry-After" in second.headers
