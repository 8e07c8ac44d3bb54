"""The metadata cache (issue #8): bounds, fills racing invalidations, ETag/304, coherence.

The cross-process tests (replicas, workers, SQL deletes) are in
``tests/perf_coherence``; here the cache, the reader's modes and the HTTP
validators are checked in-process.
"""

from __future__ import annotations

import gc
import hashlib
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import asyncpg
import pytest

from notary_server.cache import MAX_TRACKED_INVALIDATIONS, CachedFile, Chain, MetadataCache
from notary_server.services.current import open_reader
from notary_server.services.timestamp import serve_timestamp
from notary_server.storage import NotFoundError
from notary_server.storage.base import MetaUpdate
from notary_server.storage.notify_postgres import PostgresChangeTracker
from notary_server.storage.sqlite import open_sqlite
from notary_tuf.gotime import GoTime
from notary_tuf.rolenames import ROOT, TARGETS, TIMESTAMP
from testkit.server_helpers import GUN, AppClient, publish_new, tuf_url
from tests.server.storage.conftest import postgres_admin_dsn, postgres_store, server_db_dsn

if TYPE_CHECKING:
    from pathlib import Path

    from notary_server.storage.capabilities import Backend
    from notary_server.storage.memory import MemoryMetaStore
    from notary_server.trust.local import LocalCryptoService

__all__ = ["postgres_admin_dsn", "postgres_store", "server_db_dsn"]  # fixtures used here

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def file(data: bytes) -> CachedFile:
    return CachedFile.of(NOW, data)


def chain(timestamp: bytes) -> Chain:
    expires = GoTime.parse("2031-01-01T00:00:00Z").nanos
    return Chain(
        timestamp=file(timestamp),
        timestamp_expires_ns=expires,
        snapshot=file(b"snapshot"),
        snapshot_expires_ns=expires,
        checksums={},
    )


def test_cached_entries_leave_the_garbage_collector() -> None:
    # A full collection walks every tracked object: a large cache must add none.
    cache = MetadataCache()
    gc.collect()
    before = len(gc.get_objects())
    for index in range(1_000):
        checksums = {}
        checksums["targets"] = f"{index:064x}"  # filled as build_chain does
        cache.put_chain(f"g{index}", chain(b"t")._replace(checksums=checksums), cache.epoch)
        cache.put_file((f"g{index}", ROOT, "v1"), file(b"r"), cache.epoch)
    gc.collect()
    gc.collect()
    assert len(gc.get_objects()) - before < 50
    found = cache.get_chain("g7")
    assert found is not None
    assert found == chain(b"t")._replace(checksums={"targets": f"{7:064x}"})
    assert cache.get_file(("g7", ROOT, "v1")) == file(b"r")


# The cache itself


def test_cached_file_headers() -> None:
    cached = file(b"abc")
    assert cached.etag == f'"{hashlib.sha256(b"abc").hexdigest()}"'
    assert cached.last_modified == "Tue, 01 Jan 2030 00:00:00 UTC"


def test_fill_after_an_invalidation_of_its_gun_is_dropped() -> None:
    cache = MetadataCache()
    epoch = cache.epoch  # a reader starts reading the database ...
    cache.invalidate("gun")  # ... a change of that GUN is announced meanwhile
    cache.put_file(("gun", ROOT, "v1"), file(b"x"), epoch)
    cache.put_chain("gun", chain(b"t"), epoch)
    assert not cache.has_gun("gun")
    cache.put_file(("gun", ROOT, "v1"), file(b"x"), cache.epoch)  # read after it: kept
    assert cache.get_file(("gun", ROOT, "v1")) is not None


def test_fill_survives_an_invalidation_of_another_gun() -> None:
    cache = MetadataCache()
    epoch = cache.epoch
    cache.invalidate("other")
    cache.put_file(("gun", ROOT, "v1"), file(b"x"), epoch)
    assert cache.put_chains({"gun": chain(b"t"), "other": chain(b"o")}, epoch) == 1
    assert cache.get_file(("gun", ROOT, "v1")) is not None
    assert cache.get_chain("gun") is not None
    assert cache.get_chain("other") is None


def test_fill_after_a_flush_is_dropped() -> None:
    cache = MetadataCache()
    epoch = cache.epoch
    cache.flush()
    assert cache.put_chains({"gun": chain(b"t")}, epoch) == 0
    cache.put_file(("gun", ROOT, "v1"), file(b"x"), epoch)
    assert len(cache) == 0


def test_when_the_invalidation_record_is_full_older_fills_are_dropped() -> None:
    cache = MetadataCache()
    epoch = cache.epoch
    for index in range(MAX_TRACKED_INVALIDATIONS):
        cache.invalidate(f"g{index}")
    cache.put_chain("gun", chain(b"t"), epoch)  # still checkable: kept
    assert cache.get_chain("gun") is not None
    cache.invalidate("one-more")  # the record is cleared: "gun" can no longer be checked
    cache.put_chain("later", chain(b"t"), epoch)
    assert cache.get_chain("later") is None
    cache.put_chain("later", chain(b"t"), cache.epoch)
    assert cache.get_chain("later") is not None


def test_free_bytes() -> None:
    cache = MetadataCache(max_bytes=10_000)
    assert cache.free_bytes == 10_000
    cache.put_file(("gun", ROOT, "v1"), file(b"x" * 1000), cache.epoch)
    assert 0 < cache.free_bytes < 9_000
    for index in range(20):
        cache.put_file(("gun", ROOT, f"v{index + 2}"), file(b"x" * 1000), cache.epoch)
    assert cache.free_bytes == 10_000 - cache.size_bytes


def test_invalidate_drops_exactly_one_gun() -> None:
    cache = MetadataCache()
    cache.put_file(("a", ROOT, "v1"), file(b"x"), cache.epoch)
    cache.put_file(("ab", ROOT, "v1"), file(b"y"), cache.epoch)
    cache.invalidate("a")
    assert not cache.has_gun("a")
    assert cache.has_gun("ab")
    cache.flush()
    assert len(cache) == 0
    assert cache.size_bytes == 0


def test_bounded_by_bytes_least_recently_used_first() -> None:
    cache = MetadataCache(max_bytes=10_000)
    for index in range(40):
        cache.put_file(("gun", ROOT, f"v{index}"), file(b"x" * 1000), cache.epoch)
        cache.get_file(("gun", ROOT, "v0"))  # keep v0 recently used
    assert cache.size_bytes <= 10_000
    assert cache.get_file(("gun", ROOT, "v0")) is not None
    assert cache.get_file(("gun", ROOT, "v1")) is None
    assert cache.get_file(("gun", ROOT, "v39")) is not None


# ETag and conditional GET


async def test_etag_and_conditional_get(client: AppClient) -> None:
    await publish_new(client)
    plain = await client.get(tuf_url(GUN, "timestamp.json"))
    body = await plain.read()
    etag = plain.headers["ETag"]
    assert etag == f'"{hashlib.sha256(body).hexdigest()}"'
    last_modified = plain.headers["Last-Modified"]
    for headers in (
        {"If-None-Match": etag},
        {"If-None-Match": f'"nope", W/{etag}'},
        {"If-None-Match": "*"},
        {"If-Modified-Since": last_modified},
        {"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"},
    ):
        response = await client.get(tuf_url(GUN, "timestamp.json"), headers=headers)
        assert response.status == 304, headers
        assert await response.read() == b""
        assert response.headers["ETag"] == etag
        assert "max-age" in response.headers["Cache-Control"]
    for headers in (
        {"If-None-Match": '"nope"'},
        {"If-None-Match": '"nope"', "If-Modified-Since": last_modified},  # ETag wins
        {"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"},
        {"If-Modified-Since": "not a date"},
    ):
        response = await client.get(tuf_url(GUN, "timestamp.json"), headers=headers)
        assert response.status == 200, headers
        assert await response.read() == body


async def test_conditional_get_by_checksum_and_version(client: AppClient) -> None:
    published = await publish_new(client)
    targets = published.parts[TARGETS]
    etag = f'"{hashlib.sha256(targets).hexdigest()}"'
    for name in (f"targets.{hashlib.sha256(targets).hexdigest()}.json", "1.targets.json"):
        response = await client.get(tuf_url(GUN, name), headers={"If-None-Match": etag})
        assert response.status == 304
        response = await client.get(tuf_url(GUN, name))
        assert response.status == 200
        assert response.headers["ETag"] == etag
        assert await response.read() == targets


# The reader's modes


async def test_validated_mode_follows_the_current_timestamp(
    client: AppClient, memory_store: MemoryMetaStore
) -> None:
    published = await publish_new(client)
    reader = await open_reader(memory_store)
    assert reader.tracker is None
    assert (await reader.current(GUN, TARGETS)).data == published.parts[TARGETS]
    builder = published.builder
    builder.add_target("second", b"2")
    parts = builder.publish()
    assert (await client.post(tuf_url(GUN), data=_form(parts))).status == 200
    assert (await reader.current(GUN, TARGETS)).data == parts[TARGETS]
    await memory_store.delete(GUN)
    with pytest.raises(NotFoundError):
        await reader.current(GUN, ROOT)


async def test_expired_cached_timestamp_is_reissued(
    client: AppClient, memory_store: MemoryMetaStore, crypto: LocalCryptoService
) -> None:
    await publish_new(client, server_snapshot=True)
    reader = await open_reader(memory_store)
    now = datetime.now(UTC)
    served = await serve_timestamp(reader, crypto, GUN, now)
    assert (await serve_timestamp(reader, crypto, GUN, now)).data is served.data  # cached
    later = now + timedelta(days=30)  # past the timestamp's expiry, not the root's
    reissued = await serve_timestamp(reader, crypto, GUN, later)
    assert reissued.data != served.data
    assert (await memory_store.get_current(GUN, TIMESTAMP)).data == reissued.data


async def test_sqlite_tracker_sees_another_connection_write(tmp_path: Path) -> None:
    path = str(tmp_path / "db.sqlite")
    serving, writing = await open_sqlite(path), await open_sqlite(path)
    try:
        reader = await open_reader(serving)
        assert reader.tracker is not None
        await writing.update_many("g", [MetaUpdate(role=ROOT, version=1, data=b"r1")])
        assert (await reader.by_version("g", ROOT, 1)).data == b"r1"
        assert reader.cache.has_gun("g")
        await writing.delete("g")  # another process deletes the GUN
        with pytest.raises(NotFoundError):
            await reader.by_version("g", ROOT, 1)
        await serving.update_many("g", [MetaUpdate(role=ROOT, version=1, data=b"r2")])
        assert (await reader.by_version("g", ROOT, 1)).data == b"r2"  # its own write too
        await reader.close()
    finally:
        await serving.close()
        await writing.close()


async def test_postgres_listener_loss_disables_the_cache(
    postgres_store: Backend, server_db_dsn: str
) -> None:
    reader = await open_reader(postgres_store)
    tracker = reader.tracker
    assert isinstance(tracker, PostgresChangeTracker)
    try:
        await postgres_store.update_many("g", [MetaUpdate(role=ROOT, version=1, data=b"r1")])
        assert await tracker.sync()  # the insert's notification is in: it cannot evict the fill
        assert (await reader.by_version("g", ROOT, 1)).data == b"r1"
        assert reader.cache.has_gun("g")
        admin = await asyncpg.connect(server_db_dsn)
        try:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            # While nobody listens, a change must not be missed: the cache is off.
            await admin.execute("DELETE FROM tuf_files WHERE gun = 'g'")
        finally:
            await admin.close()
        with pytest.raises(NotFoundError):
            await reader.by_version("g", ROOT, 1)
        assert not reader.cache.has_gun("g")
    finally:
        await reader.close()


def _form(parts: dict[str, bytes]) -> object:
    from testkit.server_helpers import multipart  # noqa: PLC0415

    return multipart(parts)
