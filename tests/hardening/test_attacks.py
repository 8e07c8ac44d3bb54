"""Attacks through the real HTTP API: refused with Go's code, nothing stored, repo still usable.

The table is :data:`tests.hardening.attacks.ATTACKS` (rollback, freeze,
mix-and-match, signature, key, method and threshold attacks, root rotation
and version attacks, delegation and role-name tricks, the same role twice,
versions at and beyond 2^31). Every attack runs on the memory store; a subset
runs again on PostgreSQL, where the database rows are compared too.

GUN attacks (``..``, ``%2F``, control characters, 1,000+ characters) and the
decisions about delegation paths and a repeated role are tested below the
table.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from notary_tuf.rolenames import SNAPSHOT, TARGETS
from testkit.repo_builder import SigningKey, flip_first_sig_byte, tamper_signatures
from testkit.server_helpers import form, raw_request, tuf_url
from tests.hardening.attacks import (
    ATTACKS,
    RELEASES,
    Attack,
    Sent,
    assert_still_publishable,
    post,
    publish,
    published_repo,
)
from tests.hardening.state import error_of, report, store_state

if TYPE_CHECKING:
    from notary_server.storage.capabilities import Backend
    from notary_server.storage.memory import MemoryMetaStore
    from notary_server.storage.postgres import PostgresMetaStore
    from testkit.repo_builder import RepoBuilder
    from testkit.server_helpers import AppClient, ClientFactory

PG_SUBSET = (
    "rollback-root-equal",
    "rollback-targets-lower",
    "rollback-snapshot-only-old-targets",
    "rollback-delegation-equal",
    "freeze-snapshot",
    "mix-and-match",
    "bad-signature",
    "threshold-not-met",
    "root-not-signed-by-previous",
    "root-cn-mismatch",
    "role-dotdot",
    "version-2^31-targets",
    "version-2^63-targets",
)

ATTACKS_TRIED: list[str] = []
MIN_ATTACKS = 48
"""The size of the attack table when issue #14 closed; rows are added, never dropped."""


async def run_attack(client: AppClient, store: Backend, attack: Attack) -> None:
    builder = await published_repo(client, attack.configure)
    if attack.prepare is not None:
        await attack.prepare(client, builder)
    sent = attack.build(builder)
    before = await store_state(store)

    response = await post(client, sent)

    assert response.status == attack.status, await response.text()
    error = await error_of(response)
    assert error["code"] == attack.code, error
    if attack.detail_name is not None:
        detail = error["detail"]
        assert isinstance(detail, dict)
        assert detail["Name"] == attack.detail_name, detail
    assert await store_state(store) == before
    await assert_still_publishable(client, builder)


@pytest.mark.parametrize("name", ATTACKS)
async def test_attack_refused_on_memory(
    make_client: ClientFactory, memory_store: MemoryMetaStore, name: str
) -> None:
    client = await make_client(memory_store)
    await run_attack(client, memory_store, ATTACKS[name])


@pytest.mark.postgres
@pytest.mark.parametrize("name", PG_SUBSET)
async def test_attack_refused_on_postgres(
    pg_env: tuple[AppClient, PostgresMetaStore], name: str
) -> None:
    client, pg_store = pg_env
    rows_before = await pg_store._pool.fetchval("SELECT count(*) FROM tuf_files")
    await run_attack(client, pg_store, ATTACKS[name])
    # The refused upload wrote nothing; the final publish wrote targets, snapshot, timestamp.
    rows_after = await pg_store._pool.fetchval("SELECT count(*) FROM tuf_files")
    assert rows_after >= rows_before + 3


# ------------------------------------------------------------------ the same role twice


async def test_same_role_twice_is_refused(
    make_client: ClientFactory, memory_store: MemoryMetaStore
) -> None:
    # Go keeps the last part for a role and never looks at the first (broken)
    # one; we refuse the upload (ADR 0020), whichever part is the broken one.
    client = await make_client(memory_store)
    builder = await published_repo(client)
    builder.add_target("next", b"next")
    good = builder.targets_file()
    bad = tamper_signatures(good, flip_first_sig_byte)
    snapshot = builder.snapshot_file({TARGETS: good})
    before = await store_state(memory_store)
    for first, last in ((bad, good), (good, bad)):
        response = await post(
            client, Sent([(TARGETS, first), (TARGETS, last), (SNAPSHOT, snapshot)])
        )
        error = await error_of(response)
        assert (response.status, error["code"]) == (400, "MALFORMED_UPLOAD")
        assert await store_state(memory_store) == before
    await assert_still_publishable(client, builder)


# ------------------------------------------------------------------ versions at the cap


async def test_version_2_31_minus_1_is_refused(
    make_client: ClientFactory, memory_store: MemoryMetaStore
) -> None:
    # Go stores it, and then the next targets version does not fit: the role is
    # bricked. We refuse any version far above the timestamp's (ADR 0023; every
    # role kind, SQLite and PostgreSQL: tests/hardening/test_version_brick.py).
    client = await make_client(memory_store)
    builder = await published_repo(client)
    builder.add_target("max", b"max")
    targets = builder.targets_file(version=2**31 - 1)
    before = await store_state(memory_store)
    response = await post(
        client, Sent([(TARGETS, targets), (SNAPSHOT, builder.snapshot_file({TARGETS: targets}))])
    )
    error = await error_of(response)
    assert (response.status, error["code"]) == (400, "INVALID_UPDATE")
    assert await store_state(memory_store) == before
    await assert_still_publishable(client, builder)


# ------------------------------------------------------------------ delegation paths


async def _refused_unchanged(
    client: AppClient, store: Backend, builder: RepoBuilder, roles: tuple[str, ...]
) -> None:
    parts = builder.publish(*roles)
    before = await store_state(store)
    response = await client.post(tuf_url(builder.gun), data=form(parts.items()))
    assert response.status == 400, await response.text()
    error = await error_of(response)
    assert error["code"] == "INVALID_UPDATE"
    detail = error["detail"]
    assert isinstance(detail, dict)
    assert detail["Name"] == "ErrBadTargets"
    assert "outside the paths" in json.dumps(detail)
    assert await store_state(store) == before


async def test_delegated_target_outside_its_paths_is_refused(
    make_client: ClientFactory, memory_store: MemoryMetaStore
) -> None:
    # Go stores it (its client then ignores the target); we refuse it (ADR 0012, item 3).
    client = await make_client(memory_store)
    builder = await published_repo(client)
    key = SigningKey.generate()
    builder.delegate(RELEASES, [key], paths=("allowed/",))
    builder.add_target("allowed/a", b"a", RELEASES)
    await publish(client, builder, TARGETS, RELEASES)

    builder.add_target("evil/x", b"evil", RELEASES)
    await _refused_unchanged(client, memory_store, builder, (RELEASES,))
    del builder.targets[RELEASES]["evil/x"]
    builder.add_target("allowed/b", b"b", RELEASES)
    await publish(client, builder, RELEASES)


async def test_nested_delegated_target_must_be_within_every_ancestor(
    make_client: ClientFactory, memory_store: MemoryMetaStore
) -> None:
    client = await make_client(memory_store)
    builder = await published_repo(client)
    builder.delegate(RELEASES, [SigningKey.generate()], paths=("app/",))
    nested = f"{RELEASES}/team"
    builder.delegate(nested, [SigningKey.generate()], paths=("app/team/", "other/"))
    builder.add_target("app/team/ok", b"ok", nested)
    await publish(client, builder, TARGETS, RELEASES, nested)

    builder.add_target("other/x", b"x", nested)  # in its own paths, not in its parent's
    await _refused_unchanged(client, memory_store, builder, (nested,))


async def test_targets_kept_after_the_parent_narrows_the_paths_still_publish(
    make_client: ClientFactory, memory_store: MemoryMetaStore
) -> None:
    # The Go client's `delegation remove --paths` narrows the parent's grant; the
    # delegation's next publish re-uploads its older targets, now outside the paths.
    client = await make_client(memory_store)
    builder = await published_repo(client)
    key = SigningKey.generate()
    builder.delegate(RELEASES, [key], paths=("old/", "new/"))
    builder.add_target("old/a", b"a", RELEASES)
    await publish(client, builder, TARGETS, RELEASES)
    builder.delegate(RELEASES, [key], paths=("new/",))
    await publish(client, builder, TARGETS)

    builder.add_target("new/b", b"b", RELEASES)
    await publish(client, builder, RELEASES)
    builder.add_target("old/a", b"changed", RELEASES)  # an old name, new content: refused
    await _refused_unchanged(client, memory_store, builder, (RELEASES,))


# ------------------------------------------------------------------ GUNs


LONG_GUN = "example.com/" + "a" * 1000
BAD_GUNS = {
    "1000-chars": LONG_GUN,
    "256-chars": "example.com/" + "b" * 244,
    "nul": "example.com/a%00b",
    "newline": "example.com/a%0Ab",
    "escape": "example.com/a%1Bb",
    "del": "example.com/a%7Fb",
}


async def check_unstorable_gun(client: AppClient, store: Backend, gun: str) -> None:
    # Go answers 500 on PostgreSQL for a GUN longer than the varchar(255) column
    # (and for a NUL, which PostgreSQL text cannot hold). We refuse such GUNs up
    # front: INVALID_GUN on upload, METADATA_NOT_FOUND on reads and deletes (ADR 0012).
    builder = await published_repo(client, gun="example.com/valid")
    parts = builder.publish()
    before = await store_state(store)

    response = await client.post(tuf_url(gun), data=form(parts.items()))
    assert response.status == 400
    error = await error_of(response)
    assert error["code"] == "INVALID_GUN"
    assert "GUN" in str(error["detail"])
    for tail in ("root.json", "timestamp.json", "1.root.json", "timestamp.key", "snapshot.key"):
        response = await client.get(tuf_url(gun, tail))
        assert response.status == 404, tail
        assert (await error_of(response))["code"] == "METADATA_NOT_FOUND"
    response = await client.delete(tuf_url(gun))
    assert response.status == 404
    response = await client.get(f"/v2/{gun}/_trust/changefeed?records=10")
    assert response.status == 404
    assert await store_state(store) == before


@pytest.mark.parametrize("gun", BAD_GUNS.values(), ids=BAD_GUNS.keys())
async def test_unstorable_gun_is_refused_on_memory(
    memory_env: tuple[AppClient, MemoryMetaStore], gun: str
) -> None:
    await check_unstorable_gun(*memory_env, gun)


@pytest.mark.postgres
@pytest.mark.parametrize("gun", BAD_GUNS.values(), ids=BAD_GUNS.keys())
async def test_unstorable_gun_is_refused_on_postgres(
    pg_env: tuple[AppClient, PostgresMetaStore], gun: str
) -> None:
    await check_unstorable_gun(*pg_env, gun)


@pytest.mark.postgres
async def test_255_character_gun_reaches_the_store_on_postgres(
    pg_env: tuple[AppClient, PostgresMetaStore],
) -> None:
    # The longest storable GUN passes the filter: reads reach PostgreSQL (404,
    # not 500), and an upload reaches validation. (A root certificate's CN is
    # at most 64 characters, so no valid root can name a GUN this long.)
    client, pg_store = pg_env
    gun = "example.com/" + "c" * 243
    assert len(gun) == 255
    response = await client.get(tuf_url(gun, "root.json"))
    assert (response.status, (await error_of(response))["code"]) == (404, "METADATA_NOT_FOUND")
    builder = await published_repo(client, gun="example.com/valid")
    before = await store_state(pg_store)
    response = await client.post(tuf_url(gun), data=form(builder.publish().items()))
    assert response.status == 400
    assert (await error_of(response))["code"] == "INVALID_UPDATE"
    assert await store_state(pg_store) == before


async def test_dotdot_gun_is_redirected_to_its_clean_form(
    make_client: ClientFactory, memory_store: MemoryMetaStore
) -> None:
    # gorilla/mux semantics for reads: an unclean path is a 301 to the clean
    # one, before any handler runs. A write is refused instead (ADR 0018, and
    # tests/hardening/test_requests_round2.py): nothing is stored either way.
    client = await make_client(memory_store)
    for target in (
        "/v2/example.com/a/../b/_trust/tuf/",
        "/v2/example.com/a/%2E%2E/b/_trust/tuf/",
        "/v2/../_trust/tuf/root.json",
    ):
        response = await raw_request(client, "GET", target)
        assert response.status == 301, target
        assert ".." not in response.headers["location"]
        response = await raw_request(client, "POST", target)
        assert response.status == 400, target
        assert json.loads(response.body)["errors"][0]["code"] == "INVALID_GUN"
    assert await memory_store.list_guns() == []


async def test_percent_encoded_slash_is_a_slash(
    make_client: ClientFactory, memory_store: MemoryMetaStore
) -> None:
    # Go matches the decoded path: %2F in a GUN is a path separator, so
    # "a%2Fb" and "a/b" are one repository, never two.
    client = await make_client(memory_store)
    builder = await published_repo(client, gun="example.com/a/b")
    response = await raw_request(client, "GET", "/v2/example.com/a%2Fb/_trust/tuf/targets.json")
    assert response.status == 200
    assert response.body == builder.current[TARGETS]
    # Decoded, this is ".../a/../b/...": redirected to its clean form like any other.
    response = await raw_request(client, "GET", "/v2/example.com/a%2F..%2Fb/_trust/tuf/root.json")
    assert response.status == 301
    assert response.headers["location"] == "/v2/example.com/b/_trust/tuf/root.json"


def test_every_attack_is_counted() -> None:
    # The closing note of issue #7 cites these counts; the table may grow, never shrink.
    report(f"attacks in the table: {len(ATTACKS)} (memory), {len(PG_SUBSET)} (postgres)")
    report(f"GUN attacks: {len(BAD_GUNS)} x 2 stores + 3 redirect + %2F")
    assert len(ATTACKS) >= MIN_ATTACKS
    assert set(PG_SUBSET) <= set(ATTACKS)
    for name, attack in ATTACKS.items():
        assert 400 <= attack.status < 500, name
        assert attack.code, name
