"""Lazy re-issue of the timestamp and snapshot on GET (docs/protocol.md#lazy-re-issue-on-get),
at service and API level.

The service takes ``now`` explicitly, so expiry is reached by asking "far in the
future" rather than by waiting; the API-level tests store an already expired
timestamp signed with the server's own key instead.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from notary_server.handlers.metadata import format_last_modified
from notary_server.services.timestamp import (
    RefreshError,
    get_current_snapshot,
    get_or_create_timestamp,
)
from notary_server.storage import NotFoundError
from notary_server.storage.base import Audit, MetaUpdate
from notary_server.storage.memory import MemoryMetaStore
from notary_server.trust.signing import sign_with_role
from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS, TIMESTAMP
from notary_tuf.signed import Metadata
from notary_tuf.verify import verify_signatures
from testkit.repo_builder import go_time
from testkit.server_helpers import (
    GUN,
    AppClient,
    ClientFactory,
    dump_store,
    new_builder,
    publish_new,
    tuf_url,
    upload,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from notary_server.trust.local import LocalCryptoService
    from notary_tuf.models import Root, Snapshot, Timestamp

DAY = timedelta(days=1)


def parse_timestamp(data: bytes) -> Metadata[Timestamp]:
    parsed: Metadata[Timestamp] = Metadata.from_bytes(TIMESTAMP, data)
    return parsed


def parse_snapshot(data: bytes) -> Metadata[Snapshot]:
    parsed: Metadata[Snapshot] = Metadata.from_bytes(SNAPSHOT, data)
    return parsed


async def stored_root(store: MemoryMetaStore) -> Root:
    parsed: Metadata[Root] = Metadata.from_bytes(ROOT, (await store.get_current(GUN, ROOT)).data)
    return parsed.signed


async def assert_valid_timestamp(store: MemoryMetaStore, data: bytes, now: datetime) -> None:
    """Signed by root's timestamp key, unexpired at ``now``, naming a stored snapshot."""
    timestamp = parse_timestamp(data)
    root = await stored_root(store)
    verify_signatures(
        timestamp.envelope,
        root.role_keys(TIMESTAMP),
        root.roles[TIMESTAMP].threshold,
        role=TIMESTAMP,
    )
    assert not timestamp.signed.expires.is_expired(now)
    checksum = timestamp.signed.snapshot_meta.sha256_hex
    assert checksum is not None
    await store.get_checksum(GUN, SNAPSHOT, checksum)


def versions(dump: Any) -> dict[str, int]:
    return {role: len(files) for role, files in dump.files.items()}


async def test_fresh_timestamp_is_served_as_stored(
    client: AppClient, memory_store: MemoryMetaStore, crypto: LocalCryptoService
) -> None:
    await publish_new(client)
    stored = await memory_store.get_current(GUN, TIMESTAMP)
    before = await dump_store(memory_store)
    served = await get_or_create_timestamp(memory_store, crypto, GUN, datetime.now(UTC) + DAY)
    assert served == stored
    assert await dump_store(memory_store) == before


@pytest.mark.parametrize(
    "server_snapshot", [False, True], ids=["client-snapshot", "server-snapshot"]
)
async def test_expired_timestamp_is_reissued(
    client: AppClient,
    memory_store: MemoryMetaStore,
    crypto: LocalCryptoService,
    server_snapshot: bool,
) -> None:
    await publish_new(client, server_snapshot=server_snapshot)
    old = parse_timestamp((await memory_store.get_current(GUN, TIMESTAMP)).data)
    now = datetime.now(UTC) + 30 * DAY  # timestamps last 14 days, snapshots 3 years

    served = await get_or_create_timestamp(memory_store, crypto, GUN, now)

    assert served.created == now
    assert served.data == (await memory_store.get_current(GUN, TIMESTAMP)).data
    new = parse_timestamp(served.data)
    assert new.version == old.version + 1
    assert new.signed.snapshot_meta == old.signed.snapshot_meta  # same snapshot
    await assert_valid_timestamp(memory_store, served.data, now)
    assert versions(await dump_store(memory_store)) == {
        ROOT: 1,
        TARGETS: 1,
        SNAPSHOT: 1,
        TIMESTAMP: 2,
    }
    # a second call in the same window serves the re-issued file
    again = await get_or_create_timestamp(memory_store, crypto, GUN, now)
    assert again.data == served.data


async def test_expired_server_snapshot_is_reissued(
    client: AppClient, memory_store: MemoryMetaStore, crypto: LocalCryptoService
) -> None:
    await publish_new(client, server_snapshot=True)
    old_snapshot = parse_snapshot((await memory_store.get_current(GUN, SNAPSHOT)).data)
    now = datetime.now(UTC) + 4 * 365 * DAY  # past the snapshot's 3 years, within root's 10

    served = await get_or_create_timestamp(memory_store, crypto, GUN, now)

    await assert_valid_timestamp(memory_store, served.data, now)
    snapshot_row = await memory_store.get_current(GUN, SNAPSHOT)
    assert (
        parse_timestamp(served.data).signed.snapshot_meta.sha256_hex
        == hashlib.sha256(snapshot_row.data).hexdigest()
    )
    snapshot = parse_snapshot(snapshot_row.data)
    assert snapshot.version == old_snapshot.version + 1
    assert not snapshot.signed.expires.is_expired(now)
    assert snapshot.signed.meta == old_snapshot.signed.meta  # root unchanged, targets carried over
    assert versions(await dump_store(memory_store)) == {
        ROOT: 1,
        TARGETS: 1,
        SNAPSHOT: 2,
        TIMESTAMP: 2,
    }
    assert (await get_current_snapshot(memory_store, crypto, GUN, now)).data == snapshot_row.data


@pytest.mark.parametrize(
    ("server_snapshot", "offset"),
    [
        (False, 4 * 365 * DAY),  # client-held snapshot expired: the server cannot re-sign it
        (True, 11 * 365 * DAY),  # root expired (10 years)
        (False, 11 * 365 * DAY),
    ],
    ids=["client-snapshot-expired", "root-expired-server-snapshot", "root-expired-client-snapshot"],
)
async def test_reissue_impossible(
    client: AppClient,
    memory_store: MemoryMetaStore,
    crypto: LocalCryptoService,
    server_snapshot: bool,
    offset: timedelta,
) -> None:
    await publish_new(client, server_snapshot=server_snapshot)
    before = await dump_store(memory_store)
    now = datetime.now(UTC) + offset
    with pytest.raises(RefreshError):
        await get_or_create_timestamp(memory_store, crypto, GUN, now)
    with pytest.raises(RefreshError):
        await get_current_snapshot(memory_store, crypto, GUN, now)
    assert await dump_store(memory_store) == before


async def test_expired_root_with_only_timestamp_expired(
    client: AppClient, memory_store: MemoryMetaStore, crypto: LocalCryptoService
) -> None:
    builder = await new_builder(client)
    start = builder.now
    root = builder.root_file(expires=go_time(start + 20 * DAY))
    targets = builder.targets_file()
    parts = {
        ROOT: root,
        TARGETS: targets,
        SNAPSHOT: builder.snapshot_file({ROOT: root, TARGETS: targets}),
    }
    assert (await upload(client, GUN, parts)).status == 200
    # timestamp expired, root valid: re-issued
    await get_or_create_timestamp(memory_store, crypto, GUN, start + 15 * DAY)
    # both expired: refused
    with pytest.raises(RefreshError, match="root has expired"):
        await get_or_create_timestamp(memory_store, crypto, GUN, start + 40 * DAY)


class RacingStore(MemoryMetaStore):
    """Holds every writer at ``update_many`` until ``parties`` of them arrived: a forced race."""

    def __init__(self, parties: int) -> None:
        super().__init__()
        self.barrier: asyncio.Barrier | None = None
        self.parties = parties
        self.conflicts = 0

    def arm(self) -> None:
        self.barrier = asyncio.Barrier(self.parties)

    async def update_many(
        self, gun: str, updates: Sequence[MetaUpdate], *, audit: Audit | None = None
    ) -> None:
        if self.barrier is not None:
            await self.barrier.wait()
        try:
            await super().update_many(gun, updates, audit=audit)
        except Exception:
            self.conflicts += 1
            raise


@pytest.mark.parametrize(
    ("server_snapshot", "offset", "expected"),
    [
        (False, 30 * DAY, {ROOT: 1, TARGETS: 1, SNAPSHOT: 1, TIMESTAMP: 2}),
        (True, 4 * 365 * DAY, {ROOT: 1, TARGETS: 1, SNAPSHOT: 2, TIMESTAMP: 2}),
    ],
    ids=["timestamp", "snapshot-and-timestamp"],
)
async def test_concurrent_refresh(
    make_client: ClientFactory,
    crypto: LocalCryptoService,
    server_snapshot: bool,
    offset: timedelta,
    expected: dict[str, int],
) -> None:
    store = RacingStore(parties=2)
    client = await make_client(store=store)
    await publish_new(client, server_snapshot=server_snapshot)
    now = datetime.now(UTC) + offset
    store.arm()

    first, second = await asyncio.gather(
        get_or_create_timestamp(store, crypto, GUN, now),
        get_or_create_timestamp(store, crypto, GUN, now),
    )

    assert store.conflicts == 1  # the race really happened
    assert first.data == second.data
    await assert_valid_timestamp(store, first.data, now)
    store.barrier = None
    assert versions(await dump_store(store)) == expected


async def test_after_delete_everything_is_not_found(
    client: AppClient, memory_store: MemoryMetaStore, crypto: LocalCryptoService
) -> None:
    await publish_new(client)
    assert (await client.delete(tuf_url(GUN))).status == 200
    with pytest.raises(NotFoundError):
        await get_or_create_timestamp(memory_store, crypto, GUN, datetime.now(UTC))
    with pytest.raises(NotFoundError):
        await get_current_snapshot(memory_store, crypto, GUN, datetime.now(UTC))
    for tail in ("root.json", "targets.json", "snapshot.json", "timestamp.json", "1.root.json"):
        response = await client.get(tuf_url(GUN, tail))
        assert response.status == 404, tail
    # the GUN can be published again from scratch
    await publish_new(client)


# --- through the API ----------------------------------------------------------------------


async def store_expired_timestamp(store: MemoryMetaStore, crypto: LocalCryptoService) -> bytes:
    """Store timestamp v2, expired yesterday, signed with the server's timestamp key."""
    current = parse_timestamp((await store.get_current(GUN, TIMESTAMP)).data)
    expired = dataclasses.replace(
        current.signed, version=2, expires=go_time(datetime.now(UTC) - DAY)
    )
    root = await stored_root(store)
    signed = await sign_with_role(
        crypto,
        Metadata.from_signed(TIMESTAMP, expired),
        root.role_keys(TIMESTAMP),
        root.roles[TIMESTAMP].threshold,
    )
    data = signed.to_bytes()
    await store.update_many(GUN, [MetaUpdate(role=TIMESTAMP, version=2, data=data)])
    return data


@pytest.mark.parametrize("role", [TIMESTAMP, SNAPSHOT])
async def test_get_refreshes_expired_timestamp(
    client: AppClient, memory_store: MemoryMetaStore, crypto: LocalCryptoService, role: str
) -> None:
    await publish_new(client)
    expired = await store_expired_timestamp(memory_store, crypto)
    before = datetime.now(UTC).replace(microsecond=0)

    response = await client.get(tuf_url(GUN, f"{role}.json"))

    assert response.status == 200
    body = await response.read()
    fresh = await memory_store.get_current(GUN, TIMESTAMP)
    assert fresh.data != expired
    assert parse_timestamp(fresh.data).version == 3
    if role == TIMESTAMP:
        assert body == fresh.data
    else:
        assert body == (await memory_store.get_current(GUN, SNAPSHOT)).data
    # Last-Modified is the time of re-issue for the timestamp
    last_modified = datetime.strptime(
        response.headers["Last-Modified"].replace("UTC", "+0000"), "%a, %d %b %Y %H:%M:%S %z"
    )
    assert last_modified >= before
    if role == TIMESTAMP:
        assert response.headers["Last-Modified"] == format_last_modified(fresh.created)


async def test_get_with_impossible_refresh_is_500(
    client: AppClient, memory_store: MemoryMetaStore, crypto: LocalCryptoService
) -> None:
    # The server lost its timestamp key (e.g. a local trust service restarted).
    await publish_new(client)
    await store_expired_timestamp(memory_store, crypto)
    crypto._keys.clear()
    for role in (TIMESTAMP, SNAPSHOT):
        response = await client.get(tuf_url(GUN, f"{role}.json"))
        assert response.status == 500
        assert await response.read() == (
            b'{"errors":[{"code":"UNKNOWN","message":"unknown error","detail":{}}]}\n'
        )
    # other roles are still served
    assert (await client.get(tuf_url(GUN, "root.json"))).status == 200
