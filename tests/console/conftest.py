"""A real server with the console on, repositories published with the real notary CLI, a browser.

One server per module (sqlite3, TLS, token auth with the built-in issuer, the
console enabled); the CLI signs in with ``NOTARY_AUTH`` as in
``tests/auth/test_notary_cli_token_auth.py``. Tokens for restricted users are
minted by the test issuer whose key the server trusts.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from testkit.gotools import AuthNotaryCLI, make_delegation_key, require_go_tools
from testkit.issuer import TestIssuer
from testkit.ourserver import OurNotaryServer
from tests.console.browser import new_driver, require_browser

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from selenium.webdriver.remote.webdriver import WebDriver

ADMIN, ADMIN_PASSWORD = "admin", "console-admin-pw"
CONSOLE = "/_notary_server/console"
RELEASES = "targets/releases"


@dataclass
class ConsoleServer:
    """The running server, its token issuer and what was published."""

    server: OurNotaryServer
    issuer: TestIssuer
    workdir: Path
    guns: dict[str, str] = field(default_factory=dict)
    clis: dict[str, AuthNotaryCLI] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return self.server.url + CONSOLE

    def cli(self, name: str) -> AuthNotaryCLI:
        if name not in self.clis:
            self.clis[name] = AuthNotaryCLI(
                self.workdir / "cli" / name,
                server_url=self.server.url,
                ca_path=self.server.ca_path,
                credentials=f"{ADMIN}:{ADMIN_PASSWORD}",
            )
        return self.clis[name]

    def token(self, access: list[tuple[str, str, tuple[str, ...]]], subject: str) -> str:
        return self.issuer.token(access, subject=subject, lifetime=3600)


def console_config(issuer: TestIssuer, workdir: Path) -> dict[str, Any]:
    builtin = issuer.builtin_server_auth(workdir, {ADMIN: ADMIN_PASSWORD})
    return {"auth": builtin, "console": {"enabled": True}}


def publish(console: ConsoleServer) -> None:
    """Three repositories: one with tags and a delegation, one plain, one with a hostile name."""
    suffix = secrets.token_hex(3)
    owner = console.cli("owner")
    payloads = console.workdir / "payloads"
    payloads.mkdir(exist_ok=True)

    def payload(name: str, body: bytes) -> Path:
        path = payloads / name
        path.write_bytes(body)
        return path

    app = f"example.com/console-{suffix}/app"
    owner.run("init", "-p", app)
    owner.run("add", "-p", app, "v1", payload("v1", b"one\n"))
    owner.run("add", "-p", app, "v2", payload("v2", b"two\n"))
    owner.rotate_key(app, "snapshot", server_managed=True)
    releases = make_delegation_key(console.workdir / "delegation", "releases")
    owner.run("delegation", "add", "-p", app, RELEASES, releases.cert_path, "--all-paths")
    signer = console.cli("releaser")
    signer.import_key(releases.key_path, role=RELEASES)
    signer.run("add", "-p", app, "v3", payload("v3", b"three\n"), "--roles", RELEASES)
    signer.run("add", "-p", app, "v2", payload("v2", b"two\n"), "--roles", RELEASES)
    console.guns["app"] = app

    other = f"example.com/console-{suffix}/other"
    owner.run("init", "-p", other)
    owner.run("add", "-p", other, "secret-tag", payload("s", b"secret\n"))
    console.guns["other"] = other

    hostile = f'example.com/console-{suffix}/x"><img/src/onerror=alert(1)>'
    owner.run("init", "-p", hostile)
    owner.run("add", "-p", hostile, '<script>alert("t")</script>', payload("h", b"hostile\n"))
    console.guns["hostile"] = hostile

    doomed = f"example.com/console-{suffix}/doomed"
    owner.run("init", "-p", doomed)
    owner.run("add", "-p", doomed, "v1", payload("d", b"doomed\n"))
    console.guns["doomed"] = doomed


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleServer]:
    require_go_tools()
    require_browser()
    workdir = tmp_path_factory.mktemp("console")
    issuer = TestIssuer(service="notary-server")
    config = console_config(issuer, workdir)
    with OurNotaryServer(workdir, storage="sqlite3", extra_config=config) as server:
        running = ConsoleServer(server=server, issuer=issuer, workdir=workdir)
        publish(running)
        yield running


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    require_browser()
    browser = new_driver()
    try:
        yield browser
    finally:
        browser.quit()
