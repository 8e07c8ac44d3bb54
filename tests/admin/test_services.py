"""Re-signing, retention and purge at the service level, on the memory and SQLite stores."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from notary_server.admin.signerdb import SignerDatabase
from notary_server.services.purge import execute_purge, plan_purge
from notary_server.services.resign import resign_gun
from notary_server.services.retention import RetentionPolicy, apply_plan, plan_retention
from notary_server.storage import OldVersionError
from notary_server.storage.base import Audit
from notary_server.trust.base import TrustServiceError
from notary_signer.keystore.migrate import migrate_sqlite
from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS, TIMESTAMP
from notary_tuf.signed import Metadata
from testkit.server_helpers import GUN, publish_new, upload

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from notary_server.storage.capabilities import Backend
    from notary_server.trust.local import LocalCryptoService
    from notary_tuf.validation import MetaUpdate
    from testkit.server_helpers import AppClient

DAY = timedelta(days=1)
ADMIN = Audit(actor="admin:test", client_addr="cli@test")


async def versions(store: Backend, role: str) -> list[int]:
    return [info.version for info in await store.list_files(GUN) if info.role == role]


# --------------------------------------------------------------------- re-signing


async def test_timestamp_is_resigned_ahead_of_expiry(
    client: AppClient, store: Backend, crypto: LocalCryptoService
) -> None:
    await publish_new(client)
    now = datetime.now(UTC)
    assert (await resign_gun(store, crypto, GUN, now=now, fraction=1 / 3)).stored == ()
    later = now + 10 * DAY  # 4 of 14 days left: under a third
    result = await resign_gun(store, crypto, GUN, now=later, fraction=1 / 3)
    assert [u.role for u in result.stored] == [TIMESTAMP]
    stamp = Metadata.from_bytes(TIMESTAMP, (await store.get_current(GUN, TIMESTAMP)).data)
    assert stamp.version == 2
    assert stamp.signed.expires.to_datetime() > later + 13 * DAY
    # The next pass finds nothing due; the client-managed snapshot was not touched.
    assert (await resign_gun(store, crypto, GUN, now=later, fraction=1 / 3)).stored == ()
    assert await versions(store, SNAPSHOT) == [1]


async def test_server_managed_snapshot_is_resigned_too(
    client: AppClient, store: Backend, crypto: LocalCryptoService
) -> None:
    await publish_new(client, server_snapshot=True)
    later = datetime.now(UTC) + 800 * DAY  # a 3-year snapshot with under a year left
    result = await resign_gun(store, crypto, GUN, now=later, fraction=1 / 3)
    assert [u.role for u in result.stored] == [SNAPSHOT, TIMESTAMP]
    assert await versions(store, SNAPSHOT) == [1, 2]


async def test_a_replica_that_loses_the_race_backs_off(
    client: AppClient, store: Backend, crypto: LocalCryptoService
) -> None:
    await publish_new(client)
    original = store.update_many

    async def lose(gun: str, updates: Sequence[MetaUpdate], *, audit: Audit | None = None) -> None:
        await original(gun, updates, audit=audit)  # the other replica's write...
        raise OldVersionError("lost")  # ...makes ours a duplicate

    store.update_many = lose  # type: ignore[method-assign]
    later = datetime.now(UTC) + 10 * DAY
    result = await resign_gun(store, crypto, GUN, now=later, fraction=1 / 3)
    assert result.stored == ()
    assert result.note == "another writer won"


# --------------------------------------------------------------------- retention


async def test_retention_keeps_roots_current_chain_and_history(
    client: AppClient, store: Backend
) -> None:
    published = await publish_new(client)
    builder = published.builder
    for release in range(2, 6):
        builder.add_target(f"app{release}", b"release %d\n" % release)
        parts = builder.publish()
        assert (await upload(client, GUN, parts)).status == 200
        builder.accept(parts)
    now = datetime.now(UTC)
    assert await versions(store, TARGETS) == [1, 2, 3, 4, 5]

    young = await plan_retention(store, GUN, RetentionPolicy(keep_versions=1, keep_days=1), now=now)
    assert young.delete == ()  # everything is younger than a day

    policy = RetentionPolicy(keep_versions=2, keep_days=0)
    plan = await plan_retention(store, GUN, policy, now=now)
    assert {(i.role, i.version) for i in plan.delete} == {
        (role, v) for role in (TARGETS, SNAPSHOT, TIMESTAMP) for v in (1, 2, 3)
    }
    assert await apply_plan(store, plan) == 9
    assert await versions(store, ROOT) == [1]
    assert await versions(store, TARGETS) == [4, 5]
    again = await plan_retention(store, GUN, policy, now=now)
    assert again.delete == ()
    # The repository still serves and still takes updates.
    assert (await client.get(f"/v2/{GUN}/_trust/tuf/targets.json")).status == 200
    builder.add_target("app6", b"release 6\n")
    parts = builder.publish()
    assert (await upload(client, GUN, parts)).status == 200


# --------------------------------------------------------------------- purge


def signer_database(path: Path, rows: list[tuple[str, str, str, bool]]) -> SignerDatabase:
    migrate_sqlite(str(path))
    conn = sqlite3.connect(path, isolation_level=None)
    for key_id, gun, role, deleted in rows:
        conn.execute(
            "INSERT INTO private_keys (created_at, updated_at, deleted_at, key_id, encryption_alg,"
            " keywrap_alg, algorithm, passphrase_alias, public, private, gun, role)"
            " VALUES (datetime(), datetime(), ?, ?, 'A256GCM', 'PBES2-HS256+A128KW', 'ecdsa',"
            " 'alias', x'00', x'00', ?, ?)",
            ("2020-01-01 00:00:00" if deleted else None, key_id, gun, role),
        )
    conn.close()
    return SignerDatabase("sqlite3", str(path))


async def test_purge_removes_keys_rows_and_files_and_resumes(
    client: AppClient, store: Backend, crypto: LocalCryptoService, tmp_path: Path
) -> None:
    published = await publish_new(client)
    timestamp_key = published.builder.timestamp_key.canonical_key_id
    assert await crypto.get_key(timestamp_key) is not None
    other_key = "f" * 64
    table = signer_database(
        tmp_path / "signer.db",
        [
            (timestamp_key, GUN, TIMESTAMP, False),
            ("a" * 64, GUN, SNAPSHOT, False),  # pending: never in a root
            ("b" * 64, GUN, TIMESTAMP, True),  # soft-deleted, still holds key material
            (other_key, "other/gun", TIMESTAMP, False),
        ],
    )

    plan = await plan_purge(store, GUN, crypto=crypto, signer_table=table)
    assert [key for key, _ in plan.rpc_keys] == [timestamp_key]
    assert len(plan.signer_rows) == 3
    assert len(plan.files) == 4

    working = crypto.delete_key

    async def unavailable(key_id: str) -> None:
        raise TrustServiceError(f"signer unavailable for {key_id}")

    crypto.delete_key = unavailable  # type: ignore[method-assign]
    report = await execute_purge(
        plan,
        store,
        crypto=crypto,
        signer_table=table,
        audit=ADMIN,
    )
    assert report.failed[0].startswith(f"signer key {timestamp_key}")
    assert report.failed[-1] == "4 metadata file(s): not attempted"
    assert len(await store.list_files(GUN)) == 4  # metadata kept: a re-run plans the same

    crypto.delete_key = working  # type: ignore[method-assign]
    plan = await plan_purge(store, GUN, crypto=crypto, signer_table=table)
    assert [key for key, _ in plan.rpc_keys] == [timestamp_key]
    report = await execute_purge(
        plan,
        store,
        crypto=crypto,
        signer_table=table,
        audit=ADMIN,
    )
    assert report.failed == []
    assert await crypto.get_key(timestamp_key) is None
    assert await table.rows_for(GUN) == []
    assert await table.owners([other_key]) == {other_key: "other/gun"}
    assert await store.list_files(GUN) == []
    deletion = (await store.get_changes(-1, -1, GUN))[-1]
    assert (deletion.category, deletion.actor, deletion.client_addr) == (
        "deletion",
        "admin:test",
        "cli@test",
    )
    assert [e.action for e in await store.get_audit(GUN)] == ["purge"]
    assert (await plan_purge(store, GUN, crypto=crypto, signer_table=table)).empty


async def test_purge_leaves_a_key_of_another_gun_alone(
    client: AppClient, store: Backend, crypto: LocalCryptoService, tmp_path: Path
) -> None:
    published = await publish_new(client)
    timestamp_key = published.builder.timestamp_key
    table = signer_database(
        tmp_path / "signer.db", [(timestamp_key.canonical_key_id, "victim/gun", TIMESTAMP, False)]
    )
    plan = await plan_purge(store, GUN, crypto=crypto, signer_table=table)
    assert plan.rpc_keys == ()
    assert any("belongs to victim/gun" in note for note in plan.notes)


async def test_publish_delete_and_rotation_record_the_actor(
    client: AppClient, store: Backend
) -> None:
    await publish_new(client)
    assert (await client.post(f"/v2/{GUN}/_trust/tuf/timestamp.key")).status == 200
    assert (await client.delete(f"/v2/{GUN}/_trust/tuf/")).status == 200
    changes = await store.get_changes(0, 0, GUN)
    assert [(c.category, c.actor, c.client_addr) for c in changes] == [
        ("update", "anonymous", "127.0.0.1"),
        ("deletion", "anonymous", "127.0.0.1"),
    ]
    events = await store.get_audit(GUN)
    assert [(e.action, e.actor) for e in events] == [("key-rotation", "anonymous")]
    assert events[0].detail.startswith("role=timestamp key=")
    feed = await (await client.get(f"/v2/{GUN}/_trust/changefeed?records=10")).json(
        content_type=None
    )
    assert [r["Actor"] for r in feed["records"]] == ["anonymous", "anonymous"]
