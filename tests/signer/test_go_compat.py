"""Our key encryption and key database against the Go notary-signer 0.7 (Debian package).

The Go signer has no sqlite3 driver in this build (only mysql and postgres), so
these tests share a PostgreSQL database, created with Go's DDL, between the
Go signer and our code:

* the Go signer creates keys (through our generated stubs, over mutual TLS);
  our :mod:`notary_signer.jwe` decrypts the ``private`` column it wrote, the
  key parses in Go's layout, and its public bytes and ID match;
* our key service writes keys into the same table; the Go signer reads,
  decrypts and signs with them, and the signatures verify with ``notary_tuf``.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from notary_proto import signer_pb2, signer_pb2_grpc
from notary_signer import jwe
from notary_signer.config import Passphrases
from notary_signer.crypto import SignerKey
from notary_signer.keys import KeyService
from notary_signer.keystore.migrate import migrate_postgres
from notary_signer.keystore.postgres import open_postgres
from notary_tuf.crypto import verify_signature
from notary_tuf.keys import PublicKey
from testkit.pg import throwaway_database
from tests.signer.conftest import TLSFiles
from tests.signer.gosigner import SignerProcess, require_go_signer, sync_channel

pytestmark = [pytest.mark.gotools, pytest.mark.postgres]

ALIAS = "timestamp_1"
PASSPHRASE = "go-compat-passphrase"
ENV = {"NOTARY_SIGNER_TIMESTAMP_1": PASSPHRASE}


@pytest.fixture
def go_db(postgres_admin: str) -> Iterator[str]:
    with throwaway_database(postgres_admin, "notary_signer_gocompat") as dsn:
        asyncio.run(migrate_postgres(dsn))
        yield dsn


@pytest.fixture
def go_signer(go_db: str, tls_files: TLSFiles, tmp_path: Path) -> Iterator[SignerProcess]:
    require_go_signer()
    storage = {
        "backend": "postgres",
        "db_url": f"{go_db}?sslmode=disable",
        "default_alias": ALIAS,
    }
    with SignerProcess(tmp_path / "go", tls_files, storage, ENV, go=True) as proc:
        yield proc


async def _rows(dsn: str) -> dict[str, asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT * FROM private_keys")
    finally:
        await conn.close()
    return {row["key_id"]: row for row in rows}


@pytest.mark.parametrize("algorithm", ["ecdsa", "ed25519"])
def test_we_decrypt_keys_the_go_signer_wrote(
    go_signer: SignerProcess, go_db: str, tls_files: TLSFiles, algorithm: str
) -> None:
    with sync_channel(tls_files, go_signer.port) as channel:
        km = signer_pb2_grpc.KeyManagementStub(channel)
        created = km.CreateKey(
            signer_pb2.CreateKeyRequest(algorithm=algorithm, gun="example/go", role="timestamp"),
            timeout=10,
        )
    key_id = created.keyInfo.keyID.ID
    row = _rows_sync(go_db)[key_id]
    assert row["passphrase_alias"] == ALIAS
    assert (row["encryption_alg"], row["keywrap_alg"]) == ("A256GCM", "PBES2-HS256+A128KW")
    assert row["last_used"] is None
    assert bytes(row["public"]) == created.publicKey

    blob = bytes(row["private"])
    header = json.loads(base64.urlsafe_b64decode(blob.split(b".")[0] + b"=="))
    assert list(header) == ["alg", "enc", "p2c", "p2s"]  # Go's sorted map keys
    assert header["p2c"] == jwe.P2C
    assert len(base64.urlsafe_b64decode(header["p2s"] + "==")) == jwe.SALT_SIZE

    plaintext = jwe.decrypt(blob, PASSPHRASE)
    key = SignerKey.from_private_bytes(algorithm, plaintext)
    assert key.key_id == key_id
    assert key.public_key.public == created.publicKey
    assert key.private_bytes() == plaintext  # we re-serialise exactly Go's layout
    if algorithm == "ed25519":
        assert len(plaintext) == 96


def _rows_sync(dsn: str) -> dict[str, asyncpg.Record]:
    return asyncio.run(_rows(dsn))


async def _our_key(dsn: str, algorithm: str, gun: str) -> tuple[str, bytes]:
    store = await open_postgres(dsn)
    try:
        keys = KeyService(store, Passphrases(ENV), ALIAS)
        info = await keys.create_key(algorithm, gun, "timestamp")
    finally:
        await store.close()
    return info.key_id, info.public


async def _sign_with_ours(dsn: str, key_id: str, message: bytes) -> bytes:
    store = await open_postgres(dsn)
    try:
        _, signature = await KeyService(store, Passphrases(ENV), ALIAS).sign(key_id, message)
    finally:
        await store.close()
    return signature


@pytest.mark.parametrize(("algorithm", "method"), [("ecdsa", "ecdsa"), ("ed25519", "eddsa")])
def test_go_signer_signs_with_keys_we_wrote(
    go_signer: SignerProcess, go_db: str, tls_files: TLSFiles, algorithm: str, method: str
) -> None:
    key_id, public_bytes = asyncio.run(_our_key(go_db, algorithm, "example/ours"))
    public = PublicKey(algorithm, public_bytes)
    message = b'{"signed":{"_type":"Timestamp","version":2}}'
    with sync_channel(tls_files, go_signer.port) as channel:
        km = signer_pb2_grpc.KeyManagementStub(channel)
        info = km.GetKeyInfo(signer_pb2.KeyID(ID=key_id), timeout=10)
        assert (info.role, info.publicKey) == ("timestamp", public_bytes)
        assert info.keyInfo.algorithm.algorithm == algorithm
        # Go's SQL store hands out our pending key rather than minting one.
        reused = km.CreateKey(
            signer_pb2.CreateKeyRequest(algorithm=algorithm, gun="example/ours", role="timestamp"),
            timeout=10,
        )
        assert key_id == reused.keyInfo.keyID.ID
        sig = signer_pb2_grpc.SignerStub(channel).Sign(
            signer_pb2.SignatureRequest(keyID=signer_pb2.KeyID(ID=key_id), content=message),
            timeout=10,
        )
    assert sig.algorithm.algorithm == method
    verify_signature(public, method, message, sig.content)
    assert _rows_sync(go_db)[key_id]["last_used"] is not None  # Go marked our key active


def test_our_service_signs_with_go_keys(
    go_signer: SignerProcess, go_db: str, tls_files: TLSFiles
) -> None:
    with sync_channel(tls_files, go_signer.port) as channel:
        created = signer_pb2_grpc.KeyManagementStub(channel).CreateKey(
            signer_pb2.CreateKeyRequest(algorithm="ecdsa", gun="example/go2", role="snapshot"),
            timeout=10,
        )
    message = b"canonical bytes"
    signature = asyncio.run(_sign_with_ours(go_db, created.keyInfo.keyID.ID, message))
    verify_signature(PublicKey("ecdsa", created.publicKey), "ecdsa", message, signature)
