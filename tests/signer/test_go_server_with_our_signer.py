"""The Go notary-server 0.7 using our signer (``python -m notary_signer``) as its trust service.

Our signer runs as a process from a ``signer-config.json`` (sqlite3 backend,
mutual TLS); the Go server is pointed at it with ``trust_service.type=remote``
and a client certificate. The Go server then creates its timestamp keys with
our ``CreateKey``, checks them with ``GetKeyInfo`` and signs every timestamp
with our ``Sign``; the real ``notary`` CLI verifies the result.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from notary_proto import signer_pb2, signer_pb2_grpc
from notary_tuf.keys import PublicKey
from testkit.gotools import GoNotaryServer, NotaryCLI, require_go_tools
from tests.signer.conftest import TLSFiles
from tests.signer.gosigner import SignerProcess, sync_channel

pytestmark = pytest.mark.gotools

GUN = "example.com/ours/signed-by-python"


@pytest.fixture
def our_signer(tls_files: TLSFiles, tmp_path: Path) -> Iterator[SignerProcess]:
    storage = {
        "backend": "sqlite3",
        "db_url": str(tmp_path / "signer.db"),
        "default_alias": "timestamp_1",
    }
    env = {"NOTARY_SIGNER_TIMESTAMP_1": "python-signer-pass"}
    with SignerProcess(tmp_path / "ours", tls_files, storage, env, go=False) as proc:
        yield proc


@pytest.fixture
def go_server(
    our_signer: SignerProcess, tls_files: TLSFiles, tmp_path: Path
) -> Iterator[GoNotaryServer]:
    require_go_tools()
    trust_service = {
        "type": "remote",
        "hostname": "127.0.0.1",
        "port": str(our_signer.port),
        "tls_ca_file": str(tls_files.ca_file),
        "tls_client_cert": str(tls_files.client_cert_file),
        "tls_client_key": str(tls_files.client_key_file),
        "key_algorithm": "ecdsa",
    }
    with GoNotaryServer(tmp_path / "server", trust_service=trust_service) as server:
        yield server


def test_go_server_uses_our_signer(
    go_server: GoNotaryServer, our_signer: SignerProcess, tls_files: TLSFiles, tmp_path: Path
) -> None:
    status, _, body = go_server.get(f"/v2/{GUN}/_trust/tuf/timestamp.key")
    assert status == 200, body
    served = PublicKey.from_dict(json.loads(body))
    assert served.keytype == "ecdsa"
    with sync_channel(tls_files, our_signer.port) as channel:
        info = signer_pb2_grpc.KeyManagementStub(channel).GetKeyInfo(
            signer_pb2.KeyID(ID=served.key_id), timeout=10
        )
    assert info.publicKey == served.public
    assert info.role == "timestamp"

    alice = NotaryCLI(tmp_path / "alice", server_url=go_server.url, ca_path=go_server.ca_path)
    target = tmp_path / "v1.bin"
    target.write_bytes(b"signed by the python signer\n")
    alice.run("init", GUN, "-p")
    alice.run("add", GUN, "v1", target, "-p")

    bob = NotaryCLI(tmp_path / "bob", server_url=go_server.url, ca_path=go_server.ca_path)
    listing = bob.list_targets(GUN)
    assert [(row.name, row.length) for row in listing] == [("v1", target.stat().st_size)]

    cached = bob.cached_metadata(GUN)
    timestamp = json.loads(cached["timestamp"])
    (signature,) = timestamp["signatures"]
    # Go's server sends no create mode, so our signer made alice's init a key of its own
    # (not the one served above): the root names it, and our signer holds it.
    (listed,) = json.loads(cached["root"])["signed"]["roles"]["timestamp"]["keyids"]
    assert signature["keyid"] == listed != served.key_id
    with sync_channel(tls_files, our_signer.port) as channel:
        held = signer_pb2_grpc.KeyManagementStub(channel).GetKeyInfo(
            signer_pb2.KeyID(ID=listed), timeout=10
        )
    assert held.role == "timestamp"
    assert signature["method"] == "ecdsa"
    assert "Sign: signed" in our_signer.log
