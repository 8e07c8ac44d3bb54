"""One behaviour suite for every key store: memory | sqlite | postgres (Go keydbstore_test.go)."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from notary_signer.errors import KeyExistsError, KeyNotFoundError, KeyStoreError
from notary_signer.keystore import KeyRecord, KeyStore, MemoryKeyStore, open_keystore
from notary_signer.keystore.migrate import available_migrations, migrate_sqlite
from notary_signer.keystore.postgres import open_postgres
from notary_signer.keystore.sqlite import open_sqlite, parse_go_time


@pytest.fixture
async def store(backend: tuple[str, str], tmp_path: Path) -> AsyncIterator[KeyStore]:
    name, dsn = backend
    if name == "memory":
        yield MemoryKeyStore()
        return
    if name == "sqlite":
        sqlite_store = await open_sqlite(str(tmp_path / "keys.db"))
        yield sqlite_store
        await sqlite_store.close()
        return
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("TRUNCATE private_keys RESTART IDENTITY")
    finally:
        await conn.close()
    pg_store = await open_postgres(dsn)
    yield pg_store
    await pg_store.close()


def _record(key_id: str = "k1", **changes: object) -> KeyRecord:
    record = KeyRecord(
        key_id=key_id,
        algorithm="ecdsa",
        gun="gun",
        role="timestamp",
        public=b"\x00public\\bytes\xff",
        private=b"eyJ.private.blob",
        passphrase_alias="alias_1",
        encryption_alg="A256GCM",
        keywrap_alg="PBES2-HS256+A128KW",
    )
    return dataclasses.replace(record, **changes)  # type: ignore[arg-type]


async def test_add_and_get_roundtrip(store: KeyStore) -> None:
    await store.add(_record())
    got = await store.get("k1")
    assert got == _record()
    assert got.last_used is None
    assert "private" not in repr(got).replace("passphrase", "")


async def test_get_missing(store: KeyStore) -> None:
    with pytest.raises(KeyNotFoundError):
        await store.get("missing")


async def test_duplicate_key_id_refused(store: KeyStore) -> None:
    await store.add(_record())
    with pytest.raises(KeyExistsError):
        await store.add(_record(gun="other"))


async def test_pending_newest_same_gun_role_algorithm(store: KeyStore) -> None:
    for key_id in ("k3", "k1", "k2"):
        await store.add(_record(key_id))
    await store.add(_record("k9", gun="other"))
    await store.add(_record("z9", role="snapshot"))
    await store.add(_record("y9", algorithm="ed25519"))
    pending = await store.get_pending("gun", "timestamp", "ecdsa")
    assert pending is not None
    assert pending.key_id == "k2"  # the last inserted, not the lowest ID (Go's k1)
    assert await store.get_pending("gun", "targets", "ecdsa") is None


async def test_mark_used_takes_key_out_of_pending(store: KeyStore) -> None:
    await store.add(_record("k1"))
    await store.add(_record("k2"))
    when = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)
    await store.mark_used("k2", when)
    assert (await store.get("k2")).last_used == when
    pending = await store.get_pending("gun", "timestamp", "ecdsa")
    assert pending is not None
    assert pending.key_id == "k1"
    await store.mark_used("absent", when)  # no error


async def test_soft_delete(store: KeyStore) -> None:
    await store.add(_record())
    await store.delete("k1")
    await store.delete("k1")
    await store.delete("never")
    with pytest.raises(KeyNotFoundError):
        await store.get("k1")
    assert await store.get_pending("gun", "timestamp", "ecdsa") is None
    assert await store.list_for_rotation("other") == []
    with pytest.raises(KeyExistsError):  # the ID stays taken, as with Go's UNIQUE (key_id)
        await store.add(_record())


async def test_rotation_listing_and_compare_and_set(store: KeyStore) -> None:
    await store.add(_record("k2"))
    await store.add(_record("k1"))
    await store.add(_record("k3", passphrase_alias="new"))
    assert await store.list_for_rotation("new") == ["k1", "k2"]
    assert not await store.replace_encryption(
        "k1", private=b"x", alias="new", expected_alias="wrong"
    )
    assert await store.replace_encryption(
        "k1", private=b"re-encrypted", alias="new", expected_alias="alias_1"
    )
    got = await store.get("k1")
    assert (got.private, got.passphrase_alias) == (b"re-encrypted", "new")
    assert await store.list_for_rotation("new") == ["k2"]
    assert not await store.replace_encryption(
        "missing", private=b"x", alias="new", expected_alias="alias_1"
    )


async def test_health_and_close(store: KeyStore) -> None:
    await store.check_health()
    await store.close()
    await store.close()
    if not isinstance(store, MemoryKeyStore):
        with pytest.raises(KeyStoreError):
            await store.get("k1")


async def test_sqlite_reads_go_text_columns_and_times(tmp_path: Path) -> None:
    """Go binds its string fields as TEXT; go-sqlite3 writes times with 9 fraction digits."""
    db = tmp_path / "go.db"
    migrate_sqlite(str(db))
    conn = sqlite3.connect(db)
    conn.execute(
        "INSERT INTO private_keys (created_at, updated_at, key_id, encryption_alg, keywrap_alg,"
        " algorithm, passphrase_alias, gun, role, public, private, last_used)"
        " VALUES ('2024-01-01 00:00:00+00:00', NULL, 'k', 'A256GCM', 'PBES2-HS256+A128KW',"
        " 'ed25519', 'a', 'g', 'timestamp', 'pub', 'eyJ.x', '2024-01-02 03:04:05.123456789+00:00')"
    )
    conn.commit()
    conn.close()
    async with await open_keystore("sqlite3", str(db)) as store:
        got = await store.get("k")
    assert got.public == b"pub"
    assert got.private == b"eyJ.x"
    assert got.last_used == datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    assert parse_go_time("garbage") is None


def test_migrations_ship_go_ddl() -> None:
    (pg,) = available_migrations("postgresql")
    assert 'CONSTRAINT "key_id_2" UNIQUE ("key_id","algorithm")' in pg.sql
    assert [m.version for m in available_migrations("sqlite")] == [1]
