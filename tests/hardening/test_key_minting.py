"""Key minting (issue #14 item 13, ADR 0021): one key per GUN and role, and a creation budget.

20 concurrent ``GET {role}.key`` for a new GUN minted up to 17 keys, and
anonymous requests minted keys as fast as they could ask. Now:

* concurrent GETs in one server process share one creation (single flight),
  with the local trust service and with our signer;
* our signer's get-or-create is atomic: several servers (two apps here, two
  server processes below) and several signer replicas on one database (the
  key stores, PostgreSQL and SQLite) hand out one pending key;
* a rotation (POST) still gets a key nobody was given before (ADR 0019);
* a client may create at most ``limits.key_creation.burst`` keys at once
  (then ``per_second``), also with the general rate limit off; GETs of a key
  that exists are not charged.
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import grpc
import pytest

from notary_server.app import create_app
from notary_server.config import ConfigError, load_config
from notary_server.handlers.keys import KEY_MINTING_KEY
from notary_server.limit_settings import LimitsConfig
from notary_server.services.keys import KeyCreationBudget
from notary_server.storage.memory import MemoryMetaStore
from notary_server.trust.local import LocalCryptoService
from notary_server.trust.remote import RemoteCryptoService
from notary_signer.config import Passphrases
from notary_signer.keys import KeyInfo, KeyService
from notary_signer.keystore import MemoryKeyStore
from notary_signer.keystore.migrate import migrate_postgres
from notary_signer.keystore.postgres import open_postgres
from notary_signer.keystore.sqlite import open_sqlite
from notary_signer.servicers import add_servicers
from notary_tuf.keys import PublicKey
from notary_tuf.rolenames import SNAPSHOT, TIMESTAMP
from testkit.ourserver import OurNotaryServer
from testkit.pg import admin_dsn, require_postgres, throwaway_database
from testkit.server_helpers import fetch_key, make_config, publish_new, tuf_url
from tests.interop.pairings import remote_trust_service, signer_on_postgres
from tests.signer.conftest import write_tls_files

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from pathlib import Path

    from pytest_aiohttp import AiohttpClient

    from notary_server.config import ServerConfig
    from testkit.server_helpers import AppClient

CONCURRENT = 20
GUN = "example.com/minting/app"
ALIAS = "minting_1"
PASSPHRASES = Passphrases({"NOTARY_SIGNER_MINTING_1": "minting-passphrase-7c2e"})
WAIT = 30.0
"""Seconds a test waits for a condition before failing (never a timing assertion)."""


def _limited(burst: float, config: ServerConfig | None = None) -> ServerConfig:
    """A config whose key creation budget is ``burst`` keys, refilling (almost) never."""
    base = config if config is not None else make_config()
    limits = replace(base.limits, key_creation_per_second=1e-9, key_creation_burst=burst)
    assert limits.rate_per_second == 0  # the general rate limit stays off
    return replace(base, limits=limits)


def _ecdsa(config: ServerConfig) -> ServerConfig:
    return replace(config, trust_service=replace(config.trust_service, key_algorithm="ecdsa"))


async def _key_ids(client: AppClient, method: str, gun: str, role: str, count: int) -> list[str]:
    async def one() -> str:
        response = await client.request(method, tuf_url(gun, f"{role}.key"))
        assert response.status == 200, await response.text()
        return PublicKey.from_dict(json.loads(await response.read())).key_id

    return list(await asyncio.gather(*(one() for _ in range(count))))


class GatedLocal(LocalCryptoService):
    """The local service, whose key creations wait until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.calls = 0

    async def create_key(self, role: str, gun: str, algorithm: str) -> PublicKey:
        self.calls += 1
        await self.gate.wait()
        return await super().create_key(role, gun, algorithm)


async def _wait_until(condition: Any) -> None:
    async with asyncio.timeout(WAIT):
        while not condition():  # noqa: ASYNC110 - polls counters the server keeps
            await asyncio.sleep(0.01)


@pytest.mark.parametrize("role", [TIMESTAMP, SNAPSHOT])
async def test_concurrent_gets_on_the_local_service_get_one_key(
    aiohttp_client: AiohttpClient, role: str
) -> None:
    crypto = GatedLocal()
    app = create_app(make_config(), store=MemoryMetaStore(), crypto=crypto)
    client = await aiohttp_client(app)
    minting = app[KEY_MINTING_KEY]
    gets = asyncio.ensure_future(_key_ids(client, "GET", GUN, role, CONCURRENT))
    # Every request is in the server before the first key exists: they all overlap.
    await _wait_until(lambda: crypto.calls + minting.waiting(GUN, role) == CONCURRENT)
    crypto.gate.set()
    key_ids = await gets
    assert len(set(key_ids)) == 1, f"{len(set(key_ids))} keys for one GUN and role"
    assert crypto.calls == 1
    assert len(crypto._keys) == 1
    # Sequential GETs without a root still get a new key each, as Go's local service does.
    assert await _key_ids(client, "GET", GUN, role, 1) != key_ids[:1]


class GatedKeyService(KeyService):
    """Our signer's key service; ``CreateKey`` calls wait until ``expect`` of them are in."""

    def __init__(self, store: MemoryKeyStore) -> None:
        super().__init__(store, PASSPHRASES, "", encrypt=False)
        self.expect = 1
        self.entered = 0
        self.all_in = asyncio.Event()

    async def create_key(
        self, algorithm: str, gun: str, role: str, *, reuse_pending: bool = False
    ) -> KeyInfo:
        self.entered += 1
        if self.entered >= self.expect:
            self.all_in.set()
        async with asyncio.timeout(WAIT):
            await self.all_in.wait()
        return await super().create_key(algorithm, gun, role, reuse_pending=reuse_pending)


@dataclass
class OurSigner:
    keys: GatedKeyService
    store: MemoryKeyStore
    target: str


@pytest.fixture
async def our_signer() -> AsyncIterator[OurSigner]:
    """Our signer's servicers on a memory key store (insecure gRPC, loopback)."""
    store = MemoryKeyStore()
    keys = GatedKeyService(store)
    server = grpc.aio.server()
    add_servicers(server, keys)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield OurSigner(keys, store, f"127.0.0.1:{port}")
    finally:
        await server.stop(None)


@pytest.fixture
async def remote_apps(
    aiohttp_client: AiohttpClient, our_signer: OurSigner
) -> AsyncIterator[list[AppClient]]:
    """Two server apps ("two processes"), each with its own channel to one signer of ours."""
    services = [RemoteCryptoService(grpc.aio.insecure_channel(our_signer.target)) for _ in "ab"]
    try:
        yield [
            await aiohttp_client(
                create_app(_ecdsa(make_config()), store=MemoryMetaStore(), crypto=service)
            )
            for service in services
        ]
    finally:
        for service in services:
            await service.close()


def _stored_keys(store: MemoryKeyStore, gun: str, role: str) -> int:
    return sum((r.record.gun, r.record.role) == (gun, role) for r in store._rows.values())


@pytest.mark.parametrize("role", [TIMESTAMP, SNAPSHOT])
async def test_concurrent_gets_on_our_signer_get_one_key(
    remote_apps: list[AppClient], our_signer: OurSigner, role: str
) -> None:
    key_ids = await _key_ids(remote_apps[0], "GET", GUN, role, CONCURRENT)
    assert len(set(key_ids)) == 1, f"{len(set(key_ids))} keys for one GUN and role"
    assert _stored_keys(our_signer.store, GUN, role) == 1


async def test_two_servers_on_one_signer_get_one_key(
    remote_apps: list[AppClient], our_signer: OurSigner
) -> None:
    # Each app has its own single flight: only the signer's get-or-create can agree.
    # Both apps' CreateKey calls are in the signer before either goes on.
    our_signer.keys.expect = 2
    first, second = remote_apps
    results = await asyncio.gather(
        _key_ids(first, "GET", GUN, TIMESTAMP, CONCURRENT // 2),
        _key_ids(second, "GET", GUN, TIMESTAMP, CONCURRENT // 2),
    )
    assert len({*results[0], *results[1]}) == 1
    assert _stored_keys(our_signer.store, GUN, TIMESTAMP) == 1


async def test_rotations_stay_new_beside_concurrent_gets(
    remote_apps: list[AppClient], our_signer: OurSigner
) -> None:
    first, second = remote_apps
    handed = await _key_ids(first, "GET", GUN, TIMESTAMP, 1)
    rotated, got = await asyncio.gather(
        _key_ids(second, "POST", GUN, TIMESTAMP, 4),
        _key_ids(first, "GET", GUN, TIMESTAMP, CONCURRENT),
    )
    assert len(set(rotated)) == len(rotated), "two rotations got the same key"
    assert handed[0] not in rotated
    # A GET may hand out a rotated key (the newest pending one), never the reverse.
    later = await _key_ids(first, "POST", GUN, TIMESTAMP, 1)
    assert later[0] not in {*handed, *rotated, *got}
    assert _stored_keys(our_signer.store, GUN, TIMESTAMP) == 1 + len(rotated) + 1


@pytest.fixture
def replica_stores_pg() -> Iterator[str]:
    admin = admin_dsn()
    require_postgres(admin)
    with throwaway_database(admin, "notary_minting") as dsn:
        asyncio.run(migrate_postgres(dsn))
        yield dsn


@pytest.mark.postgres
async def test_signer_replicas_on_postgres_hand_out_one_pending_key(
    replica_stores_pg: str,
) -> None:
    stores = [await open_postgres(replica_stores_pg) for _ in range(2)]
    try:
        await _one_pending_key_across([KeyService(s, PASSPHRASES, ALIAS) for s in stores])
    finally:
        for store in stores:
            await store.close()


async def test_signer_replicas_on_sqlite_hand_out_one_pending_key(tmp_path: Path) -> None:
    path = str(tmp_path / "signer.db")
    stores = [await open_sqlite(path) for _ in range(2)]
    try:
        await _one_pending_key_across([KeyService(s, PASSPHRASES, ALIAS) for s in stores])
    finally:
        for store in stores:
            await store.close()


async def _one_pending_key_across(replicas: list[KeyService]) -> None:
    """Concurrent get-or-create on replicas with separate locks: one key, stored once."""
    infos = await asyncio.gather(
        *(
            replica.create_key("ecdsa", GUN, TIMESTAMP, reuse_pending=True)
            for replica in replicas
            for _ in range(CONCURRENT // len(replicas))
        )
    )
    assert len({info.key_id for info in infos}) == 1
    assert sum(info.created for info in infos) == 1
    # A rotation (no reuse) still generates, on any replica.
    rotated = await replicas[1].create_key("ecdsa", GUN, TIMESTAMP)
    assert rotated.created
    assert rotated.key_id != infos[0].key_id


# --- the key creation budget ---------------------------------------------------------------


def _refusal(status: int, body: bytes, headers: Any) -> None:
    assert status == 429, body[:300]
    assert json.loads(body) == {
        "errors": [
            {
                "code": "TOOMANYREQUESTS",
                "message": "too many requests",
                "detail": {"limit": "key_creation.per_second"},
            }
        ]
    }
    assert headers["Retry-After"] == "1"


async def test_budget_refuses_creations_past_the_burst_but_not_existing_keys(
    aiohttp_client: AiohttpClient,
) -> None:
    crypto = LocalCryptoService()
    client = await aiohttp_client(create_app(_limited(3), store=MemoryMetaStore(), crypto=crypto))
    published = await publish_new(client, GUN)  # creation 1: the timestamp key
    listed = published.builder.timestamp_key.key_id
    for _ in range(10):  # a key the root lists: never charged
        assert (await fetch_key(client, GUN, TIMESTAMP)).key_id == listed
    await fetch_key(client, f"{GUN}/b", TIMESTAMP)  # creation 2
    rotated = await client.post(tuf_url(GUN, "timestamp.key"))  # creation 3: rotations count
    assert rotated.status == 200
    held = len(crypto._keys)
    for method, gun in (("GET", f"{GUN}/c"), ("POST", GUN), ("GET", f"{GUN}/b")):
        refused = await client.request(method, tuf_url(gun, "timestamp.key"))
        _refusal(refused.status, await refused.read(), refused.headers)
    assert len(crypto._keys) == held  # nothing was created
    assert (await fetch_key(client, GUN, TIMESTAMP)).key_id == listed  # still served


async def test_budget_does_not_charge_pending_keys_of_our_signer(
    aiohttp_client: AiohttpClient, our_signer: OurSigner
) -> None:
    service = RemoteCryptoService(grpc.aio.insecure_channel(our_signer.target))
    try:
        client = await aiohttp_client(
            create_app(_ecdsa(_limited(2)), store=MemoryMetaStore(), crypto=service)
        )
        first = await fetch_key(client, GUN, TIMESTAMP)  # creation 1
        for _ in range(5):  # the signer's pending key: handed back, not created
            assert (await fetch_key(client, GUN, TIMESTAMP)).key_id == first.key_id
        await fetch_key(client, GUN, SNAPSHOT)  # creation 2
        refused = await client.get(tuf_url(f"{GUN}/other", "timestamp.key"))
        _refusal(refused.status, await refused.read(), refused.headers)
    finally:
        await service.close()


async def test_budget_is_on_by_default_and_can_be_turned_off(
    aiohttp_client: AiohttpClient,
) -> None:
    defaults = LimitsConfig()
    assert defaults.rate_per_second == 0
    assert defaults.key_creation_per_second > 0
    app = create_app(make_config(), store=MemoryMetaStore(), crypto=LocalCryptoService())
    assert app[KEY_MINTING_KEY].budget is not None
    off = replace(make_config().limits, key_creation_per_second=0.0)
    app = create_app(
        replace(make_config(), limits=off), store=MemoryMetaStore(), crypto=LocalCryptoService()
    )
    assert app[KEY_MINTING_KEY].budget is None
    client = await aiohttp_client(app)
    assert len(set(await _key_ids(client, "POST", GUN, TIMESTAMP, 5))) == 5


def test_budget_refills_gives_back_and_forgets_the_least_recent_client() -> None:
    now = [0.0]
    budget = KeyCreationBudget(1.0, 2.0, clients=2, clock=lambda: now[0])
    assert budget.take("a")
    assert budget.take("a")
    assert not budget.take("a")
    budget.give_back("a")
    assert budget.take("a")
    assert not budget.take("a")
    now[0] = 1.0
    assert budget.take("a")  # one token refilled
    assert not budget.take("a")
    assert budget.take("b")
    assert budget.take("c")  # a third client: "a", the least recently seen, is forgotten
    assert budget.take("a")
    assert budget.take("a")


# --- two server processes on one PostgreSQL and one signer of ours -----------------------


@pytest.mark.postgres
def test_two_server_processes_on_one_signer_get_one_key(tmp_path: Path) -> None:
    tls_dir = tmp_path / "tls"
    tls_dir.mkdir()
    tls = write_tls_files(tls_dir)
    with signer_on_postgres(tmp_path / "signer", tls, go=False) as signer:
        trust = remote_trust_service(tls, signer.port)
        with OurNotaryServer(tmp_path / "a", storage="postgres", trust_service=trust) as one:
            assert one.db_url is not None
            with OurNotaryServer(
                tmp_path / "b", storage="postgres", db_url=one.db_url, trust_service=trust
            ) as two:
                servers = [one, two] * (CONCURRENT // 2)

                def get(server: OurNotaryServer) -> str:
                    response = server.get(f"/v2/{GUN}/_trust/tuf/timestamp.key")
                    assert response.status == 200, response.body[:300]
                    return PublicKey.from_dict(json.loads(response.body)).key_id

                with ThreadPoolExecutor(CONCURRENT) as pool:
                    key_ids = list(pool.map(get, servers))
                assert len(set(key_ids)) == 1, f"{len(set(key_ids))} keys for one GUN and role"
                rotated = {
                    PublicKey.from_dict(
                        json.loads(
                            server.request("POST", f"/v2/{GUN}/_trust/tuf/timestamp.key").body
                        )
                    ).key_id
                    for server in (one, two)
                }
                assert len(rotated) == 2
                assert key_ids[0] not in rotated


def test_key_creation_settings_are_read_from_file_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "server.json"
    document: dict[str, Any] = {
        "server": {"http_addr": "127.0.0.1:4443"},
        "trust_service": {"type": "local"},
        "storage": {"backend": "memory"},
    }
    path.write_text(json.dumps(document))
    defaults = load_config(path, {}).limits
    assert (defaults.key_creation_per_second, defaults.key_creation_burst) == (1.0, 1000.0)
    document["limits"] = {"key_creation": {"per_second": 0.5, "burst": 7}}
    path.write_text(json.dumps(document))
    limits = load_config(path, {}).limits
    assert (limits.key_creation_per_second, limits.key_creation_burst) == (0.5, 7.0)
    environ = {"NOTARY_SERVER_LIMITS_KEY_CREATION_PER_SECOND": "0"}
    assert load_config(path, environ).limits.key_creation_per_second == 0
    document["limits"] = {"key_creation": {"burst": 0.5}}
    path.write_text(json.dumps(document))
    with pytest.raises(ConfigError, match=r"key_creation\.burst"):
        load_config(path, {})
