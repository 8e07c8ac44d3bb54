"""The metadata store contract, run against every backend.

The first tests port Go ``server/storage/storage_test.go`` (and the SQL-only
cases of ``sqldb_test.go``) by name; the rest pin down behaviour Go leaves
implicit or gets wrong (prefix deletes, per-role checksums, races).
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from notary_server.storage import NotFoundError, OldVersionError, StorageError
from notary_server.storage.base import Audit, Change, MetaStore, MetaUpdate
from notary_server.storage.capabilities import Backend
from notary_server.storage.postgres import PostgresMetaStore

BASE_ROLES = ("root", "targets", "snapshot", "timestamp")


@dataclass(frozen=True)
class Sample:
    gun: str
    role: str
    version: int
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def update(self) -> MetaUpdate:
        return MetaUpdate(role=self.role, version=self.version, data=self.data)


def sample(gun: str, role: str, version: int, data: bytes | None = None) -> Sample:
    """Go ``SampleCustomTUFObj``."""
    return Sample(gun, role, version, data or f"{gun}_{role}_{version}".encode())


def recent(moment: datetime) -> bool:
    now = datetime.now(UTC)
    return moment.tzinfo is not None and now - timedelta(minutes=1) < moment < now + timedelta(
        seconds=5
    )


async def assert_in_store(store: MetaStore, expected: list[Sample], *, current: bool) -> None:
    """Go ``assertExpectedTUFMetaInStore``."""
    for obj in expected:
        previous = None
        if current:
            got = await store.get_current(obj.gun, obj.role)
            assert got.data == obj.data
            assert recent(got.created)
            previous = got.created
        got = await store.get_checksum(obj.gun, obj.role, obj.sha256)
        assert got.data == obj.data
        if previous is not None:
            assert got.created == previous
        else:
            assert recent(got.created)


async def timestamps(store: MetaStore, gun: str, *versions: int) -> None:
    for version in versions:
        await store.update_many(
            gun, [MetaUpdate(role="timestamp", version=version, data=f"{gun}{version}".encode())]
        )


# Ports of Go storage_test.go


async def test_update_current_empty_store(store: MetaStore) -> None:
    expected = []
    for role in (*BASE_ROLES, "targets/a"):
        for gun in ("gun1", "gun2"):
            obj = sample(gun, role, 1)
            await store.update_current(gun, obj.update)
            expected.append(obj)
    await assert_in_store(store, expected, current=True)


@pytest.mark.parametrize("old_version_exists", [True, False], ids=["exists", "not_exist"])
async def test_update_current_version_check(store: MetaStore, old_version_exists: bool) -> None:
    gun, role = "testGUN", "root"
    expected = [sample(gun, role, 1), sample(gun, role, 2), sample(gun, role, 4)]
    for obj in expected:
        await store.update_current(gun, obj.update)

    stale = sample(gun, role, 4 if old_version_exists else 3)
    with pytest.raises(OldVersionError):
        await store.update_current(gun, stale.update)

    await assert_in_store(store, expected[:2], current=False)
    await assert_in_store(store, expected[2:], current=True)


async def test_get_version(store: MetaStore) -> None:
    with pytest.raises(NotFoundError):
        await store.get_version("gun", "role", 2)
    await store.update_current("gun", MetaUpdate(role="role", version=2, data=b"version2"))
    assert (await store.get_version("gun", "role", 2)).data == b"version2"
    with pytest.raises(NotFoundError):
        await store.get_version("gun", "role", 3)
    with pytest.raises(NotFoundError):
        await store.get_version("badgun", "badrole", 2)
    with pytest.raises(NotFoundError):
        await store.get_version("gun", "role", 2**40)


async def test_update_many_no_conflicts(store: MetaStore) -> None:
    gun = "testGUN"
    first = [sample(gun, role, 1) for role in BASE_ROLES]
    await store.update_many(gun, [obj.update for obj in first])
    await assert_in_store(store, first, current=True)

    second = [sample(gun, role, 2) for role in BASE_ROLES]
    await store.update_many(gun, [obj.update for obj in second])
    await assert_in_store(store, first, current=False)
    await assert_in_store(store, second, current=True)

    # Two versions of one role in one batch, out of order.
    third = [sample(gun, "root", 4), sample(gun, "root", 3)]
    await store.update_many(gun, [obj.update for obj in third])
    await assert_in_store(store, first + second, current=False)
    await assert_in_store(store, third[:1], current=True)
    await assert_in_store(store, third[1:], current=False)


async def test_update_many_conflict_rollback(store: MetaStore) -> None:
    gun = "testGUN"
    success = [sample(gun, role, 1) for role in BASE_ROLES]
    await store.update_many(gun, [obj.update for obj in success])
    before = await store.get_changes(0, 1000, None)

    bad = [
        sample(gun, role, 1 if role == "targets" else 2, f"{gun}_{role}_bad".encode())
        for role in BASE_ROLES
    ]
    with pytest.raises(OldVersionError):
        await store.update_many(gun, [obj.update for obj in bad])

    duplicate = sample(gun, "timestamp", 3, b"duplicate")
    with pytest.raises(OldVersionError):
        await store.update_many(gun, [duplicate.update, duplicate.update])

    assert await store.get_changes(0, 1000, None) == before
    await assert_in_store(store, success, current=True)
    for obj in [*bad, duplicate]:
        with pytest.raises(NotFoundError):
            await store.get_checksum(obj.gun, obj.role, obj.sha256)


async def test_update_many_records_who_asked(store: MetaStore) -> None:
    """Beyond Go (migration 0004): the changefeed record carries the audit, if any."""
    gun = "audited"
    asked = Audit(actor="alice", client_addr="192.0.2.7")
    await store.update_many(gun, [sample(gun, "timestamp", 1).update], audit=asked)
    await store.update_many(gun, [sample(gun, "timestamp", 2).update])
    changes = await store.get_changes(0, 1000, gun)
    assert [(c.version, c.actor, c.client_addr) for c in changes] == [
        (1, "alice", "192.0.2.7"),
        (2, None, None),
    ]


async def test_delete_success(store: MetaStore) -> None:
    gun = "testGUN"
    await store.delete(gun)  # nothing there: a no-op

    unexpected = [
        sample(gun, role, version) for version in (1, 2) for role in (*BASE_ROLES, "targets/a")
    ]
    await store.update_many(gun, [obj.update for obj in unexpected])
    await assert_in_store(store, unexpected[:5], current=False)
    await assert_in_store(store, unexpected[5:], current=True)

    await store.delete(gun)
    for obj in unexpected:
        with pytest.raises(NotFoundError):
            await store.get_current(obj.gun, obj.role)
        with pytest.raises(NotFoundError):
            await store.get_checksum(obj.gun, obj.role, obj.sha256)

    # The same files can be written again, and deleted again.
    await store.update_many(gun, [obj.update for obj in unexpected])
    await assert_in_store(store, unexpected[:5], current=False)
    await assert_in_store(store, unexpected[5:], current=True)
    await store.delete(gun)


async def test_get_changes(store: MetaStore) -> None:
    await timestamps(store, "alpine", 1, 2, 3, 4)
    await timestamps(store, "busybox", 1, 2, 3, 4)

    full = await store.get_changes(0, 8, None)
    assert [(c.gun, c.version) for c in full] == [
        *(("alpine", v) for v in range(1, 5)),
        *(("busybox", v) for v in range(1, 5)),
    ]

    latest = await store.get_changes(-1, 4, None)
    assert [(c.gun, c.version) for c in latest] == [("busybox", v) for v in range(1, 5)]

    assert await store.get_changes(full[7].id, 4, None) == []

    around = await store.get_changes(full[6].id, -4, None)
    assert [(c.gun, c.version) for c in around] == [
        ("alpine", 3),
        ("alpine", 4),
        ("busybox", 1),
        ("busybox", 2),
    ]

    busybox = await store.get_changes(0, 8, "busybox")
    assert [(c.gun, c.version) for c in busybox] == [("busybox", v) for v in range(1, 5)]
    assert await store.get_changes(-1, -8, "busybox") == busybox

    # Only timestamps make changes.
    before = await store.get_changes(-1, -1, None)
    await store.update_many("alpine", [MetaUpdate(role="snapshot", version=1, data=b"1")])
    assert await store.get_changes(-1, -1, None) == before

    assert await store.get_changes(1000, 0, None) == []

    await store.delete("alpine")
    (last,) = await store.get_changes(-1, -1, None)
    assert (last.category, last.gun, last.version, last.sha256) == ("deletion", "alpine", 0, "")

    # Nothing left to delete: no second deletion record.
    await store.delete("alpine")
    last_two = await store.get_changes(-1, -2, None)
    assert len(last_two) == 2
    assert last_two[0].category == "update"
    assert last_two[0].gun == "busybox"


# Ports of Go sqldb_test.go cases that apply to every store


async def test_get_checksum(store: MetaStore) -> None:
    first = sample("gun", "timestamp", 1, b'{"signed":{"version":1}}')
    second = sample("gun", "timestamp", 2, b'{"signed":{"version":2}}')
    await store.update_current("gun", first.update)
    await store.update_current("gun", second.update)
    got = await store.get_checksum("gun", "timestamp", first.sha256)
    assert got.data == first.data
    assert recent(got.created)


async def test_get_checksum_not_found(store: MetaStore) -> None:
    with pytest.raises(NotFoundError):
        await store.get_checksum("gun", "timestamp", "12345")


async def test_check_health_succeeds(store: Backend) -> None:
    await store.check_health()


# Behaviour Go leaves implicit, or gets wrong


async def test_get_current_is_highest_version(store: MetaStore) -> None:
    with pytest.raises(NotFoundError):
        await store.get_current("gun", "targets")
    await store.update_many("gun", [sample("gun", "targets", v).update for v in (3, 7, 5)])
    assert (await store.get_current("gun", "targets")).data == b"gun_targets_7"


async def test_get_checksum_is_per_role(store: MetaStore) -> None:
    obj = sample("gun", "targets", 1)
    await store.update_current("gun", obj.update)
    with pytest.raises(NotFoundError):
        await store.get_checksum("gun", "root", obj.sha256)
    with pytest.raises(NotFoundError):
        await store.get_checksum("other", "targets", obj.sha256)
    with pytest.raises(NotFoundError):
        await store.get_checksum("gun", "targets", obj.sha256.upper())


async def test_delete_leaves_gun_with_same_prefix(store: MetaStore) -> None:
    await timestamps(store, "docker.io/library/foo", 1)
    await timestamps(store, "docker.io/library/foobar", 1)
    await store.update_current("docker.io/library/foo.x", sample("x", "root", 1).update)

    await store.delete("docker.io/library/foo")

    with pytest.raises(NotFoundError):
        await store.get_current("docker.io/library/foo", "timestamp")
    assert (await store.get_current("docker.io/library/foobar", "timestamp")).data
    assert (await store.get_current("docker.io/library/foo.x", "root")).data


async def test_deleted_gun_recreated(store: MetaStore) -> None:
    await timestamps(store, "gun", 1, 2)
    await store.delete("gun")
    await timestamps(store, "gun", 1)
    assert (await store.get_current("gun", "timestamp")).data == b"gun1"
    feed = await store.get_changes(0, 0, "gun")
    assert [(c.category, c.version) for c in feed] == [
        ("update", 1),
        ("update", 2),
        ("deletion", 0),
        ("update", 1),
    ]


async def test_changefeed_records_timestamps_only(store: MetaStore) -> None:
    updates = [sample("gun", role, 1) for role in (*BASE_ROLES, "targets/a")]
    await store.update_many("gun", [obj.update for obj in updates])
    (change,) = await store.get_changes(0, 0, None)
    assert isinstance(change, Change)
    assert (change.gun, change.version, change.category) == ("gun", 1, "update")
    assert change.sha256 == sample("gun", "timestamp", 1).sha256
    assert change.id == 1
    assert recent(change.created_at)


async def test_deletion_record_only_when_something_deleted(store: MetaStore) -> None:
    await store.delete("nothing-here")
    assert await store.get_changes(0, 0, None) == []
    await store.update_current("gun", sample("gun", "root", 1).update)
    await store.delete("gun")
    (change,) = await store.get_changes(0, 0, None)
    assert (change.gun, change.version, change.sha256, change.category) == (
        "gun",
        0,
        "",
        "deletion",
    )
    assert recent(change.created_at)


async def test_get_changes_forward_pagination(store: MetaStore) -> None:
    await timestamps(store, "gun", *range(1, 8))
    pages = []
    last = 0
    while page := await store.get_changes(last, 3, None):
        pages.append([c.version for c in page])
        last = page[-1].id
    assert pages == [[1, 2, 3], [4, 5, 6], [7]]


async def test_get_changes_backwards_pagination(store: MetaStore) -> None:
    await timestamps(store, "gun", *range(1, 8))
    pages = []
    page = await store.get_changes(-1, 3, None)
    while page:
        pages.append([c.version for c in page])
        page = await store.get_changes(page[0].id, -3, None)
    assert pages == [[5, 6, 7], [2, 3, 4], [1]]


async def test_get_changes_filter_by_gun(store: MetaStore) -> None:
    for version in range(1, 4):
        await timestamps(store, "a", version)
        await timestamps(store, "b", version)
    feed_b = await store.get_changes(0, 2, "b")
    assert [(c.gun, c.version) for c in feed_b] == [("b", 1), ("b", 2)]
    rest = await store.get_changes(feed_b[-1].id, 10, "b")
    assert [(c.gun, c.version) for c in rest] == [("b", 3)]
    assert [c.version for c in await store.get_changes(-1, 2, "a")] == [2, 3]
    assert await store.get_changes(0, 10, "c") == []


async def test_get_changes_zero_records_means_100(store: MetaStore) -> None:
    await store.update_many(
        "gun",
        [MetaUpdate(role="timestamp", version=v, data=b"%d" % v) for v in range(1, 106)],
    )
    assert len(await store.get_changes(0, 0, None)) == 100
    backwards = await store.get_changes(-1, 0, None)
    assert [c.version for c in backwards] == list(range(6, 106))
    assert [c.version for c in await store.get_changes(0, -1000, None)] == list(range(1, 106))


async def test_concurrent_writers_of_one_version(store: MetaStore) -> None:
    async def write(i: int) -> None:
        await store.update_many(
            "gun", [MetaUpdate(role="timestamp", version=1, data=b"writer %d" % i)]
        )

    results = await asyncio.gather(*(write(i) for i in range(20)), return_exceptions=True)
    assert sum(r is None for r in results) == 1
    assert all(r is None or isinstance(r, OldVersionError) for r in results), results
    assert len(await store.get_changes(0, 0, None)) == 1


async def test_data_is_kept_byte_for_byte(store: MetaStore) -> None:
    data = bytes(range(256)) * 1000 + b"\x00"
    obj = sample("gun", "targets/releases", 0, data)
    await store.update_current("gun", obj.update)  # version 0 is allowed, as in Go
    assert (await store.get_version("gun", "targets/releases", 0)).data == data
    assert (await store.get_checksum("gun", "targets/releases", obj.sha256)).data == data


async def test_version_must_fit_32_bits(store: MetaStore) -> None:
    with pytest.raises(StorageError) as caught:
        await store.update_current("gun", MetaUpdate(role="root", version=2**31, data=b"x"))
    assert not isinstance(caught.value, OldVersionError)
    await store.update_current("gun", MetaUpdate(role="root", version=2**31 - 1, data=b"x"))


async def test_update_many_empty_is_a_no_op(store: MetaStore) -> None:
    await store.update_many("gun", [])
    assert await store.get_changes(0, 0, None) == []


# Bulk reads (the cache warmer)


async def test_get_current_roles_matches_get_current(store: Backend) -> None:
    await store.update_many("a", [sample("a", "timestamp", v).update for v in (1, 3, 2)])
    await store.update_many("a", [sample("a", "root", 1).update, sample("a", "targets", 4).update])
    await store.update_many("b", [sample("b", "snapshot", 7).update])  # another GUN
    await store.update_many("c", [sample("c", "root", 1).update])
    await store.delete("c")
    roles = ["timestamp", "snapshot", "root", "targets", "targets/releases"]
    found = await store.get_current_roles("a", roles)
    assert set(found) == {"timestamp", "root", "targets"}
    for role, stored in found.items():
        assert stored == await store.get_current("a", role)
    assert found["timestamp"].data == b"a_timestamp_3"
    assert await store.get_current_roles("c", roles) == {}  # deleted
    assert await store.get_current_roles("a", []) == {}


async def test_get_current_many_matches_get_current(store: Backend) -> None:
    await store.update_many("a", [sample("a", "timestamp", v).update for v in (1, 3, 2)])
    await store.update_many("b", [sample("b", "timestamp", 1).update])
    await store.update_many("c", [sample("c", "root", 1).update])  # no timestamp
    await store.delete("b")
    await store.update_many("b", [sample("b", "timestamp", 5).update])  # recreated
    found = await store.get_current_many("timestamp", ["a", "b", "c", "nope"])
    assert set(found) == {"a", "b"}
    for gun, stored in found.items():
        assert stored == await store.get_current(gun, "timestamp")
    assert found["a"].data == b"a_timestamp_3"
    assert await store.get_current_many("timestamp", []) == {}


async def test_get_checksum_many_matches_get_checksum(store: Backend) -> None:
    one, two = sample("a", "snapshot", 1), sample("a", "snapshot", 2)
    other = sample("b", "snapshot", 1)
    await store.update_many("a", [one.update, two.update])
    await store.update_many("b", [other.update])
    wanted = [
        ("a", one.sha256),
        ("a", two.sha256),
        ("b", other.sha256),
        ("b", one.sha256),  # another GUN's checksum
        ("a", "0" * 64),
    ]
    found = await store.get_checksum_many("snapshot", wanted)
    assert set(found) == {("a", one.sha256), ("a", two.sha256), ("b", other.sha256)}
    for (gun, checksum), stored in found.items():
        assert stored == await store.get_checksum(gun, "snapshot", checksum)
    assert await store.get_checksum_many("timestamp", wanted) == {}  # per role


async def test_guns_recent_first_lists_guns_with_a_timestamp(store: Backend) -> None:
    await timestamps(store, "old", 1)
    await store.update_many("root-only", [sample("root-only", "root", 1).update])
    await timestamps(store, "new", 1)
    guns = await store.guns_recent_first()
    assert set(guns) - {"root-only"} == {"old", "new"}  # the default may list every GUN
    if isinstance(store, PostgresMetaStore):
        assert guns == ["new", "old"]
