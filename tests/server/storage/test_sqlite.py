"""SQLite specifics: files, Go-era databases, db_url forms, the worker thread, migrations."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING

import pytest
from blockbuster import blockbuster_ctx

from notary_server.storage import NotFoundError, OldVersionError, StorageError
from notary_server.storage.base import MetaUpdate
from notary_server.storage.migrate import (
    MigrationError,
    available_migrations,
    migrate,
    migrate_sqlite,
)
from notary_server.storage.sqlite import (
    DEFAULT_BUSY_TIMEOUT_MS,
    format_go_time,
    open_sqlite,
    parse_go_time,
    parse_sqlite_url,
)
from tests.server.storage.go_schema import GORM_SQLITE

if TYPE_CHECKING:
    from pathlib import Path

ROOT_V1 = MetaUpdate(role="root", version=1, data=b"root v1")

AFTER_GO = [m.version for m in available_migrations("sqlite") if m.version > 2]
LATEST = available_migrations("sqlite")[-1].version


def schema_names(path: Path) -> set[str]:
    """Names of the tables and indexes."""
    conn = sqlite3.connect(path)
    try:
        return {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    finally:
        conn.close()


def version_row(path: Path) -> list[tuple[int, int]]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.execute("SELECT version, dirty FROM schema_migrations"))
    finally:
        conn.close()


def go_database(path: Path, rows: list[tuple[object, ...]]) -> None:
    """A database as Go's sqlite3 backend leaves it: gorm tables, go-sqlite3 time text."""
    conn = sqlite3.connect(path)
    try:
        for statement in GORM_SQLITE:
            conn.execute(statement)
        conn.executemany(
            "INSERT INTO tuf_files (created_at, updated_at, deleted_at, gun, role, version, "
            "sha256, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.commit()
    finally:
        conn.close()


async def test_file_persists_across_reopen(tmp_path: Path) -> None:
    path = str(tmp_path / "server.db")
    store = await open_sqlite(path)
    await store.update_many("gun", [ROOT_V1, MetaUpdate(role="timestamp", version=1, data=b"t")])
    await store.close()

    store = await open_sqlite(path)
    try:
        assert (await store.get_current("gun", "root")).data == b"root v1"
        assert [c.version for c in await store.get_changes(0, 0, None)] == [1]
        with pytest.raises(OldVersionError):
            await store.update_current("gun", ROOT_V1)
    finally:
        await store.close()


async def test_new_database_gets_the_schema(tmp_path: Path) -> None:
    path = tmp_path / "server.db"
    store = await open_sqlite(str(path))
    await store.close()
    assert {"tuf_files", "changefeed", "schema_migrations"} <= schema_names(path)
    assert version_row(path) == [(LATEST, 0)]
    assert migrate_sqlite(str(path)) == []


async def test_create_false_leaves_a_new_database_empty(tmp_path: Path) -> None:
    store = await open_sqlite(str(tmp_path / "server.db"), create=False)
    try:
        with pytest.raises(StorageError, match="Cannot access table: tuf_files"):
            await store.check_health()
    finally:
        await store.close()


async def test_concurrent_writers_on_one_file(tmp_path: Path) -> None:
    """Several stores (connections) on one file: BEGIN IMMEDIATE serialises them."""
    path = str(tmp_path / "server.db")
    stores = [await open_sqlite(path) for _ in range(4)]
    try:

        async def write(i: int) -> None:
            await stores[i % 4].update_many(
                "race", [MetaUpdate(role="timestamp", version=5, data=b"writer %d" % i)]
            )

        results = await asyncio.gather(*(write(i) for i in range(20)), return_exceptions=True)
        assert sum(r is None for r in results) == 1
        assert all(r is None or isinstance(r, OldVersionError) for r in results), results
        assert len(await stores[1].get_changes(0, 0, None)) == 1
    finally:
        for store in stores:
            await store.close()


async def test_read_only_database(tmp_path: Path) -> None:
    path = tmp_path / "server.db"
    store = await open_sqlite(str(path))
    await store.update_current("gun", ROOT_V1)
    await store.close()

    # Tests run as root, for whom file modes do not bind; SQLite's own
    # read-only mode gives the same SQLITE_READONLY error.
    store = await open_sqlite(f"file:{path}?mode=ro")
    try:
        assert (await store.get_current("gun", "root")).data == b"root v1"
        await store.check_health()
        with pytest.raises(StorageError, match="read-only") as caught:
            await store.update_current("gun", MetaUpdate(role="root", version=2, data=b""))
        assert not isinstance(caught.value, OldVersionError)
        with pytest.raises(StorageError, match="read-only"):
            await store.delete("gun")
        assert (await store.get_current("gun", "root")).data == b"root v1"
    finally:
        await store.close()


async def test_empty_read_only_database_fails_to_open(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()
    with pytest.raises(StorageError):
        await open_sqlite(f"file:{path}?mode=ro")


async def test_memory_database(tmp_path: Path) -> None:
    store = await open_sqlite(":memory:")
    try:
        await store.update_current("gun", ROOT_V1)
        assert (await store.get_version("gun", "root", 1)).data == b"root v1"
    finally:
        await store.close()


async def test_closed_store_fails_cleanly() -> None:
    store = await open_sqlite(":memory:")
    await store.close()
    await store.close()  # idempotent
    with pytest.raises(StorageError, match="closed"):
        await store.check_health()


async def test_no_sqlite_call_runs_on_the_event_loop(tmp_path: Path) -> None:
    with blockbuster_ctx(["notary_server"]):
        store = await open_sqlite(str(tmp_path / "server.db"))
        await store.update_many("gun", [ROOT_V1, MetaUpdate(role="timestamp", version=1, data=b"")])
        await store.get_current("gun", "root")
        await store.get_changes(-1, 10, "gun")
        await store.delete("gun")
        await store.check_health()
        await store.close()


# A database Go's sqlite3 backend created (gorm AutoMigrate, no schema_migrations)

GO_TIME = "2017-03-01 10:00:00.123456789+01:00"  # go-sqlite3 layout, server in UTC+1


async def test_serves_a_go_database(tmp_path: Path) -> None:
    path = tmp_path / "go.db"
    go_database(
        path,
        [
            (GO_TIME, GO_TIME, None, "gun", "root", 1, "aa", b"go root 1"),
            (GO_TIME, GO_TIME, GO_TIME, "gun", "root", 2, "bb", b"soft-deleted"),
        ],
    )
    store = await open_sqlite(str(path))
    try:
        current = await store.get_current("gun", "root")
        assert current.data == b"go root 1"
        assert current.created == datetime(2017, 3, 1, 9, 0, 0, 123456, tzinfo=UTC)
        with pytest.raises(NotFoundError):
            await store.get_checksum("gun", "root", "bb")
        await store.update_current("gun", MetaUpdate(role="root", version=3, data=b"ours"))
        await store.delete("gun")
        assert [c.category for c in await store.get_changes(0, 0, None)] == ["deletion"]
    finally:
        await store.close()
    # Opening did not migrate it: that is an explicit step.
    assert "schema_migrations" not in schema_names(path)


def test_migrate_baselines_a_go_database(tmp_path: Path) -> None:
    path = tmp_path / "go.db"
    go_database(path, [(GO_TIME, GO_TIME, None, "gun", "timestamp", 1, "aa", b"ts")])
    # only what Go lacks (indexes, audit); no back-fill re-run
    assert migrate_sqlite(str(path)) == AFTER_GO
    assert version_row(path) == [(LATEST, 0)]
    assert {"tuf_files_sha256_idx", "idx_changefeed_gun"} <= schema_names(path)
    assert migrate_sqlite(str(path)) == []


def test_migrate_refuses_a_dirty_database(tmp_path: Path) -> None:
    path = tmp_path / "dirty.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_migrations (version bigint NOT NULL, dirty boolean)")
    conn.execute("INSERT INTO schema_migrations VALUES (1, 1)")
    conn.commit()
    conn.close()
    with pytest.raises(MigrationError, match="dirty"):
        migrate_sqlite(str(path))


async def test_migrate_fresh_file_by_backend_name(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    assert await migrate("sqlite3", str(path)) == [1, 2, *AFTER_GO]
    assert await migrate("sqlite3", str(path)) == []


# db_url forms and time layouts


@pytest.mark.parametrize(
    ("url", "database", "uri", "timeout"),
    [
        ("/var/lib/notary/server.db", "/var/lib/notary/server.db", False, DEFAULT_BUSY_TIMEOUT_MS),
        ("server.db?_busy_timeout=100", "server.db", False, 100),
        ("file:server.db?mode=ro&_timeout=7", "file:server.db?mode=ro&_timeout=7", True, 7),
        (":memory:", ":memory:", False, DEFAULT_BUSY_TIMEOUT_MS),
    ],
)
def test_parse_sqlite_url(url: str, database: str, uri: bool, timeout: int) -> None:
    target = parse_sqlite_url(url)
    assert (target.database, target.uri, target.busy_timeout_ms) == (database, uri, timeout)


@pytest.mark.parametrize("url", ["", "server.db?_busy_timeout=soon"])
def test_parse_sqlite_url_rejects(url: str) -> None:
    with pytest.raises(StorageError):
        parse_sqlite_url(url)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2017-03-01 10:00:00.123456789+01:00", datetime(2017, 3, 1, 9, 0, 0, 123456, tzinfo=UTC)),
        ("2017-03-01T10:00:00-02:30", datetime(2017, 3, 1, 12, 30, tzinfo=UTC)),
        ("2017-03-01 10:00:00.5", datetime(2017, 3, 1, 10, 0, 0, 500000, tzinfo=UTC)),
        ("2017-03-01 10:00:00Z", datetime(2017, 3, 1, 10, tzinfo=UTC)),
        ("2017-03-01 10:00", datetime(2017, 3, 1, 10, tzinfo=UTC)),
        ("2017-03-01", datetime(2017, 3, 1, tzinfo=UTC)),
        (1488362400, datetime(2017, 3, 1, 10, tzinfo=UTC)),
        ("garbage", datetime(1970, 1, 1, tzinfo=UTC)),
        (None, datetime(1970, 1, 1, tzinfo=UTC)),
    ],
)
def test_parse_go_time(text: object, expected: datetime) -> None:
    assert parse_go_time(text) == expected


def test_format_go_time_round_trips() -> None:
    moment = datetime(2020, 5, 6, 7, 8, 9, 120000, tzinfo=timezone(timedelta(hours=2)))
    assert format_go_time(moment) == "2020-05-06 05:08:09.12+00:00"
    assert parse_go_time(format_go_time(moment)) == moment
    whole = datetime(2020, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert format_go_time(whole) == "2020-05-06 07:08:09+00:00"
