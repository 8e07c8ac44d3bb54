"""``/metrics`` behind token auth or on its own listener (``metrics`` config, ADR 0012)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import aiohttp
import pytest
from pytest_aiohttp import AiohttpClient

from notary_server.app import create_app
from notary_server.config import ConfigError, MetricsConfig, load_config
from notary_server.metrics_listener import METRICS_PORT_KEY
from notary_server.storage.memory import MemoryMetaStore
from notary_server.trust.local import LocalCryptoService
from testkit.issuer import TestIssuer
from testkit.server_helpers import make_config


async def test_default_is_gos_open_route(
    aiohttp_client: AiohttpClient, memory_store: MemoryMetaStore, crypto: LocalCryptoService
) -> None:
    client = await aiohttp_client(create_app(make_config(), store=memory_store, crypto=crypto))
    response = await client.get("/metrics")
    assert response.status == 200
    assert b"# HELP" in await response.read()


async def test_require_auth_asks_for_a_catalog_token(
    aiohttp_client: AiohttpClient,
    memory_store: MemoryMetaStore,
    crypto: LocalCryptoService,
    tmp_path: Path,
) -> None:
    issuer = TestIssuer()
    config = dataclasses.replace(
        make_config(), auth=issuer.config(tmp_path), metrics=MetricsConfig(require_auth=True)
    )
    client = await aiohttp_client(create_app(config, store=memory_store, crypto=crypto))
    response = await client.get("/metrics")
    assert response.status == 401
    assert 'scope="registry:catalog:*"' in response.headers["WWW-Authenticate"]
    pull_only = issuer.token([("repository", "example.com/x", ("pull",))])
    response = await client.get("/metrics", headers={"Authorization": f"Bearer {pull_only}"})
    assert response.status == 401
    catalog = issuer.token([("registry", "catalog", ("*",))])
    response = await client.get("/metrics", headers={"Authorization": f"Bearer {catalog}"})
    assert response.status == 200
    assert (await client.get("/_notary_server/health")).status == 200  # still open


async def test_separate_listener_moves_metrics_off_the_main_port(
    aiohttp_client: AiohttpClient, memory_store: MemoryMetaStore, crypto: LocalCryptoService
) -> None:
    config = dataclasses.replace(make_config(), metrics=MetricsConfig(listen_addr=("127.0.0.1", 0)))
    app = create_app(config, store=memory_store, crypto=crypto)
    client = await aiohttp_client(app)
    response = await client.get("/metrics")
    assert response.status == 404
    assert json.loads(await response.read())["errors"][0]["code"] == "METADATA_NOT_FOUND"
    await client.get("/v2/")  # something to count
    port = app[METRICS_PORT_KEY]
    assert port != client.server.port
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/metrics") as metrics,
    ):
        assert metrics.status == 200
        assert b"# HELP" in await metrics.read()


def test_metrics_config(tmp_path: Path) -> None:
    def load(metrics: dict[str, object]) -> MetricsConfig:
        path = tmp_path / "config.json"
        path.write_text(
            json.dumps(
                {
                    "server": {"http_addr": ":4443"},
                    "trust_service": {"type": "local"},
                    "storage": {"backend": "memory"},
                    "metrics": metrics,
                }
            )
        )
        return load_config(path, {}).metrics

    assert load({}) == MetricsConfig()
    assert load({"listen_addr": ":9100"}).listen_addr == ("127.0.0.1", 9100)  # loopback
    assert load({"listen_addr": "0.0.0.0:9100"}).listen_addr == ("0.0.0.0", 9100)  # noqa: S104
    with pytest.raises(ConfigError, match=r"metrics\.require_auth"):
        load({"require_auth": True})  # without token auth
    with pytest.raises(ConfigError, match=r"metrics\.listen_addr"):
        load({"listen_addr": "nonsense"})
