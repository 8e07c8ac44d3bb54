"""Reading the owner's private keys as the Go client writes them (``notary_server.handover``).

Go writes ECDSA keys as PKCS#8 version 1 without a public key, encrypted with
PBES2 (PBKDF2-HMAC-SHA1, AES-256-CBC), under PEM headers naming the role;
``cryptography`` alone refuses them. The files here come from the real
``notary`` CLI; one written by ``cryptography`` (PBKDF2-HMAC-SHA256) opens too.
"""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from notary_server.handover.keyfiles import (
    WrongPassphraseError,
    default_trust_dirs,
    open_key_file,
    scan_key_files,
)
from testkit.gotools import DEFAULT_PASSPHRASE, GoNotaryServer, NotaryCLI, require_go_tools

if TYPE_CHECKING:
    from pathlib import Path

    from notary_tuf.crypto import PrivateKey


def _spki(key: PrivateKey) -> bytes:
    return key.cryptography_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.gotools
def test_keys_written_by_the_notary_cli_open_with_their_passphrase(tmp_path: Path) -> None:
    require_go_tools()
    with GoNotaryServer(tmp_path / "go") as go:
        cli = NotaryCLI(tmp_path / "cli", server_url=go.url, ca_path=go.ca_path)
        key_id = cli.generate_key("root")
        files = scan_key_files([cli.trust_dir])
    assert [(f.path.stem, f.role, f.kind) for f in files] == [
        (key_id, "root", "ENCRYPTED PRIVATE KEY")
    ]
    opened = open_key_file(files[0], DEFAULT_PASSPHRASE)
    assert opened.public_key.keytype == "ecdsa"
    assert opened.public_key.key_id == key_id  # the file name is the public key's ID
    with pytest.raises(WrongPassphraseError):
        open_key_file(files[0], "not the passphrase")


def test_a_standard_pbes2_file_with_role_headers_opens(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"s3cret"),
    ).decode()
    first, rest = pem.split("\n", 1)
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "abc_root.key").write_text(f"{first}\nrole: root\n\n{rest}")
    (tmp_path / "private" / "broken.key").write_text("not a key")
    [found] = scan_key_files([tmp_path, tmp_path / "missing"])
    assert found.role == "root"
    assert _spki(open_key_file(found, "s3cret")) == key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(WrongPassphraseError):
        open_key_file(found, "wrong")


def test_default_trust_dirs_follow_home_and_docker_config(tmp_path: Path) -> None:
    assert default_trust_dirs({"HOME": str(tmp_path)}) == [
        tmp_path / ".notary",
        tmp_path / ".docker" / "trust",
    ]
    assert default_trust_dirs({"HOME": "/h", "DOCKER_CONFIG": str(tmp_path / "d")})[1] == (
        tmp_path / "d" / "trust"
    )


def test_the_handover_tool_loads_no_server_code() -> None:
    """The owner's machine needs ``notary_tuf`` and ``cryptography``, not aiohttp or asyncpg."""
    code = (
        "import sys, notary_server.handover.cli\n"
        "heavy = {'aiohttp', 'asyncpg', 'grpc', 'notary_server.app', 'notary_server.storage'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert proc.stdout.strip() == "[]"
