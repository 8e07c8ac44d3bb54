"""PostgreSQL specifics: migrations, Go-era databases, races, soft-deleted rows."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import asyncpg
import pytest

from notary_server.storage import NotFoundError, OldVersionError, StorageError, open_store
from notary_server.storage.base import MetaUpdate
from notary_server.storage.migrate import (
    MigrationError,
    available_migrations,
    migrate,
    migrate_postgres,
)
from notary_server.storage.postgres import PostgresMetaStore, connect
from testkit.pg import create_database, drop_database
from tests.server.storage.go_schema import GO_0001_INITIAL, GO_0002_CHANGEFEED, GOLANG_MIGRATE_TABLE

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

pytestmark = pytest.mark.postgres

# Our migrations after Go's two (0003 change notification, 0004 audit, ...).
AFTER_GO = [m.version for m in available_migrations("postgresql") if m.version > 2]
LATEST = available_migrations("postgresql")[-1].version


@pytest.fixture
async def empty_db(postgres_admin_dsn: str) -> AsyncIterator[str]:
    """A new database with no tables, dropped afterwards."""
    dsn = await create_database(postgres_admin_dsn, "notary_test_migrate")
    try:
        yield dsn
    finally:
        await drop_database(postgres_admin_dsn, dsn)


async def execute(dsn: str, *statements: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def fetch(dsn: str, query: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(query)
    finally:
        await conn.close()


async def go_timestamp_row(dsn: str, gun: str, version: int) -> None:
    """A timestamp row as Go's gorm writes it."""
    data = f"{gun} timestamp {version}".encode()
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "INSERT INTO tuf_files (created_at, updated_at, gun, role, version, data, sha256) "
            "VALUES (now(), now(), $1, 'timestamp', $2, $3, $4)",
            gun,
            version,
            data,
            hashlib.sha256(data).hexdigest(),
        )
    finally:
        await conn.close()


async def assert_store_works(dsn: str) -> None:
    store = await connect(dsn)
    try:
        await store.check_health()
        await store.update_many("gun", [MetaUpdate(role="timestamp", version=99, data=b"ts")])
        assert (await store.get_current("gun", "timestamp")).data == b"ts"
        assert (await store.get_changes(-1, 1, None))[0].version == 99
    finally:
        await store.close()


# Migrations


async def test_migrate_fresh_database(empty_db: str) -> None:
    assert await migrate_postgres(empty_db) == [1, 2, *AFTER_GO]
    rows = await fetch(empty_db, "SELECT version, dirty FROM schema_migrations")
    assert [tuple(row) for row in rows] == [(LATEST, False)]
    assert await migrate_postgres(empty_db) == []
    categories = await fetch(empty_db, "SELECT category FROM change_category ORDER BY 1")
    assert [row[0] for row in categories] == ["deletion", "update"]
    await assert_store_works(empty_db)


async def test_migrate_dispatches_on_go_backend_name(empty_db: str) -> None:
    assert await migrate("postgres", empty_db) == [1, 2, *AFTER_GO]
    with pytest.raises(StorageError, match="no migrations"):
        await migrate("mysql", empty_db)


async def test_migrate_recognises_golang_migrate_database(empty_db: str) -> None:
    await execute(
        empty_db,
        GO_0001_INITIAL,
        GO_0002_CHANGEFEED,
        GOLANG_MIGRATE_TABLE,
        "INSERT INTO schema_migrations (version, dirty) VALUES (2, false)",
    )
    assert await migrate_postgres(empty_db) == AFTER_GO
    await assert_store_works(empty_db)


async def test_migrate_baselines_go_database_without_version_row(empty_db: str) -> None:
    await execute(empty_db, GO_0001_INITIAL, GO_0002_CHANGEFEED)
    await go_timestamp_row(empty_db, "gun", 1)
    await execute(
        empty_db,
        "INSERT INTO changefeed (gun, version, sha256) SELECT gun, version, sha256 FROM tuf_files",
    )
    assert await migrate_postgres(empty_db) == AFTER_GO
    rows = await fetch(empty_db, "SELECT version, dirty FROM schema_migrations")
    assert [tuple(row) for row in rows] == [(LATEST, False)]
    # The back-fill was not run a second time.
    assert len(await fetch(empty_db, "SELECT id FROM changefeed")) == 1


async def test_migrate_runs_what_a_go_database_lacks(empty_db: str) -> None:
    await execute(empty_db, GO_0001_INITIAL)
    await go_timestamp_row(empty_db, "gun", 1)
    await go_timestamp_row(empty_db, "gun", 2)
    assert await migrate_postgres(empty_db) == [2, *AFTER_GO]
    feed = await fetch(empty_db, "SELECT gun, version, category FROM changefeed ORDER BY id")
    assert [tuple(row) for row in feed] == [("gun", 1, "update"), ("gun", 2, "update")]


async def test_migrate_refuses_dirty_database(empty_db: str) -> None:
    await execute(
        empty_db,
        GO_0001_INITIAL,
        GOLANG_MIGRATE_TABLE,
        "INSERT INTO schema_migrations (version, dirty) VALUES (2, true)",
    )
    with pytest.raises(MigrationError, match="dirty at version 2"):
        await migrate_postgres(empty_db)


async def test_migrate_refuses_newer_database(empty_db: str) -> None:
    await execute(
        empty_db,
        GOLANG_MIGRATE_TABLE,
        "INSERT INTO schema_migrations (version, dirty) VALUES (7, false)",
    )
    with pytest.raises(MigrationError, match="newer"):
        await migrate_postgres(empty_db)


async def test_migrate_unreachable_database() -> None:
    with pytest.raises(StorageError, match="cannot connect"):
        await migrate_postgres("postgresql://postgres@127.0.0.1:1/nothing")


async def test_store_does_not_migrate(empty_db: str) -> None:
    store = await connect(empty_db)
    try:
        with pytest.raises(StorageError, match="Cannot access table: tuf_files"):
            await store.check_health()
        with pytest.raises(StorageError):
            await store.get_current("gun", "root")
    finally:
        await store.close()


# Races


async def _until_a_backend_waits_on_a_lock(conn: asyncpg.pool.PoolConnectionProxy[Any]) -> None:
    """Return once a session on this database waits on a lock (bounded: 200 polls)."""
    for _ in range(200):
        # Inside a transaction PostgreSQL keeps the first view of pg_stat_activity.
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        waiting = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        if waiting:
            return
        await asyncio.sleep(0.05)
    pytest.fail("the concurrent insert never waited on the unique index")


async def test_unique_violation_becomes_old_version(postgres_store: PostgresMetaStore) -> None:
    """A concurrent insert the version check cannot see is caught by the unique index."""
    async with postgres_store._pool.acquire() as other, other.transaction():
        await other.execute(
            "INSERT INTO tuf_files (created_at, updated_at, gun, role, version, data, sha256) "
            "VALUES (now(), now(), 'gun', 'root', 1, 'x', 'y')"
        )
        # Our check sees nothing committed; our insert then waits on the index.
        write = asyncio.create_task(
            postgres_store.update_current("gun", MetaUpdate(role="root", version=1, data=b"z"))
        )
        await _until_a_backend_waits_on_a_lock(other)
        assert not write.done()
    with pytest.raises(OldVersionError):
        await write
    assert (await postgres_store.get_current("gun", "root")).data == b"x"


async def test_concurrent_writers_on_separate_pools(server_db_dsn: str) -> None:
    stores = [await connect(server_db_dsn, min_size=5, max_size=5) for _ in range(4)]
    try:
        await stores[0]._pool.execute("TRUNCATE tuf_files, changefeed RESTART IDENTITY")

        async def write(i: int) -> None:
            await stores[i % 4].update_many(
                "race",
                [
                    MetaUpdate(role="snapshot", version=3, data=b"s%d" % i),
                    MetaUpdate(role="timestamp", version=3, data=b"t%d" % i),
                ],
            )

        results = await asyncio.gather(*(write(i) for i in range(20)), return_exceptions=True)
        assert sum(r is None for r in results) == 1
        assert all(r is None or isinstance(r, OldVersionError) for r in results), results
        assert len(await stores[0].get_changes(0, 0, "race")) == 1
    finally:
        for store in stores:
            await store.close()


async def test_reads_survive_connections_the_server_closed(server_db_dsn: str) -> None:
    """After a restart or a terminated backend, the pool's stale connections cost no failed read."""
    store = await connect(server_db_dsn, min_size=4, max_size=4)
    try:
        await store.update_current("stale", MetaUpdate(role="root", version=1, data=b"r1"))
        await store._pool.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        for _ in range(8):  # more reads than the pool has (dead) connections
            assert (await store.get_current("stale", "root")).data == b"r1"
    finally:
        await store.close()


# Go-era rows


async def test_soft_deleted_rows_are_invisible(postgres_store: PostgresMetaStore) -> None:
    await postgres_store.update_current("gun", MetaUpdate(role="targets", version=1, data=b"v1"))
    data = b"v2, soft-deleted by Go"
    await postgres_store._pool.execute(
        "INSERT INTO tuf_files (created_at, updated_at, deleted_at, gun, role, version, data, "
        "sha256) VALUES (now(), now(), now(), 'gun', 'targets', 2, $1, $2)",
        data,
        hashlib.sha256(data).hexdigest(),
    )
    assert (await postgres_store.get_current("gun", "targets")).data == b"v1"
    with pytest.raises(NotFoundError):
        await postgres_store.get_version("gun", "targets", 2)
    with pytest.raises(NotFoundError):
        await postgres_store.get_checksum("gun", "targets", hashlib.sha256(data).hexdigest())
    # The row still holds its place in the unique index.
    with pytest.raises(OldVersionError):
        await postgres_store.update_current("gun", MetaUpdate(role="targets", version=2, data=b""))
    await postgres_store.update_current("gun", MetaUpdate(role="targets", version=3, data=b"v3"))


async def test_rows_are_written_as_go_writes_them(postgres_store: PostgresMetaStore) -> None:
    await postgres_store.update_current("gun", MetaUpdate(role="timestamp", version=1, data=b"t"))
    await postgres_store.delete("gun")
    rows = await postgres_store._pool.fetch("SELECT * FROM changefeed ORDER BY id")
    assert [(r["version"], r["category"]) for r in rows] == [(1, "update"), (0, "deletion")]
    assert rows[0]["sha256"] == hashlib.sha256(b"t").hexdigest()
    assert rows[1]["sha256"] == " " * 64  # char(64) pads the empty checksum ...
    assert (await postgres_store.get_changes(0, 0, None))[1].sha256 == ""  # ... we strip it
    created = rows[0]["created_at"]
    assert created.tzinfo is None  # Go's timestamp columns hold naive UTC
    assert abs((created.replace(tzinfo=UTC) - datetime.now(UTC)).total_seconds()) < 60


async def test_timestamps_read_back_aware_utc(postgres_store: PostgresMetaStore) -> None:
    await postgres_store._pool.execute(
        "INSERT INTO tuf_files (created_at, updated_at, gun, role, version, data, sha256) "
        "VALUES ('2017-01-02 03:04:05.123456', '2017-01-02 03:04:05.123456', 'g', 'root', 1, "
        "'r', 'c')"
    )
    expected = datetime(2017, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    assert (await postgres_store.get_current("g", "root")).created == expected
    assert (await postgres_store.get_version("g", "root", 1)).created == expected


# Health and lifecycle


async def test_health_fails_when_table_is_missing(empty_db: str) -> None:
    await migrate_postgres(empty_db)
    store = await connect(empty_db)
    try:
        await store.check_health()
        await execute(empty_db, "DROP TABLE tuf_files")
        with pytest.raises(StorageError, match="Cannot access table: tuf_files"):
            await store.check_health()
    finally:
        await store.close()


async def test_health_fails_when_closed(server_db_dsn: str) -> None:
    store = await connect(server_db_dsn)
    await store.close()
    with pytest.raises(StorageError):
        await store.check_health()
    with pytest.raises(StorageError):
        await store.update_current("gun", MetaUpdate(role="root", version=1, data=b""))


async def test_connect_unreachable() -> None:
    with pytest.raises(StorageError, match="cannot connect"):
        await connect("postgresql://postgres@127.0.0.1:1/nothing")


async def test_open_store_postgres(server_db_dsn: str) -> None:
    store = await open_store("postgres", server_db_dsn)
    try:
        assert isinstance(store, PostgresMetaStore)
        await store.check_health()
    finally:
        await store.close()
