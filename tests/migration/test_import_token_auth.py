"""``admin import`` from a source with token authentication, as Docker Hub's notary has.

The source (our server with its built-in issuer, so that the test needs no
network) answers anonymous reads with a Bearer challenge. The import asks the
realm for a token per repository scope, with ``NOTARY_AUTH`` as credentials,
and reads on; without credentials the realm refuses and the import says which
variable to set.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

import pytest

from testkit.gotools import AuthNotaryCLI, require_go_tools
from testkit.issuer import TestIssuer
from testkit.ourserver import OurNotaryServer
from tests.admin.cli import admin
from tests.migration.test_handover_token_auth import LOGIN, PASSWORD, USER, credentials

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.gotools


def test_import_answers_the_sources_token_challenge(tmp_path: Path) -> None:
    require_go_tools()
    issuer = TestIssuer(service="notary-server")
    builtin = issuer.builtin_server_auth(tmp_path, {USER: PASSWORD})
    auth = {"auth": builtin}
    guns = [f"example.com/token-source/{secrets.token_hex(4)}" for _ in range(2)]
    with (
        OurNotaryServer(tmp_path / "source", storage="sqlite3", extra_config=auth) as source,
        OurNotaryServer(tmp_path / "target", storage="sqlite3") as target,
    ):
        owner = AuthNotaryCLI(
            tmp_path / "owner", server_url=source.url, ca_path=source.ca_path, credentials=LOGIN
        )
        payload = tmp_path / "v1.bin"
        payload.write_bytes(b"v1")
        for gun in guns:
            owner.run("init", gun)
            owner.run("add", "-p", gun, "v1", payload)
        args = ("import", "--from", source.url, "--ca", str(source.ca_path), *guns)

        refused = admin(target.config_path, *args, env={"NOTARY_AUTH": ""})
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert "set NOTARY_AUTH" in refused.stdout
        assert "0 imported" in refused.stdout

        done = admin(target.config_path, *args, env={"NOTARY_AUTH": credentials()})
        assert done.returncode == 0, done.stdout + done.stderr
        assert "2 imported" in done.stdout
        for gun in guns:
            response = target.get(f"/v2/{gun}/_trust/tuf/targets.json")
            assert response.status == 200
            assert b'"v1"' in response.body
