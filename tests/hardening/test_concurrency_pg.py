"""Concurrent publishers on PostgreSQL: one winner per version, losers get 400 VERSION.

The app runs in process on a PostgreSQL store (pool of 30 connections), driven
through aiohttp's test client. Every round, all publishers upload the next
version built from the same state at once; exactly one wins, every other gets
400 ``VERSION``, nothing answers 5xx, and a fresh client verifies the chain.
Afterwards the stored versions have no gaps.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

import pytest

from notary_tuf.rolenames import SNAPSHOT, TARGETS, TIMESTAMP
from testkit.server_helpers import form, new_builder, tuf_url
from tests.hardening.attacks import published_repo
from tests.hardening.chain import verified_chain
from tests.hardening.state import report

if TYPE_CHECKING:
    from notary_server.storage.postgres import PostgresMetaStore
    from testkit.server_helpers import AppClient

pytestmark = pytest.mark.postgres

SAME_GUN_PUBLISHERS = 50
ROUNDS = 4
DIFFERENT_GUNS = 200


async def _upload(client: AppClient, gun: str, parts: dict[str, bytes]) -> tuple[int, str]:
    response = await client.post(tuf_url(gun), data=form(parts.items()))
    body = await response.read()
    code = json.loads(body)["errors"][0]["code"] if response.status != 200 else ""
    return response.status, code


async def _versions(store: PostgresMetaStore, gun: str, role: str) -> list[int]:
    rows = await store._pool.fetch(
        "SELECT version FROM tuf_files WHERE gun = $1 AND role = $2 ORDER BY version", gun, role
    )
    return [row["version"] for row in rows]


async def test_50_publishers_on_one_gun(pg_env: tuple[AppClient, PostgresMetaStore]) -> None:
    client, store = pg_env
    gun = "example.com/race/one"
    builder = await published_repo(client, gun=gun)
    outcomes: dict[tuple[int, str], int] = {}
    for round_ in range(ROUNDS):
        candidates = []
        for index in range(SAME_GUN_PUBLISHERS):  # each from the same held state
            builder.add_target(f"r{round_}-p{index}", f"{round_}/{index}".encode())
            candidates.append(builder.publish())
            del builder.targets[TARGETS][f"r{round_}-p{index}"]
        results = await asyncio.gather(*(_upload(client, gun, p) for p in candidates))
        for result in results:
            outcomes[result] = outcomes.get(result, 0) + 1
        winners = [i for i, (status, _) in enumerate(results) if status == 200]
        assert len(winners) == 1, results
        assert all(r == (400, "VERSION") for i, r in enumerate(results) if i != winners[0])
        winner = candidates[winners[0]]
        builder.accept(winner)
        builder.add_target(f"r{round_}-p{winners[0]}", f"{round_}/{winners[0]}".encode())
        files = await verified_chain(client, gun)  # a fresh reader sees the winner, whole
        assert files[TARGETS].envelope.raw == winner[TARGETS]
    for role in (TARGETS, SNAPSHOT, TIMESTAMP):
        assert await _versions(store, gun, role) == list(range(1, ROUNDS + 2)), role
    report(f"{SAME_GUN_PUBLISHERS} publishers x {ROUNDS} rounds on one GUN: {outcomes}")


async def test_200_publishers_on_different_guns(
    pg_env: tuple[AppClient, PostgresMetaStore],
) -> None:
    client, store = pg_env
    guns = [f"example.com/race/many-{index:03d}" for index in range(DIFFERENT_GUNS)]
    builders = [await new_builder(client, gun) for gun in guns]
    uploads = []
    for builder in builders:
        builder.add_target("app", builder.gun.encode())
        uploads.append(builder.publish())
    results = await asyncio.gather(
        *(_upload(client, b.gun, p) for b, p in zip(builders, uploads, strict=True))
    )
    assert results == [(200, "")] * DIFFERENT_GUNS
    for builder, parts in zip(builders, uploads, strict=True):
        files = await verified_chain(client, builder.gun)
        assert files[TARGETS].envelope.raw == parts[TARGETS]
    assert sorted(await store.list_guns()) == guns
    changes = await store.get_changes(0, 1000, None)
    assert sorted(c.gun for c in changes) == guns
    report(f"{DIFFERENT_GUNS} concurrent first publishes on different GUNs: all 200, all verified")
