"""Issue #14 item 1, the version brick, through the real HTTP API on SQLite and PostgreSQL.

An upload with ``"version": 2147483647`` used to be stored; the owner's next
publish then needed 2,147,483,648, which fits no version column, and was
refused forever. No upload may now put a role more than ``MAX_VERSION_LEAD``
above the repository's timestamp version (ADR 0023), so each accepted upload
leaves room for the next version. Every refusal is 400 ``INVALID_UPDATE`` with
the validation error Go uses for the role (``ErrBadTargets``,
``ErrBadSnapshot``, ``ErrBadRoot``), nothing stored or served changes, and the
owner publishes afterwards.

Go 0.7 stores all of these but the root (its rule: the stored root version or
one above) and then bricks the role exactly as described.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING

import pytest

from notary_server.services import updates
from notary_server.services.updates import MAX_VERSION_LEAD
from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS, TIMESTAMP
from notary_tuf.validation import MAX_VERSION
from testkit.repo_builder import SigningKey, version_of
from testkit.server_helpers import form, new_builder, tuf_url
from tests.hardening.attacks import GUN, RELEASES, publish, published_repo, sign_model
from tests.hardening.refusal import Refusal, assert_refused_unchanged_publishable

if TYPE_CHECKING:
    from notary_server.storage.capabilities import Backend
    from testkit.repo_builder import RepoBuilder
    from testkit.server_helpers import AppClient

BAD_TARGETS = Refusal(detail_name="ErrBadTargets")
BAD_SNAPSHOT = Refusal(detail_name="ErrBadSnapshot")
BAD_ROOT = Refusal(detail_name="ErrBadRoot")


async def timestamp_version(client: AppClient, gun: str = GUN) -> int:
    response = await client.get(tuf_url(gun, "timestamp.json"))
    assert response.status == 200
    return version_of(await response.read())


def targets_at(builder: RepoBuilder, version: int, role: str = TARGETS) -> dict[str, bytes]:
    """A valid upload of ``role`` at ``version`` (with the client snapshot, if client-held)."""
    builder.add_target(f"v{version}", b"jump\n", role)
    parts = {role: builder.targets_file(role, version=version)}
    if not builder.server_managed_snapshot:
        parts[SNAPSHOT] = builder.snapshot_file(parts)
    return parts


def snapshot_at(builder: RepoBuilder, version: int) -> dict[str, bytes]:
    """Targets at its next version with a client snapshot at ``version``."""
    builder.add_target(f"snapshot-v{version}", b"jump\n")
    targets = builder.targets_file()
    model = dataclasses.replace(builder.snapshot_model({TARGETS: targets}), version=version)
    assert builder.snapshot_signer is not None
    return {TARGETS: targets, SNAPSHOT: sign_model(SNAPSHOT, model, [builder.snapshot_signer])}


async def with_delegation(client: AppClient) -> RepoBuilder:
    builder = await published_repo(client)
    builder.delegate(RELEASES, [SigningKey.generate()])
    builder.add_target("rel", b"1\n", RELEASES)
    await publish(client, builder, TARGETS, RELEASES)
    return builder


# ------------------------------------------------------------------ the brick, per role kind


async def test_targets_at_2147483647_is_refused(sql_env: tuple[AppClient, Backend]) -> None:
    # The case: Go stores it and the next targets version never fits.
    client, store = sql_env
    builder = await published_repo(client)
    error = await assert_refused_unchanged_publishable(
        client, store, builder, targets_at(builder, MAX_VERSION), BAD_TARGETS
    )
    assert f"more than {MAX_VERSION_LEAD} above" in str(error["detail"])


async def test_targets_at_2147483647_with_server_snapshot_is_refused(
    sql_env: tuple[AppClient, Backend],
) -> None:
    client, store = sql_env
    builder = await new_builder(client, GUN, server_snapshot=True)
    builder.add_target("app", b"1\n")
    await publish(client, builder)
    await assert_refused_unchanged_publishable(
        client, store, builder, targets_at(builder, MAX_VERSION), BAD_TARGETS
    )


async def test_client_snapshot_at_2147483647_is_refused(
    sql_env: tuple[AppClient, Backend],
) -> None:
    client, store = sql_env
    builder = await published_repo(client)
    await assert_refused_unchanged_publishable(
        client, store, builder, snapshot_at(builder, MAX_VERSION), BAD_SNAPSHOT
    )


async def test_delegation_at_2147483647_is_refused(sql_env: tuple[AppClient, Backend]) -> None:
    client, store = sql_env
    builder = await with_delegation(client)
    await assert_refused_unchanged_publishable(
        client,
        store,
        builder,
        targets_at(builder, MAX_VERSION, RELEASES),
        BAD_TARGETS,
        publish_roles=(RELEASES,),
    )


async def test_root_at_2147483647_is_refused(sql_env: tuple[AppClient, Backend]) -> None:
    # Go refuses this one too: a root version is the stored one or one above.
    client, store = sql_env
    builder = await published_repo(client)
    parts = {ROOT: builder.root_file(version=MAX_VERSION)}
    parts[SNAPSHOT] = builder.snapshot_file(parts)
    error = await assert_refused_unchanged_publishable(client, store, builder, parts, BAD_ROOT)
    assert "must increment the version" in str(error["detail"])


async def test_uploaded_timestamp_at_2147483647_is_ignored(
    sql_env: tuple[AppClient, Backend],
) -> None:
    # The server always makes its own timestamp, one version above the stored one.
    client, _ = sql_env
    builder = await published_repo(client)
    before = await timestamp_version(client)
    parts = builder.publish()
    timestamp = {"signed": {"_type": "Timestamp", "version": MAX_VERSION}, "signatures": []}
    sent = [*parts.items(), (TIMESTAMP, json.dumps(timestamp).encode())]
    response = await client.post(tuf_url(GUN), data=form(sent))
    assert response.status == 200, await response.text()
    builder.accept(parts)
    assert await timestamp_version(client) == before + 1
    builder.add_target("next", b"next\n")
    await publish(client, builder)
    assert await timestamp_version(client) == before + 2


# ------------------------------------------------------------------ the bound itself


async def test_the_largest_accepted_jump_leaves_room_for_the_next_version(
    sql_env: tuple[AppClient, Backend],
) -> None:
    # The rule: no accepted upload may leave a role unable to take its next version.
    client, store = sql_env
    builder = await published_repo(client)
    over = await timestamp_version(client) + MAX_VERSION_LEAD + 1
    await assert_refused_unchanged_publishable(
        client, store, builder, targets_at(builder, over), BAD_TARGETS
    )
    largest = await timestamp_version(client) + MAX_VERSION_LEAD
    await publish_parts(client, builder, targets_at(builder, largest))
    # The snapshot may make the same jump (the targets with it take their next version).
    await publish_parts(client, builder, snapshot_at(builder, largest + 1))
    # …and the owner's ordinary publishes go on from there, each one version up.
    for number in range(3):
        builder.add_target(f"after-{number}", b"owner\n")
        await publish(client, builder)
    assert version_of(builder.current[TARGETS]) == largest + 4
    assert version_of(builder.current[SNAPSHOT]) == largest + 4


async def test_a_role_stored_far_ahead_still_takes_its_next_version(
    sql_env: tuple[AppClient, Backend], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A repository whose role Go (or an import) left far ahead of its timestamp
    # is not locked out: that role may take exactly its next version.
    client, store = sql_env
    builder = await with_delegation(client)
    far = 900_000_000
    monkeypatch.setattr(updates, "MAX_VERSION_LEAD", 10**9)  # what Go allowed
    for role in (TARGETS, RELEASES):
        await publish_parts(client, builder, targets_at(builder, far, role))
    monkeypatch.undo()
    for role in (TARGETS, RELEASES):
        await assert_refused_unchanged_publishable(
            client,
            store,
            builder,
            targets_at(builder, far + 2, role),
            BAD_TARGETS,
            publish_roles=(role,),
        )
        assert version_of(builder.current[role]) == far + 1


async def publish_parts(client: AppClient, builder: RepoBuilder, parts: dict[str, bytes]) -> None:
    response = await client.post(tuf_url(builder.gun), data=form(parts.items()))
    assert response.status == 200, await response.text()
    builder.accept(parts)
