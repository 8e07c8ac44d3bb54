"""``last_used`` as Go sets it, with the later writes off the Sign path (ADR 0033).

A key that has signed is never handed out again as pending: not by the signer
that signed, not by a replica on the same database, not while signatures and
get-or-create calls race. Later signatures reach the store within the interval,
and when the signer stops.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from notary_signer.config import Passphrases
from notary_signer.keys import KeyService
from notary_signer.keystore import KeyStore, MemoryKeyStore
from notary_signer.keystore.postgres import open_postgres
from notary_signer.keystore.sqlite import open_sqlite

ALIAS = "usage"
PASSPHRASES = Passphrases({"NOTARY_SIGNER_USAGE": "usage-passphrase-1"})
GUN, ROLE, ALGORITHM = "docker.io/library/usage", "timestamp", "ecdsa"
ROUNDS = 12


@pytest.fixture
async def two_handles(
    backend: tuple[str, str], tmp_path: Path
) -> AsyncIterator[tuple[KeyStore, KeyStore]]:
    """Two stores on one database, as two signer replicas have."""
    name, dsn = backend
    if name == "memory":
        shared = MemoryKeyStore()
        yield shared, shared
        return
    if name == "sqlite":
        path = str(tmp_path / "keys.db")
        handles: list[KeyStore] = [await open_sqlite(path), await open_sqlite(path)]
    else:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("TRUNCATE private_keys RESTART IDENTITY")
        finally:
            await conn.close()
        handles = [await open_postgres(dsn), await open_postgres(dsn)]
    try:
        yield handles[0], handles[1]
    finally:
        for handle in handles:
            await handle.close()


def _service(store: KeyStore, *, usage_interval: float = 0.05) -> KeyService:
    encrypt = not isinstance(store, MemoryKeyStore)
    return KeyService(
        store, PASSPHRASES, ALIAS if encrypt else "", encrypt=encrypt, usage_interval=usage_interval
    )


async def _get_or_create(service: KeyService) -> str:
    return (await service.create_key(ALGORITHM, GUN, ROLE, reuse_pending=True)).key_id


async def test_a_key_that_signed_is_never_handed_out_again(
    two_handles: tuple[KeyStore, KeyStore],
) -> None:
    a, b = (_service(store) for store in two_handles)
    handed_out_after_signing: list[tuple[int, str]] = []
    try:
        for round_ in range(ROUNDS):
            pending = await _get_or_create(a)

            async def sign_then_ask(signer: KeyService, key_id: str = pending) -> list[str]:
                await signer.sign(key_id, b"payload")
                return [await _get_or_create(replica) for replica in (a, b)]

            async def ask(replica: KeyService) -> None:
                await _get_or_create(replica)

            answers, _ = await asyncio.gather(
                asyncio.gather(*(sign_then_ask(signer) for signer in (a, b, a, b))),
                asyncio.gather(*(ask(replica) for replica in (b, a, b, a))),
            )
            handed_out_after_signing.extend(
                (round_, pending) for after in answers for key_id in after if key_id == pending
            )
            assert (await two_handles[1].get(pending)).last_used is not None
    finally:
        await a.close()
        await b.close()
    assert handed_out_after_signing == []


async def test_later_signatures_reach_the_store_within_the_interval(
    two_handles: tuple[KeyStore, KeyStore],
) -> None:
    store = two_handles[0]
    keys = _service(store)
    try:
        key_id = (await keys.create_key(ALGORITHM, GUN, ROLE)).key_id
        await keys.sign(key_id, b"first")
        first = (await store.get(key_id)).last_used
        assert first is not None
        await asyncio.sleep(0.01)
        await keys.sign(key_id, b"second")
        async with asyncio.timeout(10):  # a bound, not a timing assertion
            while (await store.get(key_id)).last_used == first:  # noqa: ASYNC110 - polling the store
                await asyncio.sleep(0.02)
        later = (await store.get(key_id)).last_used
        assert later is not None
        assert later > first
    finally:
        await keys.close()


async def test_stopping_writes_what_is_left(two_handles: tuple[KeyStore, KeyStore]) -> None:
    store = two_handles[0]
    keys = _service(store, usage_interval=3600)
    key_id = (await keys.create_key(ALGORITHM, GUN, ROLE)).key_id
    await keys.sign(key_id, b"first")
    first = (await store.get(key_id)).last_used
    await asyncio.sleep(0.01)
    for _ in range(5):
        await keys.sign(key_id, b"again")
    assert (await store.get(key_id)).last_used == first  # not on the Sign path
    await keys.close()
    last = (await store.get(key_id)).last_used
    assert first is not None
    assert last is not None
    assert last > first
