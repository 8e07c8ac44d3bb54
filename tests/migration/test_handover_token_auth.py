"""The hand-over against a server with token authentication (its built-in issuer).

The tool answers the Bearer challenge as the Go CLI does, with ``NOTARY_AUTH``
(base64 ``user:password``) as basic credentials at the realm, and asks again
when publishing needs the push scope. Without credentials it fails and says
which variable to set.
"""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from testkit.gotools import (
    DEFAULT_PASSPHRASE,
    AuthNotaryCLI,
    no_proxy_env,
    require_go_tools,
)
from testkit.issuer import TestIssuer
from testkit.ourserver import OurNotaryServer

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.gotools

USER, PASSWORD = "owner", "pw-for-the-handover"
LOGIN = f"{USER}:{PASSWORD}"


def credentials() -> str:
    return base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


def handover(server: OurNotaryServer, trust_dir: Path, gun: str, *, auth: str | None) -> str:
    env = no_proxy_env(os.environ) | {"NOTARY_ROOT_PASSPHRASE": DEFAULT_PASSPHRASE}
    env.pop("NOTARY_AUTH", None)
    if auth is not None:
        env["NOTARY_AUTH"] = auth
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "notary_server.handover",
            "-s",
            server.url,
            "--tlscacert",
            str(server.ca_path),
            "-d",
            str(trust_dir),
            gun,
        ],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )
    return f"rc={proc.returncode}\n{proc.stdout}{proc.stderr}"


def test_handover_through_the_token_challenge(tmp_path: Path) -> None:
    require_go_tools()
    issuer = TestIssuer(service="notary-server")
    builtin = issuer.builtin_server_auth(tmp_path, {USER: PASSWORD})
    auth = {"auth": builtin}
    gun = f"example.com/handover/{secrets.token_hex(4)}"
    with OurNotaryServer(tmp_path / "ours", storage="sqlite3", extra_config=auth) as ours:
        owner = AuthNotaryCLI(
            tmp_path / "owner", server_url=ours.url, ca_path=ours.ca_path, credentials=LOGIN
        )
        payload = tmp_path / "v1.bin"
        payload.write_bytes(b"v1")
        owner.run("init", gun)
        owner.run("add", "-p", gun, "v1", payload)  # snapshot signed by the owner

        refused = handover(ours, owner.trust_dir, gun, auth=None)
        assert refused.startswith("rc=1"), refused
        assert "set NOTARY_AUTH" in refused

        done = handover(ours, owner.trust_dir, gun, auth=credentials())
        assert done.startswith("rc=0"), done
        assert f"{gun}: handed over: published root v1 -> v2" in done
        payload.write_bytes(b"v2")
        owner.run("add", "-p", gun, "v2", payload)
        reader = AuthNotaryCLI(
            tmp_path / "reader", server_url=ours.url, ca_path=ours.ca_path, credentials=LOGIN
        )
        assert sorted(row.name for row in reader.list_targets(gun)) == ["v1", "v2"]
