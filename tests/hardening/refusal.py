"""The check every hardening attack ends with: refused, nothing changed, still publishable.

Issue #14 asks the same three things of each refused upload: the exact status,
Notary error code (and validation error name); the stored *and* served state as
before (every file, every checksum, the changefeed, the bytes a client
downloads); and a normal publish by the owner working afterwards.
:func:`assert_refused_unchanged_publishable` does all three.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS, TIMESTAMP
from testkit.server_helpers import form, tuf_url
from tests.hardening.attacks import publish
from tests.hardening.state import StoreState, error_of, store_state

if TYPE_CHECKING:
    from notary_server.storage.capabilities import Backend
    from testkit.repo_builder import RepoBuilder
    from testkit.server_helpers import AppClient


@dataclass(frozen=True)
class Refusal:
    """What a refused upload must be answered with."""

    code: str = "INVALID_UPDATE"
    detail_name: str | None = None
    status: int = 400


@dataclass(frozen=True)
class Seen:
    """The stored state and what a client downloads for each role."""

    stored: StoreState
    served: Mapping[str, tuple[int, bytes]]


async def served_files(
    client: AppClient, gun: str, roles: Sequence[str] = ()
) -> dict[str, tuple[int, bytes]]:
    """Status and bytes of a GET of each standard role and of ``roles``."""
    served = {}
    for role in (ROOT, TARGETS, SNAPSHOT, TIMESTAMP, *roles):
        response = await client.get(tuf_url(gun, f"{role}.json"))
        served[role] = (response.status, await response.read())
    return served


async def seen(client: AppClient, store: Backend, gun: str, roles: Sequence[str] = ()) -> Seen:
    return Seen(await store_state(store), await served_files(client, gun, roles))


async def assert_refused_unchanged_publishable(
    client: AppClient,
    store: Backend,
    builder: RepoBuilder,
    parts: Sequence[tuple[str, bytes]] | Mapping[str, bytes],
    refusal: Refusal,
    *,
    publish_roles: Sequence[str] = (),
) -> dict[str, object]:
    """POST ``parts`` to the builder's GUN and check the whole outcome; return the error.

    ``publish_roles`` are the roles of the owner's follow-up publish (default
    ``targets``); delegations among them are also compared as served.
    """
    items = list(parts.items()) if isinstance(parts, Mapping) else list(parts)
    extra = [role for role in publish_roles if role not in (ROOT, TARGETS, SNAPSHOT, TIMESTAMP)]
    before = await seen(client, store, builder.gun, extra)
    response = await client.post(tuf_url(builder.gun), data=form(items))
    error = await error_of(response)
    assert (response.status, error["code"]) == (refusal.status, refusal.code), error
    if refusal.detail_name is not None:
        detail = error["detail"]
        assert isinstance(detail, dict), error
        assert detail["Name"] == refusal.detail_name, error
    assert await seen(client, store, builder.gun, extra) == before
    builder.add_target(f"after-refusal-{len(builder.history.get(TARGETS, ()))}", b"owner\n")
    await publish(client, builder, *publish_roles)
    return error
