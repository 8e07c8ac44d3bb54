"""``make run-auth``: the launcher with token auth and the built-in issuer (issue #19).

The worked example the README describes, driven as a user drives it: the
launcher prints where the first user's password is and how to hand it to the
notary CLI; with it the real CLI publishes and lists, without it nothing is
served; a second user added with ``python -m notary_server admin htpasswd`` can
read after a restart.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from testkit.gotools import AuthNotaryCLI, free_port, require_go_tools
from tests.deploy.test_run_embedded import STARTUP_TIMEOUT, _stop, launcher

pytestmark = [pytest.mark.gotools, pytest.mark.timeout(300)]

GUN = "example.com/devstack/auth"


def test_run_auth_worked_example(tmp_path: Path) -> None:
    require_go_tools()
    data = tmp_path / "notary-data"
    server_port, signer_port = free_port(), free_port()
    url = f"https://127.0.0.1:{server_port}"
    ca = data / "certs" / "root-ca.crt"
    target = tmp_path / "v1.bin"
    target.write_bytes(b"behind token auth\n")

    with launcher(data, server_port, signer_port, "--auth") as run:
        out = run.read_until("admin htpasswd", STARTUP_TIMEOUT)
        password_file = data / "notary-password"
        assert f"user notary's password is in {password_file}" in out
        assert "export NOTARY_AUTH=$(printf 'notary:%s'" in out
        password = password_file.read_text().strip()
        assert password_file.stat().st_mode & 0o077 == 0

        notary = AuthNotaryCLI(
            tmp_path / "notary", server_url=url, ca_path=ca, credentials=f"notary:{password}"
        )
        notary.run("init", GUN, "-p")
        notary.run("add", GUN, "v1", target, "-p")
        assert [t.name for t in notary.list_targets(GUN)] == ["v1"]

        anonymous = AuthNotaryCLI(tmp_path / "anon", server_url=url, ca_path=ca, credentials=None)
        assert anonymous.run("list", GUN, check=False).returncode != 0
        wrong = AuthNotaryCLI(
            tmp_path / "wrong", server_url=url, ca_path=ca, credentials="notary:x"
        )
        assert wrong.run("list", GUN, check=False).returncode != 0

        added = subprocess.run(
            [
                sys.executable,
                "-m",
                "notary_server",
                "admin",
                "htpasswd",
                str(data / "htpasswd"),
                "bob",
                "--password-stdin",
            ],
            input="bobs-password\n",
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert (added.returncode, added.stdout) == (0, f"added user bob in {data / 'htpasswd'}\n")
        _stop(run)

    with launcher(data, server_port, signer_port, "--auth") as run:
        run.read_until("admin htpasswd", STARTUP_TIMEOUT)
        assert (data / "notary-password").read_text().strip() == password  # kept
        bob = AuthNotaryCLI(
            tmp_path / "bob", server_url=url, ca_path=ca, credentials="bob:bobs-password"
        )
        assert [t.name for t in bob.list_targets(GUN)] == ["v1"]
        _stop(run)
