"""The real ``notary`` CLI through the whole token challenge flow against our server.

Our server runs with ``auth.type: token`` and its built-in issuer (``autoredirect``,
so the realm is ``https://<host>/auth/token`` on the server itself). The CLI pings
``/v2/``, gets the Bearer challenge, fetches a token from the realm with HTTP
Basic credentials (``NOTARY_AUTH`` = base64 ``user:password``, ``cmd/notary/tuf.go``
``passwordStore``) and sends it on every request. Read-only commands first try an
anonymous token (which grants nothing here), then retry with the credentials.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

import pytest

from testkit.gotools import AuthNotaryCLI, require_go_tools
from testkit.issuer import TestIssuer
from testkit.ourserver import OurNotaryServer

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.gotools

USER, PASSWORD = "alice", "s3cret-pw"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OurNotaryServer]:
    require_go_tools()
    workdir = tmp_path_factory.mktemp("token-auth-server")
    issuer = TestIssuer(service="notary-server")
    builtin = issuer.builtin_server_auth(workdir, {USER: PASSWORD})
    auth = {"auth": builtin}
    with OurNotaryServer(workdir, storage="sqlite3", extra_config=auth) as srv:
        yield srv


def cli(server: OurNotaryServer, basedir: Path, credentials: str | None) -> AuthNotaryCLI:
    return AuthNotaryCLI(
        basedir, server_url=server.url, ca_path=server.ca_path, credentials=credentials
    )


def test_challenge_flow(server: OurNotaryServer, tmp_path: Path) -> None:
    gun = f"example.com/auth/{secrets.token_hex(4)}"
    owner = cli(server, tmp_path / "owner", f"{USER}:{PASSWORD}")
    owner.run("init", "-p", gun)
    payload = tmp_path / "payload.txt"
    payload.write_bytes(b"hello token auth\n")
    owner.run("add", "-p", gun, "v1", payload)

    reader = cli(server, tmp_path / "reader", f"{USER}:{PASSWORD}")
    assert [t.name for t in reader.list_targets(gun)] == ["v1"]

    anonymous = cli(server, tmp_path / "anonymous", None)
    result = anonymous.run("list", gun, check=False)
    assert result.returncode != 0
    assert "v1" not in result.stdout

    wrong = cli(server, tmp_path / "wrong", f"{USER}:not-the-password")
    result = wrong.run("list", gun, check=False)
    assert result.returncode != 0

    # a token from the realm is the only way in: the raw API refuses a bare request
    status, headers, _ = server.get(f"/v2/{gun}/_trust/tuf/root.json")
    assert status == 401
    assert headers["WWW-Authenticate"] == (
        f'Bearer realm="https://127.0.0.1:{server.port}/auth/token",service="notary-server",'
        f'scope="repository:{gun}:pull"'
    )


def test_admin_commands_need_star(server: OurNotaryServer, tmp_path: Path) -> None:
    """``delete --remote`` asks for ``*``; the built-in issuer grants users all they ask."""
    gun = f"example.com/auth/{secrets.token_hex(4)}"
    owner = cli(server, tmp_path / "owner", f"{USER}:{PASSWORD}")
    owner.run("init", "-p", gun)
    owner.run("key", "rotate", gun, "snapshot", "-r")
    owner.run("delete", gun, "--remote")
    status, _, _ = server.get(f"/v2/{gun}/_trust/tuf/root.json")
    assert status == 401
