"""``python -m notary_server admin htpasswd``: users for the built-in issuer without Apache.

The file it writes is what :class:`notary_server.auth.htpasswd.Htpasswd` (the
issuer) reads: bcrypt hashes, one cost per file, replaced atomically, private
when new. Bad input is refused with exit status 2 and the file left alone.
"""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from notary_server.auth.htpasswd import Htpasswd, bcrypt_cost


def _htpasswd(*args: str | Path, password: str | None = None) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "notary_server", "admin", "htpasswd", *map(str, args)]
    return subprocess.run(
        argv,
        input=None if password is None else password + "\n",
        stdin=subprocess.DEVNULL if password is None else None,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_add_update_delete(tmp_path: Path) -> None:
    path = tmp_path / "htpasswd"
    added = _htpasswd(path, "alice", "--password-stdin", "--cost", "5", password="first pw")
    assert (added.returncode, added.stdout) == (0, f"added user alice in {path}\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    bob = _htpasswd(path, "bob", "--password-stdin", password="bobs pw")
    assert bob.returncode == 0, bob.stderr
    updated = _htpasswd(path, "alice", "--password-stdin", password="second pw")
    assert updated.stdout == f"updated user alice in {path}\n"

    users = Htpasswd.load(path)
    assert len(users) == 2
    assert users.check("alice", "second pw")
    assert not users.check("alice", "first pw")
    assert users.check("bob", "bobs pw")
    hashes = [line.split(":", 1)[1].encode() for line in path.read_text().splitlines()]
    assert {bcrypt_cost(h) for h in hashes} == {5}  # new hashes follow the file's cost

    deleted = _htpasswd(path, "bob", "--delete")
    assert deleted.stdout == f"deleted user bob in {path}\n"
    assert not Htpasswd.load(path).check("bob", "bobs pw")


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (("bad:name", "--password-stdin"), "pw", "invalid user name 'bad:name'"),
        (("carol", "--password-stdin"), "", "the password is empty"),
        (("carol",), None, "no terminal to ask for the password: use --password-stdin"),
        (("nobody", "--delete"), None, "has no user 'nobody'"),
        (("carol", "--password-stdin", "--cost", "3"), "pw", "--cost: must be between 4 and 31"),
    ],
)
def test_refusals_leave_the_file_alone(
    tmp_path: Path, args: tuple[str, ...], password: str | None, message: str
) -> None:
    path = tmp_path / "htpasswd"
    assert _htpasswd(path, "alice", "--password-stdin", password="pw").returncode == 0
    before = path.read_bytes()
    result = _htpasswd(path, *args, password=password)
    assert result.returncode == 2
    assert result.stderr.startswith("notary_server admin htpasswd: ")
    assert message in result.stderr
    assert path.read_bytes() == before
