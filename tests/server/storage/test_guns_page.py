"""``Inventory.list_guns_page``: keyset pages of GUNs for the console, on every backend."""

from __future__ import annotations

from notary_server.storage.base import MetaUpdate
from notary_server.storage.capabilities import Backend

GUNS = ["example.com/a/one", "example.com/a/two", "example.com/b/one", "other.org/x", "z.io/last"]


async def fill(store: Backend) -> None:
    for gun in reversed(GUNS):
        await store.update_many(gun, [MetaUpdate(role="root", version=1, data=gun.encode())])
        await store.update_many(gun, [MetaUpdate(role="targets", version=1, data=gun.encode())])


async def pages(store: Backend, *, prefix: str = "", descending: bool = False) -> list[list[str]]:
    found, after = [], None
    for _ in range(len(GUNS) + 1):
        page = await store.list_guns_page(
            prefix=prefix, after=after, limit=2, descending=descending
        )
        if not page:
            break
        found.append(page)
        after = page[-1]
    return found


async def test_pages_follow_the_name_order(store: Backend) -> None:
    await fill(store)
    assert await pages(store) == [GUNS[0:2], GUNS[2:4], GUNS[4:]]
    backwards = list(reversed(GUNS))
    assert await pages(store, descending=True) == [backwards[0:2], backwards[2:4], backwards[4:]]


async def test_pages_keep_to_the_prefix_and_skip_deleted_guns(store: Backend) -> None:
    await fill(store)
    assert await pages(store, prefix="example.com/a/") == [GUNS[0:2]]
    assert await pages(store, prefix="nothing/") == []
    await store.delete("example.com/a/two")
    assert await pages(store, prefix="example.com/") == [[GUNS[0], GUNS[2]]]
