"""Warming the metadata cache at start-up (issue #8, ADR 0015).

Real stores (SQLite, PostgreSQL) with repositories published through the
real application; the warm-up must store exactly the chains an on-demand
read would build, most recently updated GUNs first, within its budget and
time, and must not store a chain whose GUN changed while it was reading.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

import pytest
from prometheus_client.parser import text_string_to_metric_families

from notary_server.appkeys import READER_KEY
from notary_server.cache import MetadataCache
from notary_server.config import ConfigError, MetadataCacheConfig, load_config
from notary_server.services.current import MetadataReader, get_current, open_reader
from notary_server.services.warm import warm_chains
from notary_server.storage.base import MetaUpdate
from notary_server.storage.notify import open_tracker
from notary_server.storage.postgres import PostgresMetaStore
from notary_tuf.rolenames import SNAPSHOT, TARGETS, TIMESTAMP
from testkit.server_helpers import make_config, publish_new
from tests.server.storage.conftest import (
    postgres_admin_dsn,
    postgres_store,
    server_db_dsn,
    sqlite_store,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from notary_server.storage.base import StoredMeta
    from notary_server.storage.capabilities import Backend
    from notary_server.storage.memory import MemoryMetaStore
    from testkit.server_helpers import ClientFactory

__all__ = ["postgres_admin_dsn", "postgres_store", "server_db_dsn", "sqlite_store"]

GUNS = ("example.com/warm/a", "example.com/warm/b", "example.com/warm/c")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def tracked_store(request: pytest.FixtureRequest) -> Backend:
    """A store with a change tracker, empty.

    Tests ask for it before ``make_client``, so that the applications (and their
    change listeners) are closed before the store's connections are.
    """
    store: Backend = request.getfixturevalue(f"{request.param}_store")
    return store


async def publish_all(make_client: ClientFactory, store: Backend) -> None:
    client = await make_client(store=store)
    for gun in GUNS:  # published in this order: the last is the most recent
        await publish_new(client, gun, server_snapshot=True)


async def test_warm_stores_the_chains_an_on_demand_read_builds(
    tracked_store: Backend, make_client: ClientFactory
) -> None:
    await publish_all(make_client, tracked_store)
    reader = await open_reader(tracked_store)
    try:
        result = await warm_chains(reader, max_seconds=60)
        assert (result.chains, result.guns, result.stopped_by) == (3, 3, "")
        for gun in GUNS:
            warmed = reader.cache.get_chain(gun)
            assert warmed is not None
            reader.cache.invalidate(gun)
            loaded = await reader.chain(gun)  # an on-demand read
            assert loaded == warmed
            targets = await get_current(tracked_store, gun, TARGETS)
            assert (await reader.current(gun, TARGETS)).data == targets.data
    finally:
        await reader.close()


async def test_warm_stops_at_the_budget_most_recent_first(
    tracked_store: Backend, make_client: ClientFactory
) -> None:
    await publish_all(make_client, tracked_store)
    probe = await open_reader(tracked_store)
    try:
        await warm_chains(probe, max_seconds=60)
        one_chain = max(c.size for g in GUNS if (c := probe.cache.get_chain(g)) is not None)
    finally:
        await probe.close()
    reader = await open_reader(tracked_store, max_bytes=one_chain * 3 // 2)
    try:
        result = await warm_chains(reader, max_seconds=60)
        assert (result.chains, result.stopped_by) == (1, "budget")
        if isinstance(tracked_store, PostgresMetaStore):  # knows the order of updates
            assert reader.cache.get_chain(GUNS[-1]) is not None
    finally:
        await reader.close()


async def test_warm_stops_at_the_deadline(
    tracked_store: Backend, make_client: ClientFactory
) -> None:
    await publish_all(make_client, tracked_store)
    reader = await open_reader(tracked_store)
    try:
        result = await warm_chains(reader, max_seconds=0)
        assert (result.chains, result.stopped_by) == (0, "time")
        assert len(reader.cache) == 0
    finally:
        await reader.close()


async def test_warm_skips_a_store_without_tracker(
    make_client: ClientFactory, memory_store: MemoryMetaStore
) -> None:
    await publish_all(make_client, memory_store)
    reader = await open_reader(memory_store)
    result = await warm_chains(reader, max_seconds=60)
    assert (result.chains, result.stopped_by) == (0, "untracked")


class _ChangesWhileReading:
    """The real store, where another writer updates one GUN's timestamp mid warm-up.

    The change lands after the warm-up read the timestamps and before it reads
    the snapshots, so the chain it would build for that GUN is already stale.
    """

    def __init__(self, store: Backend, reader: MetadataReader, gun: str) -> None:
        self._store = store
        self._reader = reader
        self._gun = gun

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def get_checksum_many(
        self, role: str, wanted: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], StoredMeta]:
        current = json.loads((await self._store.get_current(self._gun, TIMESTAMP)).data)
        version = current["signed"]["version"] + 1
        await self._store.update_many(
            self._gun, [MetaUpdate(role=TIMESTAMP, version=version, data=b"newer timestamp")]
        )
        assert self._reader.tracker is not None
        assert await self._reader.tracker.sync()  # the change is announced
        return await self._store.get_checksum_many(role, wanted)


async def test_warm_drops_the_chain_of_a_gun_changed_meanwhile(
    tracked_store: Backend, make_client: ClientFactory
) -> None:
    await publish_all(make_client, tracked_store)
    cache = MetadataCache()
    reader = MetadataReader(tracked_store, cache, await open_tracker(tracked_store, cache))
    reader.store = cast("Backend", _ChangesWhileReading(tracked_store, reader, GUNS[1]))
    try:
        await warm_chains(reader, max_seconds=60)
        assert cache.get_chain(GUNS[1]) is None
        if not isinstance(tracked_store, PostgresMetaStore):
            return  # SQLite's tracker flushes the whole cache on a change
        assert cache.get_chain(GUNS[0]) is not None
        assert cache.get_chain(GUNS[2]) is not None
    finally:
        await reader.close()


async def test_the_application_warms_before_serving(
    tracked_store: Backend, make_client: ClientFactory
) -> None:
    await publish_all(make_client, tracked_store)
    client = await make_client(make_config(), store=tracked_store)
    cache = client.app[READER_KEY].cache
    assert all(cache.get_chain(gun) is not None for gun in GUNS)
    text = await (await client.get("/metrics")).text()
    samples = {
        (sample.name, tuple(sample.labels.values())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    prefix = "notary_server_metadata_cache_"
    assert samples[prefix + "warmed_chains", ()] == 3
    assert samples[prefix + "entries", ("chain",)] == 3
    assert samples[prefix + "bytes", ()] == cache.size_bytes
    assert samples[prefix + "max_bytes", ()] == cache.max_bytes
    cold = await make_client(
        make_config(metadata_cache=MetadataCacheConfig(warm_seconds=0)), store=tracked_store
    )
    assert len(cold.app[READER_KEY].cache) == 0
    response = await cold.get(f"/v2/{GUNS[0]}/_trust/tuf/{SNAPSHOT}.json")
    assert response.status == 200


def test_config_keys(tmp_path: Path) -> None:
    path = tmp_path / "server-config.json"
    document: dict[str, dict[str, Any]] = {
        "server": {"http_addr": "127.0.0.1:4443"},
        "trust_service": {"type": "local"},
        "storage": {"backend": "memory"},
    }
    path.write_text(json.dumps(document))
    assert load_config(path, {}).metadata_cache == MetadataCacheConfig()
    document["metadata_cache"] = {"max_bytes": 1 << 20, "warm_seconds": 0}
    path.write_text(json.dumps(document))
    assert load_config(path, {}).metadata_cache == MetadataCacheConfig(
        max_bytes=1 << 20, warm_seconds=0
    )
    override = {"NOTARY_SERVER_METADATA_CACHE_MAX_BYTES": "0"}
    assert load_config(path, override).metadata_cache.max_bytes == 0
    for key, value in (("max_bytes", -1), ("warm_seconds", -1), ("warm_seconds", "soon")):
        document["metadata_cache"] = {key: value}
        path.write_text(json.dumps(document))
        with pytest.raises(ConfigError, match=rf"metadata_cache\.{key}"):
            load_config(path, {})
